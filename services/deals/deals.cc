// File: services/deals/deals.cc
#include "services/deals/deals.h"

#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/json_util.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "crm/deals/v1/events.pb.h"
#include "google/protobuf/util/json_util.h"
#include "libs/base/clock.h"
#include "libs/base/money.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/rpc/call.h"
#include "services/deals/access.h"
#include "services/deals/idempotent.h"
#include "services/deals/sql.h"
#include "services/deals/clients.h"
#include "services/deals/listing.h"
#include "services/deals/timeline.h"
#include "services/deals/pipelines.h"
#include "services/deals/users.h"
#include "services/deals/violations.h"

namespace crm::deals {

using crm::common::v1::Principal;

namespace {

constexpr int kMaxName = 500;
constexpr int kMaxSource = 200;
constexpr int kMaxTags = 50;
constexpr int kMaxTagLength = 64;
constexpr int kMaxText = 10000;
constexpr int kMaxComment = 5000;
constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 200;
constexpr int kDefaultCards = 20;
constexpr int kMaxCards = 100;

// ---------------------------------------------------------------------------------------------------
// Small helpers

int64_t MicrosFromTs(const google::protobuf::Timestamp& ts) { return absl::ToUnixMicros(FromProtoTimestamp(ts)); }

// ---------------------------------------------------------------------------------------------------
// Reference data: stages, pipelines, lost reasons, field definitions.
// Lost reasons and field definitions are read here in the caller's transaction (PipelineStore's
// FindLostReason / FindField each open their own).

// Stages come from pipelines.h (LoadStage / LoadPipeline, in the caller's transaction).
absl::StatusOr<std::vector<StageRow>> LoadStages(pqxx::transaction_base& tx, const std::string& pipeline_id) {
  CRM_ASSIGN_OR_RETURN(std::optional<v1::Pipeline> pipeline, LoadPipeline(tx, pipeline_id));
  std::vector<StageRow> out;
  if (!pipeline.has_value()) return out;
  for (int i = 0; i < pipeline->stages_size(); ++i) out.push_back({pipeline_id, pipeline->stages(i), i});
  return out;
}

// The pipeline's currency, or nullopt when there is no such pipeline.
std::optional<std::string> PipelineCurrency(pqxx::transaction_base& tx, const std::string& id) {
  SqlParams p;
  pqxx::result r = Exec(tx, absl::StrCat("SELECT currency FROM pipelines WHERE id = ", p.Add(id), "::uuid"), p);
  if (r.empty()) return std::nullopt;
  return r[0][0].as<std::string>();
}

struct LostReasonRow {
  std::string name;
  bool requires_comment = false;
};

std::optional<LostReasonRow> FindLostReason(pqxx::transaction_base& tx, const std::string& code) {
  SqlParams p;
  pqxx::result r =
      Exec(tx, absl::StrCat("SELECT name, requires_comment FROM lost_reasons WHERE code = ", p.Add(code)), p);
  if (r.empty()) return std::nullopt;
  return LostReasonRow{r[0][0].as<std::string>(), r[0][1].as<bool>()};
}

// D2: the codes of the deal types catalogue, in its order.
std::vector<std::string> DealTypeCodes(pqxx::transaction_base& tx) {
  std::vector<std::string> out;
  for (const pqxx::row& r : tx.exec("SELECT code FROM deal_types ORDER BY sort, code")) {
    out.push_back(r[0].as<std::string>());
  }
  return out;
}

// Records a violation at `field` unless `code` is "" or a deal type of `codes` (D2).
void CheckTypeCode(const std::vector<std::string>& codes, const std::string& field, const std::string& code,
                   Violations& v) {
  if (code.empty() || std::find(codes.begin(), codes.end(), code) != codes.end()) return;
  v.Add(field, absl::StrCat("unknown deal type ", QuoteForError(code), ": one of ", absl::StrJoin(codes, ", ")));
}

struct FieldDef {
  v1::FieldDefinition::Type type = v1::FieldDefinition::TYPE_UNSPECIFIED;
  std::set<std::string> options;
};

std::map<std::string, FieldDef> LoadFieldDefs(pqxx::transaction_base& tx) {
  std::map<std::string, FieldDef> out;
  for (const pqxx::row& r : tx.exec("SELECT code, type, array_to_json(options)::text FROM field_definitions")) {
    FieldDef d;
    d.type = static_cast<v1::FieldDefinition::Type>(r[1].as<int>());
    for (std::string& o : JsonStrings(r[2].as<std::string>())) d.options.insert(std::move(o));
    out.emplace(r[0].as<std::string>(), std::move(d));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Deal rows

struct DealRow {
  v1::Deal deal;
  std::vector<std::string> team_ids;

  DealOwnership Ownership() const { return {deal.responsible_id(), team_ids}; }
};

std::string DealColumns() {
  return absl::StrCat(
      "d.id::text, d.name, d.pipeline_id::text, d.stage_id::text, d.status, d.responsible_id::text, "
      "coalesce(d.creator_id::text, ''), array_to_json(d.team_ids)::text, coalesce(d.client_id::text, ''), "
      "d.amount_minor, d.currency, d.source, d.priority, array_to_json(d.tags)::text, d.fields::text, "
      "coalesce(d.lost_reason_code, ''), d.lost_comment, coalesce(d.copied_from_id::text, ''), ",
      MicrosOf("d.next_task_time"), ", d.version, ", MicrosOf("d.create_time"), ", ", MicrosOf("d.update_time"),
      ", ", MicrosOf("d.close_time"), ", ", MicrosOf("d.stage_enter_time"), ", coalesce(d.type_code, ''), ",
      MicrosOf("d.last_comment_time"));
}

// Deal.comment_since_stage_entry from the deal's last_comment_time and stage_enter_time (issue 16: the
// one definition of "a comment in the stage").
void DeriveCommentSinceStageEntry(v1::Deal& d) {
  d.set_comment_since_stage_entry(d.has_last_comment_time() &&
                                  FromProtoTimestamp(d.last_comment_time()) >= FromProtoTimestamp(d.stage_enter_time()));
}

std::string FieldsToJson(const v1::Deal& deal) {
  nlohmann::json obj = nlohmann::json::object();
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  for (const v1::FieldValue& f : deal.fields()) {
    std::string text;
    (void)google::protobuf::util::MessageToJsonString(f, &text, o);
    obj[f.code()] = nlohmann::json::parse(text, nullptr, false);
  }
  return obj.dump();
}

void FieldsFromJson(const std::string& text, v1::Deal& deal) {
  nlohmann::json obj = nlohmann::json::parse(text, nullptr, false);
  if (!obj.is_object()) return;
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = true;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    v1::FieldValue f;
    if (google::protobuf::util::JsonStringToMessage(it.value().dump(), &f, o).ok()) {
      f.set_code(it.key());
      *deal.add_fields() = std::move(f);
    }
  }
}

DealRow ReadDeal(const pqxx::row& r) {
  DealRow row;
  v1::Deal& d = row.deal;
  d.set_id(r[0].as<std::string>());
  d.set_name(r[1].as<std::string>());
  d.set_pipeline_id(r[2].as<std::string>());
  d.set_stage_id(r[3].as<std::string>());
  d.set_status(static_cast<v1::Deal::Status>(r[4].as<int>()));
  d.set_responsible_id(r[5].as<std::string>());
  d.set_creator_id(r[6].as<std::string>());
  row.team_ids = JsonStrings(r[7].as<std::string>());
  d.set_client_id(r[8].as<std::string>());
  d.mutable_amount()->set_amount_minor(r[9].as<int64_t>());
  d.mutable_amount()->set_currency(r[10].as<std::string>());
  d.set_source(r[11].as<std::string>());
  d.set_priority(static_cast<v1::Deal::Priority>(r[12].as<int>()));
  for (std::string& t : JsonStrings(r[13].as<std::string>())) d.add_tags(std::move(t));
  FieldsFromJson(r[14].as<std::string>(), d);
  d.set_lost_reason_code(r[15].as<std::string>());
  d.set_lost_comment(r[16].as<std::string>());
  d.set_copied_from_id(r[17].as<std::string>());
  if (!r[18].is_null()) *d.mutable_next_task_time() = TsFromMicros(r[18].as<int64_t>());
  d.set_version(r[19].as<int64_t>());
  *d.mutable_create_time() = TsFromMicros(r[20].as<int64_t>());
  *d.mutable_update_time() = TsFromMicros(r[21].as<int64_t>());
  if (!r[22].is_null()) *d.mutable_close_time() = TsFromMicros(r[22].as<int64_t>());
  *d.mutable_stage_enter_time() = TsFromMicros(r[23].as<int64_t>());
  d.set_type_code(r[24].as<std::string>());
  if (!r[25].is_null()) *d.mutable_last_comment_time() = TsFromMicros(r[25].as<int64_t>());
  DeriveCommentSinceStageEntry(d);
  return row;
}

std::optional<DealRow> LoadDeal(pqxx::transaction_base& tx, const std::string& id, bool for_update) {
  SqlParams p;
  pqxx::result r = ExecPrepared(tx,
                                absl::StrCat("SELECT ", DealColumns(), " FROM deals d WHERE d.id = ", p.Add(id),
                                             "::uuid", for_update ? " FOR UPDATE" : ""),
                                p);
  if (r.empty()) return std::nullopt;
  return ReadDeal(r[0]);
}

// Every stored column of `row` but next_task_time as (name, SQL expression over `p`); the columns
// only an insert writes (creator, create time, copied_from_id) with `insert`.
std::vector<std::pair<std::string, std::string>> DealColumnValues(const DealRow& row, SqlParams& p, bool insert) {
  const v1::Deal& d = row.deal;
  std::vector<std::pair<std::string, std::string>> cols;
  auto col = [&](const char* name, std::string expr) { cols.emplace_back(name, std::move(expr)); };
  col("name", p.Add(d.name()));
  col("pipeline_id", p.Add(d.pipeline_id()) + "::uuid");
  col("stage_id", p.Add(d.stage_id()) + "::uuid");
  col("status", p.Add(absl::StrCat(static_cast<int>(d.status()))) + "::smallint");
  col("responsible_id", p.Add(d.responsible_id()) + "::uuid");
  col("team_ids", p.Add(ArrayLiteral(row.team_ids)) + "::uuid[]");
  col("client_id", absl::StrCat("NULLIF(", p.Add(d.client_id()), ", '')::uuid"));
  col("amount_minor", p.Add(absl::StrCat(d.amount().amount_minor())) + "::bigint");
  col("currency", p.Add(d.amount().currency()));
  col("source", p.Add(d.source()));
  col("priority", p.Add(absl::StrCat(static_cast<int>(d.priority()))) + "::smallint");
  col("tags", p.Add(ArrayLiteral({d.tags().begin(), d.tags().end()})) + "::text[]");
  col("fields", p.Add(FieldsToJson(d)) + "::jsonb");
  col("lost_reason_code", absl::StrCat("NULLIF(", p.Add(d.lost_reason_code()), ", '')"));
  col("lost_comment", p.Add(d.lost_comment()));
  col("version", p.Add(absl::StrCat(d.version())) + "::bigint");
  col("update_time", TsParam(p, FromProtoTimestamp(d.update_time())));
  col("close_time", d.has_close_time() ? TsParam(p, FromProtoTimestamp(d.close_time())) : "NULL");
  col("stage_enter_time", TsParam(p, FromProtoTimestamp(d.stage_enter_time())));
  col("type_code", absl::StrCat("NULLIF(", p.Add(d.type_code()), ", '')"));
  // Rows are rewritten only under FOR UPDATE (LoadDeal), as AddComment's own update of it waits for.
  col("last_comment_time", d.has_last_comment_time() ? TsParam(p, FromProtoTimestamp(d.last_comment_time())) : "NULL");
  if (insert) {
    col("id", p.Add(d.id()) + "::uuid");
    col("creator_id", absl::StrCat("NULLIF(", p.Add(d.creator_id()), ", '')::uuid"));
    col("create_time", TsParam(p, FromProtoTimestamp(d.create_time())));
    col("copied_from_id", absl::StrCat("NULLIF(", p.Add(d.copied_from_id()), ", '')::uuid"));
  }
  return cols;
}

// Rewrites (by id) every column an update may change.
void UpdateDealRow(pqxx::transaction_base& tx, const DealRow& row) {
  SqlParams p;
  std::vector<std::string> sets;
  for (auto& [n, v] : DealColumnValues(row, p, /*insert=*/false)) sets.push_back(absl::StrCat(n, " = ", v));
  ExecPrepared(tx,
               absl::StrCat("UPDATE deals SET ", absl::StrJoin(sets, ", "), " WHERE id = ", p.Add(row.deal.id()), "::uuid"),
               p);
}

// Inserts `row` and the outbox row `event` (OutboxWriter::Row) in one statement, one round trip, if
// pipeline `row.deal.pipeline_id()` is still at `pipeline_version`. Returns whether it inserted; false
// means the pipeline changed since its stages were read and nothing was written.
bool InsertDealWithEvent(pqxx::transaction_base& tx, const DealRow& row, int64_t pipeline_version,
                         const std::vector<std::string>& event) {
  SqlParams p;
  std::vector<std::string> names, values, event_values;
  for (auto& [n, v] : DealColumnValues(row, p, /*insert=*/true)) {
    names.push_back(n);
    values.push_back(v);
  }
  for (size_t i = 0; i < event.size(); ++i) {
    event_values.push_back(absl::StrCat(p.Add(event[i]), "::", events::kOutboxColumnTypes[i]));
  }
  const std::string sql = absl::StrCat(
      "WITH d AS (INSERT INTO deals (", absl::StrJoin(names, ", "), ") SELECT ", absl::StrJoin(values, ", "),
      " WHERE EXISTS (SELECT 1 FROM pipelines WHERE id = ", p.Add(row.deal.pipeline_id()), "::uuid AND version = ",
      p.Add(absl::StrCat(pipeline_version)), "::bigint) RETURNING 1) INSERT INTO outbox (", events::kOutboxColumns,
      ") SELECT ", absl::StrJoin(event_values, ", "), " FROM d");
  if (ExecPrepared(tx, sql, p).affected_rows() != 1) return false;
  events::WakeRelayAtCommit(tx);
  return true;
}

// ---------------------------------------------------------------------------------------------------
// Validation

absl::Status CheckName(const std::string& name) {
  if (name.empty()) return InvalidFieldError("deal.name", "required");
  if (CodePoints(name) > kMaxName) return InvalidFieldError("deal.name", "longer than 500 characters");
  return absl::OkStatus();
}

absl::Status CheckOptionalUuid(std::string_view field, const std::string& v) {
  if (!v.empty() && !IsUuid(v)) return InvalidFieldError(field, "not a UUID");
  return absl::OkStatus();
}

absl::Status CheckAmount(v1::Deal& deal, const std::string& pipeline_currency) {
  if (!deal.has_amount()) {
    deal.mutable_amount()->set_currency(pipeline_currency);
    return absl::OkStatus();
  }
  if (deal.amount().currency().empty()) {
    deal.mutable_amount()->set_currency(pipeline_currency);
  } else if (!ValidateCurrency(deal.amount().currency()).ok()) {
    return InvalidFieldError("deal.amount.currency", "not an upper-case ISO 4217 code");
  }
  if (deal.amount().amount_minor() < 0) return InvalidFieldError("deal.amount.amount_minor", "negative");
  return absl::OkStatus();
}

// The amount's own rules (a currency, if given, is an ISO 4217 code; the amount is not negative), every
// violation at once, before the pipeline's currency is known.
absl::Status CheckAmountShape(const crm::common::v1::Money& amount) {
  Violations v;
  if (!amount.currency().empty() && !ValidateCurrency(amount.currency()).ok()) {
    v.Add("deal.amount.currency", "not an upper-case ISO 4217 code");
  }
  if (amount.amount_minor() < 0) v.Add("deal.amount.amount_minor", "negative");
  return v.Status();
}

absl::Status CheckPriority(const v1::Deal& deal) {
  if (!v1::Deal::Priority_IsValid(deal.priority())) return InvalidFieldError("deal.priority", "unknown priority");
  return absl::OkStatus();
}

absl::Status CheckSource(const v1::Deal& deal) {
  if (CodePoints(deal.source()) > kMaxSource) return InvalidFieldError("deal.source", "longer than 200 characters");
  return absl::OkStatus();
}

absl::Status CheckTags(const v1::Deal& deal) {
  if (deal.tags_size() > kMaxTags) return InvalidFieldError("deal.tags", "at most 50 tags");
  Violations v;
  for (int i = 0; i < deal.tags_size(); ++i) {
    const std::string& t = deal.tags(i);
    if (t.empty() || CodePoints(t) > kMaxTagLength) {
      v.Add(absl::StrCat("deal.tags[", i, "]"), "must be 1 to 64 characters");
    }
  }
  return v.Status();
}

bool IsDecimal(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t frac = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++frac;
    if (frac == 0) return false;
  }
  return digits > 0 && i == s.size();
}

// Checks the custom field values of `deal` against their definitions, recording every violation in `v`
// ("deal.fields[2].text", ...).
void CheckFields(const v1::Deal& deal, const std::map<std::string, FieldDef>& defs, Violations& v) {
  using T = v1::FieldDefinition;
  using V = v1::FieldValue;
  std::set<std::string> seen;
  for (int i = 0; i < deal.fields_size(); ++i) {
    const V& f = deal.fields(i);
    const std::string at = absl::StrCat("deal.fields[", i, "]");
    auto def = defs.find(f.code());
    if (def == defs.end()) {
      v.Add(at + ".code", absl::StrCat("unknown field ", QuoteForError(f.code())));
      continue;
    }
    if (!seen.insert(f.code()).second) {
      v.Add(at + ".code", "given twice");
      continue;
    }
    const V::ValueCase vc = f.value_case();
    auto is = [&](V::ValueCase c, const char* what) {
      if (vc == c) return true;
      v.Add(at, absl::StrCat("field ", f.code(), " takes ", what));
      return false;
    };
    switch (def->second.type) {
      case T::TYPE_STRING:
        if (is(V::kText, "text") && CodePoints(f.text()) > kMaxText) v.Add(at + ".text", "too long");
        break;
      case T::TYPE_NUMBER:
        if (is(V::kNumber, "a decimal number") && !IsDecimal(f.number())) {
          v.Add(at + ".number", "not a decimal number");
        }
        break;
      case T::TYPE_MONEY:
        if (is(V::kMoney, "money") && !ValidateCurrency(f.money().currency()).ok()) {
          v.Add(at + ".money.currency", "not an upper-case ISO 4217 code");
        }
        break;
      case T::TYPE_DATE: {
        absl::Time t;
        std::string err;
        if (is(V::kText, "a date") &&
            (f.text().size() != 10 || !absl::ParseTime("%Y-%m-%d", f.text(), &t, &err))) {
          v.Add(at + ".text", "not a date YYYY-MM-DD");
        }
        break;
      }
      case T::TYPE_DATETIME:
        is(V::kTime, "a time");
        break;
      case T::TYPE_BOOL:
        is(V::kFlag, "a flag");
        break;
      case T::TYPE_ENUM:
        if (is(V::kText, "one option") && !def->second.options.contains(f.text())) {
          v.Add(at + ".text", "not an option of the field");
        }
        break;
      case T::TYPE_MULTI_ENUM:
        if (!is(V::kOptions, "options")) break;
        for (int j = 0; j < f.options().values_size(); ++j) {
          if (!def->second.options.contains(f.options().values(j))) {
            v.Add(absl::StrCat(at, ".options.values[", j, "]"), "not an option of the field");
          }
        }
        break;
      case T::TYPE_USER:
        if (is(V::kText, "a user id") && !IsUuid(f.text())) v.Add(at + ".text", "not a UUID");
        break;
      case T::TYPE_URL:
        if (is(V::kText, "a URL") &&
            (!(f.text().rfind("http://", 0) == 0 || f.text().rfind("https://", 0) == 0) || f.text().size() > 2000)) {
          v.Add(at + ".text", "not an http(s) URL");
        }
        break;
      default:
        v.Add(at, "field has an unknown type");
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Gates

bool FieldFilled(const v1::Deal& d, const std::string& code) {
  for (const v1::FieldValue& f : d.fields()) {
    if (f.code() != code) continue;
    switch (f.value_case()) {
      case v1::FieldValue::kText:
        return !f.text().empty();
      case v1::FieldValue::kNumber:
        return !f.number().empty();
      case v1::FieldValue::kOptions:
        return f.options().values_size() > 0;
      case v1::FieldValue::VALUE_NOT_SET:
        return false;
      default:
        return true;
    }
  }
  return false;
}

// What a stage gate reads besides the deal (D4, issue 16).
struct GateInput {
  // The comment sent with the move (or the copy).
  std::string comment;
  // The deal's client has a phone (a gate's "client.phone", seed 001's «телефон»).
  bool client_has_phone = false;
};

// A gate's "client.phone" (pipelines.h kGateClientPhone): the deal's client has a phone.
absl::StatusOr<GateInput> GateInputFor(pqxx::transaction_base& tx, const v1::Stage& stage, const v1::Deal& deal,
                                       std::string comment) {
  GateInput in{.comment = std::move(comment)};
  const auto& required = stage.gates().required_fields();
  if (!deal.client_id().empty() && std::find(required.begin(), required.end(), kGateClientPhone) != required.end()) {
    SqlParams p;
    const pqxx::result r = Exec(
        tx, absl::StrCat("SELECT cardinality(phones) > 0 FROM clients WHERE id = ", p.Add(deal.client_id()), "::uuid"),
        p);
    in.client_has_phone = !r.empty() && r[0][0].as<bool>();
  }
  return in;
}

bool Filled(const v1::Deal& d, const std::string& name, const GateInput& in) {
  if (name == kGateClientPhone) return in.client_has_phone;
  if (name == "type_code") return !d.type_code().empty();
  if (name == "amount") return d.amount().amount_minor() > 0;
  if (name == "client_id") return !d.client_id().empty();
  if (name == "source") return !d.source().empty();
  if (name == "priority") return d.priority() != v1::Deal::PRIORITY_UNSPECIFIED;
  if (name == "tags") return d.tags_size() > 0;
  if (name == "name") return !d.name().empty();
  if (name.rfind("custom.", 0) == 0) return FieldFilled(d, name.substr(7));
  return true;  // a gate naming a field deals does not know cannot be met by the deal; not enforced
}

// OK, or FAILED_PRECONDITION "stage «X» requires: a, b, an open task, a comment" listing every unmet gate
// (D4), each also a field violation in its details (issue 16): a required field as the gate names it
// ("client_id", "client.phone", "custom.visit_time"), "open_task", "comment". A comment is one written
// since the deal entered its current stage (Deal.comment_since_stage_entry) or the one sent with the
// move: the one definition robots' report reads too.
absl::Status CheckGates(const v1::Stage& stage, const v1::Deal& deal, const GateInput& in) {
  std::vector<std::string> missing;
  std::vector<FieldViolation> violations;
  const std::string why = absl::StrCat("required by stage «", stage.name(), "»");
  for (const std::string& f : stage.gates().required_fields()) {
    if (Filled(deal, f, in)) continue;
    missing.push_back(f);
    violations.push_back({f, why});
  }
  // A deal has an open task exactly when next_task_time is set: tasks.cc keeps it at the earliest due
  // time of the deal's open tasks in every task change's transaction.
  if (stage.gates().requires_open_task() && !deal.has_next_task_time()) {
    missing.push_back("an open task");
    violations.push_back({"open_task", absl::StrCat("an open task is ", why)});
  }
  if (stage.gates().requires_comment() && in.comment.empty() && !deal.comment_since_stage_entry()) {
    missing.push_back("a comment");
    violations.push_back({"comment", absl::StrCat("a comment is ", why)});
  }
  if (missing.empty()) return absl::OkStatus();
  return WithFieldViolations(
      absl::FailedPreconditionError(absl::StrCat("stage «", stage.name(), "» requires: ", absl::StrJoin(missing, ", "))),
      violations);
}

// ---------------------------------------------------------------------------------------------------
// Events

// The JSON of `deal` with only `path` set, for the audit history (D10): "amount" → {"amount":{...}};
// "custom.x" → that one custom field, {"fields":[{"code":"x","number":"54"}]} ({} when the deal has no
// value of it), never the whole array.
std::string FieldAsJson(const v1::Deal& deal, const std::string& path) {
  v1::Deal only;
  if (path.rfind(kCustomFieldPrefix, 0) == 0) {
    const std::string code = path.substr(sizeof(kCustomFieldPrefix) - 1);
    for (const v1::FieldValue& f : deal.fields()) {
      if (f.code() == code) *only.add_fields() = f;
    }
  } else {
    google::protobuf::FieldMask mask;
    mask.add_paths(path);
    google::protobuf::util::FieldMaskUtil::MergeMessageTo(deal, mask, {}, &only);
  }
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(only, &json);
  return json;
}

// The event `type` of deal `row`, visible to its responsible and teams (and, after a change of
// responsible, to the `previous` one's too).
events::NewEvent DealEvent(const Actor& actor, const DealRow& row, const char* type,
                           const google::protobuf::Message& payload, const DealRow* previous = nullptr) {
  std::vector<std::string> users{row.deal.responsible_id()};
  std::vector<std::string> teams = row.team_ids;
  if (previous != nullptr && previous->deal.responsible_id() != row.deal.responsible_id()) {
    users.push_back(previous->deal.responsible_id());
    for (const std::string& t : previous->team_ids) {
      if (std::find(teams.begin(), teams.end(), t) == teams.end()) teams.push_back(t);
    }
  }
  return {.aggregate_type = "deal",
          .aggregate_id = row.deal.id(),
          .type = type,
          .payload = &payload,
          .actor = actor.principal,
          .request_id = actor.request_id,
          .visible_to_user_ids = std::move(users),
          .visible_to_team_ids = std::move(teams),
          .automation_depth = actor.automation_depth,
          .skip_automation = actor.skip_automation};
}

absl::Status Emit(pqxx::transaction_base& tx, const events::OutboxWriter& outbox, const Actor& actor,
                  const DealRow& row, const char* type, const google::protobuf::Message& payload,
                  const DealRow* previous = nullptr) {
  return outbox.Append(tx, DealEvent(actor, row, type, payload, previous)).status();
}

// ---------------------------------------------------------------------------------------------------
// Filters and pages

using PageKey = TimePageKey;


// The user ids a list's responsible filter names (issue 16: one spelling for "me"): a UUID, or "me"
// (or its alias "mine") for the caller; the caller's own id when `mine`. Violations name
// `<prefix>.responsible_ids[i]`.
std::vector<std::string> ResponsibleIds(const Principal& caller, const v1::DealFilter& f, const std::string& pre,
                                        Violations& v) {
  std::vector<std::string> out;
  const std::string me = ActingUserId(caller);
  auto add = [&](const std::string& id) {
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  };
  for (int i = 0; i < f.responsible_ids_size(); ++i) {
    const std::string& r = f.responsible_ids(i);
    if (IsMe(r)) {
      if (me.empty()) {
        v.Add(absl::StrCat(pre, ".responsible_ids[", i, "]"), "\"me\" needs a user caller");
      } else {
        add(me);
      }
    } else if (!IsUuid(r)) {
      v.Add(absl::StrCat(pre, ".responsible_ids[", i, "]"), "not a UUID or \"me\"");
    } else {
      add(r);
    }
  }
  return out;
}

// filter.custom_fields ("code:value", D3): each as the FieldValue its definition's type takes, so that it
// filters through the same containment (and index, deals_fields) as filter.fields.
void ParseCustomFieldFilters(pqxx::transaction_base& tx, const v1::DealFilter& f, const std::string& pre,
                             v1::Deal& probe, Violations& v) {
  if (f.custom_fields_size() == 0) return;
  using T = v1::FieldDefinition;
  const std::map<std::string, FieldDef> defs = LoadFieldDefs(tx);
  std::set<std::string> seen;
  for (const v1::FieldValue& given : probe.fields()) seen.insert(given.code());
  for (int i = 0; i < f.custom_fields_size(); ++i) {
    const std::string at = absl::StrCat(pre, ".custom_fields[", i, "]");
    const std::string& item = f.custom_fields(i);
    const size_t colon = item.find(':');
    if (colon == std::string::npos || colon == 0) {
      v.Add(at, "must be \"<field code>:<value>\", e.g. \"kp_status:Согласовано\"");
      continue;
    }
    const std::string code = item.substr(0, colon), value = item.substr(colon + 1);
    auto def = defs.find(code);
    if (def == defs.end()) {
      v.Add(at, absl::StrCat("unknown field ", QuoteForError(code)));
      continue;
    }
    v1::FieldValue fv;
    fv.set_code(code);
    switch (def->second.type) {
      case T::TYPE_NUMBER:
        if (!IsDecimal(value)) v.Add(at, "not a decimal number");
        fv.set_number(value);
        break;
      case T::TYPE_MONEY: {
        int64_t minor = 0;
        if (!absl::SimpleAtoi(value, &minor)) v.Add(at, "an amount in minor units, e.g. 1250000");
        fv.mutable_money()->set_amount_minor(minor);
        break;
      }
      case T::TYPE_DATETIME: {
        absl::Time t;
        std::string err;
        if (!absl::ParseTime(absl::RFC3339_full, value, &t, &err)) v.Add(at, "not an RFC 3339 time");
        *fv.mutable_time() = ToProtoTimestamp(t);
        break;
      }
      case T::TYPE_BOOL:
        if (value != "true" && value != "false") v.Add(at, "true or false");
        fv.set_flag(value == "true");
        break;
      case T::TYPE_MULTI_ENUM:
        if (!def->second.options.contains(value)) v.Add(at, "not an option of the field");
        fv.mutable_options()->add_values(value);
        break;
      case T::TYPE_ENUM:
        if (!def->second.options.contains(value)) v.Add(at, "not an option of the field");
        fv.set_text(value);
        break;
      default:  // STRING, DATE, USER, URL: the text itself
        fv.set_text(value);
    }
    if (!seen.insert(code).second) {
      // Two values of one field: both must hold (a multi-enum's options add up; others cannot).
      for (v1::FieldValue& other : *probe.mutable_fields()) {
        if (other.code() != code) continue;
        if (other.has_options() && fv.has_options()) {
          other.mutable_options()->add_values(fv.options().values(0));
        } else {
          v.Add(at, "a second value of a field that holds one");
        }
      }
      continue;
    }
    *probe.add_fields() = std::move(fv);
  }
}

// The SQL condition (alias d) for `f`; its pipeline_id and stage_ids only when `with_location`. Every
// violation of the filter at once (issue 16).
absl::StatusOr<std::string> FilterWhere(pqxx::transaction_base& tx, const Principal& caller, const v1::DealFilter& f,
                                        bool with_location, std::string_view prefix, SqlParams& p) {
  std::vector<std::string> conds;
  const std::string pre(prefix);
  Violations v;
  if (with_location && !f.pipeline_id().empty()) {
    CRM_RETURN_IF_ERROR(v.Merge(CheckOptionalUuid(pre + ".pipeline_id", f.pipeline_id())));
    conds.push_back(absl::StrCat("d.pipeline_id = ", p.Add(f.pipeline_id()), "::uuid"));
  }
  if (with_location && f.stage_ids_size() > 0) {
    for (int i = 0; i < f.stage_ids_size(); ++i) {
      CRM_RETURN_IF_ERROR(v.Merge(CheckOptionalUuid(absl::StrCat(pre, ".stage_ids[", i, "]"), f.stage_ids(i))));
    }
    conds.push_back(absl::StrCat("d.stage_id = ANY(", p.Add(ArrayLiteral({f.stage_ids().begin(), f.stage_ids().end()})),
                                 "::uuid[])"));
  }
  std::vector<std::string> responsibles = ResponsibleIds(caller, f, pre, v);
  if (f.mine()) {
    const std::string me = ActingUserId(caller);
    if (me.empty()) {
      conds.push_back("FALSE");
    } else if (responsibles.empty()) {
      responsibles.push_back(me);
    } else if (std::find(responsibles.begin(), responsibles.end(), me) == responsibles.end()) {
      conds.push_back("FALSE");  // mine and only others: nobody's
    } else {
      responsibles = {me};
    }
  }
  if (responsibles.size() == 1) {
    // "=" keeps the index order (deals_responsible_created); "= ANY" of one element would not.
    conds.push_back(absl::StrCat("d.responsible_id = ", p.Add(responsibles[0]), "::uuid"));
  } else if (!responsibles.empty()) {
    conds.push_back(absl::StrCat("d.responsible_id = ANY(", p.Add(ArrayLiteral(responsibles)), "::uuid[])"));
  }
  if (f.tags_size() > 0) {
    conds.push_back(absl::StrCat("d.tags && ", p.Add(ArrayLiteral({f.tags().begin(), f.tags().end()})), "::text[]"));
  }
  if (!f.query().empty()) {
    if (CodePoints(f.query()) > kMaxName) v.Add(pre + ".query", "longer than 500 characters");
    conds.push_back(absl::StrCat("d.name ILIKE ", p.Add(absl::StrCat("%", EscapeLike(f.query()), "%"))));
  }
  if (f.amount_min() < 0) v.Add(pre + ".amount_min", "negative");
  if (f.amount_max() < 0) v.Add(pre + ".amount_max", "negative");
  if (f.amount_min() > 0) conds.push_back(absl::StrCat("d.amount_minor >= ", p.Add(absl::StrCat(f.amount_min())), "::bigint"));
  if (f.amount_max() > 0) conds.push_back(absl::StrCat("d.amount_minor <= ", p.Add(absl::StrCat(f.amount_max())), "::bigint"));
  if (f.has_created_after()) conds.push_back(absl::StrCat("d.create_time >= ", TsParam(p, FromProtoTimestamp(f.created_after()))));
  if (f.has_created_before()) conds.push_back(absl::StrCat("d.create_time < ", TsParam(p, FromProtoTimestamp(f.created_before()))));
  if (f.statuses_size() > 0) {
    std::vector<std::string> st;
    for (int i = 0; i < f.statuses_size(); ++i) {
      const int s = f.statuses(i);
      if (s < 1 || s > 3) {
        v.Add(absl::StrCat(pre, ".statuses[", i, "]"), "unknown status: STATUS_OPEN, STATUS_WON or STATUS_LOST");
      }
      st.push_back(absl::StrCat(s));
    }
    conds.push_back(absl::StrCat("d.status = ANY(", p.Add(absl::StrCat("{", absl::StrJoin(st, ","), "}")), "::smallint[])"));
  }
  if (f.type_codes_size() > 0) {
    // D2: any of the types; "=" for one keeps an index order (deals_type_created).
    const std::vector<std::string> codes = DealTypeCodes(tx);
    for (int i = 0; i < f.type_codes_size(); ++i) {
      const std::string at = absl::StrCat(pre, ".type_codes[", i, "]");
      if (f.type_codes(i).empty()) v.Add(at, "empty: a deal type code");
      CheckTypeCode(codes, at, f.type_codes(i), v);
    }
    conds.push_back(f.type_codes_size() == 1
                        ? absl::StrCat("d.type_code = ", p.Add(f.type_codes(0)))
                        : absl::StrCat("d.type_code = ANY(",
                                       p.Add(ArrayLiteral({f.type_codes().begin(), f.type_codes().end()})), "::text[])"));
  }
  v1::Deal probe;
  for (int i = 0; i < f.fields_size(); ++i) {
    if (f.fields(i).code().empty()) v.Add(absl::StrCat(pre, ".fields[", i, "].code"), "required");
    if (f.fields(i).value_case() == v1::FieldValue::VALUE_NOT_SET) {
      v.Add(absl::StrCat(pre, ".fields[", i, "]"), "a value is required");
    }
    *probe.add_fields() = f.fields(i);
  }
  ParseCustomFieldFilters(tx, f, pre, probe, v);
  if (probe.fields_size() > 0) {
    // D3: JSON containment on the stored {code: FieldValue} object (arrays: every given option is
    // present), on the GIN index deals_fields (migration 0009).
    conds.push_back(absl::StrCat("d.fields @> ", p.Add(FieldsToJson(probe)), "::jsonb"));
  }
  if (!f.copied_from_id().empty()) {
    CRM_RETURN_IF_ERROR(v.Merge(CheckOptionalUuid(pre + ".copied_from_id", f.copied_from_id())));
    conds.push_back(absl::StrCat("d.copied_from_id = ", p.Add(f.copied_from_id()), "::uuid"));
  }
  CRM_RETURN_IF_ERROR(v.Status());
  // Access is not part of the filter: ScopedPageSql and ScopedStageTotalsSql (listing.h) reach the
  // caller's deals through their scope's index.
  return conds.empty() ? std::string("TRUE") : absl::StrJoin(conds, " AND ");
}

// The manager's default list (D3, seed 003: «По умолчанию менеджеру показываются только сделки, где
// пользователь установлен как менеджер клиента»): a caller who may change only their own deals
// (deals.write.own as the widest write permission) but may see more, listing without a responsible, gets
// their own deals, as filter.mine would — the automatic filter the screen shows and the user can remove
// (filter.all_responsibles). Returns whether it applied; `f` is the filter to run (all_responsibles,
// which has no condition of its own, cleared).
bool ApplyDefaultMine(const Principal& caller, v1::DealFilter& f) {
  const bool asked_for_all = f.all_responsibles();
  f.clear_all_responsibles();
  if (asked_for_all || f.mine() || f.responsible_ids_size() > 0) return false;
  if (WriteScope(caller) != Scope::kOwn || ReadScope(caller) <= Scope::kOwn || ActingUserId(caller).empty()) {
    return false;
  }
  f.set_mine(true);
  return true;
}

// What a card shows (seed 003's card summary), read as CardColumns() lists it; no custom fields, so a
// page of 60 cards parses no JSON but its tags. Beside the ids (issue 16, a board in one call): the
// responsible's name from deals' user directory and the client's name, each by its primary key, and the
// nearest open task on tasks_deal_due (only for a deal that has one: next_task_time is set).
std::string CardColumns() {
  static const std::string* const kColumns = new std::string(absl::StrCat(
      "d.id::text, d.name, d.stage_id::text, d.responsible_id::text, coalesce(d.client_id::text, ''), "
      "d.amount_minor, d.currency, d.priority, array_to_json(d.tags)::text, ",
      MicrosOf("d.next_task_time"), ", d.version, ", MicrosOf("d.create_time"),
      ", coalesce((SELECT u.full_name FROM user_directory u WHERE u.user_id = d.responsible_id), ''), "
      "coalesce((SELECT c.name FROM clients c WHERE c.id = d.client_id), ''), "
      "CASE WHEN d.next_task_time IS NULL THEN '' ELSE coalesce((SELECT t.id::text || ' ' || t.title FROM tasks t "
      "WHERE t.deal_id = d.id AND t.status = 1 ORDER BY t.due_time, t.id LIMIT 1), '') END, "
      "coalesce(d.type_code, '')"));
  return *kColumns;
}

// A card of row `r` (CardColumns); `now` tells whether its reminder is overdue.
void ReadCard(const pqxx::row& r, absl::Time now, v1::DealCard& c) {
  c.set_id(r[0].c_str());
  c.set_name(r[1].c_str());
  c.set_stage_id(r[2].c_str());
  c.set_responsible_id(r[3].c_str());
  c.set_client_id(r[4].c_str());
  c.mutable_amount()->set_amount_minor(r[5].as<int64_t>());
  c.mutable_amount()->set_currency(r[6].c_str());
  c.set_priority(static_cast<v1::Deal::Priority>(r[7].as<int>()));
  if (std::string_view tags = r[8].c_str(); tags != "[]") {
    for (std::string& t : JsonStrings(std::string(tags))) c.add_tags(std::move(t));
  }
  if (!r[9].is_null()) {
    *c.mutable_next_task_time() = TsFromMicros(r[9].as<int64_t>());
    c.set_overdue(absl::FromUnixMicros(r[9].as<int64_t>()) < now);
  }
  c.set_has_open_tasks(!r[9].is_null());
  c.set_version(r[10].as<int64_t>());
  *c.mutable_create_time() = TsFromMicros(r[11].as<int64_t>());
  c.set_responsible_name(r[12].c_str());
  c.set_client_name(r[13].c_str());
  if (std::string_view task = r[14].c_str(); !task.empty()) {
    const size_t space = task.find(' ');
    c.set_next_task_id(std::string(task.substr(0, space)));
    if (space != std::string_view::npos) c.set_next_task_title(std::string(task.substr(space + 1)));
  }
  c.set_type_code(r[15].c_str());
}

// Reads `rows` (CardColumns) into at most `limit` cards; `next` gets the token of the page after them
// when there are more rows than that.
void ReadCards(const pqxx::result& rows, size_t begin, size_t end, int limit, absl::Time now,
               google::protobuf::RepeatedPtrField<v1::DealCard>* cards, std::string* next) {
  next->clear();
  for (size_t i = begin; i < end; ++i) {
    if (static_cast<int>(i - begin) == limit) {
      const v1::DealCard& last = cards->Get(cards->size() - 1);
      *next = TimePageToken(MicrosFromTs(last.create_time()), last.id());
      break;
    }
    ReadCard(rows[static_cast<int>(i)], now, *cards->Add());
  }
}

// Up to `limit` cards of the deals `caller` may see that match `where` (alias d), newest first after
// `after`; `next` gets a token when there are more.
void Page(pqxx::transaction_base& tx, const Principal& caller, std::string where, SqlParams& p,
          const std::optional<PageKey>& after, int limit, absl::Time now,
          google::protobuf::RepeatedPtrField<v1::DealCard>* cards, std::string* next) {
  if (after.has_value()) {
    where = absl::StrCat(where, " AND (d.create_time, d.id) < (",
                         TsParam(p, absl::FromUnixMicros(after->micros)), ", ", p.Add(after->id), "::uuid)");
  }
  pqxx::result r = ExecPrepared(tx, ScopedPageSql(caller, CardColumns(), where, limit + 1, p), p);
  ReadCards(r, 0, r.size(), limit, now, cards, next);
}


}  // namespace

// ---------------------------------------------------------------------------------------------------
// DealStore

// Create targets (pipelines.h LoadCreateTarget) by "<pipeline id>/<stage id or empty>". An entry may be
// stale; InsertDealWithEvent checks the version it was read at, and a miss reads it again (fresh).
class TargetCache {
 public:
  absl::StatusOr<std::optional<CreateTarget>> Get(pqxx::transaction_base& tx, const std::string& pipeline_id,
                                                  const std::string& stage_id, bool fresh) {
    const std::string key = absl::StrCat(pipeline_id, "/", stage_id);
    if (!fresh) {
      absl::ReaderMutexLock lock(&mu_);
      if (auto it = targets_.find(key); it != targets_.end()) return it->second;
    }
    CRM_ASSIGN_OR_RETURN(std::optional<CreateTarget> target, LoadCreateTarget(tx, pipeline_id, stage_id));
    absl::MutexLock lock(&mu_);
    if (!target.has_value()) {
      targets_.erase(key);
    } else {
      if (targets_.size() >= kMaxEntries) targets_.clear();  // bounded; pipelines are few
      targets_.insert_or_assign(key, *target);
    }
    return target;
  }

 private:
  static constexpr size_t kMaxEntries = 10'000;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, CreateTarget> targets_ ABSL_GUARDED_BY(mu_);
};

DealStore::DealStore(pg::Pool& pool, const Clock& clock)
    : pool_(pool),
      clock_(clock),
      outbox_("deals", clock),
      targets_(std::make_unique<TargetCache>()),
      directory_(std::make_unique<DirectorySeeder>()) {}

DealStore::~DealStore() = default;

Actor ActorOf(const Principal& caller, const grpc::ServerContextBase& ctx) {
  return Actor{.principal = caller,
               .request_id = rpc::RequestId(ctx),
               .automation_depth = rpc::AutomationDepth(ctx),
               .skip_automation = rpc::SkipAutomation(ctx),
               .idempotency_key = rpc::IdempotencyKey(ctx)};
}

absl::StatusOr<v1::Deal> DealStore::Create(const Actor& actor, const v1::Deal& in, std::string_view idempotency_key) {
  const pg::IdempotencyScope scope{.caller = rpc::IdempotencyCaller(actor.principal),
                                   .method = "crm.deals.v1.DealService/CreateDeal",
                                   .key = std::string(idempotency_key)};
  v1::Deal out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return pg::RunIdempotent(tx, scope, clock_.Now(), in, out, [&]() -> absl::Status {
      CRM_ASSIGN_OR_RETURN(out, CreateInTx(tx, actor, in, CreateOptions{}));
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::StatusOr<v1::Deal> DealStore::CreateInTx(pqxx::transaction_base& tx, const Actor& actor, const v1::Deal& in,
                                               const CreateOptions& options) {
  const Principal& caller = actor.principal;
  const std::string me = ActingUserId(caller);
  if (WriteScope(caller) == Scope::kNone) return absl::PermissionDeniedError("missing permission deals.write.own");
  DealRow row;
  v1::Deal& d = row.deal;
  d = in;
  {
    // Every violation of the request at once (issue 16): its own fields, its custom fields against their
    // definitions, and then whether the pipeline and stage it names exist.
    Violations v;
    CRM_RETURN_IF_ERROR(v.Merge(CheckName(d.name())));
    if (d.pipeline_id().empty()) v.Add("deal.pipeline_id", "required");
    CRM_RETURN_IF_ERROR(v.Merge(CheckOptionalUuid("deal.pipeline_id", d.pipeline_id())));
    CRM_RETURN_IF_ERROR(v.Merge(CheckOptionalUuid("deal.stage_id", d.stage_id())));
    CRM_RETURN_IF_ERROR(v.Merge(CheckOptionalUuid("deal.responsible_id", d.responsible_id())));
    CRM_RETURN_IF_ERROR(v.Merge(CheckOptionalUuid("deal.client_id", d.client_id())));
    CRM_RETURN_IF_ERROR(v.Merge(CheckPriority(d)));
    CRM_RETURN_IF_ERROR(v.Merge(CheckSource(d)));
    CRM_RETURN_IF_ERROR(v.Merge(CheckTags(d)));
    CRM_RETURN_IF_ERROR(v.Merge(CheckAmountShape(d.amount())));
    if (CodePoints(d.lost_comment()) > kMaxComment) v.Add("deal.lost_comment", "too long");
    if (d.responsible_id().empty() && me.empty()) {
      v.Add("deal.responsible_id", "required for a caller that is not a user");
    }
    if (d.fields_size() > 0) CheckFields(d, LoadFieldDefs(tx), v);
    if (!d.type_code().empty()) CheckTypeCode(DealTypeCodes(tx), "deal.type_code", d.type_code(), v);
    if (!v.empty()) {
      if (IsUuid(d.pipeline_id()) && !PipelineCurrency(tx, d.pipeline_id()).has_value()) {
        v.Add("deal.pipeline_id", "no such pipeline");
      }
      return v.Status();
    }
  }
  if (d.responsible_id().empty()) d.set_responsible_id(me);
  if (d.responsible_id() != me && WriteScope(caller) < Scope::kTeam) {
    return absl::PermissionDeniedError("missing permission deals.write.team (to assign another responsible)");
  }
  const bool caller_is_responsible = d.responsible_id() == me;
  if (caller_is_responsible) {
    row.team_ids = CallerTeamIds(caller);
    CRM_RETURN_IF_ERROR(directory_->Seed(tx, me, row.team_ids));
  }
  const absl::Time now = clock_.Now();
  d.set_id(options.id.empty() ? NewUuidV7() : options.id);
  d.set_creator_id(me);
  d.set_version(1);
  d.set_copied_from_id(options.copied_from_id);
  d.clear_next_task_time();
  d.clear_close_time();
  *d.mutable_create_time() = ToProtoTimestamp(now);
  *d.mutable_update_time() = ToProtoTimestamp(now);
  *d.mutable_stage_enter_time() = ToProtoTimestamp(now);
  // A comment given with a copy is the new deal's first comment (issue 16).
  d.clear_last_comment_time();
  if (!options.comment.empty()) *d.mutable_last_comment_time() = ToProtoTimestamp(now);
  DeriveCommentSinceStageEntry(d);
  // Another responsible: their teams as identity's events told us (users.h).
  if (!caller_is_responsible) {
    CRM_ASSIGN_OR_RETURN(row.team_ids, TeamsOf(tx, d.responsible_id()));
  }
  // The target stage (the given one, or the pipeline's first open stage) and the currency: from the
  // cache, checked by the insert against the pipeline's version, read again if it changed.
  const DealRow draft = row;
  for (int attempt = 0;; ++attempt) {
    row = draft;
    CRM_ASSIGN_OR_RETURN(std::optional<CreateTarget> target,
                         targets_->Get(tx, d.pipeline_id(), d.stage_id(), /*fresh=*/attempt > 0));
    if (!target.has_value()) {
      if (!PipelineCurrency(tx, d.pipeline_id()).has_value()) {
        return InvalidFieldError("deal.pipeline_id", "no such pipeline");
      }
      if (!d.stage_id().empty()) return InvalidFieldError("deal.stage_id", "not a stage of the pipeline");
      return absl::FailedPreconditionError("the pipeline has no open stage");
    }
    CRM_RETURN_IF_ERROR(CheckAmount(d, target->currency));
    const v1::Stage& stage = target->stage.stage;
    d.set_stage_id(stage.id());
    d.set_status(static_cast<v1::Deal::Status>(stage.kind()));
    if (stage.kind() == v1::Stage::KIND_LOST) {
      if (d.lost_reason_code().empty()) return InvalidFieldError("deal.lost_reason_code", "required in a lost stage");
      std::optional<LostReasonRow> reason = FindLostReason(tx, d.lost_reason_code());
      if (!reason.has_value()) return InvalidFieldError("deal.lost_reason_code", "unknown lost reason");
      if (reason->requires_comment && d.lost_comment().empty()) {
        return InvalidFieldError("deal.lost_comment", absl::StrCat("required with lost reason «", reason->name, "»"));
      }
    } else {
      d.clear_lost_reason_code();
      d.clear_lost_comment();
    }
    if (stage.kind() != v1::Stage::KIND_OPEN) *d.mutable_close_time() = ToProtoTimestamp(now);
    CRM_ASSIGN_OR_RETURN(const GateInput gate_input, GateInputFor(tx, stage, d, options.comment));
    CRM_RETURN_IF_ERROR(CheckGates(stage, d, gate_input));
    // The deal and DealCreated in one statement.
    v1::DealCreated created;
    *created.mutable_deal() = d;
    CRM_ASSIGN_OR_RETURN(std::vector<std::string> event, outbox_.Row(DealEvent(actor, row, kDealCreatedType, created)));
    if (InsertDealWithEvent(tx, row, target->pipeline_version, event)) break;
    if (attempt > 0) return absl::AbortedError("the pipeline changed during the create; try again");
  }
  if (!options.comment.empty()) {
    v1::TimelineEntry e;
    e.set_deal_id(d.id());
    e.set_kind(v1::TimelineEntry::COMMENT);
    e.set_actor_id(me);
    *e.mutable_create_time() = d.create_time();
    e.set_text(options.comment);
    CRM_RETURN_IF_ERROR(RecordDealChange(tx, e));
  }
  // Seed 003: a new deal takes its client's contacts (the first becomes the main one).
  if (!d.client_id().empty() && options.take_client_contacts) {
    absl::StatusOr<int> copied = CopyClientContactsToDeal(tx, d.id(), d.client_id());
    if (absl::IsNotFound(copied.status())) return InvalidFieldError("deal.client_id", "no such client");
    CRM_RETURN_IF_ERROR(copied.status());
  }
  return d;
}

absl::StatusOr<v1::Deal> DealStore::Get(const Principal& caller, std::string_view id) {
  v1::Deal out;
  // One statement: outside a transaction block, one round trip.
  CRM_RETURN_IF_ERROR(pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(out, GetInTx(tx, caller, id, /*for_update=*/false));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Deal> DealStore::GetInTx(pqxx::transaction_base& tx, const Principal& caller, std::string_view id,
                                            bool for_update) {
  if (!IsUuid(id)) return InvalidFieldError("id", "not a UUID");
  std::optional<DealRow> row = LoadDeal(tx, std::string(id), for_update);
  if (!row.has_value()) return absl::NotFoundError("deal not found");
  CRM_RETURN_IF_ERROR(CheckCanRead(caller, row->Ownership()));
  return std::move(row->deal);
}

absl::StatusOr<v1::Deal> DealStore::Update(const Actor& actor, const v1::Deal& in,
                                           const google::protobuf::FieldMask& mask) {
  v1::Deal out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(out, UpdateInTx(tx, actor, in, mask, /*check_version=*/true));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Deal> DealStore::UpdateInTx(pqxx::transaction_base& tx, const Actor& actor, const v1::Deal& in,
                                               const google::protobuf::FieldMask& mask, bool check_version) {
  static const std::set<std::string> kPaths = {"name",   "amount", "source",         "priority",  "tags",
                                               "fields", "responsible_id", "client_id", "type_code"};
  const Principal& caller = actor.principal;
  const std::string me = ActingUserId(caller);
  std::set<std::string> paths;
  {
    Violations v;  // every violation at once (issue 16)
    if (!IsUuid(in.id())) v.Add("deal.id", "not a UUID");
    if (mask.paths_size() == 0) v.Add("update_mask", "required");
    for (const std::string& path : mask.paths()) {
      if (!kPaths.contains(path)) v.Add("update_mask", absl::StrCat("cannot update ", QuoteForError(path)));
      paths.insert(path);
    }
    if (paths.contains("name")) CRM_RETURN_IF_ERROR(v.Merge(CheckName(in.name())));
    if (paths.contains("source")) CRM_RETURN_IF_ERROR(v.Merge(CheckSource(in)));
    if (paths.contains("priority")) CRM_RETURN_IF_ERROR(v.Merge(CheckPriority(in)));
    if (paths.contains("tags")) CRM_RETURN_IF_ERROR(v.Merge(CheckTags(in)));
    if (paths.contains("amount")) CRM_RETURN_IF_ERROR(v.Merge(CheckAmountShape(in.amount())));
    if (paths.contains("client_id")) {
      CRM_RETURN_IF_ERROR(v.Merge(CheckOptionalUuid("deal.client_id", in.client_id())));
    }
    if (paths.contains("responsible_id")) {
      if (in.responsible_id().empty()) v.Add("deal.responsible_id", "required");
      CRM_RETURN_IF_ERROR(v.Merge(CheckOptionalUuid("deal.responsible_id", in.responsible_id())));
    }
    if (paths.contains("fields")) {
      v1::Deal probe;
      *probe.mutable_fields() = in.fields();
      CheckFields(probe, LoadFieldDefs(tx), v);
    }
    if (paths.contains("type_code") && !in.type_code().empty()) {
      CheckTypeCode(DealTypeCodes(tx), "deal.type_code", in.type_code(), v);
    }
    CRM_RETURN_IF_ERROR(v.Status());
  }
  std::optional<DealRow> old = LoadDeal(tx, in.id(), /*for_update=*/true);
  if (!old.has_value()) return absl::NotFoundError("deal not found");
  CRM_RETURN_IF_ERROR(CheckCanWrite(caller, old->Ownership()));
  // Versions (issue 16, README "Versions"): 0 means any version (last writer wins; `If-Match: *`);
  // another stale one is ABORTED (412 through the gateway with If-Match).
  if (check_version && in.version() != 0 && in.version() != old->deal.version()) {
    return absl::AbortedError(
        absl::StrCat("version mismatch: the deal is at version ", old->deal.version(), ", not ", in.version()));
  }
  DealRow next = *old;
  v1::Deal& d = next.deal;
  std::vector<std::string> changed;
  if (paths.contains("name") && in.name() != d.name()) {
    d.set_name(in.name());
    changed.push_back("name");
  }
  if (paths.contains("amount")) {
    v1::Deal tmp;
    *tmp.mutable_amount() = in.amount();
    if (!in.has_amount()) tmp.mutable_amount()->set_currency(d.amount().currency());
    const std::optional<std::string> currency = PipelineCurrency(tx, d.pipeline_id());
    CRM_RETURN_IF_ERROR(CheckAmount(tmp, currency.value_or("RUB")));
    if (tmp.amount().SerializeAsString() != d.amount().SerializeAsString()) {
      *d.mutable_amount() = tmp.amount();
      changed.push_back("amount");
    }
  }
  if (paths.contains("source") && in.source() != d.source()) {
    d.set_source(in.source());
    changed.push_back("source");
  }
  if (paths.contains("priority") && in.priority() != d.priority()) {
    d.set_priority(in.priority());
    changed.push_back("priority");
  }
  if (paths.contains("tags") && std::vector<std::string>(in.tags().begin(), in.tags().end()) !=
                                    std::vector<std::string>(d.tags().begin(), d.tags().end())) {
    *d.mutable_tags() = in.tags();
    changed.push_back("tags");
  }
  if (paths.contains("client_id") && in.client_id() != d.client_id()) {
    d.set_client_id(in.client_id());
    changed.push_back("client_id");
  }
  if (paths.contains("type_code") && in.type_code() != d.type_code()) {
    d.set_type_code(in.type_code());
    changed.push_back("type_code");
  }
  if (paths.contains("fields")) {
    std::map<std::string, std::string> before, after;
    for (const auto& f : d.fields()) before[f.code()] = f.SerializeAsString();
    for (const auto& f : in.fields()) after[f.code()] = f.SerializeAsString();
    std::set<std::string> codes;
    for (auto& [c, v] : before) codes.insert(c);
    for (auto& [c, v] : after) codes.insert(c);
    for (const std::string& c : codes) {
      auto b = before.find(c), a = after.find(c);
      if (b == before.end() || a == after.end() || b->second != a->second) changed.push_back("custom." + c);
    }
    *d.mutable_fields() = in.fields();
  }
  bool reassigned = false;
  if (paths.contains("responsible_id") && in.responsible_id() != d.responsible_id()) {
    if (in.responsible_id() != me && WriteScope(caller) < Scope::kTeam) {
      return absl::PermissionDeniedError("missing permission deals.write.team (to assign another responsible)");
    }
    d.set_responsible_id(in.responsible_id());
    // The new responsible's teams: the caller's own when it is the caller, else as identity's
    // events told us (users.h).
    next.team_ids.clear();
    if (in.responsible_id() == me) {
      next.team_ids = CallerTeamIds(caller);
      CRM_RETURN_IF_ERROR(directory_->Seed(tx, me, next.team_ids));
    } else {
      CRM_ASSIGN_OR_RETURN(next.team_ids, TeamsOf(tx, in.responsible_id()));
    }
    changed.push_back("responsible_id");
    reassigned = true;
  }
  if (changed.empty()) return std::move(old->deal);
  d.set_version(d.version() + 1);
  *d.mutable_update_time() = ToProtoTimestamp(clock_.Now());
  UpdateDealRow(tx, next);
  // D10: the audit history, one entry per changed field with the values before and after (as JSON).
  for (const std::string& path : changed) {
    v1::TimelineEntry e;
    e.set_deal_id(d.id());
    e.set_kind(v1::TimelineEntry::FIELD_CHANGED);
    e.set_actor_id(ActingUserId(caller));
    *e.mutable_create_time() = d.update_time();
    e.set_field(path);
    e.set_old_value(FieldAsJson(old->deal, path));
    e.set_new_value(FieldAsJson(d, path));
    CRM_RETURN_IF_ERROR(RecordDealChange(tx, e));
  }
  // A new client brings its contacts along (seed 003); the old client's stay on the deal.
  if (std::find(changed.begin(), changed.end(), "client_id") != changed.end() && !d.client_id().empty()) {
    absl::StatusOr<int> copied = CopyClientContactsToDeal(tx, d.id(), d.client_id());
    if (absl::IsNotFound(copied.status())) return InvalidFieldError("deal.client_id", "no such client");
    CRM_RETURN_IF_ERROR(copied.status());
  }
  v1::DealUpdated updated;
  *updated.mutable_deal() = d;
  for (const std::string& c : changed) updated.add_changed_fields(c);
  CRM_RETURN_IF_ERROR(Emit(tx, outbox_, actor, next, kDealUpdatedType, updated, &*old));
  if (reassigned) {
    v1::DealResponsibleChanged rc;
    *rc.mutable_deal() = d;
    rc.set_from_responsible_id(old->deal.responsible_id());
    CRM_RETURN_IF_ERROR(Emit(tx, outbox_, actor, next, kDealResponsibleChangedType, rc, &*old));
  }
  return std::move(next.deal);
}

absl::StatusOr<v1::Deal> DealStore::Move(const Actor& actor, const v1::MoveDealRequest& req) {
  const Principal& caller = actor.principal;
  {
    Violations v;  // every violation at once (issue 16)
    if (!IsUuid(req.id())) v.Add("id", "not a UUID");
    if (req.stage_id().empty()) v.Add("stage_id", "required");
    CRM_RETURN_IF_ERROR(v.Merge(CheckOptionalUuid("stage_id", req.stage_id())));
    CRM_RETURN_IF_ERROR(v.Merge(CheckOptionalUuid("pipeline_id", req.pipeline_id())));
    if (CodePoints(req.comment()) > kMaxComment) v.Add("comment", "too long");
    if (req.version() < 0) v.Add("version", "negative");
    CRM_RETURN_IF_ERROR(v.Status());
  }
  DealRow out;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(pool_, clock_.Now(), caller, actor.idempotency_key, kMoveDealMethod,
                                              req, out.deal, [&](pqxx::transaction_base& tx) -> absl::Status {
    std::optional<DealRow> old = LoadDeal(tx, req.id(), /*for_update=*/true);
    if (!old.has_value()) return absl::NotFoundError("deal not found");
    CRM_RETURN_IF_ERROR(CheckCanWrite(caller, old->Ownership()));
    if (req.version() != 0 && req.version() != old->deal.version()) {
      return absl::AbortedError(
          absl::StrCat("version mismatch: the deal is at version ", old->deal.version(), ", not ", req.version()));
    }
    const std::string pipeline = req.pipeline_id().empty() ? old->deal.pipeline_id() : req.pipeline_id();
    CRM_ASSIGN_OR_RETURN(std::optional<StageRow> stage, LoadStage(tx, req.stage_id()));
    if (!stage.has_value() || stage->pipeline_id != pipeline) {
      return InvalidFieldError("stage_id", "not a stage of the pipeline");
    }
    if (stage->stage.id() == old->deal.stage_id()) {
      out = *old;
      return absl::OkStatus();
    }
    DealRow next = *old;
    v1::Deal& d = next.deal;
    const v1::Stage::Kind kind = stage->stage.kind();
    d.clear_lost_reason_code();
    d.clear_lost_comment();
    if (kind == v1::Stage::KIND_LOST) {
      if (req.lost_reason_code().empty()) return InvalidFieldError("lost_reason_code", "required to enter a lost stage");
      std::optional<LostReasonRow> reason = FindLostReason(tx, req.lost_reason_code());
      if (!reason.has_value()) return InvalidFieldError("lost_reason_code", "unknown lost reason");
      if (reason->requires_comment && req.comment().empty()) {
        return InvalidFieldError("comment", absl::StrCat("required with lost reason «", reason->name, "»"));
      }
      d.set_lost_reason_code(req.lost_reason_code());
      d.set_lost_comment(req.comment());
    }
    CRM_ASSIGN_OR_RETURN(const GateInput gate_input, GateInputFor(tx, stage->stage, old->deal, req.comment()));
    CRM_RETURN_IF_ERROR(CheckGates(stage->stage, old->deal, gate_input));
    const absl::Time now = clock_.Now();
    // A comment sent with the move is the deal's latest comment, one in the stage it enters (issue 16).
    if (!req.comment().empty()) *d.mutable_last_comment_time() = ToProtoTimestamp(now);
    d.set_pipeline_id(pipeline);
    d.set_stage_id(stage->stage.id());
    d.set_status(static_cast<v1::Deal::Status>(kind));
    *d.mutable_stage_enter_time() = ToProtoTimestamp(now);
    DeriveCommentSinceStageEntry(d);
    if (kind == v1::Stage::KIND_OPEN) {
      d.clear_close_time();
    } else {
      *d.mutable_close_time() = ToProtoTimestamp(now);
    }
    d.set_version(d.version() + 1);
    *d.mutable_update_time() = ToProtoTimestamp(now);
    UpdateDealRow(tx, next);
    {
      v1::TimelineEntry e;  // D10: the stage change in the deal's timeline
      e.set_deal_id(d.id());
      e.set_kind(v1::TimelineEntry::STAGE_CHANGED);
      e.set_actor_id(ActingUserId(caller));
      *e.mutable_create_time() = ToProtoTimestamp(now);
      e.set_field("stage_id");
      e.set_old_value(old->deal.stage_id());
      e.set_new_value(d.stage_id());
      e.set_text(req.comment());
      CRM_RETURN_IF_ERROR(RecordDealChange(tx, e));
    }
    v1::DealStageChanged sc;
    *sc.mutable_deal() = d;
    sc.set_from_pipeline_id(old->deal.pipeline_id());
    sc.set_from_stage_id(old->deal.stage_id());
    sc.set_comment(req.comment());
    CRM_RETURN_IF_ERROR(Emit(tx, outbox_, actor, next, kDealStageChangedType, sc));
    if (kind == v1::Stage::KIND_WON) {
      v1::DealWon won;
      *won.mutable_deal() = d;
      CRM_RETURN_IF_ERROR(Emit(tx, outbox_, actor, next, kDealWonType, won));
    } else if (kind == v1::Stage::KIND_LOST) {
      v1::DealLost lost;
      *lost.mutable_deal() = d;
      lost.set_reason_code(d.lost_reason_code());
      lost.set_comment(req.comment());
      CRM_RETURN_IF_ERROR(Emit(tx, outbox_, actor, next, kDealLostType, lost));
    }
    out = std::move(next);
    return absl::OkStatus();
  }));
  return out.deal;
}

absl::StatusOr<v1::ListDealsResponse> DealStore::List(const Principal& caller, const v1::ListDealsRequest& req) {
  if (ReadScope(caller) == Scope::kNone) return absl::PermissionDeniedError("missing permission deals.read.own");
  CRM_ASSIGN_OR_RETURN(const int size, PageSize("page_size", req.page_size(), kDefaultPageSize, kMaxPageSize));
  CRM_ASSIGN_OR_RETURN(std::optional<PageKey> after, DecodeTimePageToken("page_token", req.page_token()));
  v1::ListDealsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        SqlParams p;
        v1::DealFilter filter = req.filter();
        out.set_mine_by_default(ApplyDefaultMine(caller, filter));
        CRM_ASSIGN_OR_RETURN(std::string where, FilterWhere(tx, caller, filter, true, "filter", p));
        Page(tx, caller, where, p, after, size, clock_.Now(), out.mutable_deals(),
             out.mutable_next_page_token());
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::Board> DealStore::GetBoard(const Principal& caller, const v1::GetBoardRequest& req) {
  if (ReadScope(caller) == Scope::kNone) return absl::PermissionDeniedError("missing permission deals.read.own");
  if (req.pipeline_id().empty()) return InvalidFieldError("pipeline_id", "required");
  CRM_RETURN_IF_ERROR(CheckOptionalUuid("pipeline_id", req.pipeline_id()));
  CRM_ASSIGN_OR_RETURN(const int cards, PageSize("cards_per_stage", req.cards_per_stage(), kDefaultCards, kMaxCards));
  v1::Board board;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        board.Clear();
        board.set_pipeline_id(req.pipeline_id());
        std::optional<std::string> currency = PipelineCurrency(tx, req.pipeline_id());
        if (!currency.has_value()) return absl::NotFoundError("pipeline not found");
        CRM_ASSIGN_OR_RETURN(const std::vector<StageRow> stages, LoadStages(tx, req.pipeline_id()));
        std::map<std::string, std::pair<int64_t, int64_t>> totals;  // stage id -> (count, sum)
        v1::DealFilter filter = req.filter();
        board.set_mine_by_default(ApplyDefaultMine(caller, filter));
        v1::DealFilter rest = filter;
        rest.clear_pipeline_id();
        rest.clear_stage_ids();
        {
          // Counts and sums of every column in one query: from the totals the database keeps per stage
          // and responsible (migration 0009) when nothing but the caller's scope narrows the board,
          // else by counting the matching deals (listing.h).
          SqlParams p;
          std::vector<std::string> ids;
          for (const StageRow& s : stages) ids.push_back(s.stage.id());
          const std::string stage_ids = p.Add(ArrayLiteral(ids));
          const std::string cur = p.Add(*currency);
          std::string where;
          if (rest.ByteSizeLong() != 0) {
            CRM_ASSIGN_OR_RETURN(where, FilterWhere(tx, caller, filter, false, "filter", p));
          }
          for (const pqxx::row& r : Exec(tx, ScopedStageTotalsSql(caller, stage_ids, cur, where, p), p)) {
            totals[r[0].as<std::string>()] = {r[1].as<int64_t>(), r[2].as<int64_t>()};
          }
        }
        std::vector<std::string> nonempty;
        for (const StageRow& s : stages) {
          v1::Board::Column* col = board.add_columns();
          *col->mutable_stage() = s.stage;
          auto t = totals.find(s.stage.id());
          col->set_count(t == totals.end() ? 0 : t->second.first);
          col->mutable_sum()->set_amount_minor(t == totals.end() ? 0 : t->second.second);
          col->mutable_sum()->set_currency(*currency);
          if (col->count() > 0) nonempty.push_back(s.stage.id());
        }
        if (nonempty.empty()) return absl::OkStatus();
        // Every column's first cards in one statement, column after column (listing.h).
        SqlParams p;
        const std::string stage_ids = p.Add(ArrayLiteral(nonempty));
        CRM_ASSIGN_OR_RETURN(std::string cond, FilterWhere(tx, caller, filter, false, "filter", p));
        const pqxx::result r = ExecPrepared(tx, ScopedColumnsSql(caller, CardColumns(), stage_ids, cond, cards + 1, p), p);
        std::map<std::string, v1::Board::Column*> by_stage;
        for (v1::Board::Column& col : *board.mutable_columns()) by_stage[col.stage().id()] = &col;
        for (size_t begin = 0; begin < r.size();) {
          size_t end = begin + 1;
          while (end < r.size() && std::string_view(r[static_cast<int>(end)][2].c_str()) ==
                                       std::string_view(r[static_cast<int>(begin)][2].c_str())) {
            ++end;
          }
          v1::Board::Column* col = by_stage[r[static_cast<int>(begin)][2].c_str()];
          ReadCards(r, begin, end, cards, clock_.Now(), col->mutable_cards(), col->mutable_next_page_token());
          begin = end;
        }
        return absl::OkStatus();
      },
      {.isolation = pg::TxOptions::Isolation::kRepeatableRead, .read_only = true}));
  return board;
}

absl::StatusOr<v1::ListStageDealsResponse> DealStore::ListStageDeals(const Principal& caller,
                                                                     const v1::ListStageDealsRequest& req) {
  if (ReadScope(caller) == Scope::kNone) return absl::PermissionDeniedError("missing permission deals.read.own");
  if (req.pipeline_id().empty()) return InvalidFieldError("pipeline_id", "required");
  CRM_RETURN_IF_ERROR(CheckOptionalUuid("pipeline_id", req.pipeline_id()));
  if (req.stage_id().empty()) return InvalidFieldError("stage_id", "required");
  CRM_RETURN_IF_ERROR(CheckOptionalUuid("stage_id", req.stage_id()));
  CRM_ASSIGN_OR_RETURN(const int size, PageSize("page_size", req.page_size(), kDefaultCards, kMaxCards));
  CRM_ASSIGN_OR_RETURN(std::optional<PageKey> after, DecodeTimePageToken("page_token", req.page_token()));
  v1::ListStageDealsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        CRM_ASSIGN_OR_RETURN(std::optional<StageRow> stage, LoadStage(tx, req.stage_id()));
        if (!stage.has_value() || stage->pipeline_id != req.pipeline_id()) {
          return absl::NotFoundError("stage not found in the pipeline");
        }
        SqlParams p;
        std::string where = absl::StrCat("d.stage_id = ", p.Add(req.stage_id()), "::uuid");
        v1::DealFilter f = req.filter();
        out.set_mine_by_default(ApplyDefaultMine(caller, f));
        CRM_ASSIGN_OR_RETURN(std::string filter, FilterWhere(tx, caller, f, false, "filter", p));
        Page(tx, caller, absl::StrCat(where, " AND ", filter), p, after, size, clock_.Now(),
             out.mutable_deals(), out.mutable_next_page_token());
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// DealServiceImpl

grpc::Status DealServiceImpl::CreateDeal(grpc::ServerContext* ctx, const v1::CreateDealRequest* req, v1::Deal* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Create(ActorOf(caller, *ctx), req->deal(), rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status DealServiceImpl::GetDeal(grpc::ServerContext* ctx, const v1::GetDealRequest* req, v1::Deal* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.Get(caller, req->id()); });
}

grpc::Status DealServiceImpl::UpdateDeal(grpc::ServerContext* ctx, const v1::UpdateDealRequest* req, v1::Deal* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Update(ActorOf(caller, *ctx), req->deal(), req->update_mask());
  });
}

grpc::Status DealServiceImpl::MoveDeal(grpc::ServerContext* ctx, const v1::MoveDealRequest* req, v1::Deal* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Move(ActorOf(caller, *ctx), *req);
  });
}

grpc::Status DealServiceImpl::ListDeals(grpc::ServerContext* ctx, const v1::ListDealsRequest* req,
                                        v1::ListDealsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.List(caller, *req); });
}

grpc::Status DealServiceImpl::GetBoard(grpc::ServerContext* ctx, const v1::GetBoardRequest* req, v1::Board* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.GetBoard(caller, *req); });
}

grpc::Status DealServiceImpl::ListStageDeals(grpc::ServerContext* ctx, const v1::ListStageDealsRequest* req,
                                             v1::ListStageDealsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.ListStageDeals(caller, *req); });
}

}  // namespace crm::deals
