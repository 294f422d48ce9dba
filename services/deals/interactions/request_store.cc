// File: services/deals/interactions/request_store.cc
#include "services/deals/interactions/request_store.h"

#include <pqxx/pqxx>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
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
#include "services/deals/interactions/common.h"
#include "services/deals/interactions/stage.h"
#include "services/deals/sql.h"

namespace crm::deals::interactions {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;

namespace {

constexpr size_t kMaxSource = 100;
constexpr int kMaxFactors = 20;
constexpr size_t kMaxFactor = 100;
constexpr size_t kMaxComment = 2000;
// 10 000 000 m² in hundredths: beyond any unit.
constexpr int64_t kMaxArea = 1'000'000'000;
constexpr char kWhat[] = "request";

// The columns ReadRequest reads, over client_requests r joined to clients c.
const std::string& RequestColumns() {
  static const std::string* columns = new std::string(absl::StrCat(
      "r.id::text, r.client_id::text, c.name, r.project_id::text, r.unit_kind, r.source, "
      "array_to_json(r.choice_factors)::text, r.budget_minor, COALESCE(r.budget_currency, ''), r.area_from, "
      "r.area_to, r.comment, r.responsible_id::text, COALESCE(r.creator_id::text, ''), r.stage, r.last_outcome, ",
      MicrosOf("r.last_interaction_time"), ", ", MicrosOf("r.next_interaction_time"), ", ", MicrosOf("r.create_time"),
      ", ", MicrosOf("r.update_time"), ", r.version"));
  return *columns;
}

constexpr char kFromRequests[] = " FROM client_requests r JOIN clients c ON c.id = r.client_id";
constexpr char kNewestFirst[] = " ORDER BY r.create_time DESC, r.id DESC";

// Inserts a request of client $2 when there is one (no row otherwise: "no such client") and returns it as
// ReadRequest reads it — with its client's name, without reading the row again.
const std::string& InsertRequestSql() {
  static const std::string* sql = new std::string(absl::StrCat(
      "WITH r AS (INSERT INTO client_requests (id, client_id, project_id, unit_kind, source, choice_factors, "
      "budget_minor, budget_currency, area_from, area_to, comment, responsible_id, creator_id, stage, create_time, "
      "update_time, version) SELECT $1::uuid, k.id, $3::uuid, $4::smallint, $5, $6::text[], NULLIF($7, '')::bigint, "
      "NULLIF($8, ''), $9::bigint, $10::bigint, $11, $12::uuid, NULLIF($13, '')::uuid, 1, "
      "('epoch'::timestamptz + $14::bigint * interval '1 microsecond'), "
      "('epoch'::timestamptz + $14::bigint * interval '1 microsecond'), 1 FROM clients k WHERE k.id = $2::uuid "
      "RETURNING *) SELECT ",
      RequestColumns(), " FROM r JOIN clients c ON c.id = r.client_id"));
  return *sql;
}

constexpr char kSaveCriteria[] =
    "UPDATE client_requests SET unit_kind = $2::smallint, source = $3, choice_factors = $4::text[], "
    "budget_minor = NULLIF($5, '')::bigint, budget_currency = NULLIF($6, ''), area_from = $7::bigint, "
    "area_to = $8::bigint, comment = $9, responsible_id = $10::uuid, version = $11::bigint, "
    "update_time = ('epoch'::timestamptz + $12::bigint * interval '1 microsecond') WHERE id = $1::uuid";

// The finished interactions of a request in the order they finished, each row with its earliest planned
// one (one row of NULLs but that when none finished): one statement.
constexpr char kDerivedOfRequest[] =
    "SELECT f.kind, f.outcome, (extract(epoch FROM f.done_time) * 1000000)::bigint, n.next FROM (SELECT "
    "(extract(epoch FROM min(planned_time)) * 1000000)::bigint AS next FROM interactions WHERE request_id = $1::uuid "
    "AND status = 1) n LEFT JOIN LATERAL (SELECT kind, outcome, done_time, id FROM interactions WHERE request_id = "
    "$1::uuid AND status = 2) f ON true ORDER BY f.done_time, f.id";
constexpr char kSaveDerived[] =
    "UPDATE client_requests SET stage = $2::smallint, last_outcome = $3::smallint, "
    "last_interaction_time = ('epoch'::timestamptz + NULLIF($4, '')::bigint * interval '1 microsecond'), "
    "next_interaction_time = ('epoch'::timestamptz + NULLIF($5, '')::bigint * interval '1 microsecond'), "
    "update_time = ('epoch'::timestamptz + $6::bigint * interval '1 microsecond') WHERE id = $1::uuid";

v1::ClientRequest ReadRequest(const pqxx::row& r) {
  v1::ClientRequest q;
  q.set_id(r[0].c_str());
  q.set_client_id(r[1].c_str());
  q.set_client_name(r[2].c_str());
  q.set_project_id(r[3].c_str());
  q.set_unit_kind(static_cast<v1::ClientRequest::UnitKind>(r[4].as<int>()));
  q.set_source(r[5].c_str());
  for (std::string& f : JsonStrings(r[6].c_str())) q.add_choice_factors(std::move(f));
  if (!r[7].is_null()) {
    q.mutable_budget_max()->set_amount_minor(r[7].as<int64_t>());
    q.mutable_budget_max()->set_currency(r[8].c_str());
  }
  q.set_area_from_centi_m2(r[9].as<int64_t>());
  q.set_area_to_centi_m2(r[10].as<int64_t>());
  q.set_comment(r[11].c_str());
  q.set_responsible_id(r[12].c_str());
  q.set_creator_id(r[13].c_str());
  q.set_stage(static_cast<v1::ClientRequest::Stage>(r[14].as<int>()));
  q.set_stage_name(StageName(q.stage()));
  q.set_last_outcome(static_cast<v1::Interaction::Outcome>(r[15].as<int>()));
  if (!r[16].is_null()) *q.mutable_last_interaction_time() = TsFromMicros(r[16].as<int64_t>());
  if (!r[17].is_null()) *q.mutable_next_interaction_time() = TsFromMicros(r[17].as<int64_t>());
  *q.mutable_create_time() = TsFromMicros(r[18].as<int64_t>());
  *q.mutable_update_time() = TsFromMicros(r[19].as<int64_t>());
  q.set_version(r[20].as<int64_t>());
  return q;
}

// Every violation of the criteria paths in `paths` ("" = all of them, as on create).
void ValidateCriteria(const v1::ClientRequest& q, const std::set<std::string>& paths, std::vector<FieldViolation>& bad) {
  const auto want = [&](const char* path) { return paths.empty() || paths.contains(path); };
  const auto add = [&](std::string field, std::string description) {
    bad.push_back({.field = absl::StrCat("request.", field), .description = std::move(description)});
  };
  if (want("unit_kind") && !v1::ClientRequest::UnitKind_IsValid(q.unit_kind())) add("unit_kind", "unknown kind");
  if (want("source") && CodePoints(q.source()) > kMaxSource) add("source", "longer than 100 characters");
  if (want("choice_factors")) {
    if (q.choice_factors_size() > kMaxFactors) add("choice_factors", "more than 20 factors");
    std::set<std::string> seen;
    for (int i = 0; i < q.choice_factors_size() && i < kMaxFactors; ++i) {
      const std::string& f = q.choice_factors(i);
      const std::string field = absl::StrCat("choice_factors[", i, "]");
      if (f.empty()) {
        add(field, "empty");
      } else if (CodePoints(f) > kMaxFactor) {
        add(field, "longer than 100 characters");
      } else if (!seen.insert(f).second) {
        add(field, "repeated");
      }
    }
  }
  if (want("budget_max") && q.has_budget_max()) {
    const std::string& cur = q.budget_max().currency();
    const bool iso = cur.size() == 3 && std::all_of(cur.begin(), cur.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    if (!iso) add("budget_max.currency", "expected an ISO 4217 code (\"RUB\")");
    if (q.budget_max().amount_minor() < 0) add("budget_max.amount_minor", "must not be negative");
  }
  const bool from = want("area_from_centi_m2");
  const bool to = want("area_to_centi_m2");
  if (from && (q.area_from_centi_m2() < 0 || q.area_from_centi_m2() > kMaxArea)) {
    add("area_from_centi_m2", "must be 0..1000000000 (hundredths of m²)");
  }
  if (to && (q.area_to_centi_m2() < 0 || q.area_to_centi_m2() > kMaxArea)) {
    add("area_to_centi_m2", "must be 0..1000000000 (hundredths of m²)");
  }
  if (from && to && q.area_to_centi_m2() > 0 && q.area_to_centi_m2() < q.area_from_centi_m2()) {
    add("area_to_centi_m2", "less than area_from_centi_m2");
  }
  if (want("comment") && CodePoints(q.comment()) > kMaxComment) add("comment", "longer than 2000 characters");
  if (want("responsible_id") && !q.responsible_id().empty() && !IsUuid(q.responsible_id())) {
    add("responsible_id", "not a UUID");
  }
}

// The parameters of kSaveCriteria's $2..$10 (and kInsertRequest's criteria) of `q`.
struct CriteriaParams {
  std::string unit_kind, factors, budget_minor, budget_currency, area_from, area_to;
};
CriteriaParams ParamsOf(const v1::ClientRequest& q) {
  std::vector<std::string> factors(q.choice_factors().begin(), q.choice_factors().end());
  return {.unit_kind = absl::StrCat(static_cast<int>(q.unit_kind())),
          .factors = ArrayLiteral(factors),
          .budget_minor = q.has_budget_max() ? absl::StrCat(q.budget_max().amount_minor()) : "",
          .budget_currency = q.has_budget_max() ? q.budget_max().currency() : "",
          .area_from = absl::StrCat(q.area_from_centi_m2()),
          .area_to = absl::StrCat(q.area_to_centi_m2())};
}

}  // namespace

std::optional<v1::ClientRequest> LoadRequest(pqxx::transaction_base& tx, const std::string& id, bool for_update) {
  pqxx::result r = pg::ExecPrepared(
      tx, absl::StrCat("SELECT ", RequestColumns(), kFromRequests, " WHERE r.id = $1::uuid",
                       for_update ? " FOR UPDATE OF r" : ""),
      id);
  if (r.empty()) return std::nullopt;
  return ReadRequest(r[0]);
}

absl::StatusOr<std::optional<LockedRequest>> LockRequest(pqxx::transaction_base& tx, const std::string& id) {
  std::optional<v1::ClientRequest> request = LoadRequest(tx, id, /*for_update=*/true);
  if (!request.has_value()) return std::optional<LockedRequest>();
  CRM_ASSIGN_OR_RETURN(Owner owner, OwnerOf(tx, request->responsible_id()));
  return std::optional<LockedRequest>(LockedRequest{.request = *std::move(request), .owner = std::move(owner)});
}

absl::Status RefreshRequest(pqxx::transaction_base& tx, const events::OutboxWriter& outbox, const Actor& actor,
                            const std::string& id, absl::Time now) {
  CRM_ASSIGN_OR_RETURN(std::optional<LockedRequest> locked, LockRequest(tx, id));
  if (!locked.has_value()) return absl::NotFoundError("request not found");
  return RefreshRequest(tx, outbox, actor, *locked, now);
}

absl::Status RefreshRequest(pqxx::transaction_base& tx, const events::OutboxWriter& outbox, const Actor& actor,
                            const LockedRequest& locked, absl::Time now) {
  const v1::ClientRequest* before = &locked.request;
  const std::string& id = before->id();
  std::vector<Finished> finished;
  v1::Interaction::Outcome last_outcome = v1::Interaction::OUTCOME_UNSPECIFIED;
  std::optional<int64_t> last_time;
  std::optional<int64_t> next_time;
  for (const pqxx::row& row : pg::ExecPrepared(tx, kDerivedOfRequest, id)) {
    if (!row[3].is_null()) next_time = row[3].as<int64_t>();
    if (row[0].is_null()) continue;  // none finished
    Finished f{.kind = static_cast<v1::Interaction::Kind>(row[0].as<int>()),
               .outcome = static_cast<v1::Interaction::Outcome>(row[1].as<int>())};
    if (f.outcome != v1::Interaction::OUTCOME_UNSPECIFIED) last_outcome = f.outcome;
    if (!row[2].is_null()) last_time = row[2].as<int64_t>();
    finished.push_back(f);
  }
  v1::ClientRequest after = *before;
  after.set_stage(StageOf(finished));
  after.set_stage_name(StageName(after.stage()));
  after.set_last_outcome(last_outcome);
  after.clear_last_interaction_time();
  if (last_time.has_value()) *after.mutable_last_interaction_time() = TsFromMicros(*last_time);
  after.clear_next_interaction_time();
  if (next_time.has_value()) *after.mutable_next_interaction_time() = TsFromMicros(*next_time);
  std::vector<std::string> changed;
  if (after.last_outcome() != before->last_outcome()) changed.push_back("last_outcome");
  if (after.last_interaction_time().SerializeAsString() != before->last_interaction_time().SerializeAsString()) {
    changed.push_back("last_interaction_time");
  }
  if (after.next_interaction_time().SerializeAsString() != before->next_interaction_time().SerializeAsString()) {
    changed.push_back("next_interaction_time");
  }
  const bool moved = after.stage() != before->stage();
  if (!moved && changed.empty()) return absl::OkStatus();
  *after.mutable_update_time() = ToProtoTimestamp(now);
  pg::ExecPrepared(tx, kSaveDerived, id, absl::StrCat(static_cast<int>(after.stage())),
                   absl::StrCat(static_cast<int>(after.last_outcome())),
                   last_time.has_value() ? absl::StrCat(*last_time) : std::string(),
                   next_time.has_value() ? absl::StrCat(*next_time) : std::string(),
                   absl::StrCat(absl::ToUnixMicros(now)));
  const Owner& owner = locked.owner;  // the responsible does not change here
  if (moved) {
    v1::ClientRequestStageChanged ev;
    *ev.mutable_request() = after;
    ev.set_from_stage(before->stage());
    return Emit(tx, outbox, actor, v1::kRequestAggregate, id, v1::kRequestStageChangedType, ev, owner);
  }
  v1::ClientRequestUpdated ev;
  *ev.mutable_request() = after;
  for (std::string& c : changed) ev.add_changed_fields(std::move(c));
  return Emit(tx, outbox, actor, v1::kRequestAggregate, id, v1::kRequestUpdatedType, ev, owner);
}

RequestStore::RequestStore(pg::Pool& pool, const Clock& clock) : pool_(pool), clock_(clock), outbox_("deals", clock) {}

absl::StatusOr<v1::ClientRequest> RequestStore::Create(const Actor& actor, const v1::ClientRequest& in,
                                                       std::string_view idempotency_key) {
  const std::string me = ActingUserId(actor.principal);
  const absl::Time now = clock_.Now();
  v1::ClientRequest out;
  const pg::IdempotencyScope scope{.caller = rpc::IdempotencyCaller(actor.principal),
                                   .method = "crm.deals.v1.ClientRequestService/CreateClientRequest",
                                   .key = std::string(idempotency_key)};
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    // Validated inside: a key used before with another request is named as such, whatever this one is.
    return pg::RunIdempotent(tx, scope, now, in, out, [&]() -> absl::Status {
      std::vector<FieldViolation> bad;
      CheckUuid(in.client_id(), "request.client_id", true, bad);
      CheckUuid(in.project_id(), "request.project_id", true, bad);
      ValidateCriteria(in, {}, bad);
      if (in.responsible_id().empty() && me.empty()) {
        bad.push_back({.field = "request.responsible_id", .description = "required for a caller acting for nobody"});
      }
      if (!bad.empty()) return InvalidFieldsError(bad);
      const std::string responsible = in.responsible_id().empty() ? me : in.responsible_id();
      if (!me.empty()) CRM_RETURN_IF_ERROR(directory_.Seed(tx, me, CallerTeamIds(actor.principal)));
      CRM_ASSIGN_OR_RETURN(Owner owner, OwnerOf(tx, responsible));
      CRM_RETURN_IF_ERROR(CheckCanAssign(actor.principal, owner));
      const std::string id = NewUuidV7();
      const CriteriaParams c = ParamsOf(in);
      const pqxx::result made = pg::ExecPrepared(tx, InsertRequestSql(), id, in.client_id(), in.project_id(),
                                                 c.unit_kind, in.source(), c.factors, c.budget_minor,
                                                 c.budget_currency, c.area_from, c.area_to, in.comment(), responsible,
                                                 me, absl::StrCat(absl::ToUnixMicros(now)));
      if (made.empty()) return InvalidFieldError("request.client_id", "no such client");
      out = ReadRequest(made[0]);
      v1::ClientRequestCreated ev;
      *ev.mutable_request() = out;
      return Emit(tx, outbox_, actor, v1::kRequestAggregate, id, v1::kRequestCreatedType, ev, owner);
    });
  }));
  return out;
}

