// File: services/deals/applications/store.cc
// Deal applications (D15 second half, seed 004 §6.3): see store.h.
#include "services/deals/applications/store.h"

#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/idempotency.h"
#include "libs/rpc/call.h"
#include "google/protobuf/util/message_differencer.h"
#include "nlohmann/json.hpp"
#include "proto/crm/deals/v1/applications_event_types.h"
#include "crm/deals/v1/applications_events.pb.h"
#include "services/deals/applications/access.h"
#include "services/deals/applications/checks.h"
#include "services/deals/applications/shares.h"
#include "services/deals/interactions/common.h"
#include "services/deals/sql.h"
#include "services/deals/timeline.h"
#include "services/deals/violations.h"

namespace crm::deals::applications {

using crm::common::v1::Principal;

namespace {

namespace ia = crm::deals::interactions;

constexpr size_t kMaxReason = 500;

// The application's select list (alias a) and what follows FROM: names beside ids in one statement.
constexpr char kColumns[] =
    "a.id::text, a.request_id::text, a.client_id::text, c.name, a.project_id::text, coalesce(p.name, ''), "
    "coalesce(a.unit_id::text, ''), coalesce(u.number, ''), coalesce(u.building_id::text, ''), "
    "coalesce(bl.name, ''), coalesce(bl.phase, ''), coalesce(u.section_number, 0), coalesce(u.floor, 0), "
    "a.price_minor, a.currency, coalesce(a.booking_id::text, ''), a.ownership_kind, a.payment_kind, "
    "coalesce(a.bank_id::text, ''), coalesce(a.campaign_id::text, ''), coalesce(mc.name, ''), a.own_funds_minor, "
    "a.payment_schedule::text, a.comment, a.status, a.responsible_id::text, coalesce(a.creator_id::text, ''), "
    "a.application_date::text, a.version, "
    "(extract(epoch FROM a.create_time) * 1000000)::bigint, (extract(epoch FROM a.update_time) * 1000000)::bigint, "
    "coalesce(a.deal_id::text, '')";
constexpr char kFrom[] =
    " FROM deal_applications a JOIN clients c ON c.id = a.client_id LEFT JOIN realty_projects p ON p.id = "
    "a.project_id LEFT JOIN realty_units u ON u.id = a.unit_id LEFT JOIN realty_buildings bl ON bl.id = "
    "u.building_id LEFT JOIN marketing_campaigns mc ON mc.id = a.campaign_id";
constexpr char kNewestFirst[] = " ORDER BY a.create_time DESC, a.id DESC";

// Participants of the applications of a uuid[] parameter, in order; НЛ at the application's date and
// ДУЛ from the card, derived here.
constexpr char kParticipantsSql[] =
    "SELECT pp.application_id::text, pp.client_id::text, c.name, c.kind, pp.conditional, pp.is_real, pp.signer, "
    "pp.escrow, coalesce(pp.signature_expiry_date::text, ''), pp.owner, pp.share_numerator, "
    "pp.share_denominator, pp.share_amount_minor, "
    "coalesce(c.birth_date > (a.application_date - interval '18 years')::date, false), "
    "(c.passport_series <> '' AND c.passport_number <> '') "
    "FROM deal_application_participants pp JOIN deal_applications a ON a.id = pp.application_id "
    "JOIN clients c ON c.id = pp.client_id WHERE pp.application_id = ANY(";


v1::DealApplication ReadApplication(const pqxx::row& r) {
  v1::DealApplication a;
  a.set_id(r[0].as<std::string>());
  a.set_request_id(r[1].as<std::string>());
  a.set_client_id(r[2].as<std::string>());
  a.set_client_name(r[3].as<std::string>());
  a.set_project_id(r[4].as<std::string>());
  a.set_project_name(r[5].as<std::string>());
  a.set_unit_id(r[6].as<std::string>());
  a.set_unit_number(r[7].as<std::string>());
  a.set_building_id(r[8].as<std::string>());
  a.set_building_name(r[9].as<std::string>());
  a.set_phase(r[10].as<std::string>());
  a.set_section_number(r[11].as<int>());
  a.set_floor(r[12].as<int>());
  const std::string currency = r[14].as<std::string>();
  if (!a.unit_id().empty()) *a.mutable_price() = Money(r[13].as<int64_t>(), currency);
  a.set_booking_id(r[15].as<std::string>());
  a.set_ownership_kind(static_cast<v1::OwnershipKind>(r[16].as<int>()));
  a.set_payment_kind(static_cast<v1::PaymentKind>(r[17].as<int>()));
  a.set_bank_id(r[18].as<std::string>());
  a.set_campaign_id(r[19].as<std::string>());
  a.set_campaign_name(r[20].as<std::string>());
  if (!r[21].is_null()) *a.mutable_own_funds() = Money(r[21].as<int64_t>(), currency);
  for (const nlohmann::json& j : nlohmann::json::parse(r[22].as<std::string>())) {
    v1::PaymentScheduleItem* item = a.add_payment_schedule();
    item->set_date(j.at("date").get<std::string>());
    *item->mutable_amount() = Money(j.at("amount_minor").get<int64_t>(), currency);
    item->set_kind(static_cast<v1::PaymentScheduleItem::Kind>(j.at("kind").get<int>()));
  }
  a.set_comment(r[23].as<std::string>());
  a.set_status(static_cast<v1::DealApplication::Status>(r[24].as<int>()));
  a.set_responsible_id(r[25].as<std::string>());
  a.set_creator_id(r[26].as<std::string>());
  a.set_application_date(r[27].as<std::string>());
  a.set_version(r[28].as<int64_t>());
  *a.mutable_create_time() = TsFromMicros(r[29].as<int64_t>());
  *a.mutable_update_time() = TsFromMicros(r[30].as<int64_t>());
  a.set_deal_id(r[31].as<std::string>());
  return a;
}

// Fills the participants of `apps` (one statement).
void LoadParticipants(pqxx::transaction_base& tx, std::vector<v1::DealApplication*> apps) {
  if (apps.empty()) return;
  std::map<std::string, v1::DealApplication*> by_id;
  std::vector<std::string> ids;
  for (v1::DealApplication* a : apps) {
    by_id[a->id()] = a;
    ids.push_back(a->id());
    a->clear_participants();
  }
  SqlParams p;
  pqxx::result r =
      Exec(tx, absl::StrCat(kParticipantsSql, p.Add(ArrayLiteral(ids)), "::uuid[]) ORDER BY pp.application_id, pp.pos"),
           p);
  for (const pqxx::row& row : r) {
    v1::DealApplication* a = by_id[row[0].as<std::string>()];
    v1::DealParticipant* x = a->add_participants();
    x->set_client_id(row[1].as<std::string>());
    x->set_client_name(row[2].as<std::string>());
    x->set_client_kind(static_cast<v1::Client::Kind>(row[3].as<int>()));
    x->set_conditional(row[4].as<bool>());
    x->set_real(row[5].as<bool>());
    x->set_signer(row[6].as<bool>());
    x->set_escrow(row[7].as<bool>());
    x->set_signature_expiry_date(row[8].as<std::string>());
    x->set_owner(row[9].as<bool>());
    x->set_share_numerator(row[10].as<int64_t>());
    x->set_share_denominator(row[11].as<int64_t>());
    if (!row[12].is_null()) *x->mutable_share_amount() = Money(row[12].as<int64_t>(), a->price().currency().empty() ? "RUB" : a->price().currency());
    x->set_minor(row[13].as<bool>());
    x->set_identity_document(row[14].as<bool>());
  }
}

std::optional<v1::DealApplication> Load(pqxx::transaction_base& tx, const std::string& id, bool for_update) {
  SqlParams p;
  pqxx::result r = Exec(tx,
                        absl::StrCat("SELECT ", kColumns, kFrom, " WHERE a.id = ", p.Add(id), "::uuid",
                                     for_update ? " FOR UPDATE OF a" : ""),
                        p);
  if (r.empty()) return std::nullopt;
  v1::DealApplication a = ReadApplication(r[0]);
  LoadParticipants(tx, {&a});
  return a;
}

// The request an application is made from.
struct RequestRow {
  std::string client_id;
  std::string project_id;
  std::string responsible_id;
};

std::optional<RequestRow> LoadRequest(pqxx::transaction_base& tx, const std::string& id) {
  SqlParams p;
  pqxx::result r = Exec(tx,
                        absl::StrCat("SELECT client_id::text, project_id::text, responsible_id::text FROM "
                                     "client_requests WHERE id = ",
                                     p.Add(id), "::uuid"),
                        p);
  if (r.empty()) return std::nullopt;
  return RequestRow{r[0][0].as<std::string>(), r[0][1].as<std::string>(), r[0][2].as<std::string>()};
}

// Writes `a` (insert or update) and replaces its participants.
void Write(pqxx::transaction_base& tx, const v1::DealApplication& a, bool insert) {
  nlohmann::json schedule = nlohmann::json::array();
  for (const v1::PaymentScheduleItem& item : a.payment_schedule()) {
    schedule.push_back({{"date", item.date()}, {"amount_minor", item.amount().amount_minor()}, {"kind", static_cast<int>(item.kind())}});
  }
  SqlParams p;
  const std::string id = p.Add(a.id()) + "::uuid";
  const std::string unit = absl::StrCat("NULLIF(", p.Add(a.unit_id()), ", '')::uuid");
  const std::string booking = absl::StrCat("NULLIF(", p.Add(a.booking_id()), ", '')::uuid");
  const std::string price = p.Add(absl::StrCat(a.price().amount_minor())) + "::bigint";
  const std::string currency = p.Add(a.price().currency().empty() ? "RUB" : a.price().currency());
  const std::string ownership = p.Add(absl::StrCat(static_cast<int>(a.ownership_kind()))) + "::smallint";
  const std::string payment = p.Add(absl::StrCat(static_cast<int>(a.payment_kind()))) + "::smallint";
  const std::string bank = absl::StrCat("NULLIF(", p.Add(a.bank_id()), ", '')::uuid");
  const std::string campaign = absl::StrCat("NULLIF(", p.Add(a.campaign_id()), ", '')::uuid");
  const std::string deal = absl::StrCat("NULLIF(", p.Add(a.deal_id()), ", '')::uuid");
  const std::string own = a.has_own_funds() ? p.Add(absl::StrCat(a.own_funds().amount_minor())) + "::bigint" : "NULL::bigint";
  const std::string sched = p.Add(schedule.dump()) + "::jsonb";
  const std::string comment = p.Add(a.comment());
  const std::string status = p.Add(absl::StrCat(static_cast<int>(a.status()))) + "::smallint";
  const std::string version = p.Add(absl::StrCat(a.version())) + "::bigint";
  const std::string updated = TsParam(p, FromProtoTimestamp(a.update_time()));
  if (insert) {
    Exec(tx,
         absl::StrCat("INSERT INTO deal_applications (id, request_id, client_id, project_id, unit_id, booking_id, "
                      "price_minor, currency, ownership_kind, payment_kind, bank_id, campaign_id, own_funds_minor, "
                      "payment_schedule, comment, status, responsible_id, creator_id, application_date, "
                      "version, create_time, update_time, deal_id) VALUES (",
                      absl::StrJoin({id, p.Add(a.request_id()) + "::uuid", p.Add(a.client_id()) + "::uuid",
                                     p.Add(a.project_id()) + "::uuid", unit, booking, price, currency, ownership,
                                     payment, bank, campaign, own, sched, comment, status,
                                     p.Add(a.responsible_id()) + "::uuid",
                                     absl::StrCat("NULLIF(", p.Add(a.creator_id()), ", '')::uuid"),
                                     p.Add(a.application_date()) + "::date", version,
                                     TsParam(p, FromProtoTimestamp(a.create_time())), updated, deal},
                                    ", "),
                      ")"),
         p);
  } else {
    Exec(tx,
         absl::StrCat("UPDATE deal_applications SET unit_id = ", unit, ", booking_id = ", booking,
                      ", price_minor = ", price, ", currency = ", currency, ", ownership_kind = ", ownership,
                      ", payment_kind = ", payment, ", bank_id = ", bank, ", campaign_id = ", campaign,
                      ", deal_id = ", deal,
                      ", own_funds_minor = ", own, ", payment_schedule = ", sched, ", comment = ", comment,
                      ", status = ", status, ", version = ", version,
                      ", update_time = ", updated, " WHERE id = ", id),
         p);
    SqlParams d;
    Exec(tx, absl::StrCat("DELETE FROM deal_application_participants WHERE application_id = ", d.Add(a.id()), "::uuid"), d);
  }
  for (int i = 0; i < a.participants_size(); ++i) {
    const v1::DealParticipant& x = a.participants(i);
    SqlParams q;
    Exec(tx,
         absl::StrCat(
             "INSERT INTO deal_application_participants (application_id, pos, client_id, conditional, is_real, "
             "signer, escrow, signature_expiry_date, owner, share_numerator, share_denominator, share_amount_minor) "
             "VALUES (",
             absl::StrJoin({q.Add(a.id()) + "::uuid", q.Add(absl::StrCat(i)) + "::int", q.Add(x.client_id()) + "::uuid",
                            q.Add(x.conditional() ? "t" : "f") + "::boolean", q.Add(x.real() ? "t" : "f") + "::boolean",
                            q.Add(x.signer() ? "t" : "f") + "::boolean", q.Add(x.escrow() ? "t" : "f") + "::boolean",
                            absl::StrCat("NULLIF(", q.Add(x.signature_expiry_date()), ", '')::date"),
                            q.Add(x.owner() ? "t" : "f") + "::boolean", q.Add(absl::StrCat(x.share_numerator())) + "::bigint",
                            q.Add(absl::StrCat(x.share_denominator())) + "::bigint",
                            x.has_share_amount() ? q.Add(absl::StrCat(x.share_amount().amount_minor())) + "::bigint"
                                                 : "NULL::bigint"},
                           ", "),
             ")"),
         q);
  }
}

absl::Status Emit(pqxx::transaction_base& tx, const events::OutboxWriter& outbox, const Actor& actor, const char* type,
                  const v1::DealApplication& a, const Owner& owner, std::vector<std::string> changed = {},
                  v1::DealApplication::Status old_status = v1::DealApplication::STATUS_UNSPECIFIED,
                  const std::string& reason = "") {
  v1::DealApplicationChanged ev;
  *ev.mutable_application() = a;
  for (std::string& f : changed) ev.add_changed_fields(std::move(f));
  ev.set_old_status(old_status);
  ev.set_reason(reason);
  return ia::Emit(tx, outbox, actor, v1::kApplicationAggregate, a.id(), type, ev, owner);
}

// Loads an application for a change by `actor` (its row locked), checking access, version and DRAFT.
absl::StatusOr<std::pair<v1::DealApplication, Owner>> LoadForChange(pqxx::transaction_base& tx, const Actor& actor,
                                                                   const std::string& id, int64_t version,
                                                                   bool draft_only) {
  std::optional<v1::DealApplication> a = Load(tx, id, /*for_update=*/true);
  if (!a.has_value()) return absl::NotFoundError("deal application not found");
  CRM_ASSIGN_OR_RETURN(Owner owner, ia::OwnerOf(tx, a->responsible_id()));
  CRM_RETURN_IF_ERROR(CheckCanWrite(actor.principal, owner));
  CRM_RETURN_IF_ERROR(ia::CheckVersion(version, a->version()));
  if (draft_only && a->status() != v1::DealApplication::DRAFT) {
    return absl::FailedPreconditionError(
        absl::StrCat("only a DRAFT application is edited; this one is ", v1::DealApplication::Status_Name(a->status())));
  }
  return std::make_pair(*std::move(a), std::move(owner));
}

}  // namespace

ApplicationStore::ApplicationStore(pg::Pool& pool, const Clock& clock, absl::TimeZone zone)
    : pool_(pool), clock_(clock), zone_(zone), outbox_("deals", clock) {}

absl::StatusOr<v1::DealApplication> ApplicationStore::Create(const Actor& actor, const v1::DealApplication& in,
                                                             std::string_view key) {
  {
    Violations v;
    if (!IsUuid(in.request_id())) v.Add("application.request_id", in.request_id().empty() ? "required" : "not a UUID");
    if (!in.unit_id().empty() && !IsUuid(in.unit_id())) v.Add("application.unit_id", "not a UUID");
    CRM_RETURN_IF_ERROR(v.Status());
  }
  if (WriteScope(actor.principal) == Scope::kNone) {
    return absl::PermissionDeniedError(absl::StrCat("missing permission ", kWritePrefix, "own"));
  }
  const absl::Time now = clock_.Now();
  v1::DealApplication out;
  const pg::IdempotencyScope scope{.caller = rpc::IdempotencyCaller(actor.principal),
                                   .method = "crm.deals.v1.DealApplicationService/CreateDealApplication",
                                   .key = std::string(key)};
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return pg::RunIdempotent(tx, scope, now, in, out, [&]() -> absl::Status {
      std::optional<RequestRow> request = LoadRequest(tx, in.request_id());
      if (!request.has_value()) return InvalidFieldError("application.request_id", "no such client request");
      CRM_ASSIGN_OR_RETURN(Owner owner, ia::OwnerOf(tx, request->responsible_id));
      if (!ia::CheckCanRead(actor.principal, owner, "request").ok()) {
        return InvalidFieldError("application.request_id", "no such client request");
      }
      CRM_RETURN_IF_ERROR(CheckCanWrite(actor.principal, owner));
      v1::DealApplication a = in;
      a.set_id(NewUuidV7());
      a.set_client_id(request->client_id);
      a.set_project_id(request->project_id);
      a.set_responsible_id(request->responsible_id);
      a.set_creator_id(ActingUserId(actor.principal));
      a.set_status(v1::DealApplication::DRAFT);
      a.set_application_date(absl::FormatCivilTime(absl::ToCivilDay(now, zone_)));
      a.set_version(1);
      *a.mutable_create_time() = ToProtoTimestamp(now);
      *a.mutable_update_time() = ToProtoTimestamp(now);
      a.clear_booking_id();
      a.clear_price();
      if (a.participants_size() == 0) {
        // Pre-filled with the request's client: Р for a person, signer, the one owner.
        SqlParams p;
        pqxx::result c = Exec(tx, absl::StrCat("SELECT kind FROM clients WHERE id = ", p.Add(request->client_id), "::uuid"), p);
        v1::DealParticipant* x = a.add_participants();
        x->set_client_id(request->client_id);
        x->set_real(!c.empty() && c[0][0].as<int>() == v1::Client::KIND_PERSON);
        x->set_signer(true);
        x->set_owner(true);
      }
      Violations v;
      if (!a.unit_id().empty()) {
        absl::StatusOr<UnitPrice> price = PriceOfUnit(tx, a.unit_id(), a.project_id(), a.client_id());
        if (!price.ok() && price.status().code() != absl::StatusCode::kInvalidArgument) return price.status();
        if (std::optional<UnitPrice> got = v.Value(std::move(price)); got.has_value()) {
          *a.mutable_price() = Money(got->price_minor, got->currency);
          a.set_booking_id(got->booking_id);
        }
      }
      CheckDeal(tx, actor.principal, a, v);
      CRM_RETURN_IF_ERROR(v.Merge(Complete(tx, a, /*equal_split=*/false)));
      CRM_RETURN_IF_ERROR(v.Status());
      Write(tx, a, /*insert=*/true);
      std::optional<v1::DealApplication> written = Load(tx, a.id(), false);
      out = *written;
      return Emit(tx, outbox_, actor, v1::kApplicationCreatedType, out, owner);
    });
  }));
  return out;
}

