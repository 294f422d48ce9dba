// File: services/deals/pipelines.cc
#include "services/deals/pipelines.h"

#include "services/deals/access.h"
#include "services/deals/idempotent.h"
#include "services/deals/violations.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <map>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/pg/pool.h"
#include "libs/rpc/call.h"
#include "services/deals/access.h"

namespace crm::deals {

namespace {

using crm::common::v1::Principal;

constexpr size_t kMaxNameChars = 200;
constexpr int kMaxStages = 50;
constexpr int kMaxRequiredFields = 32;
constexpr int kMaxOptions = 200;

// SQL reading a timestamptz column as microseconds since the epoch.
std::string Micros(std::string_view column) {
  return absl::StrCat("(extract(epoch from ", AsAbsl(column), ") * 1000000)::bigint");
}

size_t Utf8Chars(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool IsCode(std::string_view s) {
  if (s.empty() || s.size() > 64 || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

bool IsColor(std::string_view s) {
  if (s.empty()) return true;
  if (s.size() != 7 || s[0] != '#') return false;
  for (size_t i = 1; i < s.size(); ++i) {
    if (HexDigitValue(s[i]) < 0) return false;
  }
  return true;
}

absl::Status CheckName(std::string_view field, std::string_view name) {
  if (name.empty()) return InvalidFieldError(field, "required");
  if (Utf8Chars(name) > kMaxNameChars) return InvalidFieldError(field, "at most 200 characters");
  return absl::OkStatus();
}

// A PostgreSQL text[] literal holding `values` exactly (each element quoted and escaped).
std::string TextArray(const google::protobuf::RepeatedPtrField<std::string>& values) {
  std::string out = "{";
  for (int i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

absl::StatusOr<std::string> GatesJson(const v1::StageGates& gates) {
  std::string json;
  google::protobuf::util::JsonPrintOptions opts;
  CRM_RETURN_IF_ERROR(FromProtobufStatus(google::protobuf::util::MessageToJsonString(gates, &json, opts)));
  return json;
}

absl::Status ParseGates(std::string_view json, v1::StageGates* gates) {
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;
  absl::Status s = FromProtobufStatus(google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), gates, opts));
  if (!s.ok()) return absl::InternalError(absl::StrCat("stored stage gates do not parse: ", s.message()));
  return absl::OkStatus();
}

// Gates with nothing set are left unset, so a stage reads back the same however it was written.
void NormalizeGates(v1::Stage& s) {
  if (s.has_gates() && s.gates().ByteSizeLong() == 0) s.clear_gates();
}

std::string StageColumns() {
  return "s.id::text, s.pipeline_id::text, s.position, s.name, s.kind, s.color, s.gates::text";
}

absl::StatusOr<StageRow> ReadStage(const pqxx::row& r) {
  StageRow row;
  row.stage.set_id(r[0].c_str());
  row.pipeline_id = r[1].c_str();
  row.position = r[2].as<int>();
  row.stage.set_name(r[3].c_str());
  row.stage.set_kind(static_cast<v1::Stage::Kind>(r[4].as<int>()));
  row.stage.set_color(r[5].c_str());
  CRM_RETURN_IF_ERROR(ParseGates(r[6].c_str(), row.stage.mutable_gates()));
  NormalizeGates(row.stage);
  return row;
}

std::string PipelineColumns() {
  return absl::StrCat("p.id::text, p.name, p.sort, p.version, ", Micros("p.create_time"), ", ",
                      Micros("p.update_time"));
}

v1::Pipeline ReadPipeline(const pqxx::row& r) {
  v1::Pipeline p;
  p.set_id(r[0].c_str());
  p.set_name(r[1].c_str());
  p.set_sort(r[2].as<int>());
  p.set_version(r[3].as<int64_t>());
  *p.mutable_create_time() = ToProtoTimestamp(absl::FromUnixMicros(r[4].as<int64_t>()));
  *p.mutable_update_time() = ToProtoTimestamp(absl::FromUnixMicros(r[5].as<int64_t>()));
  return p;
}

// Reads the stages of `pipelines` (all of them) in board order.
absl::Status FillStages(pqxx::transaction_base& tx, std::vector<v1::Pipeline>& pipelines) {
  if (pipelines.empty()) return absl::OkStatus();
  std::map<std::string, v1::Pipeline*> by_id;
  std::string arr = "{";
  for (v1::Pipeline& p : pipelines) {
    if (!by_id.empty()) arr += ',';
    arr += p.id();
    by_id[p.id()] = &p;
  }
  arr += '}';
  for (const pqxx::row& r :
       tx.exec_params(absl::StrCat("SELECT ", StageColumns(),
                                   " FROM stages s WHERE s.pipeline_id = ANY($1::uuid[]) "
                                   "ORDER BY s.pipeline_id, s.position"),
                      arr)) {
    CRM_ASSIGN_OR_RETURN(StageRow row, ReadStage(r));
    *by_id[row.pipeline_id]->add_stages() = std::move(row.stage);
  }
  return absl::OkStatus();
}

v1::LostReason ReadLostReason(const pqxx::row& r) {
  v1::LostReason l;
  l.set_code(r[0].c_str());
  l.set_name(r[1].c_str());
  l.set_requires_comment(r[2].as<bool>());
  return l;
}

constexpr char kFieldColumns[] = "code, name, type, array_to_json(options)::text, technical, sort";

v1::FieldDefinition ReadField(const pqxx::row& r) {
  v1::FieldDefinition f;
  f.set_code(r[0].c_str());
  f.set_name(r[1].c_str());
  f.set_type(static_cast<v1::FieldDefinition::Type>(r[2].as<int>()));
  for (const auto& o : nlohmann::json::parse(r[3].c_str())) f.add_options(o.get<std::string>());
  f.set_technical(r[4].as<bool>());
  f.set_sort(r[5].as<int>());
  return f;
}

// Validates `p` for create/update: everything but the stages' ids, every violation at once (issue 16).
// Custom fields named by gates must be defined (read in `tx`).
absl::Status ValidatePipeline(pqxx::transaction_base& tx, const v1::Pipeline& p) {
  Violations v;
  CRM_RETURN_IF_ERROR(v.Merge(CheckName("pipeline.name", p.name())));
  if (p.stages_size() > kMaxStages) return InvalidFieldError("pipeline.stages", "at most 50 stages");
  std::set<std::string> deal_fields(std::begin(kGateDealFields), std::end(kGateDealFields));
  int open = 0, won = 0, lost = 0;
  for (int i = 0; i < p.stages_size(); ++i) {
    const v1::Stage& s = p.stages(i);
    const std::string at = absl::StrCat("pipeline.stages[", i, "]");
    CRM_RETURN_IF_ERROR(v.Merge(CheckName(at + ".name", s.name())));
    switch (s.kind()) {
      case v1::Stage::KIND_OPEN:
        ++open;
        break;
      case v1::Stage::KIND_WON:
        ++won;
        break;
      case v1::Stage::KIND_LOST:
        ++lost;
        break;
      default:
        v.Add(at + ".kind", "must be KIND_OPEN, KIND_WON or KIND_LOST");
    }
    if (!IsColor(s.color())) v.Add(at + ".color", "must be \"#RRGGBB\" or empty");
    const std::string rf = at + ".gates.required_fields";
    if (s.gates().required_fields_size() > kMaxRequiredFields) {
      v.Add(rf, "at most 32 fields");
      continue;
    }
    std::set<std::string> seen;
    for (int j = 0; j < s.gates().required_fields_size(); ++j) {
      const std::string& f = s.gates().required_fields(j);
      const std::string& fj = rf;  // the list's path; the description quotes the item
      if (!seen.insert(f).second) {
        v.Add(fj, absl::StrCat("repeats ", QuoteForError(f)));
        continue;
      }
      if (deal_fields.count(f)) continue;
      if (absl::StartsWith(f, kCustomFieldPrefix)) {
        const std::string code = f.substr(sizeof(kCustomFieldPrefix) - 1);
        if (IsCode(code) && !tx.exec_params("SELECT 1 FROM field_definitions WHERE code = $1", code).empty())
          continue;
        v.Add(fj, absl::StrCat("unknown custom field ", QuoteForError(f)));
        continue;
      }
      v.Add(fj, absl::StrCat("unknown field ", QuoteForError(f), ": use ", absl::StrJoin(kGateDealFields, ", "),
                               " or custom.<code>"));
    }
  }
  if (open < 1 || won < 1 || lost < 1) {
    v.Add("pipeline.stages", "a pipeline needs at least one open, one won and one lost stage");
  }
  return v.Status();
}

void WriteStage(pqxx::transaction_base& tx, std::string_view pipeline_id, int position, const v1::Stage& s,
                const std::string& gates, bool insert) {
  if (insert) {
    tx.exec_params(
        "INSERT INTO stages (id, pipeline_id, position, name, kind, color, gates) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
        s.id(), std::string(pipeline_id), position, s.name(), static_cast<int>(s.kind()), s.color(), gates);
  } else {
    tx.exec_params(
        "UPDATE stages SET position = $3, name = $4, kind = $5, color = $6, gates = $7::jsonb "
        "WHERE id = $1 AND pipeline_id = $2",
        s.id(), std::string(pipeline_id), position, s.name(), static_cast<int>(s.kind()), s.color(), gates);
  }
}

// `p` without what the store assigns, to tell whether an update changed anything.
v1::Pipeline Content(v1::Pipeline p) {
  p.clear_version();
  p.clear_create_time();
  p.clear_update_time();
  return p;
}

}  // namespace

absl::StatusOr<std::optional<StageRow>> LoadStage(pqxx::transaction_base& tx, std::string_view stage_id) {
  if (!IsUuid(stage_id)) return std::nullopt;
  pqxx::result r = tx.exec_params(absl::StrCat("SELECT ", StageColumns(), " FROM stages s WHERE s.id = $1"),
                                  std::string(stage_id));
  if (r.empty()) return std::nullopt;
  CRM_ASSIGN_OR_RETURN(StageRow row, ReadStage(r[0]));
  return row;
}

absl::StatusOr<std::optional<CreateTarget>> LoadCreateTarget(pqxx::transaction_base& tx,
                                                             std::string_view pipeline_id,
                                                             std::string_view stage_id) {
  if (!IsUuid(pipeline_id) || (!stage_id.empty() && !IsUuid(stage_id))) return std::nullopt;
  pqxx::result r = tx.exec_params(
      absl::StrCat("SELECT ", StageColumns(), ", p.currency, p.version FROM pipelines p "
                   "JOIN stages s ON s.pipeline_id = p.id "
                   "WHERE p.id = $1 AND (CASE WHEN $2 = '' THEN s.kind = 1 ELSE s.id = NULLIF($2, '')::uuid END) "
                   "ORDER BY s.position LIMIT 1"),
      std::string(pipeline_id), std::string(stage_id));
  if (r.empty()) return std::nullopt;
  CRM_ASSIGN_OR_RETURN(StageRow row, ReadStage(r[0]));
  return CreateTarget{r[0][7].c_str(), std::move(row), r[0][8].as<int64_t>()};
}

absl::StatusOr<std::optional<v1::Pipeline>> LoadPipeline(pqxx::transaction_base& tx, std::string_view id,
                                                         bool for_update) {
  if (!IsUuid(id)) return std::nullopt;
  pqxx::result r =
      tx.exec_params(absl::StrCat("SELECT ", PipelineColumns(), " FROM pipelines p WHERE p.id = $1",
                                  for_update ? " FOR UPDATE" : ""),
                     std::string(id));
  if (r.empty()) return std::nullopt;
  std::vector<v1::Pipeline> one{ReadPipeline(r[0])};
  CRM_RETURN_IF_ERROR(FillStages(tx, one));
  return std::move(one[0]);
}

PipelineStore::PipelineStore(pg::Pool& pool, const Clock& clock) : pool_(pool), clock_(clock), ids_(clock) {}

absl::StatusOr<v1::ListPipelinesResponse> PipelineStore::List() {
  v1::ListPipelinesResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        std::vector<v1::Pipeline> all;
        for (const pqxx::row& r : tx.exec(absl::StrCat(
                 "SELECT ", PipelineColumns(), " FROM pipelines p ORDER BY p.sort, p.create_time, p.id"))) {
          all.push_back(ReadPipeline(r));
        }
        CRM_RETURN_IF_ERROR(FillStages(tx, all));
        for (v1::Pipeline& p : all) *out.add_pipelines() = std::move(p);
        return absl::OkStatus();
      },
      {.isolation = pg::TxOptions::Isolation::kRepeatableRead, .read_only = true}));
  return out;
}

absl::StatusOr<v1::Pipeline> PipelineStore::Get(std::string_view id) {
  if (!IsUuid(id)) return InvalidFieldError("id", "not a UUID");  // a malformed id is 400 (issue 16)
  std::optional<v1::Pipeline> out;
  CRM_RETURN_IF_ERROR(
      pg::InTransaction(pool_,
                        [&](pqxx::work& tx) -> absl::Status {
                          CRM_ASSIGN_OR_RETURN(out, LoadPipeline(tx, id));
                          return absl::OkStatus();
                        },
                        {.isolation = pg::TxOptions::Isolation::kRepeatableRead, .read_only = true}));
  if (!out) return absl::NotFoundError("pipeline not found");
  return *std::move(out);
}

absl::StatusOr<v1::Pipeline> PipelineStore::Create(const v1::Pipeline& pipeline) {
  return Insert(pipeline, /*keep_ids=*/false, nullptr, nullptr, "");
}

absl::StatusOr<v1::Pipeline> PipelineStore::Create(const v1::Pipeline& pipeline, const Principal& caller,
                                                   std::string_view idempotency_key) {
  return Insert(pipeline, /*keep_ids=*/false, nullptr, &caller, idempotency_key);
}

absl::StatusOr<bool> PipelineStore::EnsurePipeline(const v1::Pipeline& pipeline) {
  if (!IsUuid(pipeline.id())) return InvalidFieldError("pipeline.id", "must be a UUID");
  for (int i = 0; i < pipeline.stages_size(); ++i) {
    if (!IsUuid(pipeline.stages(i).id()))
      return InvalidFieldError(absl::StrCat("pipeline.stages[", i, "].id"), "must be a UUID");
  }
  bool created = false;
  CRM_RETURN_IF_ERROR(Insert(pipeline, /*keep_ids=*/true, &created, nullptr, "").status());
  return created;
}

absl::StatusOr<v1::Pipeline> PipelineStore::Insert(const v1::Pipeline& pipeline, bool keep_ids, bool* created,
                                                   const Principal* caller, std::string_view idempotency_key) {
  v1::Pipeline p = pipeline;
  const absl::Time now = clock_.Now();
  if (!keep_ids) {
    p.set_id(ids_.Next());
    for (v1::Stage& s : *p.mutable_stages()) s.set_id(ids_.Next());
  }
  for (v1::Stage& s : *p.mutable_stages()) NormalizeGates(s);
  std::optional<v1::Pipeline> result;
  v1::CreatePipelineRequest request;  // what an idempotency key is bound to
  *request.mutable_pipeline() = pipeline;
  v1::Pipeline reply;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(pool_, now, caller != nullptr ? *caller : Principal(),
                                              caller != nullptr ? idempotency_key : "", kCreatePipelineMethod,
                                              request, reply, [&](pqxx::transaction_base& tx) -> absl::Status {
    if (created) *created = false;
    result.reset();
    CRM_RETURN_IF_ERROR(ValidatePipeline(tx, p));
    // ON CONFLICT: an EnsurePipeline racing another one waits for it and then creates nothing.
    if (tx.exec_params("INSERT INTO pipelines (id, name, sort, version, create_time, update_time) "
                       "VALUES ($1, $2, $3, 1, $4::timestamptz, $4::timestamptz) "
                       "ON CONFLICT (id) DO NOTHING RETURNING id",
                       p.id(), p.name(), p.sort(), FormatRfc3339Utc(now))
            .empty()) {
      if (!keep_ids) return absl::InternalError("pipeline id collision");
      CRM_ASSIGN_OR_RETURN(result, LoadPipeline(tx, p.id()));
      return absl::OkStatus();
    }
    for (int i = 0; i < p.stages_size(); ++i) {
      CRM_ASSIGN_OR_RETURN(std::string gates, GatesJson(p.stages(i).gates()));
      WriteStage(tx, p.id(), i, p.stages(i), gates, /*insert=*/true);
    }
    if (created) *created = true;
    CRM_ASSIGN_OR_RETURN(result, LoadPipeline(tx, p.id()));  // as stored (times in microseconds)
    if (result) reply = *result;
    return absl::OkStatus();
  }));
  if (!result) result = reply;  // a repeated idempotency key: the first reply
  if (result->id().empty()) return absl::InternalError("pipeline vanished after insert");
  return *std::move(result);
}