absl::StatusOr<v1::ClientRequest> RequestStore::Get(const Principal& caller, std::string_view id) {
  if (!IsUuid(id)) return InvalidFieldError("id", "not a UUID");
  v1::ClientRequest out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        std::optional<v1::ClientRequest> row = LoadRequest(tx, std::string(id), false);
        if (!row.has_value()) return absl::NotFoundError("request not found");
        CRM_ASSIGN_OR_RETURN(Owner owner, OwnerOf(tx, row->responsible_id()));
        CRM_RETURN_IF_ERROR(CheckCanRead(caller, owner, kWhat));
        out = *std::move(row);
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::ClientRequest> RequestStore::Update(const Actor& actor, const v1::ClientRequest& in,
                                                       const google::protobuf::FieldMask& mask) {
  static const std::set<std::string> kPaths = {"unit_kind",          "source",           "choice_factors",
                                               "budget_max",         "area_from_centi_m2", "area_to_centi_m2",
                                               "comment",            "responsible_id"};
  std::vector<FieldViolation> bad;
  CheckUuid(in.id(), "request.id", true, bad);
  std::set<std::string> paths;
  if (mask.paths_size() == 0) bad.push_back({.field = "update_mask", .description = "required"});
  for (const std::string& path : mask.paths()) {
    if (!kPaths.contains(path)) {
      bad.push_back({.field = "update_mask", .description = absl::StrCat("cannot update ", path)});
    } else {
      paths.insert(path);
    }
  }
  if (!paths.empty()) ValidateCriteria(in, paths, bad);
  if (paths.contains("responsible_id") && in.responsible_id().empty()) {
    bad.push_back({.field = "request.responsible_id", .description = "required"});
  }
  if (!bad.empty()) return InvalidFieldsError(bad);
  const absl::Time now = clock_.Now();
  v1::ClientRequest out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    std::optional<v1::ClientRequest> old = LoadRequest(tx, in.id(), /*for_update=*/true);
    if (!old.has_value()) return absl::NotFoundError("request not found");
    CRM_ASSIGN_OR_RETURN(Owner owner, OwnerOf(tx, old->responsible_id()));
    CRM_RETURN_IF_ERROR(CheckCanWrite(actor.principal, owner, kWhat));
    CRM_RETURN_IF_ERROR(CheckVersion(in.version(), old->version()));
    v1::ClientRequest next = *old;
    std::vector<std::string> changed;
    const auto apply = [&](const char* path, auto&& same, auto&& set) {
      if (!paths.contains(path) || same()) return;
      set();
      changed.push_back(path);
    };
    apply("unit_kind", [&] { return old->unit_kind() == in.unit_kind(); }, [&] { next.set_unit_kind(in.unit_kind()); });
    apply("source", [&] { return old->source() == in.source(); }, [&] { next.set_source(in.source()); });
    apply("choice_factors",
          [&] { return absl::StrJoin(old->choice_factors(), "\n") == absl::StrJoin(in.choice_factors(), "\n") &&
                       old->choice_factors_size() == in.choice_factors_size(); },
          [&] { *next.mutable_choice_factors() = in.choice_factors(); });
    apply("budget_max",
          [&] { return old->has_budget_max() == in.has_budget_max() &&
                       old->budget_max().SerializeAsString() == in.budget_max().SerializeAsString(); },
          [&] {
            next.clear_budget_max();
            if (in.has_budget_max()) *next.mutable_budget_max() = in.budget_max();
          });
    apply("area_from_centi_m2", [&] { return old->area_from_centi_m2() == in.area_from_centi_m2(); },
          [&] { next.set_area_from_centi_m2(in.area_from_centi_m2()); });
    apply("area_to_centi_m2", [&] { return old->area_to_centi_m2() == in.area_to_centi_m2(); },
          [&] { next.set_area_to_centi_m2(in.area_to_centi_m2()); });
    apply("comment", [&] { return old->comment() == in.comment(); }, [&] { next.set_comment(in.comment()); });
    apply("responsible_id", [&] { return old->responsible_id() == in.responsible_id(); },
          [&] { next.set_responsible_id(in.responsible_id()); });
    if (changed.empty()) {
      out = *old;
      return absl::OkStatus();
    }
    // The whole record is checked again, so an update cannot leave area_to below area_from.
    std::vector<FieldViolation> again;
    ValidateCriteria(next, {}, again);
    if (!again.empty()) return InvalidFieldsError(again);
    Owner new_owner = owner;
    if (next.responsible_id() != old->responsible_id()) {
      CRM_ASSIGN_OR_RETURN(new_owner, OwnerOf(tx, next.responsible_id()));
      CRM_RETURN_IF_ERROR(CheckCanAssign(actor.principal, new_owner));
    }
    next.set_version(old->version() + 1);
    *next.mutable_update_time() = ToProtoTimestamp(now);
    const CriteriaParams c = ParamsOf(next);
    pg::ExecPrepared(tx, kSaveCriteria, next.id(), c.unit_kind, next.source(), c.factors, c.budget_minor,
                     c.budget_currency, c.area_from, c.area_to, next.comment(), next.responsible_id(),
                     absl::StrCat(next.version()), absl::StrCat(absl::ToUnixMicros(now)));
    out = next;
    v1::ClientRequestUpdated ev;
    *ev.mutable_request() = next;
    for (std::string& f : changed) ev.add_changed_fields(std::move(f));
    return Emit(tx, outbox_, actor, v1::kRequestAggregate, next.id(), v1::kRequestUpdatedType, ev, new_owner, &owner);
  }));
  return out;
}

