// File: services/deals/pipelines.h
// -----------------------------------------------------------------------------
// The settings of sales (D1, D2, D4, D13): pipelines (воронки) with their stages and stage gates, the
// lost reasons catalogue and the custom field definitions of deals, kept in PostgreSQL
// (services/deals/migrations/0001_pipelines_deals.sql), and PipelineService, the gRPC face of them.
//
// PipelineStore validates every write (INVALID_ARGUMENT naming the proto field, e.g.
// `pipeline.stages[2].gates.required_fields`) and runs each in one transaction. It does not check
// permissions: PipelineServiceImpl does (any signed-in caller reads; pipelines.manage writes).
//
// The read API the deals core uses when creating and moving deals (kept stable):
//   PipelineStore::Get, PipelineStore::FindLostReason, PipelineStore::FindField, and LoadStage() /
//   LoadPipeline() inside a transaction the caller already has open.
//
// Example:
//   crm::deals::PipelineStore store(*pool, crm::SystemClock());
//   crm::deals::v1::Pipeline p;
//   p.set_name("Продажа");
//   auto* s = p.add_stages();  s->set_name("Новая заявка");  s->set_kind(crm::deals::v1::Stage::KIND_OPEN);
//   ...  // plus at least one KIND_WON and one KIND_LOST stage
//   CRM_ASSIGN_OR_RETURN(p, store.Create(p));                       // ids are UUIDv7, version 1
//   absl::Status s = crm::pg::InTransaction(*pool, [&](pqxx::work& tx) -> absl::Status {
//     CRM_ASSIGN_OR_RETURN(std::optional<crm::deals::StageRow> stage, crm::deals::LoadStage(tx, id));
//     if (!stage) return absl::NotFoundError("stage not found");
//     ...  // stage->pipeline_id, stage->stage.gates(), stage->position
//   });
//   server.AddService(server.Own(std::make_unique<crm::deals::PipelineServiceImpl>(&store)));
#ifndef CRM_SERVICES_DEALS_PIPELINES_H_
#define CRM_SERVICES_DEALS_PIPELINES_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crm/deals/v1/deals.grpc.pb.h"
#include "libs/base/uuid.h"
#include "services/deals/access.h"  // kPipelinesManagePermission

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm {
class Clock;
namespace pg {
class Pool;
}  // namespace pg
}  // namespace crm

namespace crm::deals {

// A gate's «телефон» (seed 001 §1.3, §2.3): the deal's client has a phone (issue 16).
inline constexpr char kGateClientPhone[] = "client.phone";
// The deal fields a stage gate may require, besides custom fields written "custom.<code>": the deal's
// own, its type (D2) and its client's phone.
inline constexpr const char* kGateDealFields[] = {"amount", "client_id", "source",    "priority",
                                                  "tags",   "name",      "type_code", kGateClientPhone};
// The prefix of a custom field in StageGates.required_fields.
inline constexpr char kCustomFieldPrefix[] = "custom.";

// One stage as stored: the pipeline it belongs to, the stage itself (id, name, kind, gates, colour)
// and its 0-based position on the board.
struct StageRow {
  std::string pipeline_id;
  v1::Stage stage;
  int position = 0;
};

// Reads stage `stage_id` in the caller's open transaction. nullopt when there is no such stage or
// `stage_id` is not a UUID; an error only when the database fails or the stored gates do not parse.
absl::StatusOr<std::optional<StageRow>> LoadStage(pqxx::transaction_base& tx, std::string_view stage_id);

// Reads pipeline `id` with its stages in board order in the caller's open transaction; with
// `for_update` the pipeline row is locked (FOR UPDATE) until the transaction ends. nullopt when there
// is no such pipeline or `id` is not a UUID.
absl::StatusOr<std::optional<v1::Pipeline>> LoadPipeline(pqxx::transaction_base& tx, std::string_view id,
                                                         bool for_update = false);

// Where a new deal of pipeline `pipeline_id` lands, read with one query in the caller's transaction: the
// stage `stage_id` when given (it must belong to the pipeline), else the pipeline's first open stage;
// with the pipeline's currency and version (every change of its stages bumps the version, so a target
// read earlier is still right exactly while the version is the same). nullopt when there is no such
// pipeline or stage (or no open stage).
struct CreateTarget {
  std::string currency;
  StageRow stage;
  int64_t pipeline_version = 0;
};
absl::StatusOr<std::optional<CreateTarget>> LoadCreateTarget(pqxx::transaction_base& tx, std::string_view pipeline_id,
                                                             std::string_view stage_id);

class PipelineStore {
 public:
  // `pool` and `clock` must outlive the store. The clock stamps create/update times and new ids.
  PipelineStore(pg::Pool& pool, const Clock& clock);

  pg::Pool& pool() const { return pool_; }