absl::StatusOr<v1::DealApplication> ApplicationStore::Get(const Principal& caller, std::string_view id) {
  if (!IsUuid(id)) return InvalidFieldError("id", "not a UUID");
  std::optional<v1::DealApplication> a;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        a = Load(tx, std::string(id), false);
        if (!a.has_value()) return absl::NotFoundError("deal application not found");
        CRM_ASSIGN_OR_RETURN(Owner owner, ia::OwnerOf(tx, a->responsible_id()));
        return CheckCanRead(caller, owner);
      },
      {.read_only = true}));
  return *a;
}

absl::StatusOr<v1::DealApplication> ApplicationStore::Update(const Actor& actor, const v1::DealApplication& in,
                                                             const google::protobuf::FieldMask& mask) {
  static const std::set<std::string> kPaths = {"unit_id", "participants", "ownership_kind", "payment_kind", "bank_id",
                                               "campaign_id", "own_funds", "payment_schedule", "comment", "deal_id"};
  // The fields to change: a path's first part ("own_funds.amount_minor" changes own_funds, as the gateway
  // fills a PATCH's mask from the body's keys); "id" and "version" name the application and guard it.
  std::set<std::string> paths;
  {
    Violations v;
    if (!IsUuid(in.id())) v.Add("application.id", "not a UUID");
    for (const std::string& path : mask.paths()) {
      const std::string top = path.substr(0, path.find('.'));
      if (top == "id" || top == "version") continue;
      if (!kPaths.contains(top)) {
        v.Add("update_mask", absl::StrCat("unknown path ", QuoteForError(path)));
      } else {
        paths.insert(top);
      }
    }
    if (paths.empty() && v.empty()) v.Add("update_mask", "required: the fields to change");
    if (!in.unit_id().empty() && !IsUuid(in.unit_id())) v.Add("application.unit_id", "not a UUID");
    CRM_RETURN_IF_ERROR(v.Status());
  }
  v1::DealApplication out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(auto loaded, LoadForChange(tx, actor, in.id(), in.version(), /*draft_only=*/true));
    auto& [old, owner] = loaded;
    v1::DealApplication next = old;
    std::vector<std::string> changed;
    Violations v;
    for (const std::string& path : paths) {
      changed.push_back(path);
      if (path == "unit_id") {
        next.set_unit_id(in.unit_id());
        next.clear_price();
        next.clear_booking_id();
        if (!in.unit_id().empty()) {
          absl::StatusOr<UnitPrice> price = PriceOfUnit(tx, in.unit_id(), next.project_id(), next.client_id());
          if (!price.ok() && price.status().code() != absl::StatusCode::kInvalidArgument) return price.status();
          if (std::optional<UnitPrice> got = v.Value(std::move(price)); got.has_value()) {
            *next.mutable_price() = Money(got->price_minor, got->currency);
            next.set_booking_id(got->booking_id);
          }
        }
      }
      if (path == "participants") *next.mutable_participants() = in.participants();
      if (path == "ownership_kind") next.set_ownership_kind(in.ownership_kind());
      if (path == "payment_kind") next.set_payment_kind(in.payment_kind());
      if (path == "bank_id") next.set_bank_id(in.bank_id());
      if (path == "campaign_id") next.set_campaign_id(in.campaign_id());
      if (path == "own_funds") {
        if (in.has_own_funds()) {
          *next.mutable_own_funds() = in.own_funds();
        } else {
          next.clear_own_funds();
        }
      }
      if (path == "payment_schedule") *next.mutable_payment_schedule() = in.payment_schedule();
      if (path == "comment") next.set_comment(in.comment());
      if (path == "deal_id") next.set_deal_id(in.deal_id());
    }
    if (paths.contains("deal_id")) CheckDeal(tx, actor.principal, next, v);
    CRM_RETURN_IF_ERROR(v.Merge(Complete(tx, next, /*equal_split=*/false)));
    CRM_RETURN_IF_ERROR(v.Status());
    next.set_version(old.version() + 1);
    *next.mutable_update_time() = ToProtoTimestamp(clock_.Now());
    Write(tx, next, /*insert=*/false);
    out = *Load(tx, next.id(), false);
    return Emit(tx, outbox_, actor, v1::kApplicationUpdatedType, out, owner, changed);
  }));
  return out;
}

