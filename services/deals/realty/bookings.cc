// File: services/deals/realty/bookings.cc
#include "services/deals/realty/bookings.h"

#include <optional>
#include <pqxx/pqxx>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/base/clock.h"
#include "libs/base/money.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/log/log.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/rpc/call.h"
#include "services/deals/listing.h"
#include "services/deals/realty/access.h"
#include "services/deals/realty/internal.h"
#include "services/deals/realty/inventory.h"
#include "services/deals/realty/rules.h"
#include "services/deals/timeline.h"
#include "services/deals/users.h"

namespace crm::deals::realty {

using crm::common::v1::Principal;

namespace {

constexpr size_t kMaxReceipt = 100;
constexpr size_t kMaxComment = 2000;

enum BookingStatus : int {
  kQueued = v1::Booking::QUEUED,
  kActive = v1::Booking::ACTIVE,
};

std::string BookingColumns() {
  return absl::StrCat(
      "k.id::text, k.unit_id::text, u.number, k.project_id::text, p.name, k.building_id::text, bl.name, "
      "k.client_id::text, c.name, coalesce(k.deal_id::text, ''), k.status, k.responsible_id::text, "
      "array_to_string(k.team_ids, ','), coalesce(k.creator_id::text, ''), k.fee_minor, k.currency, "
      "k.receipt_number, coalesce(k.price_id, 0), coalesce(k.price_minor, 0), coalesce(k.final_price_minor, "
      "0), ",
      MicrosOf("k.start_time"), ", ", MicrosOf("k.expire_time"), ", ", MicrosOf("k.end_time"),
      ", k.end_reason, k.comment, k.version, ", MicrosOf("k.create_time"), ", ", MicrosOf("k.update_time"),
      ", CASE WHEN k.status = 1 THEN (SELECT count(*) FROM realty_bookings q WHERE q.unit_id = k.unit_id AND "
      "q.status = 1 AND (q.create_time, q.id) <= (k.create_time, k.id)) ELSE 0 END");
}

constexpr char kBookingFrom[] =
    " FROM realty_bookings k JOIN realty_units u ON u.id = k.unit_id JOIN realty_projects p ON p.id = "
    "k.project_id "
    "JOIN realty_buildings bl ON bl.id = k.building_id JOIN clients c ON c.id = k.client_id";

// kBookingFrom's joins over k, the rows a data-modifying statement returned (their new values).
constexpr char kEndedFrom[] =
    " FROM k JOIN realty_units u ON u.id = k.unit_id JOIN realty_projects p ON p.id = k.project_id "
    "JOIN realty_buildings bl ON bl.id = k.building_id JOIN clients c ON c.id = k.client_id";
constexpr int kBookingColumnCount = 29;  // BookingColumns()

constexpr char kNewestFirst[] = " ORDER BY k.create_time DESC, k.id DESC LIMIT ";

v1::Booking ReadBooking(const pqxx::row& r) {
  v1::Booking b;
  b.set_id(r[0].as<std::string>());
  b.set_unit_id(r[1].as<std::string>());
  b.set_unit_number(r[2].as<std::string>());
  b.set_project_id(r[3].as<std::string>());
  b.set_project_name(r[4].as<std::string>());
  b.set_building_id(r[5].as<std::string>());
  b.set_building_name(r[6].as<std::string>());
  b.set_client_id(r[7].as<std::string>());
  b.set_client_name(r[8].as<std::string>());
  b.set_deal_id(r[9].as<std::string>());
  b.set_status(static_cast<v1::Booking::Status>(r[10].as<int>()));
  b.set_responsible_id(r[11].as<std::string>());
  b.set_creator_id(r[13].as<std::string>());
  const std::string currency = r[15].as<std::string>();
  *b.mutable_fee() = MakeMoney(r[14].as<int64_t>(), currency);
  b.set_receipt_number(r[16].as<std::string>());
  b.set_price_id(r[17].as<int64_t>());
  if (b.price_id() != 0) {
    *b.mutable_price() = MakeMoney(r[18].as<int64_t>(), currency);
    *b.mutable_final_price() = MakeMoney(r[19].as<int64_t>(), currency);
  }
  if (!r[20].is_null()) *b.mutable_start_time() = TsFromMicros(r[20].as<int64_t>());
  if (!r[21].is_null()) *b.mutable_expire_time() = TsFromMicros(r[21].as<int64_t>());
  if (!r[22].is_null()) *b.mutable_end_time() = TsFromMicros(r[22].as<int64_t>());
  b.set_end_reason(r[23].as<std::string>());
  b.set_comment(r[24].as<std::string>());
  b.set_version(r[25].as<int64_t>());
  *b.mutable_create_time() = TsFromMicros(r[26].as<int64_t>());
  *b.mutable_update_time() = TsFromMicros(r[27].as<int64_t>());
  b.set_queue_position(r[28].as<int>());
  return b;
}

std::vector<std::string> TeamsOf(const pqxx::row& r) {
  std::vector<std::string> teams;
  for (absl::string_view t : absl::StrSplit(r[12].as<std::string>(), ',', absl::SkipEmpty()))
    teams.emplace_back(t);
  return teams;
}

struct Loaded {
  v1::Booking booking;
  BookingOwnership owner;
};

std::optional<Loaded> LoadBooking(pqxx::transaction_base& tx, const std::string& id, bool for_update) {
  SqlParams p;
  pqxx::result r = Exec(tx,
                        absl::StrCat("SELECT ", BookingColumns(), kBookingFrom, " WHERE k.id = ", p.Add(id),
                                     "::uuid", for_update ? " FOR UPDATE OF k" : ""),
                        p);
  if (r.empty()) return std::nullopt;
  Loaded l{ReadBooking(r[0]), {}};
  l.owner = {l.booking.responsible_id(), TeamsOf(r[0])};
  return l;
}

absl::Status Emit(pqxx::transaction_base& tx, const events::OutboxWriter& outbox, const Actor& actor,
                  const char* type, const Loaded& b, v1::Booking::Status old_status,
                  const std::string& next_booking_id = "") {
  v1::BookingChanged ev;
  *ev.mutable_booking() = b.booking;
  ev.set_old_status(old_status);
  ev.set_next_booking_id(next_booking_id);
  events::NewEvent e = RealtyEvent(actor, v1::kBookingAggregate, b.booking.id(), type, ev);
  e.visible_to_user_ids = {b.owner.responsible_id};
  e.visible_to_team_ids = b.owner.team_ids;
  return outbox.Append(tx, e).status();
}

// What a unit's status change tells its event, as the UPDATE returned it.
struct UnitStatusRow {
  std::string unit_id, project_id, building_id;
  int64_t version = 0;
};

// The unit's status event from the row SetUnitStatus returned (the unit is not read again).
absl::Status EmitUnitStatus(pqxx::transaction_base& tx, const events::OutboxWriter& outbox,
                            const Actor& actor, const UnitStatusRow& unit, v1::Unit::Status from,
                            v1::Unit::Status to, const std::string& booking_id, const std::string& reason) {
  v1::UnitStatusChanged ev;
  ev.set_unit_id(unit.unit_id);
  ev.set_project_id(unit.project_id);
  ev.set_building_id(unit.building_id);
  ev.set_old_status(from);
  ev.set_new_status(to);
  ev.set_booking_id(booking_id);
  ev.set_reason(reason);
  ev.set_version(unit.version);
  return EmitUnitStatusChanged(tx, outbox, actor, ev);
}

UnitStatusRow SetUnitStatus(pqxx::transaction_base& tx, const std::string& unit_id, v1::Unit::Status status,
                            absl::Time now) {
  SqlParams p;
  const pqxx::row r = ExecPrepared(
      tx,
      absl::StrCat("UPDATE realty_units SET status = ", p.Add(absl::StrCat(static_cast<int>(status))),
                   "::smallint, version = version + 1, update_time = ", TsParam(p, now),
                   " WHERE id = ", p.Add(unit_id), "::uuid RETURNING project_id::text, building_id::text, version"),
      p)[0];
  return {.unit_id = unit_id,
          .project_id = r[0].as<std::string>(),
          .building_id = r[1].as<std::string>(),
          .version = r[2].as<int64_t>()};
}

// Sets booking `id` to `status` with its end time and reason.
void EndBooking(pqxx::transaction_base& tx, const std::string& id, v1::Booking::Status status,
                const std::string& reason, absl::Time now) {
  SqlParams p;
  ExecPrepared(
      tx,
      absl::StrCat("UPDATE realty_bookings SET status = ", p.Add(absl::StrCat(static_cast<int>(status))),
                   "::smallint, end_time = ", TsParam(p, now), ", end_reason = ", p.Add(reason),
                   ", version = version + 1, update_time = ", TsParam(p, now), " WHERE id = ", p.Add(id),
                   "::uuid"),
      p);
}

// Makes booking `id` ACTIVE from `now` to `expire` with the unit's current price fixed.
void Activate(pqxx::transaction_base& tx, const std::string& id, const std::string& unit_id, absl::Time now,
              absl::Time expire) {
  const int64_t price_id = LatestPriceId(tx, unit_id);
  SqlParams p;
  const std::string price = p.Add(absl::StrCat(price_id));
  ExecPrepared(
      tx,
      absl::StrCat(
          "UPDATE realty_bookings k SET status = 2, price_id = ", price,
          "::bigint, price_minor = x.price_minor, final_price_minor = x.final_price_minor, start_time = ",
          TsParam(p, now), ", expire_time = ", TsParam(p, expire),
          ", version = k.version + 1, update_time = ", TsParam(p, now),
          " FROM realty_unit_prices x WHERE k.id = ", p.Add(id), "::uuid AND x.id = ", price, "::bigint"),
      p);
}

// Ends the unit's ACTIVE booking `b` (RELEASED / EXPIRED) and passes the unit to the first of its queue,
// or frees it. Writes the events. The unit is locked by the caller.
absl::Status EndAndPromote(pqxx::transaction_base& tx, const events::OutboxWriter& outbox, const Actor& actor,
                           Loaded& b, v1::Booking::Status end, const char* end_type,
                           const std::string& reason, absl::Time now, absl::Time next_expire) {
  EndBooking(tx, b.booking.id(), end, reason, now);
  SqlParams p;
  pqxx::result next = ExecPrepared(
      tx,
      absl::StrCat("SELECT id::text FROM realty_bookings WHERE unit_id = ", p.Add(b.booking.unit_id()),
                   "::uuid AND status = 1 ORDER BY create_time, id LIMIT 1 FOR UPDATE"),
      p);
  std::string next_id;
  UnitStatusRow freed;
  if (!next.empty()) {
    next_id = next[0][0].as<std::string>();
    Activate(tx, next_id, b.booking.unit_id(), now, next_expire);
  } else {
    freed = SetUnitStatus(tx, b.booking.unit_id(), v1::Unit::AVAILABLE, now);
  }
  std::optional<Loaded> ended = LoadBooking(tx, b.booking.id(), false);
  CRM_RETURN_IF_ERROR(Emit(tx, outbox, actor, end_type, *ended, v1::Booking::ACTIVE, next_id));
  b = *std::move(ended);
  if (!next_id.empty()) {
    std::optional<Loaded> promoted = LoadBooking(tx, next_id, false);
    return Emit(tx, outbox, actor, v1::kBookingPromotedType, *promoted, v1::Booking::QUEUED);
  }
  return EmitUnitStatus(tx, outbox, actor, freed, v1::Unit::BOOKED, v1::Unit::AVAILABLE, b.booking.id(), reason);
}

// Locks unit `unit_id` (every booking change of a unit takes its row first).
bool LockUnit(pqxx::transaction_base& tx, const std::string& unit_id) {
  SqlParams p;
  return !ExecPrepared(
              tx, absl::StrCat("SELECT 1 FROM realty_units WHERE id = ", p.Add(unit_id), "::uuid FOR UPDATE"),
              p)
              .empty();
}

}  // namespace

BookingStore::BookingStore(pg::Pool& pool, const Clock& clock, crm::calendar::WorkingCalendar calendar)
    : pool_(pool), clock_(clock), calendar_(std::move(calendar)), outbox_("deals", clock) {}

absl::Time BookingStore::ExpiryOf(absl::Time start) const {
  return calendar_.AddWorkingDays(start, kBookingWorkingDays);
}

absl::StatusOr<v1::Booking> BookingStore::Create(const Actor& actor, const v1::CreateBookingRequest& req,
                                                 std::string_view key) {
  Violations v;
  if (!IsUuid(req.unit_id())) v.Add("unit_id", "not a UUID");
  if (req.client_id().empty()) {
    v.Add("client_id", "required: the client the unit is booked for");
  } else if (!IsUuid(req.client_id())) {
    v.Add("client_id", "not a UUID");
  }
  if (!req.deal_id().empty() && !IsUuid(req.deal_id())) v.Add("deal_id", "not a UUID");
  std::string responsible =
      req.responsible_id().empty() ? ActingUserId(actor.principal) : req.responsible_id();
  if (responsible.empty()) {
    v.Add("responsible_id", "required: the manager responsible (a service caller names one)");
  } else if (!IsUuid(responsible)) {
    v.Add("responsible_id", "not a UUID");
  }
  if (req.fee().amount_minor() <= 0) {
    v.Add("fee.amount_minor", "required: the booking fee paid, > 0 (a paid booking, §6.8)");
  } else if (req.fee().amount_minor() > kMaxAmountMinor) {
    v.Add("fee.amount_minor", "too large");
  }
  if (!req.fee().currency().empty() && !ValidateCurrency(req.fee().currency()).ok()) {
    v.Add("fee.currency", "not an ISO 4217 code (\"RUB\")");
  }
  CheckText(req.receipt_number(), "receipt_number", kMaxReceipt, false, v);
  CheckText(req.comment(), "comment", kMaxComment, false, v);
  CRM_RETURN_IF_ERROR(v.ToStatus());
  if (BookingWriteScope(actor.principal) == Scope::kNone) {
    return absl::PermissionDeniedError("missing permission bookings.write.own");
  }
  const absl::Time now = clock_.Now();
  const absl::Time expire = ExpiryOf(now);
  v1::Booking out;
  const pg::IdempotencyScope scope{.caller = rpc::IdempotencyCaller(actor.principal),
                                   .method = "crm.deals.v1.BookingService/CreateBooking",
                                   .key = std::string(key)};
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return pg::RunIdempotent(tx, scope, now, req, out, [&]() -> absl::Status {
      // The unit first: every booking change of this unit waits here for the one before.
      CRM_ASSIGN_OR_RETURN(v1::Unit unit, LoadUnit(tx, actor.principal, req.unit_id(), /*for_update=*/true));
      Violations refs;
      SqlParams p;
      if (Exec(tx, absl::StrCat("SELECT 1 FROM clients WHERE id = ", p.Add(req.client_id()), "::uuid"), p)
              .empty()) {
        refs.Add("client_id", "no such client");
      }
      if (!req.deal_id().empty()) {
        absl::StatusOr<DealOwnership> deal = LoadDealOwnership(tx, req.deal_id(), false);
        if (!deal.ok() || !CheckCanRead(actor.principal, *deal).ok()) refs.Add("deal_id", "no such deal");
      }
      const std::string currency = unit.price().currency();
      if (!req.fee().currency().empty() && req.fee().currency() != currency) {
        refs.Add("fee.currency", absl::StrCat("must be the unit's currency ", currency));
      }
      CRM_RETURN_IF_ERROR(refs.ToStatus());
      BookingOwnership owner{responsible, {}};
      if (responsible == ActingUserId(actor.principal)) {
        owner.team_ids = CallerTeamIds(actor.principal);
      } else {
        // Another responsible: their teams as identity's events told us (users.h).
        CRM_ASSIGN_OR_RETURN(owner.team_ids, crm::deals::TeamsOf(tx, responsible));
      }
      CRM_RETURN_IF_ERROR(CheckCanWriteBooking(actor.principal, owner));
      SqlParams d;
      if (!Exec(
               tx,
               absl::StrCat("SELECT 1 FROM realty_bookings WHERE unit_id = ", d.Add(unit.id()),
                            "::uuid AND client_id = ", d.Add(req.client_id()), "::uuid AND status IN (1, 2)"),
               d)
               .empty()) {
        return absl::FailedPreconditionError("the client already holds or waits for this unit");
      }
      bool active = false;
      switch (unit.status()) {
        case v1::Unit::AVAILABLE:
          active = true;
          break;
        case v1::Unit::BOOKED: {
          if (!req.join_queue()) {
            return absl::FailedPreconditionError(
                absl::StrCat("unit ", unit.number(), " is booked until ",
                             FormatRfc3339Utc(FromProtoTimestamp(unit.booking().expire_time())),
                             ": join its queue (join_queue)"));
          }
          if (unit.queue_length() >= kMaxQueue) {
            return absl::FailedPreconditionError(
                absl::StrCat("unit ", unit.number(), "'s queue is full (", kMaxQueue, " waiting)"));
          }
          break;
        }
        default:
          return absl::FailedPreconditionError(
              absl::StrCat("unit ", unit.number(), " is not on sale (", StatusName(unit.status()), ")"));
      }
      const std::string id = NewUuidV7();
      SqlParams i;
      const std::string insert = absl::StrCat(
          "INSERT INTO realty_bookings (id, unit_id, project_id, building_id, client_id, deal_id, status, "
          "responsible_id, team_ids, creator_id, fee_minor, currency, receipt_number, comment, version, "
          "create_time, "
          "update_time) VALUES (",
          i.Add(id), "::uuid, ", i.Add(unit.id()), "::uuid, ", i.Add(unit.project_id()), "::uuid, ",
          i.Add(unit.building_id()), "::uuid, ", i.Add(req.client_id()), "::uuid, NULLIF(",
          i.Add(req.deal_id()), ", '')::uuid, 1, ", i.Add(responsible), "::uuid, ",
          i.Add(ArrayLiteral(owner.team_ids)), "::uuid[], NULLIF(", i.Add(ActingUserId(actor.principal)),
          ", '')::uuid, ", i.Add(absl::StrCat(req.fee().amount_minor())), "::bigint, ", i.Add(currency), ", ",
          i.Add(req.receipt_number()), ", ", i.Add(req.comment()), ", 1, ", TsParam(i, now), ", ",
          TsParam(i, now), ")");
      Exec(tx, insert, i);
      UnitStatusRow booked;
      if (active) {
        try {
          Activate(tx, id, unit.id(), now, expire);
        } catch (const pqxx::unique_violation&) {
          // The database's last word (realty_bookings_one_active): never reached while the unit row lock
          // is taken above, and the reason no unit is ever booked twice if it were not.
          return absl::FailedPreconditionError(absl::StrCat("unit ", unit.number(), " is already booked"));
        }
        booked = SetUnitStatus(tx, unit.id(), v1::Unit::BOOKED, now);
      }
      std::optional<Loaded> made = LoadBooking(tx, id, false);
      CRM_RETURN_IF_ERROR(Emit(tx, outbox_, actor, active ? v1::kBookingCreatedType : v1::kBookingQueuedType,
                               *made, v1::Booking::STATUS_UNSPECIFIED));
      if (active) {
        CRM_RETURN_IF_ERROR(
            EmitUnitStatus(tx, outbox_, actor, booked, v1::Unit::AVAILABLE, v1::Unit::BOOKED, id, ""));
      }
      out = made->booking;
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::StatusOr<v1::Booking> BookingStore::Get(const Principal& caller, std::string_view id) {
  if (!IsUuid(id)) return InvalidFieldError("id", "not a UUID");
  v1::Booking out;
  CRM_RETURN_IF_ERROR(pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    std::optional<Loaded> b = LoadBooking(tx, std::string(id), false);
    if (!b) return absl::NotFoundError("booking not found");
    CRM_RETURN_IF_ERROR(CheckCanReadBooking(caller, b->owner));
    out = std::move(b->booking);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Booking> BookingStore::Release(const Actor& actor, const v1::ReleaseBookingRequest& req) {
  Violations v;
  if (!IsUuid(req.id())) v.Add("id", "not a UUID");
  CheckText(req.reason(), "reason", kMaxTextChars, false, v);
  CRM_RETURN_IF_ERROR(v.ToStatus());
  const absl::Time now = clock_.Now();
  const absl::Time next_expire = ExpiryOf(now);
  v1::Booking out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    std::optional<Loaded> b = LoadBooking(tx, req.id(), false);
    if (!b) return absl::NotFoundError("booking not found");
    LockUnit(tx, b->booking.unit_id());
    b = LoadBooking(tx, req.id(), true);
    CRM_RETURN_IF_ERROR(CheckCanWriteBooking(actor.principal, b->owner));
    if (req.version() != 0 && req.version() != b->booking.version())
      return absl::AbortedError("version mismatch");
    const std::string reason = req.reason().empty() ? "снята с брони" : req.reason();
    switch (b->booking.status()) {
      case v1::Booking::QUEUED: {
        EndBooking(tx, b->booking.id(), v1::Booking::CANCELLED, reason, now);
        std::optional<Loaded> ended = LoadBooking(tx, b->booking.id(), false);
        CRM_RETURN_IF_ERROR(Emit(tx, outbox_, actor, v1::kBookingCancelledType, *ended, v1::Booking::QUEUED));
        out = ended->booking;
        return absl::OkStatus();
      }
      case v1::Booking::ACTIVE:
        CRM_RETURN_IF_ERROR(EndAndPromote(tx, outbox_, actor, *b, v1::Booking::RELEASED,
                                          v1::kBookingReleasedType, reason, now, next_expire));
        out = b->booking;
        return absl::OkStatus();
      default:
        return absl::FailedPreconditionError(absl::StrCat("the booking is ",
                                                          v1::Booking::Status_Name(b->booking.status()),
                                                          ": only an ACTIVE or QUEUED booking is released"));
    }
  }));
  return out;
}

absl::StatusOr<int> BookingStore::ExpireDue(int batch_size) {
  if (batch_size <= 0) return absl::InvalidArgumentError("batch_size must be positive");
  const Actor system = SystemActor();
  int total = 0;
  for (;;) {
    const absl::Time now = clock_.Now();
    const absl::Time next_expire = ExpiryOf(now);
    int batch = 0, expired = 0;
    CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
      batch = expired = 0;
      SqlParams p;
      const std::string at = TsParam(p, now);
      // The units of the earliest due bookings, locked; units another sweep or a booking change holds
      // are skipped (their turn comes in the next sweep).
      pqxx::result units = ExecPrepared(
          tx,
          absl::StrCat(
              "SELECT u.id::text FROM realty_units u WHERE u.id IN (SELECT unit_id FROM realty_bookings "
              "WHERE status = 2 AND expire_time <= ",
              at, " ORDER BY expire_time, id LIMIT ", p.Add(absl::StrCat(batch_size)),
              "::int) ORDER BY u.id FOR UPDATE OF u SKIP LOCKED"),
          p);
      batch = static_cast<int>(units.size());
      for (const pqxx::row& row : units) {
        SqlParams q;
        pqxx::result due = ExecPrepared(
            tx,
            absl::StrCat(
                "SELECT id::text FROM realty_bookings WHERE unit_id = ", q.Add(row[0].as<std::string>()),
                "::uuid AND status = 2 AND expire_time <= ", TsParam(q, now)),
            q);
        if (due.empty()) continue;  // released since the sweep's snapshot
        std::optional<Loaded> b = LoadBooking(tx, due[0][0].as<std::string>(), true);
        CRM_RETURN_IF_ERROR(EndAndPromote(tx, outbox_, system, *b, v1::Booking::EXPIRED,
                                          v1::kBookingExpiredType, "срок брони истёк", now, next_expire));
        ++expired;
      }
      return absl::OkStatus();
    }));
    total += expired;
    if (batch < batch_size) return total;
  }
}