  // ---- pipelines ----
  // Every pipeline with its stages, ordered by sort, then creation.
  absl::StatusOr<v1::ListPipelinesResponse> List();
  // The pipeline with its stages in board order; NOT_FOUND for an unknown id or one that is not a UUID.
  absl::StatusOr<v1::Pipeline> Get(std::string_view id);
  // Creates `pipeline` (its id, version and times, and its stages' ids, are ignored and assigned: UUIDv7,
  // version 1). INVALID_ARGUMENT naming pipeline.name, pipeline.stages (not at least one open, one won
  // and one lost stage), pipeline.stages[i].name / .kind / .color / .gates.required_fields.
  absl::StatusOr<v1::Pipeline> Create(const v1::Pipeline& pipeline);
  // Create with an idempotency key of `caller` (idempotent.h): a repeat returns the first pipeline.
  absl::StatusOr<v1::Pipeline> Create(const v1::Pipeline& pipeline, const crm::common::v1::Principal& caller,
                                      std::string_view idempotency_key);
  // Applies the fields named in `paths` ("name", "sort", "stages"; others are INVALID_ARGUMENT naming
  // update_mask) from `pipeline`. NOT_FOUND for an unknown pipeline.id; ABORTED "version mismatch" when
  // pipeline.version is not 0 and not the stored one. Stages are matched by id: a stage with an id keeps
  // it (INVALID_ARGUMENT naming pipeline.stages[i].id when it is not a stage of this pipeline or repeats),
  // one without gets a new UUIDv7, and a stored stage left out is removed; FAILED_PRECONDITION naming it
  // when deals are still in it. The request's order is the new board order. Validation as Create. The
  // version is bumped (and update_time set) only when something changed.
  absl::StatusOr<v1::Pipeline> Update(const v1::Pipeline& pipeline, const std::vector<std::string>& paths);
  // Creates `pipeline` keeping the ids it carries (the pipeline's and every stage's, all UUIDs) unless
  // a pipeline with that id already exists; returns whether it was created. Validation as Create. For
  // demo and fixture data that must load idempotently.
  absl::StatusOr<bool> EnsurePipeline(const v1::Pipeline& pipeline);

  // ---- lost reasons ----
  // The catalogue (seed 002) in display order.
  absl::StatusOr<v1::ListLostReasonsResponse> ListLostReasons();
  // The reason with `code`, or nullopt when there is none.
  absl::StatusOr<std::optional<v1::LostReason>> FindLostReason(std::string_view code);

  // ---- deal types (D2) ----
  // The catalogue (migration 0013) in display order.
  absl::StatusOr<v1::ListDealTypesResponse> ListDealTypes();

  // ---- custom field definitions ----
  // Every definition, ordered by sort, then code.
  absl::StatusOr<v1::ListFieldDefinitionsResponse> ListFields();
  // The definition with `code`, or nullopt when there is none.
  absl::StatusOr<std::optional<v1::FieldDefinition>> FindField(std::string_view code);
  // Creates `field`. INVALID_ARGUMENT naming field.code (not [a-z][a-z0-9_]{0,63}), field.name,
  // field.type, field.options (ENUM / MULTI_ENUM need at least one, non-empty and distinct; other
  // types take none); ALREADY_EXISTS when the code is taken.
  absl::StatusOr<v1::FieldDefinition> CreateField(const v1::FieldDefinition& field);
  // CreateField with an idempotency key of `caller` (idempotent.h): a repeat returns the first reply.
  absl::StatusOr<v1::FieldDefinition> CreateField(const v1::FieldDefinition& field,
                                                  const crm::common::v1::Principal& caller,
                                                  std::string_view idempotency_key);
  // Creates `field` unless a definition with its code exists; returns whether it was created.
  absl::StatusOr<bool> EnsureField(const v1::FieldDefinition& field);

 private:
  absl::StatusOr<v1::Pipeline> Insert(const v1::Pipeline& pipeline, bool keep_ids, bool* created,
                                      const crm::common::v1::Principal* caller, std::string_view idempotency_key);

  pg::Pool& pool_;
  const Clock& clock_;
  UuidV7Generator ids_;
};

// PipelineService: thin handlers over a PipelineStore. Reads need a signed-in caller; CreatePipeline,
// UpdatePipeline and CreateFieldDefinition need pipelines.manage (PERMISSION_DENIED otherwise).
class PipelineServiceImpl final : public v1::PipelineService::Service {
 public:
  // `store` must outlive the service.
  explicit PipelineServiceImpl(PipelineStore* store) : store_(store) {}

  grpc::Status ListPipelines(grpc::ServerContext* ctx, const v1::ListPipelinesRequest* req,
                             v1::ListPipelinesResponse* out) override;
  grpc::Status GetPipeline(grpc::ServerContext* ctx, const v1::GetPipelineRequest* req,
                           v1::Pipeline* out) override;
  grpc::Status CreatePipeline(grpc::ServerContext* ctx, const v1::CreatePipelineRequest* req,
                              v1::Pipeline* out) override;
  grpc::Status UpdatePipeline(grpc::ServerContext* ctx, const v1::UpdatePipelineRequest* req,
                              v1::Pipeline* out) override;
  grpc::Status ListLostReasons(grpc::ServerContext* ctx, const v1::ListLostReasonsRequest* req,
                               v1::ListLostReasonsResponse* out) override;
  grpc::Status ListDealTypes(grpc::ServerContext* ctx, const v1::ListDealTypesRequest* req,
                             v1::ListDealTypesResponse* out) override;
  grpc::Status ListFieldDefinitions(grpc::ServerContext* ctx, const v1::ListFieldDefinitionsRequest* req,
                                    v1::ListFieldDefinitionsResponse* out) override;
  grpc::Status CreateFieldDefinition(grpc::ServerContext* ctx, const v1::CreateFieldDefinitionRequest* req,
                                     v1::FieldDefinition* out) override;

 private:
  PipelineStore* store_;
};

}  // namespace crm::deals

#endif  // CRM_SERVICES_DEALS_PIPELINES_H_