absl::StatusOr<v1::Pipeline> PipelineStore::Update(const v1::Pipeline& pipeline,
                                                   const std::vector<std::string>& paths) {
  bool set_name = false, set_sort = false, set_stages = false;
  Violations v;
  if (!IsUuid(pipeline.id())) v.Add("pipeline.id", "not a UUID");
  for (const std::string& path : paths) {
    if (path == "name") {
      set_name = true;
    } else if (path == "sort") {
      set_sort = true;
    } else if (path == "stages") {
      set_stages = true;
    } else {
      v.Add("update_mask", absl::StrCat("unknown or read-only field ", QuoteForError(path)));
    }
  }
  CRM_RETURN_IF_ERROR(v.Status());
  std::optional<v1::Pipeline> result;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    result.reset();
    CRM_ASSIGN_OR_RETURN(std::optional<v1::Pipeline> old,
                         LoadPipeline(tx, pipeline.id(), /*for_update=*/true));
    if (!old) return absl::NotFoundError("pipeline not found");
    if (pipeline.version() != 0 && pipeline.version() != old->version()) {
      return absl::AbortedError(
          absl::StrCat("version mismatch: the pipeline is at version ", old->version(), ", not ", pipeline.version()));
    }
    v1::Pipeline next = *old;
    if (set_name) next.set_name(pipeline.name());
    if (set_sort) next.set_sort(pipeline.sort());
    std::map<std::string, const v1::Stage*> old_stages;
    for (const v1::Stage& s : old->stages()) old_stages[s.id()] = &s;
    std::set<std::string> kept;
    if (set_stages) {
      next.clear_stages();
      for (int i = 0; i < pipeline.stages_size(); ++i) {
        v1::Stage s = pipeline.stages(i);
        NormalizeGates(s);
        if (!s.id().empty()) {
          if (!old_stages.count(s.id()))
            return InvalidFieldError(absl::StrCat("pipeline.stages[", i, "].id"),
                                     "not a stage of this pipeline");
          if (!kept.insert(s.id()).second)
            return InvalidFieldError(absl::StrCat("pipeline.stages[", i, "].id"), "repeats an earlier stage");
        }
        *next.add_stages() = std::move(s);
      }
    } else {
      for (const auto& [id, s] : old_stages) kept.insert(id);
    }
    CRM_RETURN_IF_ERROR(ValidatePipeline(tx, next));
    if (google::protobuf::util::MessageDifferencer::Equals(Content(next), Content(*old))) {
      result = *std::move(old);
      return absl::OkStatus();
    }
    // Removed stages: only when empty.
    for (const v1::Stage& s : old->stages()) {
      if (kept.count(s.id())) continue;
      pqxx::row r = tx.exec_params1("SELECT count(*) FROM deals WHERE stage_id = $1", s.id());
      const int64_t n = r[0].as<int64_t>();
      if (n > 0) {
        return absl::FailedPreconditionError(absl::StrCat("stage ", QuoteForError(s.name(), 200), " (",
                                                          s.id(), ") still has ", n,
                                                          " deal(s): move them before removing the stage"));
      }
      tx.exec_params("DELETE FROM stages WHERE id = $1", s.id());
    }
    for (int i = 0; i < next.stages_size(); ++i) {
      v1::Stage& s = *next.mutable_stages(i);
      const bool insert = s.id().empty();
      if (insert) s.set_id(ids_.Next());
      CRM_ASSIGN_OR_RETURN(std::string gates, GatesJson(s.gates()));
      WriteStage(tx, next.id(), i, s, gates, insert);
    }
    const absl::Time now = clock_.Now();
    tx.exec_params(
        "UPDATE pipelines SET name = $2, sort = $3, version = version + 1, update_time = $4::timestamptz "
        "WHERE id = $1",
        next.id(), next.name(), next.sort(), FormatRfc3339Utc(now));
    CRM_ASSIGN_OR_RETURN(result, LoadPipeline(tx, next.id()));  // as stored (times in microseconds)
    return absl::OkStatus();
  }));
  if (!result) return absl::InternalError("pipeline vanished during update");
  return *std::move(result);
}

