// File: services/dialogs/scenarios/store.cc
#include "services/dialogs/scenarios/store.h"

#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "proto/crm/dialogs/v1/scenario_event_types.h"
#include "google/protobuf/util/json_util.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/events/outbox.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/pg/statement_recorder.h"
#include "libs/rpc/call.h"
#include "services/dialogs/scenarios/validate.h"

namespace crm::dialogs::scenarios {
namespace {

constexpr char kInsertHead[] =
    "INSERT INTO scenarios (id, bot_id, name, version, active, create_time, update_time) "
    "VALUES ($1::uuid, $2, $3, $4, $5, $6::timestamptz, $6::timestamptz)";
constexpr char kInsertVersion[] =
    "INSERT INTO scenario_versions (scenario_id, version, body, create_time) VALUES ($1::uuid, $2, $3, "
    "$4::timestamptz)";
constexpr char kLockHead[] = "SELECT bot_id, version FROM scenarios WHERE id = $1::uuid FOR UPDATE";
constexpr char kUpdateHead[] =
    "UPDATE scenarios SET name = $2, version = $3, active = $4, update_time = $5::timestamptz WHERE id = $1::uuid";
constexpr char kNewest[] = "SELECT version FROM scenarios WHERE id = $1::uuid";
constexpr char kVersionBody[] = "SELECT body FROM scenario_versions WHERE scenario_id = $1::uuid AND version = $2";
constexpr char kActiveOfBot[] = "SELECT id::text, version FROM scenarios WHERE bot_id = $1 AND active";
constexpr char kExists[] = "SELECT 1 FROM scenarios WHERE id = $1::uuid";
// ListScenarios by bot ($1 = '' for every bot), keyset (name, id) after ($2, $3; $3 = '' from the start).
// The heads only (a list item has no stages): id, bot, name, version, active, times in microseconds.
constexpr char kListOfBot[] =
    "SELECT id::text, bot_id, name, version, active, (extract(epoch FROM create_time) * 1000000)::bigint, "
    "(extract(epoch FROM update_time) * 1000000)::bigint FROM scenarios "
    "WHERE bot_id = $1 AND ($3 = '' OR (name, id) > ($2, NULLIF($3, '')::uuid)) ORDER BY name, id LIMIT $4";
constexpr char kListAll[] =
    "SELECT id::text, bot_id, name, version, active, (extract(epoch FROM create_time) * 1000000)::bigint, "
    "(extract(epoch FROM update_time) * 1000000)::bigint FROM scenarios "
    "WHERE $1::text = '' AND ($3 = '' OR (name, id) > ($2, NULLIF($3, '')::uuid)) ORDER BY name, id LIMIT $4";

std::string Bytes(const pqxx::field& f) {
  pqxx::binarystring b(f);
  return std::string(b.str());
}

absl::StatusOr<v1::Scenario> ParseBody(const pqxx::field& f) {
  v1::Scenario s;
  if (!s.ParseFromString(Bytes(f))) return absl::DataLossError("a stored scenario does not parse");
  return s;
}

absl::Status ActiveTaken(const absl::Status& s, std::string_view bot_id) {
  if (crm::pg::SqlState(s) == "23505") {
    return absl::FailedPreconditionError(absl::StrCat(
        "scenario.active: bot ", AsAbsl(bot_id), " already has an active scenario; deactivate it first"));
  }
  return s;
}

absl::Status CheckId(std::string_view id, std::string_view field) {
  if (!IsUuid(id)) return InvalidFieldError(field, "must be a UUID");
  return absl::OkStatus();
}

absl::Status CheckVersion(std::string_view id, int64_t asked, int64_t stored) {
  if (asked == 0 || asked == stored) return absl::OkStatus();
  return absl::AbortedError(absl::StrCat("version mismatch: scenario ", AsAbsl(id), " is at version ", stored,
                                         ", not ", asked, "; read it again (or send version 0 to overwrite)"));
}

// The page rule (issue 16): negative refused naming page_size, 0 = default, above the max clamped.
absl::StatusOr<int> PageSize(int32_t requested) {
  if (requested < 0) return InvalidFieldError("page_size", "must not be negative");
  if (requested == 0) return kDefaultPageSize;
  return std::min(requested, kMaxPageSize);
}

std::string EncodeToken(const std::string& name, const std::string& id) {
  return absl::StrCat("k1.", absl::WebSafeBase64Escape(name), ".", absl::WebSafeBase64Escape(id));
}

absl::StatusOr<std::pair<std::string, std::string>> DecodeToken(std::string_view token) {
  if (token.empty()) return std::pair<std::string, std::string>{"", ""};
  const absl::Status bad = InvalidFieldError("page_token", "not a token this list returned");
  if (token.substr(0, 3) != "k1.") return bad;
  std::vector<std::string> parts = absl::StrSplit(AsAbsl(token.substr(3)), '.');
  if (parts.size() != 2) return bad;
  std::pair<std::string, std::string> out;
  if (!absl::WebSafeBase64Unescape(parts[0], &out.first) || !absl::WebSafeBase64Unescape(parts[1], &out.second) ||
      !IsUuid(out.second)) {
    return bad;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> ExportJson(const v1::Scenario& s) {
  v1::Scenario def = s;
  def.clear_id();
  def.clear_version();
  def.clear_active();
  def.clear_create_time();
  def.clear_update_time();
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string out;
  auto st = google::protobuf::util::MessageToJsonString(def, &out, options);
  if (!st.ok()) return absl::InternalError(absl::StrCat("export: ", st.ToString()));
  return out;
}

absl::StatusOr<v1::Scenario> ParseExport(std::string_view json, std::string_view field) {
  v1::Scenario s;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(std::string(json), &s, options);
  if (!st.ok()) return InvalidFieldError(field, absl::StrCat("not a scenario: ", std::string(st.message())));
  return s;
}

ScenarioStore::ScenarioStore(crm::pg::Pool& pool, const Clock& clock, const crm::events::OutboxWriter& outbox)
    : pool_(pool), clock_(clock), outbox_(outbox) {}

absl::Status ScenarioStore::Event(pqxx::transaction_base& tx, const Principal& caller, const v1::Scenario& s,
                                  const char* type) const {
  v1::ScenarioChanged e;
  e.set_scenario_id(s.id());
  e.set_bot_id(s.bot_id());
  e.set_name(s.name());
  e.set_version(s.version());
  e.set_active(s.active());
  *e.mutable_time() = s.update_time();
  return outbox_
      .Append(tx, {.aggregate_type = v1::kScenarioAggregate, .aggregate_id = s.id(), .type = type, .payload = &e,
                   .actor = caller})
      .status();
}

absl::Status ScenarioStore::Insert(pqxx::transaction_base& tx, const Principal& caller, v1::Scenario& s) {
  const absl::Time now = clock_.Now();
  if (s.id().empty()) s.set_id(NewUuidV7());
  s.set_version(1);
  *s.mutable_create_time() = ToProtoTimestamp(now);
  *s.mutable_update_time() = ToProtoTimestamp(now);
  const std::string at = FormatRfc3339Utc(now);
  crm::pg::ExecPrepared(tx, kInsertHead, s.id(), s.bot_id(), s.name(), s.version(), s.active(), at);
  const std::string body = s.SerializeAsString();
  crm::pg::ExecPrepared(tx, kInsertVersion, s.id(), s.version(), pqxx::binarystring(body.data(), body.size()), at);
  return Event(tx, caller, s, v1::kScenarioCreatedType);
}

absl::StatusOr<v1::Scenario> ScenarioStore::Create(const Principal& caller, const v1::Scenario& in,
                                                   std::string_view key) {
  CRM_RETURN_IF_ERROR(ErrorsAsStatus(Validate(in)));
  v1::CreateScenarioRequest request;
  *request.mutable_scenario() = in;
  const crm::pg::IdempotencyScope scope{.caller = crm::rpc::IdempotencyCaller(caller),
                                        .method = "crm.dialogs.v1.ScenarioService/CreateScenario",
                                        .key = std::string(key)};
  v1::Scenario out;
  absl::Status s = crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return crm::pg::RunIdempotent(tx, scope, clock_.Now(), request, out, [&]() -> absl::Status {
      out = in;
      out.clear_id();
      return Insert(tx, caller, out);
    });
  });
  CRM_RETURN_IF_ERROR(ActiveTaken(s, in.bot_id()));
  return out;
}

absl::StatusOr<v1::Scenario> ScenarioStore::Import(const Principal& caller, const v1::ImportScenarioRequest& req,
                                                   std::string_view key) {
  CRM_ASSIGN_OR_RETURN(v1::Scenario in, ParseExport(req.json(), "json"));
  in.clear_id();
  in.clear_version();
  in.clear_create_time();
  in.clear_update_time();
  if (!req.bot_id().empty()) in.set_bot_id(req.bot_id());
  in.set_active(req.active());
  CRM_RETURN_IF_ERROR(ErrorsAsStatus(Validate(in)));
  const crm::pg::IdempotencyScope scope{.caller = crm::rpc::IdempotencyCaller(caller),
                                        .method = "crm.dialogs.v1.ScenarioService/ImportScenario",
                                        .key = std::string(key)};
  v1::Scenario out;
  absl::Status s = crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return crm::pg::RunIdempotent(tx, scope, clock_.Now(), req, out, [&]() -> absl::Status {
      out = in;
      return Insert(tx, caller, out);
    });
  });
  CRM_RETURN_IF_ERROR(ActiveTaken(s, in.bot_id()));
  return out;
}

