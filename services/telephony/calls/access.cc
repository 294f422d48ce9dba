// File: services/telephony/calls/access.cc
#include "services/telephony/calls/access.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/uuid.h"
#include "libs/pg/prepared.h"
#include "libs/rpc/call.h"
#include "services/telephony/calls/service.h"
#include "services/telephony/calls/sql.h"

namespace crm::telephony::calls {

using crm::common::v1::Principal;

std::string CallerUserId(const Principal& caller) {
  if (caller.kind() == Principal::KIND_USER) return caller.id();
  return caller.on_behalf_of_user_id();
}

Scope ScopeOf(const Principal& caller) {
  if (crm::rpc::HasPermission(caller, kReadAll)) return Scope::kAll;
  if (crm::rpc::HasPermission(caller, kOperate)) return Scope::kOwn;
  return Scope::kNone;
}

bool OnCall(pqxx::transaction_base& tx, const Principal& caller, const v1::Call& c) {
  const std::string me = CallerUserId(caller);
  if (!IsUuid(me)) return false;
  if (c.user_id() == me) return true;
  return !crm::pg::ExecPrepared(tx, sql::kUserOnCall, c.id(), me).empty();
}

absl::Status CallNotFound(std::string_view id) {
  return absl::NotFoundError(absl::StrCat("call ", AsAbsl(id), " not found"));
}

absl::Status CheckCanSee(pqxx::transaction_base& tx, const Principal& caller, const v1::Call& c) {
  if (ScopeOf(caller) == Scope::kAll || crm::rpc::HasPermission(caller, kManage)) return absl::OkStatus();
  if (ScopeOf(caller) == Scope::kOwn && OnCall(tx, caller, c)) return absl::OkStatus();
  return CallNotFound(c.id());
}

absl::Status CheckCanOperate(pqxx::transaction_base& tx, const Principal& caller, const v1::Call& c) {
  if (crm::rpc::HasPermission(caller, kManage)) return absl::OkStatus();
  CRM_RETURN_IF_ERROR(CheckCanSee(tx, caller, c));
  if (crm::rpc::HasPermission(caller, kOperate) && OnCall(tx, caller, c)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("missing permission ", kManage, " (not your call)"));
}

}  // namespace crm::telephony::calls
