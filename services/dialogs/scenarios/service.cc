// File: services/dialogs/scenarios/service.cc
#include "services/dialogs/scenarios/service.h"

#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/pg/pool.h"
#include "libs/rpc/call.h"
#include "services/dialogs/scenarios/engine.h"
#include "services/dialogs/scenarios/runner.h"
#include "services/dialogs/scenarios/spam.h"
#include "services/dialogs/scenarios/store.h"
#include "services/dialogs/scenarios/validate.h"

namespace crm::dialogs::scenarios {
namespace {

using crm::common::v1::Principal;

constexpr int kMaxDryRunInputs = 200;

absl::Status RequireRead(const Principal& caller) {
  for (const char* code : {"dialogs.read.own", "dialogs.read.team", "dialogs.read.all", kAdminPermission}) {
    if (crm::rpc::HasPermission(caller, code)) return absl::OkStatus();
  }
  return crm::rpc::RequirePermission(caller, "dialogs.read.own");  // the denial names a read permission
}

}  // namespace

grpc::Status ScenarioServiceImpl::CreateScenario(grpc::ServerContext* ctx, const v1::CreateScenarioRequest* req,
                                                 v1::Scenario* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Scenario> {
    CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kAdminPermission));
    return store_.Create(caller, req->scenario(), crm::rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status ScenarioServiceImpl::GetScenario(grpc::ServerContext* ctx, const v1::GetScenarioRequest* req,
                                              v1::Scenario* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Scenario> {
    CRM_RETURN_IF_ERROR(RequireRead(caller));
    return store_.Get(req->id(), req->version());
  });
}

grpc::Status ScenarioServiceImpl::ListScenarios(grpc::ServerContext* ctx, const v1::ListScenariosRequest* req,
                                                v1::ListScenariosResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::ListScenariosResponse> {
    CRM_RETURN_IF_ERROR(RequireRead(caller));
    return store_.List(*req);
  });
}

grpc::Status ScenarioServiceImpl::UpdateScenario(grpc::ServerContext* ctx, const v1::UpdateScenarioRequest* req,
                                                 v1::Scenario* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Scenario> {
    CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kAdminPermission));
    return store_.Update(caller, req->scenario());
  });
}

grpc::Status ScenarioServiceImpl::ValidateScenario(grpc::ServerContext* ctx, const v1::ValidateScenarioRequest* req,
                                                   v1::ValidateScenarioResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::ValidateScenarioResponse> {
    CRM_RETURN_IF_ERROR(RequireRead(caller));
    v1::ValidateScenarioResponse r;
    bool valid = true;
    for (v1::Problem& p : Validate(req->scenario())) {
      if (p.severity() == v1::SEVERITY_ERROR) valid = false;
      *r.add_problems() = std::move(p);
    }
    r.set_valid(valid);
    return r;
  });
}

grpc::Status ScenarioServiceImpl::DryRunScenario(grpc::ServerContext* ctx, const v1::DryRunScenarioRequest* req,
                                                 v1::DryRunScenarioResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::DryRunScenarioResponse> {
    CRM_RETURN_IF_ERROR(RequireRead(caller));
    if (req->inputs_size() > kMaxDryRunInputs) return InvalidFieldError("inputs", "more than 200 inputs");
    v1::Scenario scenario;
    if (!req->scenario_id().empty()) {
      if (req->has_scenario()) return InvalidFieldError("scenario", "give scenario or scenario_id, not both");
      CRM_ASSIGN_OR_RETURN(scenario, store_.Get(req->scenario_id(), 0));
    } else {
      scenario = req->scenario();
      CRM_RETURN_IF_ERROR(ErrorsAsStatus(Validate(scenario)));
    }
    std::vector<v1::Input> inputs(req->inputs().begin(), req->inputs().end());
    std::string text;  // the bot's (hours.h), sent when the dry run pretends to be out of hours
    if (req->out_of_hours()) {
      CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
        CRM_ASSIGN_OR_RETURN(BotHours hours, runner_.HoursOf(tx, scenario.bot_id()));
        text = std::move(hours.out_of_hours_text);
        return absl::OkStatus();
      }));
    }
    return DryRun(scenario, inputs, clock_.Now(), req->out_of_hours(), text);
  });
}

grpc::Status ScenarioServiceImpl::ExportScenario(grpc::ServerContext* ctx, const v1::ExportScenarioRequest* req,
                                                 v1::ExportScenarioResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::ExportScenarioResponse> {
    CRM_RETURN_IF_ERROR(RequireRead(caller));
    CRM_ASSIGN_OR_RETURN(std::string json, store_.Export(req->id(), req->version()));
    v1::ExportScenarioResponse r;
    r.set_json(std::move(json));
    return r;
  });
}

grpc::Status ScenarioServiceImpl::ImportScenario(grpc::ServerContext* ctx, const v1::ImportScenarioRequest* req,
                                                 v1::Scenario* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Scenario> {
    CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kAdminPermission));
    return store_.Import(caller, *req, crm::rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status ScenarioServiceImpl::ListSpam(grpc::ServerContext* ctx, const v1::ListSpamRequest* req,
                                           v1::ListSpamResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::ListSpamResponse> {
    CRM_RETURN_IF_ERROR(RequireRead(caller));
    return spam_.List(*req);
  });
}

grpc::Status ScenarioServiceImpl::RemoveSpam(grpc::ServerContext* ctx, const v1::RemoveSpamRequest* req,
                                             google::protobuf::Empty* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<google::protobuf::Empty> {
    CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kAdminPermission));
    CRM_RETURN_IF_ERROR(spam_.Remove(*req));
    return google::protobuf::Empty();
  });
}

}  // namespace crm::dialogs::scenarios
