#include "services/robots/service.h"

#include <string>
#include <vector>

#include "libs/base/status.h"
#include "libs/base/uuid.h"
#include "libs/rpc/call.h"
#include "proto/crm/common/v1/common.pb.h"
#include "services/robots/engine.h"
#include "services/robots/rule_store.h"

namespace crm::robots {

using crm::common::v1::Principal;

grpc::Status RuleServiceImpl::CreateRule(grpc::ServerContext* ctx, const v1::CreateRuleRequest* req, v1::Rule* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Rule> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "robots.manage"));
    return rules_.Create(caller, req->rule(), rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status RuleServiceImpl::GetRule(grpc::ServerContext* ctx, const v1::GetRuleRequest* req, v1::Rule* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Rule> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "robots.read"));
    std::vector<FieldViolation> violations;
    if (!IsUuid(req->id())) violations.push_back({"id", "not a UUID"});
    if (req->version() < 0) violations.push_back({"version", "must not be negative (0 = the current one)"});
    if (!violations.empty()) return InvalidFieldsError(violations);
    return rules_.Get(req->id(), req->version());
  });
}

grpc::Status RuleServiceImpl::ListRules(grpc::ServerContext* ctx, const v1::ListRulesRequest* req,
                                        v1::ListRulesResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::ListRulesResponse> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "robots.read"));
    return rules_.List(*req);
  });
}

grpc::Status RuleServiceImpl::UpdateRule(grpc::ServerContext* ctx, const v1::UpdateRuleRequest* req, v1::Rule* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Rule> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "robots.manage"));
    std::vector<std::string> paths(req->update_mask().paths().begin(), req->update_mask().paths().end());
    return rules_.Update(caller, req->rule(), paths);
  });
}

grpc::Status RuleServiceImpl::DryRun(grpc::ServerContext* ctx, const v1::DryRunRequest* req, v1::Execution* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return engine_.DryRun(caller, *req); });
}

grpc::Status ExecutionServiceImpl::ListExecutions(grpc::ServerContext* ctx, const v1::ListExecutionsRequest* req,
                                                  v1::ListExecutionsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return engine_.ListExecutions(caller, *req); });
}

}  // namespace crm::robots
