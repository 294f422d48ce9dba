// File: services/deals/interactions/interaction_store.cc
#include "services/deals/interactions/interaction_store.h"

#include <pqxx/pqxx>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/rpc/call.h"
#include "proto/crm/deals/v1/interactions_event_types.h"
#include "services/deals/interactions/access.h"
#include "services/deals/interactions/calendar_store.h"
#include "services/deals/interactions/common.h"
#include "services/deals/interactions/request_store.h"
#include "services/deals/interactions/stage.h"
#include "services/deals/sql.h"

namespace crm::deals::interactions {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;
using google::protobuf::Timestamp;

namespace {

constexpr size_t kMaxSubject = 500;
constexpr size_t kMaxResult = 5000;
constexpr size_t kMaxSource = 50;
constexpr size_t kMaxExternalId = 200;
constexpr size_t kMaxReason = 1000;
constexpr char kWhat[] = "interaction";

// A nullable timestamptz from parameter $n: Unix microseconds, or '' for NULL.
#define CRM_TS(n) "('epoch'::timestamptz + NULLIF($" #n ", '')::bigint * interval '1 microsecond')"

// is_primary (§6.5.2): true when the interaction has a project and the client has no primary one there
// yet, read under the (client, project) advisory lock the caller holds (LockPrimacy).
constexpr char kInsertInteraction[] =
    "INSERT INTO interactions (id, kind, direction, status, client_id, request_id, deal_id, project_id, is_primary, "
    "responsible_id, creator_id, subject, planned_time, start_time, end_time, done_time, result, outcome, source, "
    "external_id, calendar_id, online, previous_interaction_id, occur_time, version, create_time, update_time) "
    "VALUES ($1::uuid, $2::smallint, $3::smallint, $4::smallint, $5::uuid, NULLIF($6, '')::uuid, "
    "NULLIF($7, '')::uuid, NULLIF($8, '')::uuid, NULLIF($8, '') IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
    "interactions p WHERE p.client_id = $5::uuid AND p.project_id = NULLIF($8, '')::uuid AND p.is_primary), "
    "$9::uuid, NULLIF($10, '')::uuid, $11, " CRM_TS(12) ", " CRM_TS(13) ", " CRM_TS(14) ", " CRM_TS(15) ", $16, "
    "$17::smallint, NULLIF($18, ''), NULLIF($19, ''), NULLIF($20, '')::uuid, $21::boolean, NULLIF($22, '')::uuid, "
    CRM_TS(23) ", 1, " CRM_TS(24) ", " CRM_TS(24) ") RETURNING is_primary";

constexpr char kSaveInteraction[] =
    "UPDATE interactions SET direction = $2::smallint, status = $3::smallint, request_id = NULLIF($4, '')::uuid, "
    "deal_id = NULLIF($5, '')::uuid, responsible_id = $6::uuid, subject = $7, planned_time = " CRM_TS(8)
    ", start_time = " CRM_TS(9) ", end_time = " CRM_TS(10) ", done_time = " CRM_TS(11) ", result = $12, "
    "outcome = $13::smallint, calendar_id = NULLIF($14, '')::uuid, online = $15::boolean, "
    "next_interaction_id = NULLIF($16, '')::uuid, occur_time = " CRM_TS(17) ", version = $18::bigint, "
    "update_time = " CRM_TS(19) " WHERE id = $1::uuid";

// An interaction given a project after it was recorded (linked to a request later): primary when the
// client has none there yet (under LockPrimacy).
constexpr char kSetProject[] =
    "UPDATE interactions SET project_id = $2::uuid, is_primary = NOT EXISTS (SELECT 1 FROM interactions p "
    "WHERE p.client_id = $3::uuid AND p.project_id = $2::uuid AND p.is_primary) WHERE id = $1::uuid "
    "RETURNING is_primary";

// Serialises the primacy decisions of one (client, project) and the upserts of one (source, external id).
constexpr char kLockPrimacy[] = "SELECT pg_advisory_xact_lock(hashtextextended('primacy/' || $1 || '/' || $2, 0))";
constexpr char kLockExternal[] =
    "SELECT pg_advisory_xact_lock(hashtextextended('external/' || $1 || '/' || $2, 0))";

// The client's open deals a finished interaction without a deal touches (deals_client_open).
constexpr char kClientOpenDeals[] =
    "SELECT id::text FROM deals WHERE client_id = $1::uuid AND status = 1 ORDER BY create_time DESC LIMIT $2::int";

constexpr char kNewestFirst[] = " ORDER BY i.occur_time DESC, i.id DESC";

std::string Us(bool has, const Timestamp& ts) {
  return has ? absl::StrCat(absl::ToUnixMicros(FromProtoTimestamp(ts))) : std::string();
}
std::string Num(int64_t n) { return absl::StrCat(n); }

// The list's order key (interactions.proto): start, else planned, else done, else create time.
Timestamp OccurTime(const v1::Interaction& x) {
  if (x.has_start_time()) return x.start_time();
  if (x.has_planned_time()) return x.planned_time();
  if (x.has_done_time()) return x.done_time();
  return x.create_time();
}

// pre_registered (interactions.proto): a meeting booked into a slot calendar.
bool PreRegistered(const v1::Interaction& x) {
  return x.kind() == v1::Interaction::MEETING && !x.calendar_id().empty();
}

// overdue (interactions.proto): still PLANNED after its planned time — what ListInteractions' overdue
// filter asks in SQL (kOverdueWhere: a PLANNED one's occur_time is its planned_time).
bool Overdue(const v1::Interaction& x, absl::Time now) {
  return x.status() == v1::Interaction::PLANNED && x.has_planned_time() && FromProtoTimestamp(x.planned_time()) < now;
}
constexpr char kOverdueWhere[] = "i.status = 1 AND i.occur_time < ";

bool Before(const Timestamp& a, const Timestamp& b) { return FromProtoTimestamp(a) < FromProtoTimestamp(b); }
bool SameTime(bool has_a, const Timestamp& a, bool has_b, const Timestamp& b) {
  return has_a == has_b && (!has_a || FromProtoTimestamp(a) == FromProtoTimestamp(b));
}

// The interaction `where_sql` finds, row-locked unless `for_update` is false (a plain read).
std::optional<v1::Interaction> LoadInteraction(pqxx::transaction_base& tx, const std::string& where_sql,
                                               absl::Time now, const std::string& a, const std::string& b = "",
                                               bool for_update = true) {
  const std::string sql = absl::StrCat("SELECT ", InteractionColumns(),
                                       " FROM interactions i JOIN clients c ON c.id = i.client_id WHERE ", where_sql,
                                       for_update ? " FOR UPDATE OF i" : "");
  pqxx::result r = b.empty() ? pg::ExecPrepared(tx, sql, a) : pg::ExecPrepared(tx, sql, a, b);
  if (r.empty()) return std::nullopt;
  return ReadInteraction(r[0], now);
}
std::optional<v1::Interaction> LoadById(pqxx::transaction_base& tx, const std::string& id, absl::Time now) {
  return LoadInteraction(tx, "i.id = $1::uuid", now, id);
}

void Save(pqxx::transaction_base& tx, const v1::Interaction& x) {
  pg::ExecPrepared(tx, kSaveInteraction, x.id(), Num(x.direction()), Num(x.status()), x.request_id(), x.deal_id(),
                   x.responsible_id(), x.subject(), Us(x.has_planned_time(), x.planned_time()),
                   Us(x.has_start_time(), x.start_time()), Us(x.has_end_time(), x.end_time()),
                   Us(x.has_done_time(), x.done_time()), x.result(), Num(x.outcome()), x.calendar_id(),
                   x.online() ? "true" : "false", x.next_interaction_id(), Us(true, x.occur_time()), Num(x.version()),
                   Us(true, x.update_time()));
}

void LockPrimacy(pqxx::transaction_base& tx, const std::string& client_id, const std::string& project_id) {
  pg::ExecPrepared(tx, kLockPrimacy, client_id, project_id);
}

void SetPrimacy(v1::Interaction& x, bool primary) {
  x.set_primacy(primary ? v1::Interaction::PRIMARY
                        : (x.project_id().empty() ? v1::Interaction::PRIMACY_UNSPECIFIED : v1::Interaction::SECONDARY));
}

// Every problem of a new interaction (create, or an upsert's first call) or of an upsert's fields, each
// naming its proto path.
std::vector<FieldViolation> Validate(const v1::Interaction& in, bool upsert) {
  std::vector<FieldViolation> bad;
  const auto add = [&](std::string field, std::string description) {
    bad.push_back({.field = absl::StrCat("interaction.", field), .description = std::move(description)});
  };
  if (in.kind() == v1::Interaction::KIND_UNSPECIFIED || !v1::Interaction::Kind_IsValid(in.kind())) {
    add("kind", "required: CALL, MEETING, LETTER or DIALOG");
  }
  if (!v1::Interaction::Direction_IsValid(in.direction())) add("direction", "unknown direction");
  if (!v1::Interaction::Status_IsValid(in.status())) {
    add("status", "unknown status");
  } else if (!upsert && in.status() == v1::Interaction::CANCELLED) {
    add("status", "a new interaction is PLANNED or DONE");
  }
  CheckUuid(in.client_id(), "interaction.client_id", true, bad);
  CheckUuid(in.request_id(), "interaction.request_id", false, bad);
  CheckUuid(in.deal_id(), "interaction.deal_id", false, bad);
  CheckUuid(in.project_id(), "interaction.project_id", false, bad);
  CheckUuid(in.responsible_id(), "interaction.responsible_id", false, bad);
  CheckUuid(in.calendar_id(), "interaction.calendar_id", false, bad);
  if (CodePoints(in.subject()) > kMaxSubject) add("subject", "longer than 500 characters");
  if (CodePoints(in.result()) > kMaxResult) add("result", "longer than 5000 characters");
  if (!v1::Interaction::Outcome_IsValid(in.outcome())) add("outcome", "unknown outcome");
  const auto time = [&](bool has, const Timestamp& ts, const char* field) {
    if (has && !ValidTime(ts)) add(field, "not a time between 1970 and 9999");
  };
  time(in.has_planned_time(), in.planned_time(), "planned_time");
  time(in.has_start_time(), in.start_time(), "start_time");
  time(in.has_end_time(), in.end_time(), "end_time");
  if (in.has_start_time() && in.has_end_time() && ValidTime(in.start_time()) && ValidTime(in.end_time()) &&
      Before(in.end_time(), in.start_time())) {
    add("end_time", "before start_time");
  }
  // The status a new one gets: PLANNED when planned and nothing says it happened, else DONE.
  const bool happened = in.has_start_time() || in.has_end_time() || !in.result().empty() ||
                        in.outcome() != v1::Interaction::OUTCOME_UNSPECIFIED;
  const v1::Interaction::Status status =
      in.status() != v1::Interaction::STATUS_UNSPECIFIED
          ? in.status()
          : (in.has_planned_time() && !happened ? v1::Interaction::PLANNED : v1::Interaction::DONE);
  if (status == v1::Interaction::PLANNED) {
    if (!in.has_planned_time()) add("planned_time", "required for a planned interaction");
    if (happened) {
      for (const char* f : {"start_time", "end_time", "result", "outcome"}) {
        const bool set = (std::string_view(f) == "start_time" && in.has_start_time()) ||
                         (std::string_view(f) == "end_time" && in.has_end_time()) ||
                         (std::string_view(f) == "result" && !in.result().empty()) ||
                         (std::string_view(f) == "outcome" && in.outcome() != v1::Interaction::OUTCOME_UNSPECIFIED);
        if (set) add(f, "only for a DONE interaction (complete it with CompleteInteraction)");
      }
    }
  }
  if (!in.calendar_id().empty()) {
    if (in.kind() != v1::Interaction::MEETING) add("calendar_id", "only a meeting is booked into a slot calendar");
    if (status != v1::Interaction::PLANNED) add("calendar_id", "only a planned meeting is booked into a slot");
  }
  if (in.online() && in.kind() != v1::Interaction::MEETING) add("online", "only a meeting is online");
  const bool has_source = !in.source().empty();
  const bool has_external = !in.external_id().empty();
  if (upsert || has_source || has_external) {
    if (!has_source) {
      add("source", "required with external_id");
    } else if (in.source().size() > kMaxSource ||
               !std::all_of(in.source().begin(), in.source().end(), [](char c) {
                 return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
               })) {
      add("source", "expected 1..50 of a-z 0-9 _ . -");
    }
    if (!has_external) {
      add("external_id", "required with source");
    } else if (CodePoints(in.external_id()) > kMaxExternalId ||
               std::any_of(in.external_id().begin(), in.external_id().end(),
                           [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
      add("external_id", "expected 1..200 printable characters");
    }
  }
  return bad;
}

v1::Interaction::Status DefaultStatus(const v1::Interaction& in) {
  if (in.status() != v1::Interaction::STATUS_UNSPECIFIED) return in.status();
  const bool happened = in.has_start_time() || in.has_end_time() || !in.result().empty() ||
                        in.outcome() != v1::Interaction::OUTCOME_UNSPECIFIED;
  return in.has_planned_time() && !happened ? v1::Interaction::PLANNED : v1::Interaction::DONE;
}

// The deals a finished interaction touches (interactions_events.proto): its deal, else its client's
// open deals.
std::vector<std::string> TouchedDeals(pqxx::transaction_base& tx, const v1::Interaction& x) {
  if (!x.deal_id().empty()) return {x.deal_id()};
  std::vector<std::string> out;
  for (const pqxx::row& row : pg::ExecPrepared(tx, kClientOpenDeals, x.client_id(), kMaxTouchedDeals)) {
    out.push_back(row[0].c_str());
  }
  return out;
}

// The request `id` for an interaction of `client_id` recorded by `caller`, locked with its owner (what
// RefreshRequest needs afterwards); INVALID_ARGUMENT naming `field` when there is none the caller may
// see, or it is another client's.
absl::StatusOr<LockedRequest> RequestFor(pqxx::transaction_base& tx, const Principal& caller, const std::string& id,
                                         const std::string& client_id, std::string_view field) {
  CRM_ASSIGN_OR_RETURN(std::optional<LockedRequest> req, LockRequest(tx, id));
  if (req.has_value() && !CheckCanRead(caller, req->owner, "request").ok()) req.reset();
  if (!req.has_value()) return InvalidFieldError(field, "no such request");
  if (req->request.client_id() != client_id) return InvalidFieldError(field, "a request of another client");
  return *std::move(req);
}

absl::Status CheckDeal(pqxx::transaction_base& tx, const std::string& deal_id, std::string_view field) {
  if (deal_id.empty() || !pg::ExecPrepared(tx, "SELECT 1 FROM deals WHERE id = $1::uuid", deal_id).empty()) {
    return absl::OkStatus();
  }
  return InvalidFieldError(field, "no such deal");
}

}  // namespace

const std::string& InteractionColumns() {
  static const std::string* columns = new std::string(absl::StrCat(
      "i.id::text, i.kind, i.direction, i.status, i.client_id::text, c.name, COALESCE(i.request_id::text, ''), "
      "COALESCE(i.deal_id::text, ''), COALESCE(i.project_id::text, ''), i.is_primary, i.responsible_id::text, "
      "COALESCE(i.creator_id::text, ''), i.subject, ",
      MicrosOf("i.planned_time"), ", ", MicrosOf("i.start_time"), ", ", MicrosOf("i.end_time"), ", ",
      MicrosOf("i.done_time"),
      ", i.result, i.outcome, COALESCE(i.source, ''), COALESCE(i.external_id, ''), COALESCE(i.calendar_id::text, ''), "
      "i.online, COALESCE(i.next_interaction_id::text, ''), COALESCE(i.previous_interaction_id::text, ''), ",
      MicrosOf("i.occur_time"), ", ", MicrosOf("i.create_time"), ", ", MicrosOf("i.update_time"), ", i.version"));
  return *columns;
}

v1::Interaction ReadInteraction(const pqxx::row& r, absl::Time now) {
  v1::Interaction x;
  x.set_id(r[0].c_str());
  x.set_kind(static_cast<v1::Interaction::Kind>(r[1].as<int>()));
  x.set_direction(static_cast<v1::Interaction::Direction>(r[2].as<int>()));
  x.set_status(static_cast<v1::Interaction::Status>(r[3].as<int>()));
  x.set_client_id(r[4].c_str());
  x.set_client_name(r[5].c_str());
  x.set_request_id(r[6].c_str());
  x.set_deal_id(r[7].c_str());
  x.set_project_id(r[8].c_str());
  SetPrimacy(x, r[9].as<bool>());
  x.set_responsible_id(r[10].c_str());
  x.set_creator_id(r[11].c_str());
  x.set_subject(r[12].c_str());
  if (!r[13].is_null()) *x.mutable_planned_time() = TsFromMicros(r[13].as<int64_t>());
  if (!r[14].is_null()) *x.mutable_start_time() = TsFromMicros(r[14].as<int64_t>());
  if (!r[15].is_null()) *x.mutable_end_time() = TsFromMicros(r[15].as<int64_t>());
  if (!r[16].is_null()) *x.mutable_done_time() = TsFromMicros(r[16].as<int64_t>());
  x.set_result(r[17].c_str());
  x.set_outcome(static_cast<v1::Interaction::Outcome>(r[18].as<int>()));
  x.set_source(r[19].c_str());
  x.set_external_id(r[20].c_str());
  x.set_calendar_id(r[21].c_str());
  x.set_pre_registered(PreRegistered(x));
  x.set_online(r[22].as<bool>());
  x.set_next_interaction_id(r[23].c_str());
  x.set_previous_interaction_id(r[24].c_str());
  *x.mutable_occur_time() = TsFromMicros(r[25].as<int64_t>());
  *x.mutable_create_time() = TsFromMicros(r[26].as<int64_t>());
  *x.mutable_update_time() = TsFromMicros(r[27].as<int64_t>());
  x.set_version(r[28].as<int64_t>());
  x.set_overdue(Overdue(x, now));
  return x;
}

InteractionStore::InteractionStore(pg::Pool& pool, const Clock& clock, absl::TimeZone zone)
    : pool_(pool), clock_(clock), zone_(zone), outbox_("deals", clock) {}

absl::Status InteractionStore::InsertInTx(pqxx::transaction_base& tx, const Actor& actor, v1::Interaction& x,
                                          absl::Time now, std::optional<LockedRequest>& request, Owner& owner) {
  pqxx::result client = pg::ExecPrepared(tx, "SELECT name FROM clients WHERE id = $1::uuid", x.client_id());
  if (client.empty()) return InvalidFieldError("interaction.client_id", "no such client");
  const std::string me = ActingUserId(actor.principal);
  if (!me.empty()) CRM_RETURN_IF_ERROR(directory_.Seed(tx, me, CallerTeamIds(actor.principal)));
  if (x.responsible_id().empty()) x.set_responsible_id(me);
  if (x.responsible_id().empty()) {
    return InvalidFieldError("interaction.responsible_id", "required when the caller acts for nobody");
  }
  CRM_ASSIGN_OR_RETURN(owner, OwnerOf(tx, x.responsible_id()));
  CRM_RETURN_IF_ERROR(CheckCanAssign(actor.principal, owner));
  request.reset();
  if (!x.request_id().empty()) {
    CRM_ASSIGN_OR_RETURN(request,
                         RequestFor(tx, actor.principal, x.request_id(), x.client_id(), "interaction.request_id"));
    const std::string& project = request->request.project_id();
    if (x.project_id().empty()) {
      x.set_project_id(project);
    } else if (x.project_id() != project) {
      return InvalidFieldError("interaction.project_id", "not the project of the request");
    }
  }
  CRM_RETURN_IF_ERROR(CheckDeal(tx, x.deal_id(), "interaction.deal_id"));
  x.set_id(NewUuidV7());
  x.set_client_name(client[0][0].c_str());
  x.set_creator_id(me);
  *x.mutable_create_time() = ToProtoTimestamp(now);
  *x.mutable_update_time() = x.create_time();
  x.set_version(1);
  x.set_status(DefaultStatus(x));
  if (x.status() == v1::Interaction::DONE) *x.mutable_done_time() = ToProtoTimestamp(now);
  *x.mutable_occur_time() = OccurTime(x);
  x.set_pre_registered(PreRegistered(x));
  x.set_overdue(Overdue(x, now));
  if (!x.calendar_id().empty()) {
    CRM_RETURN_IF_ERROR(BookSlot(tx, x.calendar_id(), FromProtoTimestamp(x.planned_time()), zone_,
                                 "interaction.calendar_id", "interaction.planned_time"));
  }
  if (!x.project_id().empty()) LockPrimacy(tx, x.client_id(), x.project_id());
  const pqxx::row row = pg::ExecPrepared1(
      tx, kInsertInteraction, x.id(), Num(x.kind()), Num(x.direction()), Num(x.status()), x.client_id(),
      x.request_id(), x.deal_id(), x.project_id(), x.responsible_id(), x.creator_id(), x.subject(),
      Us(x.has_planned_time(), x.planned_time()), Us(x.has_start_time(), x.start_time()),
      Us(x.has_end_time(), x.end_time()), Us(x.has_done_time(), x.done_time()), x.result(), Num(x.outcome()),
      x.source(), x.external_id(), x.calendar_id(), x.online() ? "true" : "false", x.previous_interaction_id(),
      Us(true, x.occur_time()), Us(true, x.create_time()));
  SetPrimacy(x, row[0].as<bool>());
  v1::InteractionCreated created;
  *created.mutable_interaction() = x;
  CRM_RETURN_IF_ERROR(Emit(tx, outbox_, actor, v1::kInteractionAggregate, x.id(), v1::kInteractionCreatedType,
                           created, owner));
  if (x.status() == v1::Interaction::DONE) {
    v1::InteractionCompleted done;
    *done.mutable_interaction() = x;
    for (std::string& d : TouchedDeals(tx, x)) done.add_touched_deal_ids(std::move(d));
    CRM_RETURN_IF_ERROR(Emit(tx, outbox_, actor, v1::kInteractionAggregate, x.id(), v1::kInteractionCompletedType,
                             done, owner));
  }
  return absl::OkStatus();
}

absl::Status InteractionStore::MarkDone(pqxx::transaction_base& tx, const Actor& actor, v1::Interaction& x,
                                        const Owner& owner, absl::Time now) {
  x.set_status(v1::Interaction::DONE);
  x.set_overdue(false);
  *x.mutable_done_time() = ToProtoTimestamp(now);
  *x.mutable_occur_time() = OccurTime(x);
  *x.mutable_update_time() = ToProtoTimestamp(now);
  x.set_version(x.version() + 1);
  Save(tx, x);
  v1::InteractionCompleted done;
  *done.mutable_interaction() = x;
  for (std::string& d : TouchedDeals(tx, x)) done.add_touched_deal_ids(std::move(d));
  return Emit(tx, outbox_, actor, v1::kInteractionAggregate, x.id(), v1::kInteractionCompletedType, done, owner);
}

absl::Status InteractionStore::MarkCancelled(pqxx::transaction_base& tx, const Actor& actor, v1::Interaction& x,
                                             const Owner& owner, const std::string& reason, absl::Time now) {
  if (!x.calendar_id().empty()) ReleaseSlot(tx, x.calendar_id(), FromProtoTimestamp(x.planned_time()));
  x.set_status(v1::Interaction::CANCELLED);
  x.set_overdue(false);
  x.set_version(x.version() + 1);
  *x.mutable_update_time() = ToProtoTimestamp(now);
  Save(tx, x);
  v1::InteractionCancelled ev;
  *ev.mutable_interaction() = x;
  ev.set_reason(reason);
  return Emit(tx, outbox_, actor, v1::kInteractionAggregate, x.id(), v1::kInteractionCancelledType, ev, owner);
}

absl::StatusOr<v1::Interaction> InteractionStore::Create(const Actor& actor, const v1::Interaction& in,
                                                         std::string_view idempotency_key) {
  const absl::Time now = clock_.Now();
  v1::Interaction out;
  const pg::IdempotencyScope scope{.caller = rpc::IdempotencyCaller(actor.principal),
                                   .method = "crm.deals.v1.InteractionService/CreateInteraction",
                                   .key = std::string(idempotency_key)};
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    // Validated inside: a key used before with another request is named as such, whatever this one is.
    return pg::RunIdempotent(tx, scope, now, in, out, [&]() -> absl::Status {
      std::vector<FieldViolation> bad = Validate(in, /*upsert=*/false);
      if (!bad.empty()) return InvalidFieldsError(bad);
      out = in;
      out.clear_id();
      out.clear_next_interaction_id();
      out.clear_previous_interaction_id();
      out.clear_done_time();
      std::optional<LockedRequest> request;
      Owner owner;
      CRM_RETURN_IF_ERROR(InsertInTx(tx, actor, out, now, request, owner));
      if (request.has_value()) CRM_RETURN_IF_ERROR(RefreshRequest(tx, outbox_, actor, *request, now));
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::StatusOr<v1::Interaction> InteractionStore::Get(const Principal& caller, std::string_view id) {
  if (!IsUuid(id)) return InvalidFieldError("id", "not a UUID");
  const absl::Time now = clock_.Now();
  v1::Interaction out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        std::optional<v1::Interaction> found =
            LoadInteraction(tx, "i.id = $1::uuid", now, std::string(id), "", /*for_update=*/false);
        if (!found.has_value()) return absl::NotFoundError("interaction not found");
        out = *std::move(found);
        CRM_ASSIGN_OR_RETURN(Owner owner, OwnerOf(tx, out.responsible_id()));
        return CheckCanRead(caller, owner, kWhat);
      },
      {.read_only = true}));
  return out;
}

namespace {

// The fields Update may change and those an upsert may carry.
const std::set<std::string>& UpdatePaths() {
  static const auto* paths = new std::set<std::string>{"subject", "planned_time", "calendar_id", "online",
                                                       "responsible_id", "request_id", "deal_id"};
  return *paths;
}
const std::set<std::string>& PlannedOnlyPaths() {
  static const auto* paths = new std::set<std::string>{"planned_time", "calendar_id", "online"};
  return *paths;
}

}  // namespace

// Applies the `paths` of `in` to `x` (stored as `old`) in `tx`: responsible (assign check), request
// (same client; gives a project-less interaction its project and primacy), deal, planned time and slot,
// subject and the integration's fields. Records the proto names of what changed in `changed`.
static absl::Status ApplyPaths(pqxx::transaction_base& tx, const Actor& actor, const v1::Interaction& old,
                               const v1::Interaction& in, const std::set<std::string>& paths, absl::TimeZone zone,
                               v1::Interaction& x, std::vector<std::string>& changed) {
  const auto has = [&](const char* p) { return paths.contains(p); };
  if (has("subject") && in.subject() != old.subject()) {
    x.set_subject(in.subject());
    changed.push_back("subject");
  }
  if (has("direction") && in.direction() != old.direction()) {
    x.set_direction(in.direction());
    changed.push_back("direction");
  }
  if (has("result") && in.result() != old.result()) {
    x.set_result(in.result());
    changed.push_back("result");
  }
  if (has("outcome") && in.outcome() != old.outcome()) {
    x.set_outcome(in.outcome());
    changed.push_back("outcome");
  }
  for (const char* f : {"start_time", "end_time"}) {
    if (!has(f)) continue;
    const bool start = std::string_view(f) == "start_time";
    const Timestamp& now_ts = start ? in.start_time() : in.end_time();
    const bool now_has = start ? in.has_start_time() : in.has_end_time();
    const Timestamp& was = start ? old.start_time() : old.end_time();
    const bool was_has = start ? old.has_start_time() : old.has_end_time();
    if (SameTime(now_has, now_ts, was_has, was)) continue;
    if (start) {
      *x.mutable_start_time() = now_ts;
    } else {
      *x.mutable_end_time() = now_ts;
    }
    changed.push_back(f);
  }
  if (x.has_start_time() && x.has_end_time() && Before(x.end_time(), x.start_time())) {
    return InvalidFieldError("interaction.end_time", "before start_time");
  }
  if (has("responsible_id") && in.responsible_id() != old.responsible_id()) {
    if (in.responsible_id().empty()) return InvalidFieldError("interaction.responsible_id", "required");
    CRM_ASSIGN_OR_RETURN(Owner next, OwnerOf(tx, in.responsible_id()));
    CRM_RETURN_IF_ERROR(CheckCanAssign(actor.principal, next));
    x.set_responsible_id(in.responsible_id());
    changed.push_back("responsible_id");
  }
  if (has("deal_id") && in.deal_id() != old.deal_id()) {
    CRM_RETURN_IF_ERROR(CheckDeal(tx, in.deal_id(), "interaction.deal_id"));
    x.set_deal_id(in.deal_id());
    changed.push_back("deal_id");
  }
  if (has("request_id") && in.request_id() != old.request_id()) {
    if (!in.request_id().empty()) {
      CRM_ASSIGN_OR_RETURN(LockedRequest request, RequestFor(tx, actor.principal, in.request_id(), old.client_id(),
                                                             "interaction.request_id"));
      const std::string project = request.request.project_id();
      if (old.project_id().empty()) {
        LockPrimacy(tx, old.client_id(), project);
        const pqxx::row row = pg::ExecPrepared1(tx, kSetProject, old.id(), project, old.client_id());
        x.set_project_id(project);
        SetPrimacy(x, row[0].as<bool>());
        changed.push_back("project_id");
      } else if (project != old.project_id()) {
        return InvalidFieldError("interaction.request_id", "a request of another project");
      }
    }
    x.set_request_id(in.request_id());
    changed.push_back("request_id");
  }
  const bool planned = old.status() == v1::Interaction::PLANNED;
  for (const std::string& p : PlannedOnlyPaths()) {
    if (has(p.c_str()) && !planned) return absl::FailedPreconditionError(absl::StrCat("interaction is not planned: ", p));
  }
  if (has("planned_time") && !SameTime(in.has_planned_time(), in.planned_time(), old.has_planned_time(), old.planned_time())) {
    if (!in.has_planned_time()) return InvalidFieldError("interaction.planned_time", "required for a planned interaction");
    *x.mutable_planned_time() = in.planned_time();
    changed.push_back("planned_time");
  }
  if (has("calendar_id") && in.calendar_id() != old.calendar_id()) {
    if (!in.calendar_id().empty() && x.kind() != v1::Interaction::MEETING) {
      return InvalidFieldError("interaction.calendar_id", "only a meeting is booked into a slot calendar");
    }
    x.set_calendar_id(in.calendar_id());
    changed.push_back("calendar_id");
  }
  if (has("online") && in.online() != old.online()) {
    if (in.online() && x.kind() != v1::Interaction::MEETING) {
      return InvalidFieldError("interaction.online", "only a meeting is online");
    }
    x.set_online(in.online());
    changed.push_back("online");
  }
  // The slot follows the meeting: the old place is given back, the new one taken.
  const bool moved = !SameTime(x.has_planned_time(), x.planned_time(), old.has_planned_time(), old.planned_time()) ||
                     x.calendar_id() != old.calendar_id();
  if (moved) {
    if (!old.calendar_id().empty()) ReleaseSlot(tx, old.calendar_id(), FromProtoTimestamp(old.planned_time()));
    if (!x.calendar_id().empty()) {
      CRM_RETURN_IF_ERROR(BookSlot(tx, x.calendar_id(), FromProtoTimestamp(x.planned_time()), zone,
                                   "interaction.calendar_id", "interaction.planned_time"));
    }
  }
  x.set_pre_registered(PreRegistered(x));
  return absl::OkStatus();
}

absl::StatusOr<v1::Interaction> InteractionStore::Update(const Actor& actor, const v1::Interaction& in,
                                                         const google::protobuf::FieldMask& mask) {
  std::vector<FieldViolation> bad;
  CheckUuid(in.id(), "interaction.id", true, bad);
  std::set<std::string> paths;
  if (mask.paths_size() == 0) bad.push_back({.field = "update_mask", .description = "required"});
  for (const std::string& p : mask.paths()) {
    if (!UpdatePaths().contains(p)) {
      bad.push_back({.field = "update_mask", .description = absl::StrCat("cannot update ", p)});
    } else {
      paths.insert(p);
    }
  }
  if (paths.contains("subject") && CodePoints(in.subject()) > kMaxSubject) {
    bad.push_back({.field = "interaction.subject", .description = "longer than 500 characters"});
  }
  if (paths.contains("planned_time") && in.has_planned_time() && !ValidTime(in.planned_time())) {
    bad.push_back({.field = "interaction.planned_time", .description = "not a time between 1970 and 9999"});
  }
  for (const char* f : {"responsible_id", "request_id", "deal_id", "calendar_id"}) {
    if (!paths.contains(f)) continue;
    const std::string& v = std::string_view(f) == "responsible_id" ? in.responsible_id()
                           : std::string_view(f) == "request_id"   ? in.request_id()
                           : std::string_view(f) == "deal_id"      ? in.deal_id()
                                                                   : in.calendar_id();
    CheckUuid(v, absl::StrCat("interaction.", f), false, bad);
  }
  if (!bad.empty()) return InvalidFieldsError(bad);
  const absl::Time now = clock_.Now();
  v1::Interaction out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    std::optional<v1::Interaction> old = LoadById(tx, in.id(), now);
    if (!old.has_value()) return absl::NotFoundError("interaction not found");
    CRM_ASSIGN_OR_RETURN(Owner owner, OwnerOf(tx, old->responsible_id()));
    CRM_RETURN_IF_ERROR(CheckCanWrite(actor.principal, owner, kWhat));
    CRM_RETURN_IF_ERROR(CheckVersion(in.version(), old->version()));
    v1::Interaction x = *old;
    std::vector<std::string> changed;
    CRM_RETURN_IF_ERROR(ApplyPaths(tx, actor, *old, in, paths, zone_, x, changed));
    out = x;
    if (changed.empty()) return absl::OkStatus();
    x.set_version(old->version() + 1);
    *x.mutable_update_time() = ToProtoTimestamp(now);
    *x.mutable_occur_time() = OccurTime(x);
    x.set_overdue(Overdue(x, now));
    Save(tx, x);
    out = x;
    Owner next_owner = owner;
    if (x.responsible_id() != owner.responsible_id) {
      CRM_ASSIGN_OR_RETURN(next_owner, OwnerOf(tx, x.responsible_id()));
    }
    v1::InteractionUpdated ev;
    *ev.mutable_interaction() = x;
    for (const std::string& c : changed) ev.add_changed_fields(c);
    if (x.responsible_id() != old->responsible_id()) ev.set_from_responsible_id(old->responsible_id());
    CRM_RETURN_IF_ERROR(Emit(tx, outbox_, actor, v1::kInteractionAggregate, x.id(), v1::kInteractionUpdatedType, ev,
                             next_owner, &owner));
    std::set<std::string> requests{old->request_id(), x.request_id()};
    for (const std::string& r : requests) {
      if (!r.empty()) CRM_RETURN_IF_ERROR(RefreshRequest(tx, outbox_, actor, r, now));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Interaction> InteractionStore::Upsert(const Actor& actor, const v1::Interaction& in) {
  std::vector<FieldViolation> bad = Validate(in, /*upsert=*/true);
  if (!bad.empty()) return InvalidFieldsError(bad);
  const absl::Time now = clock_.Now();
  v1::Interaction out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    pg::ExecPrepared(tx, kLockExternal, in.source(), in.external_id());
    std::optional<v1::Interaction> old =
        LoadInteraction(tx, "i.source = $1 AND i.external_id = $2", now, in.source(), in.external_id());
    if (!old.has_value()) {
      if (in.status() == v1::Interaction::CANCELLED) {
        return InvalidFieldError("interaction.status", "a new interaction is PLANNED or DONE");
      }
      out = in;
      out.clear_id();
      out.clear_next_interaction_id();
      out.clear_previous_interaction_id();
      out.clear_done_time();
      std::optional<LockedRequest> request;
      Owner owner;
      CRM_RETURN_IF_ERROR(InsertInTx(tx, actor, out, now, request, owner));
      if (request.has_value()) CRM_RETURN_IF_ERROR(RefreshRequest(tx, outbox_, actor, *request, now));
      return absl::OkStatus();
    }
    CRM_ASSIGN_OR_RETURN(Owner owner, OwnerOf(tx, old->responsible_id()));
    CRM_RETURN_IF_ERROR(CheckCanWrite(actor.principal, owner, kWhat));
    std::vector<FieldViolation> fixed;
    if (in.client_id() != old->client_id()) fixed.push_back({.field = "interaction.client_id", .description = "cannot change"});
    if (in.kind() != old->kind()) fixed.push_back({.field = "interaction.kind", .description = "cannot change"});
    if (!in.project_id().empty() && in.project_id() != old->project_id() && !old->project_id().empty()) {
      fixed.push_back({.field = "interaction.project_id", .description = "cannot change"});
    }
    if (!fixed.empty()) return InvalidFieldsError(fixed);
    // What the call carries; what it leaves out is kept. Status only moves forward.
    std::set<std::string> paths;
    if (in.direction() != v1::Interaction::DIRECTION_UNSPECIFIED) paths.insert("direction");
    if (!in.subject().empty()) paths.insert("subject");
    if (!in.result().empty()) paths.insert("result");
    if (in.outcome() != v1::Interaction::OUTCOME_UNSPECIFIED) paths.insert("outcome");
    if (in.has_start_time()) paths.insert("start_time");
    if (in.has_end_time()) paths.insert("end_time");
    if (!in.responsible_id().empty()) paths.insert("responsible_id");
    if (!in.deal_id().empty()) paths.insert("deal_id");
    if (!in.request_id().empty()) paths.insert("request_id");
    const bool planned = old->status() == v1::Interaction::PLANNED;
    if (planned && in.has_planned_time()) paths.insert("planned_time");
    if (planned && !in.calendar_id().empty()) paths.insert("calendar_id");
    if (planned && in.kind() == v1::Interaction::MEETING && !in.calendar_id().empty()) paths.insert("online");
    const v1::Interaction::Status status = DefaultStatus(in);
    const bool completes = planned && status == v1::Interaction::DONE;
    const bool cancels = planned && status == v1::Interaction::CANCELLED;
    if (!completes && (paths.contains("result") || paths.contains("outcome") || paths.contains("start_time") ||
                       paths.contains("end_time")) && old->status() != v1::Interaction::DONE) {
      return InvalidFieldError("interaction.status", "a result, decode or times come with DONE");
    }
    v1::Interaction x = *old;
    std::vector<std::string> changed;
    CRM_RETURN_IF_ERROR(ApplyPaths(tx, actor, *old, in, paths, zone_, x, changed));
    if (changed.empty() && !completes && !cancels) {
      out = *old;  // the same call again: nothing to record
      return absl::OkStatus();
    }
    Owner next_owner = owner;  // x's responsible's, read once
    if (!changed.empty()) {
      x.set_version(old->version() + 1);
      *x.mutable_update_time() = ToProtoTimestamp(now);
      *x.mutable_occur_time() = OccurTime(x);
      x.set_overdue(Overdue(x, now));
      Save(tx, x);
      if (x.responsible_id() != owner.responsible_id) {
        CRM_ASSIGN_OR_RETURN(next_owner, OwnerOf(tx, x.responsible_id()));
      }
      v1::InteractionUpdated ev;
      *ev.mutable_interaction() = x;
      for (const std::string& c : changed) ev.add_changed_fields(c);
      if (x.responsible_id() != old->responsible_id()) ev.set_from_responsible_id(old->responsible_id());
      CRM_RETURN_IF_ERROR(Emit(tx, outbox_, actor, v1::kInteractionAggregate, x.id(), v1::kInteractionUpdatedType, ev,
                               next_owner, &owner));
    }
    if (completes) CRM_RETURN_IF_ERROR(MarkDone(tx, actor, x, next_owner, now));
    if (cancels) CRM_RETURN_IF_ERROR(MarkCancelled(tx, actor, x, next_owner, "", now));
    out = x;
    std::set<std::string> requests{old->request_id(), x.request_id()};
    for (const std::string& r : requests) {
      if (!r.empty()) CRM_RETURN_IF_ERROR(RefreshRequest(tx, outbox_, actor, r, now));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::CompleteInteractionResponse> InteractionStore::Complete(const Actor& actor,
                                                                           const v1::CompleteInteractionRequest& req) {
  std::vector<FieldViolation> bad;
  CheckUuid(req.id(), "id", true, bad);
  if (CodePoints(req.result()) > kMaxResult) bad.push_back({.field = "result", .description = "longer than 5000 characters"});
  if (!v1::Interaction::Outcome_IsValid(req.outcome())) bad.push_back({.field = "outcome", .description = "unknown outcome"});
  if (req.has_start_time() && !ValidTime(req.start_time())) {
    bad.push_back({.field = "start_time", .description = "not a time between 1970 and 9999"});
  }
  if (req.has_end_time() && !ValidTime(req.end_time())) {
    bad.push_back({.field = "end_time", .description = "not a time between 1970 and 9999"});
  }
  if (req.has_start_time() && req.has_end_time() && Before(req.end_time(), req.start_time())) {
    bad.push_back({.field = "end_time", .description = "before start_time"});
  }
  const std::optional<v1::Interaction::Kind> next_kind = NextKindFor(req.outcome());
  if (next_kind.has_value()) {
    if (!req.next().has_planned_time()) {
      bad.push_back({.field = "next.planned_time",
                     .description = absl::StrCat("required: «", OutcomeName(req.outcome()), "» plans the next ",
                                                 *next_kind == v1::Interaction::MEETING ? "meeting" : "call")});
    } else if (!ValidTime(req.next().planned_time())) {
      bad.push_back({.field = "next.planned_time", .description = "not a time between 1970 and 9999"});
    }
    CheckUuid(req.next().responsible_id(), "next.responsible_id", false, bad);
    CheckUuid(req.next().calendar_id(), "next.calendar_id", false, bad);
    if (CodePoints(req.next().subject()) > kMaxSubject) {
      bad.push_back({.field = "next.subject", .description = "longer than 500 characters"});
    }
    if (*next_kind != v1::Interaction::MEETING && (!req.next().calendar_id().empty() || req.next().online())) {
      bad.push_back({.field = !req.next().calendar_id().empty() ? "next.calendar_id" : "next.online",
                     .description = "only a meeting is booked or online; this decode plans a call"});
    }
  } else if (req.has_next()) {
    bad.push_back({.field = "next", .description = req.outcome() == v1::Interaction::REFUSAL
                                                       ? "«Отказ» plans nothing"
                                                       : "only a decode plans the next interaction"});
  }
  if (!bad.empty()) return InvalidFieldsError(bad);
  const absl::Time now = clock_.Now();
  v1::CompleteInteractionResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    out.Clear();
    std::optional<v1::Interaction> old = LoadById(tx, req.id(), now);
    if (!old.has_value()) return absl::NotFoundError("interaction not found");
    CRM_ASSIGN_OR_RETURN(Owner owner, OwnerOf(tx, old->responsible_id()));
    CRM_RETURN_IF_ERROR(CheckCanWrite(actor.principal, owner, kWhat));
    CRM_RETURN_IF_ERROR(CheckVersion(req.version(), old->version()));
    if (old->status() != v1::Interaction::PLANNED) return absl::FailedPreconditionError("interaction is not planned");
    std::optional<LockedRequest> request;  // x's request, when the next one's checks read it
    if (req.outcome() == v1::Interaction::OUTCOME_UNSPECIFIED && !old->request_id().empty() &&
        OutcomeRequired(old->kind())) {
      return InvalidFieldError("outcome", "required to finish a call or a meeting of a request: DECISION_MAKING, "
                                          "MARKET_ANALYSIS, MEETING_SCHEDULED or REFUSAL");
    }
    v1::Interaction x = *old;
    x.set_result(req.result());
    x.set_outcome(req.outcome());
    if (req.has_start_time()) *x.mutable_start_time() = req.start_time();
    if (req.has_end_time()) *x.mutable_end_time() = req.end_time();
    if (next_kind.has_value()) {
      v1::Interaction n;
      n.set_kind(*next_kind);
      n.set_direction(v1::Interaction::OUTBOUND);
      n.set_status(v1::Interaction::PLANNED);
      n.set_client_id(x.client_id());
      n.set_request_id(x.request_id());
      n.set_deal_id(x.deal_id());
      n.set_project_id(x.project_id());
      n.set_responsible_id(req.next().responsible_id().empty() ? x.responsible_id() : req.next().responsible_id());
      n.set_subject(req.next().subject().empty() ? OutcomeName(req.outcome()) : req.next().subject());
      *n.mutable_planned_time() = req.next().planned_time();
      n.set_calendar_id(req.next().calendar_id());
      n.set_online(req.next().online());
      n.set_previous_interaction_id(x.id());
      Owner next_owner;
      const absl::Status made = InsertInTx(tx, actor, n, now, request, next_owner);
      if (!made.ok()) {
        // The next one's fields are the request's "next.*" (InsertInTx names them as an interaction's).
        std::vector<FieldViolation> renamed = FieldViolations(made);
        if (renamed.empty()) return made;
        for (FieldViolation& v : renamed) {
          if (absl::StartsWith(v.field, "interaction.")) v.field = absl::StrCat("next.", v.field.substr(12));
        }
        return InvalidFieldsError(renamed);
      }
      x.set_next_interaction_id(n.id());
      *out.mutable_next() = n;
      // InsertInTx may have seeded the caller into deals' directory: the event sees their teams then — as
      // InsertInTx read them for the next one when it has the same responsible (the usual case).
      if (x.responsible_id() == ActingUserId(actor.principal)) {
        if (n.responsible_id() == x.responsible_id()) {
          owner = next_owner;
        } else {
          CRM_ASSIGN_OR_RETURN(owner, OwnerOf(tx, x.responsible_id()));
        }
      }
    }
    CRM_RETURN_IF_ERROR(MarkDone(tx, actor, x, owner, now));
    *out.mutable_interaction() = x;
    if (request.has_value()) {
      CRM_RETURN_IF_ERROR(RefreshRequest(tx, outbox_, actor, *request, now));  // locked by the next one's checks
    } else if (!x.request_id().empty()) {
      CRM_RETURN_IF_ERROR(RefreshRequest(tx, outbox_, actor, x.request_id(), now));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Interaction> InteractionStore::Cancel(const Actor& actor, const v1::CancelInteractionRequest& req) {
  std::vector<FieldViolation> bad;
  CheckUuid(req.id(), "id", true, bad);
  if (CodePoints(req.reason()) > kMaxReason) bad.push_back({.field = "reason", .description = "longer than 1000 characters"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  const absl::Time now = clock_.Now();
  v1::Interaction out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    std::optional<v1::Interaction> old = LoadById(tx, req.id(), now);
    if (!old.has_value()) return absl::NotFoundError("interaction not found");
    CRM_ASSIGN_OR_RETURN(Owner owner, OwnerOf(tx, old->responsible_id()));
    CRM_RETURN_IF_ERROR(CheckCanWrite(actor.principal, owner, kWhat));
    CRM_RETURN_IF_ERROR(CheckVersion(req.version(), old->version()));
    if (old->status() != v1::Interaction::PLANNED) return absl::FailedPreconditionError("interaction is not planned");
    v1::Interaction x = *old;
    CRM_RETURN_IF_ERROR(MarkCancelled(tx, actor, x, owner, req.reason(), now));
    out = x;
    if (!x.request_id().empty()) CRM_RETURN_IF_ERROR(RefreshRequest(tx, outbox_, actor, x.request_id(), now));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::ListInteractionsResponse> InteractionStore::List(const Principal& caller,
                                                                    const v1::ListInteractionsRequest& req) {
  std::vector<FieldViolation> bad;
  CheckUuid(req.client_id(), "client_id", false, bad);
  CheckUuid(req.request_id(), "request_id", false, bad);
  CheckUuid(req.deal_id(), "deal_id", false, bad);
  CheckUuid(req.project_id(), "project_id", false, bad);
  const std::string responsible = ResponsibleFilter(caller, req.responsible(), "responsible", bad);
  if (!v1::Interaction::Kind_IsValid(req.kind())) bad.push_back({.field = "kind", .description = "unknown kind"});
  if (!v1::Interaction::Status_IsValid(req.status())) bad.push_back({.field = "status", .description = "unknown status"});
  if (req.has_from_time() && !ValidTime(req.from_time())) {
    bad.push_back({.field = "from_time", .description = "not a time between 1970 and 9999"});
  }
  if (req.has_to_time() && !ValidTime(req.to_time())) {
    bad.push_back({.field = "to_time", .description = "not a time between 1970 and 9999"});
  }
  const int size = PageSizeOr(req.page_size(), bad);
  absl::StatusOr<std::optional<TimePageKey>> after = DecodeTimePageToken("page_token", req.page_token());
  if (!after.ok()) bad.push_back({.field = "page_token", .description = "malformed page token"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  const Scope scope = ReadScope(caller);
  if (scope == Scope::kNone) return v1::ListInteractionsResponse();
  const absl::Time now = clock_.Now();
  SqlParams p;
  std::vector<std::string> conds;
  const auto eq = [&](const char* column, const std::string& value, const char* cast) {
    if (!value.empty()) conds.push_back(absl::StrCat("i.", column, " = ", p.Add(value), cast));
  };
  eq("client_id", req.client_id(), "::uuid");
  eq("request_id", req.request_id(), "::uuid");
  eq("deal_id", req.deal_id(), "::uuid");
  eq("project_id", req.project_id(), "::uuid");
  eq("responsible_id", responsible, "::uuid");
  if (req.kind() != v1::Interaction::KIND_UNSPECIFIED) eq("kind", Num(req.kind()), "::smallint");
  if (req.status() != v1::Interaction::STATUS_UNSPECIFIED) eq("status", Num(req.status()), "::smallint");
  if (req.overdue()) conds.push_back(absl::StrCat(kOverdueWhere, TsParam(p, now)));
  if (req.has_from_time()) conds.push_back(absl::StrCat("i.occur_time >= ", TsParam(p, FromProtoTimestamp(req.from_time()))));
  if (req.has_to_time()) conds.push_back(absl::StrCat("i.occur_time < ", TsParam(p, FromProtoTimestamp(req.to_time()))));
  if (after->has_value()) {
    conds.push_back(absl::StrCat("(i.occur_time, i.id) < (", TsParam(p, absl::FromUnixMicros((*after)->micros)), ", ",
                                 p.Add((*after)->id), "::uuid)"));
  }
  const std::string where = conds.empty() ? "TRUE" : absl::StrJoin(conds, " AND ");
  const std::string limit = absl::StrCat(" LIMIT ", size + 1);
  // The page's keys on an ordered index range (interaction_store.h), then those rows with their clients.
  std::string keys;
  const bool narrow = !req.client_id().empty() || !req.request_id().empty() || !req.deal_id().empty() ||
                      !responsible.empty();
  if (scope == Scope::kAll) {
    keys = absl::StrCat("SELECT i.id FROM interactions i WHERE ", where, kNewestFirst, limit);
  } else if (narrow) {
    keys = absl::StrCat("SELECT i.id FROM interactions i WHERE i.responsible_id IN ", VisibleResponsibles(caller, p),
                        " AND ", where, kNewestFirst, limit);
  } else {
    keys = absl::StrCat("SELECT k.id FROM ", VisibleResponsibles(caller, p),
                        " AS m(id) CROSS JOIN LATERAL (SELECT i.occur_time, i.id FROM interactions i "
                        "WHERE i.responsible_id = m.id AND ", where, kNewestFirst, limit,
                        ") k ORDER BY k.occur_time DESC, k.id DESC", limit);
  }
  const std::string sql = absl::StrCat("SELECT ", InteractionColumns(),
                                       " FROM interactions i JOIN clients c ON c.id = i.client_id "
                                       "WHERE i.id = ANY(ARRAY(", keys, "))", kNewestFirst, limit);
  v1::ListInteractionsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        pqxx::result r = Exec(tx, sql, p);
        for (size_t i = 0; i < r.size() && static_cast<int>(i) < size; ++i) {
          *out.add_interactions() = ReadInteraction(r[i], now);
        }
        if (static_cast<int>(r.size()) > size) {
          const v1::Interaction& last = out.interactions(size - 1);
          out.set_next_page_token(TimePageToken(absl::ToUnixMicros(FromProtoTimestamp(last.occur_time())), last.id()));
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

}  // namespace crm::deals::interactions
