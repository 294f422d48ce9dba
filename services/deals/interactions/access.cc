// File: services/deals/interactions/access.cc
#include "services/deals/interactions/access.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/rpc/call.h"
#include "services/deals/listing.h"
#include "services/deals/users.h"

namespace crm::deals::interactions {

using crm::common::v1::Principal;


Scope ReadScope(const Principal& caller) { return std::max(ScopeOf(caller, kReadPrefix), ScopeOf(caller, kWritePrefix)); }

Scope WriteScope(const Principal& caller) { return ScopeOf(caller, kWritePrefix); }

absl::StatusOr<Owner> OwnerOf(pqxx::transaction_base& tx, const std::string& responsible_id) {
  Owner o{.responsible_id = responsible_id};
  CRM_ASSIGN_OR_RETURN(o.team_ids, TeamsOf(tx, responsible_id));
  return o;
}

absl::Status CheckCanRead(const Principal& caller, const Owner& owner, std::string_view what) {
  if (ReadScope(caller) >= NeededScope(caller, owner.responsible_id, owner.team_ids)) return absl::OkStatus();
  return absl::NotFoundError(absl::StrCat(AsAbsl(what), " not found"));
}

absl::Status CheckCanWrite(const Principal& caller, const Owner& owner, std::string_view what) {
  const Scope needed = NeededScope(caller, owner.responsible_id, owner.team_ids);
  if (ReadScope(caller) < needed) return absl::NotFoundError(absl::StrCat(AsAbsl(what), " not found"));
  if (WriteScope(caller) >= needed) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("missing permission ", kWritePrefix, ScopeName(needed)));
}

absl::Status CheckCanAssign(const Principal& caller, const Owner& owner) {
  const Scope needed = NeededScope(caller, owner.responsible_id, owner.team_ids);
  if (WriteScope(caller) >= needed) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("missing permission ", kWritePrefix, ScopeName(needed)));
}

std::string VisibleResponsibles(const Principal& caller, SqlParams& p) {
  const std::string me = ActingUserId(caller);
  if (ReadScope(caller) == Scope::kTeam) return VisibleResponsiblesSql(caller, p);
  if (ReadScope(caller) == Scope::kOwn && !me.empty()) return absl::StrCat("(SELECT ", p.Add(me), "::uuid)");
  return "(SELECT NULL::uuid WHERE FALSE)";
}

std::string ResponsibleCondition(const Principal& caller, const std::string& column, SqlParams& p) {
  switch (ReadScope(caller)) {
    case Scope::kAll:
      return "";
    case Scope::kTeam:
    case Scope::kOwn:
      return absl::StrCat(column, " IN ", VisibleResponsibles(caller, p));
    case Scope::kNone:
      break;
  }
  return "FALSE";
}

}  // namespace crm::deals::interactions