absl::StatusOr<v1::DealApplication> ApplicationStore::RecalculateShares(const Actor& actor,
                                                                        const v1::RecalculateSharesRequest& req) {
  {
    Violations v;
    if (!IsUuid(req.id())) v.Add("id", "not a UUID");
    if (!v1::OwnershipKind_IsValid(req.ownership_kind())) v.Add("ownership_kind", "unknown ownership kind");
    CRM_RETURN_IF_ERROR(v.Status());
  }
  v1::DealApplication out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(auto loaded, LoadForChange(tx, actor, req.id(), req.version(), /*draft_only=*/true));
    auto& [old, owner] = loaded;
    v1::DealApplication next = old;
    if (req.ownership_kind() != v1::OWNERSHIP_KIND_UNSPECIFIED) next.set_ownership_kind(req.ownership_kind());
    const bool equal = req.equal_split() || next.ownership_kind() != old.ownership_kind();
    if (equal) {
      for (v1::DealParticipant& x : *next.mutable_participants()) {
        x.set_share_numerator(0);
        x.set_share_denominator(0);
      }
    }
    CRM_RETURN_IF_ERROR(Complete(tx, next, equal));
    // Nothing moved: a repeat (or a press with nothing to do) changes nothing.
    next.set_version(old.version());
    next.mutable_update_time()->CopyFrom(old.update_time());
    if (google::protobuf::util::MessageDifferencer::Equals(next, old)) {
      out = old;
      return absl::OkStatus();
    }
    next.set_version(old.version() + 1);
    *next.mutable_update_time() = ToProtoTimestamp(clock_.Now());
    Write(tx, next, /*insert=*/false);
    out = *Load(tx, next.id(), false);
    return Emit(tx, outbox_, actor, v1::kApplicationSharesRecalculatedType, out, owner, {"participants", "ownership_kind"});
  }));
  return out;
}