absl::StatusOr<v1::ListClientRequestsResponse> RequestStore::List(const Principal& caller,
                                                                  const v1::ListClientRequestsRequest& req) {
  std::vector<FieldViolation> bad;
  CheckUuid(req.client_id(), "client_id", false, bad);
  CheckUuid(req.project_id(), "project_id", false, bad);
  const std::string responsible = ResponsibleFilter(caller, req.responsible(), "responsible", bad);
  if (!v1::ClientRequest::Stage_IsValid(req.stage())) bad.push_back({.field = "stage", .description = "unknown stage"});
  const int size = PageSizeOr(req.page_size(), bad);
  absl::StatusOr<std::optional<TimePageKey>> after = DecodeTimePageToken("page_token", req.page_token());
  if (!after.ok()) bad.push_back({.field = "page_token", .description = "malformed page token"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  SqlParams p;
  std::vector<std::string> conds;
  if (!req.client_id().empty()) conds.push_back(absl::StrCat("r.client_id = ", p.Add(req.client_id()), "::uuid"));
  if (!req.project_id().empty()) conds.push_back(absl::StrCat("r.project_id = ", p.Add(req.project_id()), "::uuid"));
  if (!responsible.empty()) conds.push_back(absl::StrCat("r.responsible_id = ", p.Add(responsible), "::uuid"));
  if (req.stage() != v1::ClientRequest::STAGE_UNSPECIFIED) {
    conds.push_back(absl::StrCat("r.stage = ", p.Add(absl::StrCat(static_cast<int>(req.stage()))), "::smallint"));
  }
  if (after->has_value()) {
    conds.push_back(absl::StrCat("(r.create_time, r.id) < (", TsParam(p, absl::FromUnixMicros((*after)->micros)), ", ",
                                 p.Add((*after)->id), "::uuid)"));
  }
  const std::string where = conds.empty() ? "TRUE" : absl::StrJoin(conds, " AND ");
  const std::string limit = absl::StrCat(" LIMIT ", size + 1);
  // The page's keys on an ordered index range (the table in request_store.h), then those rows.
  std::string keys;
  const Scope scope = ReadScope(caller);
  const bool narrow = !req.client_id().empty() || !responsible.empty();
  if (scope == Scope::kAll) {
    keys = absl::StrCat("SELECT r.id FROM client_requests r WHERE ", where, kNewestFirst, limit);
  } else if (scope == Scope::kNone) {
    return v1::ListClientRequestsResponse();  // no interactions.* permission: nothing to see
  } else if (narrow) {
    // A client's or a responsible's requests are few: each is checked against the visible responsibles.
    keys = absl::StrCat("SELECT r.id FROM client_requests r WHERE r.responsible_id IN ", VisibleResponsibles(caller, p),
                        " AND ", where, kNewestFirst, limit);
  } else {
    // One ordered range per visible responsible, at most a page each, merged.
    keys = absl::StrCat("SELECT k.id FROM ", VisibleResponsibles(caller, p),
                        " AS m(id) CROSS JOIN LATERAL (SELECT r.create_time, r.id FROM client_requests r "
                        "WHERE r.responsible_id = m.id AND ", where, kNewestFirst, limit,
                        ") k ORDER BY k.create_time DESC, k.id DESC", limit);
  }
  const std::string sql = absl::StrCat("SELECT ", RequestColumns(), kFromRequests, " WHERE r.id = ANY(ARRAY(", keys,
                                       "))", kNewestFirst, limit);
  v1::ListClientRequestsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        pqxx::result r = Exec(tx, sql, p);
        for (size_t i = 0; i < r.size() && static_cast<int>(i) < size; ++i) *out.add_requests() = ReadRequest(r[i]);
        if (static_cast<int>(r.size()) > size) {
          const v1::ClientRequest& last = out.requests(size - 1);
          out.set_next_page_token(TimePageToken(absl::ToUnixMicros(FromProtoTimestamp(last.create_time())), last.id()));
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

}  // namespace crm::deals::interactions