absl::StatusOr<v1::ListBookingsResponse> BookingStore::List(const Principal& caller,
                                                            const v1::ListBookingsRequest& req) {
  Violations v;
  if (!v1::Booking::Status_IsValid(req.status())) v.Add("status", "unknown status");
  if (!req.project_id().empty() && !IsUuid(req.project_id())) v.Add("project_id", "not a UUID");
  std::string responsible = req.responsible();
  if (responsible == "me") {
    responsible = ActingUserId(caller);
    if (responsible.empty()) v.Add("responsible", "\"me\" needs a user caller");
  } else if (!responsible.empty() && !IsUuid(responsible)) {
    v.Add("responsible", "not a UUID or \"me\"");
  }
  const int size = PageSizeOf(req.page_size(), v);
  std::optional<std::optional<TimePageKey>> after =
      v.Value(DecodeTimePageToken("page_token", req.page_token()), "page_token");
  CRM_RETURN_IF_ERROR(v.ToStatus());
  const int status = req.status() == v1::Booking::STATUS_UNSPECIFIED ? static_cast<int>(kActive)
                                                                     : static_cast<int>(req.status());
  SqlParams p;
  std::string where = absl::StrCat("k.status = ", p.Add(absl::StrCat(status)), "::smallint");
  if (!req.project_id().empty())
    absl::StrAppend(&where, " AND k.project_id = ", p.Add(req.project_id()), "::uuid");
  if (after->has_value()) {
    absl::StrAppend(&where, " AND (k.create_time, k.id) < (",
                    TsParam(p, absl::FromUnixMicros((*after)->micros)), ", ", p.Add((*after)->id), "::uuid)");
  }
  const std::string me = ActingUserId(caller);
  const Scope scope = BookingReadScope(caller);
  auto page = [&](const std::string& condition) {
    return absl::StrCat("SELECT ", BookingColumns(), kBookingFrom, " WHERE ", condition, kNewestFirst,
                        size + 1);
  };
  std::string sql;
  if (!responsible.empty()) {
    // One responsible's bookings (realty_bookings_responsible[_project]); visible when they are the
    // caller's own, or in the caller's scope.
    std::string cond = absl::StrCat(where, " AND k.responsible_id = ", p.Add(responsible), "::uuid");
    if (responsible != me && scope != Scope::kAll) {
      cond = scope == Scope::kTeam
                 ? absl::StrCat(cond, " AND k.responsible_id IN ", VisibleResponsiblesSql(caller, p))
                 : absl::StrCat(cond, " AND FALSE");
    }
    sql = page(cond);
  } else if (scope == Scope::kAll) {
    sql = page(where);
  } else if (scope == Scope::kTeam) {
    // One ordered range per visible responsible, merged (as deals' team lists, listing.h).
    sql =
        absl::StrCat("SELECT ", BookingColumns(), kBookingFrom, " WHERE k.id = ANY(ARRAY(SELECT x.id FROM ",
                     VisibleResponsiblesSql(caller, p),
                     " AS m(id) CROSS JOIN LATERAL (SELECT k.create_time, k.id FROM realty_bookings k WHERE "
                     "k.responsible_id = m.id AND ",
                     where, kNewestFirst, size + 1, ") x ORDER BY x.create_time DESC, x.id DESC LIMIT ",
                     size + 1, "))", kNewestFirst, size + 1);
  } else if (scope == Scope::kOwn && !me.empty()) {
    sql = page(absl::StrCat(where, " AND k.responsible_id = ", p.Add(me), "::uuid"));
  } else {
    sql = page(absl::StrCat(where, " AND FALSE"));  // no bookings permission: nothing (the values stay bound)
  }
  v1::ListBookingsResponse out;
  CRM_RETURN_IF_ERROR(pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    out.Clear();
    pqxx::result r = Exec(tx, sql, p);
    for (size_t i = 0; i < r.size() && static_cast<int>(i) < size; ++i)
      *out.add_bookings() = ReadBooking(r[i]);
    if (static_cast<int>(r.size()) > size) {
      const v1::Booking& last = out.bookings(size - 1);
      out.set_next_page_token(
          TimePageToken(absl::ToUnixMicros(FromProtoTimestamp(last.create_time())), last.id()));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::ListUnitBookingsResponse> BookingStore::ListForUnit(
    const Principal& caller, const v1::ListUnitBookingsRequest& req) {
  if (!IsUuid(req.unit_id())) return InvalidFieldError("unit_id", "not a UUID");
  if (BookingReadScope(caller) == Scope::kNone && !RequireRealtyRead(caller).ok()) {
    return absl::PermissionDeniedError("missing permission bookings.read.own");
  }
  v1::ListUnitBookingsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        SqlParams p;
        if (Exec(tx, absl::StrCat("SELECT 1 FROM realty_units WHERE id = ", p.Add(req.unit_id()), "::uuid"),
                 p)
                .empty()) {
          return absl::NotFoundError("unit not found");
        }
        pqxx::result r =
            Exec(tx,
                 absl::StrCat("SELECT ", BookingColumns(), kBookingFrom,
                              " WHERE k.unit_id = $1::uuid "
                              "AND k.status IN (1, 2) ORDER BY k.status DESC, k.create_time, k.id"),
                 p);
        for (const pqxx::row& row : r) {
          v1::Booking b = ReadBooking(row);
          if (b.status() == v1::Booking::QUEUED) out.set_queue_length(out.queue_length() + 1);
          if (CanReadBooking(caller, {b.responsible_id(), TeamsOf(row)})) *out.add_bookings() = std::move(b);
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<std::string> EndUnitBookingsInTx(pqxx::transaction_base& tx,
                                                const events::OutboxWriter& outbox, const Actor& actor,
                                                const std::string& unit_id, absl::Time now,
                                                v1::Booking::Status end, const std::string& reason) {
  // One set statement: the unit's ACTIVE booking ends as `end`, its queue is cancelled, and every ended
  // booking comes back as Loaded reads it (from the updated rows; queued first by age after the active).
  SqlParams p;
  const std::string unit = p.Add(unit_id);
  const std::string at = TsParam(p, now);
  const std::string sql = absl::StrCat(
      "WITH l AS (SELECT id, status FROM realty_bookings WHERE unit_id = ", unit,
      "::uuid AND status IN (1, 2) ORDER BY status DESC, create_time, id FOR UPDATE), "
      "k AS (UPDATE realty_bookings x SET status = CASE WHEN l.status = 2 THEN ",
      p.Add(absl::StrCat(static_cast<int>(end))), "::smallint ELSE ",
      p.Add(absl::StrCat(static_cast<int>(v1::Booking::CANCELLED))), "::smallint END, end_time = ", at,
      ", end_reason = CASE WHEN l.status = 2 THEN ", p.Add(reason), " ELSE ", p.Add("объект продан"),
      " END, version = x.version + 1, update_time = ", at,
      " FROM l WHERE x.id = l.id RETURNING x.*, l.status AS old_status) SELECT ", BookingColumns(),
      ", k.old_status", kEndedFrom, " ORDER BY k.old_status DESC, k.create_time, k.id");
  std::string ended;
  for (const pqxx::row& row : Exec(tx, sql, p)) {
    Loaded b{ReadBooking(row), {}};
    b.owner = {b.booking.responsible_id(), TeamsOf(row)};
    const bool active = row[kBookingColumnCount].as<int>() == kActive;
    CRM_RETURN_IF_ERROR(
        Emit(tx, outbox, actor,
             active ? (end == v1::Booking::CONVERTED ? v1::kBookingConvertedType : v1::kBookingReleasedType)
                    : v1::kBookingCancelledType,
             b, active ? v1::Booking::ACTIVE : v1::Booking::QUEUED));
    if (active) ended = b.booking.id();
  }
  return ended;
}

BookingSweeper::BookingSweeper(BookingStore& store, absl::Duration interval)
    : store_(store),
      periodic_(
          interval,
          [this] {
            absl::StatusOr<int> n = store_.ExpireDue();
            if (!n.ok()) {
              log::Warn("booking expiry sweep failed", {{"error", n.status()}});
            } else if (*n > 0) {
              log::Info("bookings expired", {{"count", *n}});
            }
          },
          /*run_at_start=*/true) {}

}  // namespace crm::deals::realty