absl::StatusOr<v1::ListLostReasonsResponse> PipelineStore::ListLostReasons() {
  v1::ListLostReasonsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        for (const pqxx::row& r :
             tx.exec("SELECT code, name, requires_comment FROM lost_reasons ORDER BY sort, code")) {
          *out.add_lost_reasons() = ReadLostReason(r);
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::ListDealTypesResponse> PipelineStore::ListDealTypes() {
  v1::ListDealTypesResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        for (const pqxx::row& r : tx.exec("SELECT code, name FROM deal_types ORDER BY sort, code")) {
          v1::DealType* t = out.add_deal_types();
          t->set_code(r[0].as<std::string>());
          t->set_name(r[1].as<std::string>());
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<std::optional<v1::LostReason>> PipelineStore::FindLostReason(std::string_view code) {
  std::optional<v1::LostReason> out;
  if (!IsCode(code)) return out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        pqxx::result r = tx.exec_params(
            "SELECT code, name, requires_comment FROM lost_reasons WHERE code = $1", std::string(code));
        if (r.empty()) {
          out.reset();
        } else {
          out = ReadLostReason(r[0]);
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::ListFieldDefinitionsResponse> PipelineStore::ListFields() {
  v1::ListFieldDefinitionsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        for (const pqxx::row& r :
             tx.exec(absl::StrCat("SELECT ", kFieldColumns, " FROM field_definitions ORDER BY sort, code"))) {
          *out.add_fields() = ReadField(r);
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<std::optional<v1::FieldDefinition>> PipelineStore::FindField(std::string_view code) {
  std::optional<v1::FieldDefinition> out;
  if (!IsCode(code)) return out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        pqxx::result r =
            tx.exec_params(absl::StrCat("SELECT ", kFieldColumns, " FROM field_definitions WHERE code = $1"),
                           std::string(code));
        if (r.empty()) {
          out.reset();
        } else {
          out = ReadField(r[0]);
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

namespace {

// Every violation of a field definition at once (issue 16).
absl::Status ValidateField(const v1::FieldDefinition& f) {
  Violations v;
  if (!IsCode(f.code())) v.Add("field.code", "must match [a-z][a-z0-9_]{0,63}");
  CRM_RETURN_IF_ERROR(v.Merge(CheckName("field.name", f.name())));
  if (f.type() < v1::FieldDefinition::TYPE_STRING || f.type() > v1::FieldDefinition::TYPE_URL) {
    v.Add("field.type", "required: TYPE_STRING, TYPE_NUMBER, TYPE_MONEY, TYPE_DATE, TYPE_DATETIME, TYPE_BOOL, "
                        "TYPE_ENUM, TYPE_MULTI_ENUM, TYPE_USER or TYPE_URL");
  }
  const bool enumerated =
      f.type() == v1::FieldDefinition::TYPE_ENUM || f.type() == v1::FieldDefinition::TYPE_MULTI_ENUM;
  if (!enumerated) {
    if (f.options_size() > 0) v.Add("field.options", "only ENUM and MULTI_ENUM fields take options");
    return v.Status();
  }
  if (f.options_size() == 0) v.Add("field.options", "ENUM and MULTI_ENUM fields need options");
  if (f.options_size() > kMaxOptions) {
    v.Add("field.options", "at most 200 options");
    return v.Status();
  }
  std::set<std::string> seen;
  for (int i = 0; i < f.options_size(); ++i) {
    const std::string& o = f.options(i);
    const std::string at = "field.options";  // the description says which option
    if (o.empty()) v.Add(at, absl::StrCat("option ", i + 1, " is empty"));
    if (Utf8Chars(o) > kMaxNameChars) v.Add(at, absl::StrCat("option ", i + 1, " is over 200 characters"));
    if (!o.empty() && !seen.insert(o).second) v.Add(at, absl::StrCat("repeats ", QuoteForError(o)));
  }
  return v.Status();
}

// Inserts `f`; false when its code is taken.
bool InsertField(pqxx::transaction_base& tx, const v1::FieldDefinition& f) {
  pqxx::result r = tx.exec_params(
      "INSERT INTO field_definitions (code, name, type, options, technical, sort) "
      "VALUES ($1, $2, $3, $4::text[], $5, $6) ON CONFLICT (code) DO NOTHING RETURNING code",
      f.code(), f.name(), static_cast<int>(f.type()), TextArray(f.options()), f.technical(), f.sort());
  return !r.empty();
}

}  // namespace

absl::StatusOr<v1::FieldDefinition> PipelineStore::CreateField(const v1::FieldDefinition& field) {
  return CreateField(field, Principal(), "");
}

absl::StatusOr<v1::FieldDefinition> PipelineStore::CreateField(const v1::FieldDefinition& field,
                                                               const Principal& caller,
                                                               std::string_view idempotency_key) {
  CRM_RETURN_IF_ERROR(ValidateField(field));
  v1::CreateFieldDefinitionRequest request;  // what an idempotency key is bound to
  *request.mutable_field() = field;
  v1::FieldDefinition reply;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(
      pool_, clock_.Now(), caller, idempotency_key, kCreateFieldDefinitionMethod, request, reply,
      [&](pqxx::transaction_base& tx) -> absl::Status {
        if (!InsertField(tx, field)) {
          return absl::AlreadyExistsError(absl::StrCat("field ", QuoteForError(field.code()), " already exists"));
        }
        reply = field;
        return absl::OkStatus();
      }));
  return reply;
}

absl::StatusOr<bool> PipelineStore::EnsureField(const v1::FieldDefinition& field) {
  CRM_RETURN_IF_ERROR(ValidateField(field));
  bool created = false;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    created = InsertField(tx, field);
    return absl::OkStatus();
  }));
  return created;
}

// ---- PipelineServiceImpl ----

grpc::Status PipelineServiceImpl::ListPipelines(grpc::ServerContext* ctx, const v1::ListPipelinesRequest*,
                                                v1::ListPipelinesResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::ListPipelinesResponse> {
    CRM_RETURN_IF_ERROR(CheckCanReadSetup(caller));
    return store_->List();
  });
}

grpc::Status PipelineServiceImpl::GetPipeline(grpc::ServerContext* ctx, const v1::GetPipelineRequest* req,
                                              v1::Pipeline* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Pipeline> {
    CRM_RETURN_IF_ERROR(CheckCanReadSetup(caller));
    return store_->Get(req->id());
  });
}

grpc::Status PipelineServiceImpl::CreatePipeline(grpc::ServerContext* ctx,
                                                 const v1::CreatePipelineRequest* req, v1::Pipeline* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, rpc::Caller(*ctx));
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kPipelinesManagePermission));
    CRM_ASSIGN_OR_RETURN(*out, store_->Create(req->pipeline(), caller, rpc::IdempotencyKey(*ctx)));
    return absl::OkStatus();
  });
}