absl::Status ScenarioStore::InstallFixed(const v1::Scenario& in) {
  CRM_RETURN_IF_ERROR(ErrorsAsStatus(Validate(in)));
  return crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    if (!crm::pg::ExecPrepared(tx, kExists, in.id()).empty()) return absl::OkStatus();
    v1::Scenario s = in;
    Principal demo;
    demo.set_service("dialogs");
    return Insert(tx, demo, s);
  });
}

absl::StatusOr<v1::Scenario> ScenarioStore::Get(std::string_view id, int64_t version) {
  CRM_RETURN_IF_ERROR(CheckId(id, "id"));
  if (version < 0) return InvalidFieldError("version", "must not be negative");
  v1::Scenario out;
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(out, LoadVersion(tx, id, version));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Scenario> ScenarioStore::LoadVersion(pqxx::transaction_base& tx, std::string_view id,
                                                        int64_t version) {
  const std::string sid(id);
  pqxx::result head = crm::pg::ExecPrepared(tx, kNewest, sid);
  if (head.empty()) return absl::NotFoundError(absl::StrCat("scenario ", sid));
  const int64_t newest = head[0][0].as<int64_t>();
  if (version == 0) version = newest;
  pqxx::result r = crm::pg::ExecPrepared(tx, kVersionBody, sid, version);
  if (r.empty()) return absl::NotFoundError(absl::StrCat("scenario ", sid, " version ", version));
  return ParseBody(r[0][0]);
}

absl::StatusOr<std::optional<v1::Scenario>> ScenarioStore::LoadActive(pqxx::transaction_base& tx,
                                                                      std::string_view bot_id) {
  pqxx::result r = crm::pg::ExecPrepared(tx, kActiveOfBot, std::string(bot_id));
  if (r.empty()) return std::optional<v1::Scenario>();
  CRM_ASSIGN_OR_RETURN(v1::Scenario s, LoadVersion(tx, r[0][0].as<std::string>(), r[0][1].as<int64_t>()));
  return std::optional<v1::Scenario>(std::move(s));
}

absl::StatusOr<v1::ListScenariosResponse> ScenarioStore::List(const v1::ListScenariosRequest& req) {
  std::vector<FieldViolation> v;
  absl::StatusOr<int> size = PageSize(req.page_size());
  absl::StatusOr<std::pair<std::string, std::string>> after = DecodeToken(req.page_token());
  for (const absl::Status& s : {size.status(), after.status()}) {
    for (FieldViolation& f : FieldViolations(s)) v.push_back(std::move(f));
  }
  if (!v.empty()) return InvalidFieldsError(v);
  v1::ListScenariosResponse out;
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    out.Clear();
    const char* sql = req.bot_id().empty() ? kListAll : kListOfBot;
    crm::pg::RecordStatement(sql, {req.bot_id(), after->first, after->second, std::to_string(*size + 1)});
    pqxx::result r = crm::pg::ExecPrepared(tx, sql, req.bot_id(), after->first, after->second, *size + 1);
    for (int i = 0; i < static_cast<int>(r.size()) && i < *size; ++i) {
      v1::Scenario* s = out.add_scenarios();  // a head: get one for its stages
      s->set_id(r[i][0].as<std::string>());
      s->set_bot_id(r[i][1].as<std::string>());
      s->set_name(r[i][2].as<std::string>());
      s->set_version(r[i][3].as<int64_t>());
      s->set_active(r[i][4].as<bool>());
      *s->mutable_create_time() = ToProtoTimestamp(absl::FromUnixMicros(r[i][5].as<int64_t>()));
      *s->mutable_update_time() = ToProtoTimestamp(absl::FromUnixMicros(r[i][6].as<int64_t>()));
    }
    if (static_cast<int>(r.size()) > *size) {
      const v1::Scenario& last = out.scenarios(out.scenarios_size() - 1);
      out.set_next_page_token(EncodeToken(last.name(), last.id()));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Scenario> ScenarioStore::Update(const Principal& caller, const v1::Scenario& in) {
  std::vector<FieldViolation> v;
  if (!IsUuid(in.id())) v.push_back({"scenario.id", "must be a UUID"});
  if (in.version() < 0) v.push_back({"scenario.version", "must not be negative"});
  for (FieldViolation& f : FieldViolations(ErrorsAsStatus(Validate(in)))) v.push_back(std::move(f));
  if (!v.empty()) return InvalidFieldsError(v);
  v1::Scenario out;
  absl::Status s = crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    pqxx::result head = crm::pg::ExecPrepared(tx, kLockHead, in.id());
    if (head.empty()) return absl::NotFoundError(absl::StrCat("scenario ", in.id()));
    const std::string bot = head[0][0].as<std::string>();
    const int64_t stored = head[0][1].as<int64_t>();
    CRM_RETURN_IF_ERROR(CheckVersion(in.id(), in.version(), stored));
    if (bot != in.bot_id()) return InvalidFieldError("scenario.bot_id", "a scenario's bot cannot change");
    CRM_ASSIGN_OR_RETURN(v1::Scenario old, LoadVersion(tx, in.id(), stored));
    const absl::Time now = clock_.Now();
    out = in;
    out.set_version(stored + 1);
    *out.mutable_create_time() = old.create_time();
    *out.mutable_update_time() = ToProtoTimestamp(now);
    const std::string at = FormatRfc3339Utc(now);
    crm::pg::ExecPrepared(tx, kUpdateHead, out.id(), out.name(), out.version(), out.active(), at);
    const std::string body = out.SerializeAsString();
    crm::pg::ExecPrepared(tx, kInsertVersion, out.id(), out.version(),
                          pqxx::binarystring(body.data(), body.size()), at);
    return Event(tx, caller, out, v1::kScenarioUpdatedType);
  });
  CRM_RETURN_IF_ERROR(ActiveTaken(s, in.bot_id()));
  return out;
}

absl::StatusOr<std::string> ScenarioStore::Export(std::string_view id, int64_t version) {
  CRM_ASSIGN_OR_RETURN(v1::Scenario s, Get(id, version));
  return ExportJson(s);
}

}  // namespace crm::dialogs::scenarios