absl::StatusOr<v1::DealApplication> ApplicationStore::ChangeStatus(const Actor& actor,
                                                                   const v1::ChangeDealApplicationStatusRequest& req) {
  using S = v1::DealApplication;
  {
    Violations v;
    if (!IsUuid(req.id())) v.Add("id", "not a UUID");
    if (req.status() == S::STATUS_UNSPECIFIED || !S::Status_IsValid(req.status())) v.Add("status", "required: a status");
    if (CodePoints(req.reason()) > kMaxReason) v.Add("reason", absl::StrCat("at most ", kMaxReason, " characters"));
    CRM_RETURN_IF_ERROR(v.Status());
  }
  v1::DealApplication out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(auto loaded, LoadForChange(tx, actor, req.id(), req.version(), /*draft_only=*/false));
    auto& [old, owner] = loaded;
    if (old.status() == req.status()) {
      out = old;
      return absl::OkStatus();
    }
    const std::set<std::pair<int, int>> kAllowed = {{S::DRAFT, S::SUBMITTED},    {S::SUBMITTED, S::APPROVED},
                                                    {S::SUBMITTED, S::DRAFT},    {S::DRAFT, S::CANCELLED},
                                                    {S::SUBMITTED, S::CANCELLED}, {S::APPROVED, S::CANCELLED}};
    if (!kAllowed.contains({old.status(), req.status()})) {
      return absl::FailedPreconditionError(absl::StrCat("a ", S::Status_Name(old.status()), " application cannot become ",
                                                        S::Status_Name(req.status())));
    }
    if (req.status() == S::SUBMITTED) {
      // A complete application: every missing piece at once.
      std::vector<FieldViolation> missing;
      if (old.unit_id().empty()) missing.push_back({"application.unit_id", "required to submit"});
      bool signer = false;
      for (const v1::DealParticipant& x : old.participants()) signer = signer || x.signer();
      if (!signer) missing.push_back({"application.participants", "a signer (П) is required to submit"});
      if (old.payment_kind() == v1::PAYMENT_KIND_UNSPECIFIED) missing.push_back({"application.payment_kind", "required to submit"});
      if (old.payment_kind() == v1::MORTGAGE && old.bank_id().empty()) {
        missing.push_back({"application.bank_id", "required for a mortgage"});
      }
      if (old.payment_schedule_size() == 0) missing.push_back({"application.payment_schedule", "required to submit"});
      if (!missing.empty()) {
        return WithFieldViolations(absl::FailedPreconditionError(absl::StrCat(missing[0].field, ": ", missing[0].description)),
                                   missing);
      }
    }
    v1::DealApplication next = old;
    next.set_status(req.status());
    next.set_version(old.version() + 1);
    *next.mutable_update_time() = ToProtoTimestamp(clock_.Now());
    SqlParams p;
    Exec(tx,
         absl::StrCat("UPDATE deal_applications SET status = ", p.Add(absl::StrCat(static_cast<int>(req.status()))),
                      "::smallint, version = version + 1, update_time = ", TsParam(p, FromProtoTimestamp(next.update_time())),
                      " WHERE id = ", p.Add(old.id()), "::uuid"),
         p);
    out = *Load(tx, old.id(), false);
    return Emit(tx, outbox_, actor, v1::kApplicationStatusChangedType, out, owner, {"status"}, old.status(), req.reason());
  }));
  return out;
}

