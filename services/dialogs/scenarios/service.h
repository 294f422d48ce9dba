// File: services/dialogs/scenarios/service.h
// -----------------------------------------------------------------------------
// The gRPC face of scenarios (proto/crm/dialogs/v1/scenarios.proto, ScenarioService; T3): thin handlers
// that check the caller's permission and call the store, the validator or the dry run. dialogs.admin
// edits (create, update, import) and may read; any dialogs.read.* reads (get, list, export, validate,
// dry run, the spam list); dialogs.admin takes a client off the spam list.
#ifndef CRM_SERVICES_DIALOGS_SCENARIOS_SERVICE_H_
#define CRM_SERVICES_DIALOGS_SCENARIOS_SERVICE_H_

#include "crm/dialogs/v1/scenarios.grpc.pb.h"

namespace crm {
class Clock;
namespace pg {
class Pool;
}  // namespace pg
}  // namespace crm

namespace crm::dialogs::scenarios {

class ScenarioRunner;
class ScenarioStore;
class SpamList;

inline constexpr char kAdminPermission[] = "dialogs.admin";

class ScenarioServiceImpl final : public crm::dialogs::v1::ScenarioService::Service {
 public:
  // Everything given must outlive the service. The dry run's out-of-hours text is the bot's, read through
  // `runner` (its BotHoursProvider) on `pool`.
  ScenarioServiceImpl(ScenarioStore& store, SpamList& spam, const ScenarioRunner& runner, crm::pg::Pool& pool,
                      const Clock& clock)
      : store_(store), spam_(spam), runner_(runner), pool_(pool), clock_(clock) {}

  grpc::Status CreateScenario(grpc::ServerContext* ctx, const v1::CreateScenarioRequest* req,
                              v1::Scenario* out) override;
  grpc::Status GetScenario(grpc::ServerContext* ctx, const v1::GetScenarioRequest* req, v1::Scenario* out) override;
  grpc::Status ListScenarios(grpc::ServerContext* ctx, const v1::ListScenariosRequest* req,
                             v1::ListScenariosResponse* out) override;
  grpc::Status UpdateScenario(grpc::ServerContext* ctx, const v1::UpdateScenarioRequest* req,
                              v1::Scenario* out) override;
  grpc::Status ValidateScenario(grpc::ServerContext* ctx, const v1::ValidateScenarioRequest* req,
                                v1::ValidateScenarioResponse* out) override;
  grpc::Status DryRunScenario(grpc::ServerContext* ctx, const v1::DryRunScenarioRequest* req,
                              v1::DryRunScenarioResponse* out) override;
  grpc::Status ExportScenario(grpc::ServerContext* ctx, const v1::ExportScenarioRequest* req,
                              v1::ExportScenarioResponse* out) override;
  grpc::Status ImportScenario(grpc::ServerContext* ctx, const v1::ImportScenarioRequest* req,
                              v1::Scenario* out) override;
  grpc::Status ListSpam(grpc::ServerContext* ctx, const v1::ListSpamRequest* req, v1::ListSpamResponse* out) override;
  grpc::Status RemoveSpam(grpc::ServerContext* ctx, const v1::RemoveSpamRequest* req,
                          google::protobuf::Empty* out) override;

 private:
  ScenarioStore& store_;
  SpamList& spam_;
  const ScenarioRunner& runner_;
  crm::pg::Pool& pool_;
  const Clock& clock_;
};

}  // namespace crm::dialogs::scenarios

#endif  // CRM_SERVICES_DIALOGS_SCENARIOS_SERVICE_H_
