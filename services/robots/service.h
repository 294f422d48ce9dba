// File: services/robots/service.h
// -----------------------------------------------------------------------------
// The gRPC face of robots (proto/crm/robots/v1/robots.proto): RuleService and ExecutionService. Thin:
// each handler checks the caller's permission and calls the RuleStore or the Engine.
//
// Permissions: robots.read lists and reads rules and the log of the caller's own deals; robots.read.all
// every log; robots.manage creates, changes and dry-runs rules.
//
// Example:
//   server.AddService(server.Own(std::make_unique<crm::robots::RuleServiceImpl>(rules, engine)));
//   server.AddService(server.Own(std::make_unique<crm::robots::ExecutionServiceImpl>(engine)));
#ifndef CRM_SERVICES_ROBOTS_SERVICE_H_
#define CRM_SERVICES_ROBOTS_SERVICE_H_

#include "crm/robots/v1/robots.grpc.pb.h"

namespace crm::robots {

class Engine;
class RuleStore;

class RuleServiceImpl final : public crm::robots::v1::RuleService::Service {
 public:
  // `rules` and `engine` must outlive the service.
  RuleServiceImpl(RuleStore& rules, Engine& engine) : rules_(rules), engine_(engine) {}

  grpc::Status CreateRule(grpc::ServerContext* ctx, const v1::CreateRuleRequest* req, v1::Rule* out) override;
  grpc::Status GetRule(grpc::ServerContext* ctx, const v1::GetRuleRequest* req, v1::Rule* out) override;
  grpc::Status ListRules(grpc::ServerContext* ctx, const v1::ListRulesRequest* req,
                         v1::ListRulesResponse* out) override;
  grpc::Status UpdateRule(grpc::ServerContext* ctx, const v1::UpdateRuleRequest* req, v1::Rule* out) override;
  grpc::Status DryRun(grpc::ServerContext* ctx, const v1::DryRunRequest* req, v1::Execution* out) override;

 private:
  RuleStore& rules_;
  Engine& engine_;
};

class ExecutionServiceImpl final : public crm::robots::v1::ExecutionService::Service {
 public:
  explicit ExecutionServiceImpl(Engine& engine) : engine_(engine) {}

  grpc::Status ListExecutions(grpc::ServerContext* ctx, const v1::ListExecutionsRequest* req,
                              v1::ListExecutionsResponse* out) override;

 private:
  Engine& engine_;
};

}  // namespace crm::robots

#endif  // CRM_SERVICES_ROBOTS_SERVICE_H_