grpc::Status PipelineServiceImpl::UpdatePipeline(grpc::ServerContext* ctx,
                                                 const v1::UpdatePipelineRequest* req, v1::Pipeline* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, rpc::Caller(*ctx));
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kPipelinesManagePermission));
    if (req->update_mask().paths_size() == 0) return InvalidFieldError("update_mask", "required");
    std::vector<std::string> paths(req->update_mask().paths().begin(), req->update_mask().paths().end());
    CRM_ASSIGN_OR_RETURN(*out, store_->Update(req->pipeline(), paths));
    return absl::OkStatus();
  });
}

grpc::Status PipelineServiceImpl::ListLostReasons(grpc::ServerContext* ctx, const v1::ListLostReasonsRequest*,
                                                  v1::ListLostReasonsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::ListLostReasonsResponse> {
    CRM_RETURN_IF_ERROR(CheckCanReadSetup(caller));
    return store_->ListLostReasons();
  });
}

grpc::Status PipelineServiceImpl::ListDealTypes(grpc::ServerContext* ctx, const v1::ListDealTypesRequest*,
                                                v1::ListDealTypesResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::ListDealTypesResponse> {
    CRM_RETURN_IF_ERROR(CheckCanReadSetup(caller));
    return store_->ListDealTypes();
  });
}

grpc::Status PipelineServiceImpl::ListFieldDefinitions(grpc::ServerContext* ctx,
                                                       const v1::ListFieldDefinitionsRequest*,
                                                       v1::ListFieldDefinitionsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::ListFieldDefinitionsResponse> {
    CRM_RETURN_IF_ERROR(CheckCanReadSetup(caller));
    return store_->ListFields();
  });
}

grpc::Status PipelineServiceImpl::CreateFieldDefinition(grpc::ServerContext* ctx,
                                                        const v1::CreateFieldDefinitionRequest* req,
                                                        v1::FieldDefinition* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, rpc::Caller(*ctx));
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kPipelinesManagePermission));
    CRM_ASSIGN_OR_RETURN(*out, store_->CreateField(req->field(), caller, rpc::IdempotencyKey(*ctx)));
    return absl::OkStatus();
  });
}

}  // namespace crm::deals
