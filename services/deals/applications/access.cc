// File: services/deals/applications/access.cc
#include "services/deals/applications/access.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "services/deals/listing.h"

namespace crm::deals::applications {

using crm::common::v1::Principal;

Scope ReadScope(const Principal& caller) {
  return std::max(ScopeOf(caller, kReadPrefix), ScopeOf(caller, kWritePrefix));
}

Scope WriteScope(const Principal& caller) { return ScopeOf(caller, kWritePrefix); }

absl::Status CheckCanRead(const Principal& caller, const Owner& owner) {
  if (ReadScope(caller) >= NeededScope(caller, owner.responsible_id, owner.team_ids)) return absl::OkStatus();
  return absl::NotFoundError("deal application not found");
}

absl::Status CheckCanWrite(const Principal& caller, const Owner& owner) {
  const Scope needed = NeededScope(caller, owner.responsible_id, owner.team_ids);
  if (ReadScope(caller) < needed) return absl::NotFoundError("deal application not found");
  if (WriteScope(caller) >= needed) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("missing permission ", kWritePrefix, ScopeName(needed)));
}

std::string VisibleResponsibles(const Principal& caller, SqlParams& p) {
  const std::string me = ActingUserId(caller);
  if (ReadScope(caller) == Scope::kTeam) return VisibleResponsiblesSql(caller, p);
  if (ReadScope(caller) == Scope::kOwn && !me.empty()) return absl::StrCat("(SELECT ", p.Add(me), "::uuid)");
  return "(SELECT NULL::uuid WHERE FALSE)";
}

}  // namespace crm::deals::applications