absl::StatusOr<v1::ListDealApplicationsResponse> ApplicationStore::List(const Principal& caller,
                                                                        const v1::ListDealApplicationsRequest& req) {
  std::vector<FieldViolation> bad;
  ia::CheckUuid(req.request_id(), "request_id", false, bad);
  ia::CheckUuid(req.client_id(), "client_id", false, bad);
  const std::string responsible = ia::ResponsibleFilter(caller, req.responsible(), "responsible", bad);
  if (!v1::DealApplication::Status_IsValid(req.status())) bad.push_back({"status", "unknown status"});
  const int size = ia::PageSizeOr(req.page_size(), bad);
  absl::StatusOr<std::optional<TimePageKey>> after = DecodeTimePageToken("page_token", req.page_token());
  if (!after.ok()) bad.push_back({"page_token", "malformed page token"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  SqlParams p;
  std::vector<std::string> conds;
  if (!req.request_id().empty()) conds.push_back(absl::StrCat("a.request_id = ", p.Add(req.request_id()), "::uuid"));
  if (!req.client_id().empty()) {
    conds.push_back(absl::StrCat("a.id IN (SELECT pp.application_id FROM deal_application_participants pp WHERE "
                                 "pp.client_id = ", p.Add(req.client_id()), "::uuid)"));
  }
  if (!responsible.empty()) conds.push_back(absl::StrCat("a.responsible_id = ", p.Add(responsible), "::uuid"));
  if (req.status() != v1::DealApplication::STATUS_UNSPECIFIED) {
    conds.push_back(absl::StrCat("a.status = ", p.Add(absl::StrCat(static_cast<int>(req.status()))), "::smallint"));
  }
  if (after->has_value()) {
    conds.push_back(absl::StrCat("(a.create_time, a.id) < (", TsParam(p, absl::FromUnixMicros((*after)->micros)), ", ",
                                 p.Add((*after)->id), "::uuid)"));
  }
  const std::string where = conds.empty() ? "TRUE" : absl::StrJoin(conds, " AND ");
  const std::string limit = absl::StrCat(" LIMIT ", size + 1);
  std::string keys;
  const Scope scope = ReadScope(caller);
  const bool narrow = !req.request_id().empty() || !req.client_id().empty() || !responsible.empty();
  if (scope == Scope::kNone) return v1::ListDealApplicationsResponse();  // no applications.* permission
  if (scope == Scope::kAll) {
    keys = absl::StrCat("SELECT a.id FROM deal_applications a WHERE ", where, kNewestFirst, limit);
  } else if (narrow) {
    // A request's, a client's or a responsible's applications are few: each checked against the visible.
    keys = absl::StrCat("SELECT a.id FROM deal_applications a WHERE a.responsible_id IN ", VisibleResponsibles(caller, p),
                        " AND ", where, kNewestFirst, limit);
  } else {
    // One ordered range per visible responsible, at most a page each, merged.
    keys = absl::StrCat("SELECT k.id FROM ", VisibleResponsibles(caller, p),
                        " AS m(id) CROSS JOIN LATERAL (SELECT a.create_time, a.id FROM deal_applications a "
                        "WHERE a.responsible_id = m.id AND ",
                        where, kNewestFirst, limit, ") k ORDER BY k.create_time DESC, k.id DESC", limit);
  }
  const std::string sql =
      absl::StrCat("SELECT ", kColumns, kFrom, " WHERE a.id = ANY(ARRAY(", keys, "))", kNewestFirst, limit);
  v1::ListDealApplicationsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        pqxx::result r = Exec(tx, sql, p);
        for (size_t i = 0; i < r.size() && static_cast<int>(i) < size; ++i) *out.add_applications() = ReadApplication(r[i]);
        std::vector<v1::DealApplication*> apps;
        for (v1::DealApplication& a : *out.mutable_applications()) apps.push_back(&a);
        LoadParticipants(tx, apps);
        if (static_cast<int>(r.size()) > size) {
          const v1::DealApplication& last = out.applications(size - 1);
          out.set_next_page_token(TimePageToken(absl::ToUnixMicros(FromProtoTimestamp(last.create_time())), last.id()));
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::ListMarketingCampaignsResponse> ApplicationStore::ListCampaigns(
    const Principal& caller, const v1::ListMarketingCampaignsRequest& req) {
  if (ReadScope(caller) == Scope::kNone) {
    return absl::PermissionDeniedError(absl::StrCat("missing permission ", kReadPrefix, "own"));
  }
  std::vector<FieldViolation> bad;
  const int size = ia::PageSizeOr(req.page_size(), bad);
  if (!bad.empty()) return InvalidFieldsError(bad);
  SqlParams p;
  std::string after = "TRUE";
  if (!req.page_token().empty()) {
    CRM_ASSIGN_OR_RETURN(after, AfterNamePageToken(req.page_token(), "m", p));
  }
  const std::string sql = absl::StrCat(
      "SELECT m.id::text, m.name, coalesce(m.start_date::text, ''), coalesce(m.end_date::text, ''), m.active, "
      "lower(m.name) FROM marketing_campaigns m WHERE m.active AND ",
      after, " ORDER BY lower(m.name), m.id LIMIT ", size + 1);
  v1::ListMarketingCampaignsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        pqxx::result r = Exec(tx, sql, p);
        for (size_t i = 0; i < r.size() && static_cast<int>(i) < size; ++i) {
          v1::MarketingCampaign* m = out.add_campaigns();
          m->set_id(r[i][0].as<std::string>());
          m->set_name(r[i][1].as<std::string>());
          m->set_start_date(r[i][2].as<std::string>());
          m->set_end_date(r[i][3].as<std::string>());
          m->set_active(r[i][4].as<bool>());
        }
        if (static_cast<int>(r.size()) > size) {
          out.set_next_page_token(NamePageToken(r[size - 1][5].as<std::string>(), r[size - 1][0].as<std::string>()));
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

}  // namespace crm::deals::applications
