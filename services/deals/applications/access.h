// File: services/deals/applications/access.h
// -----------------------------------------------------------------------------
// Who may see and change deal applications (D15), "as for deals" (../access.h), by the application's
// responsible, with a permission family of its own:
//   applications.read.all  / applications.write.all  — every application;
//   applications.read.team / applications.write.team — those whose responsible is the caller or shares a
//                                                      team with them (deals' user directory, users.h);
//   applications.read.own  / applications.write.own  — those whose responsible is the caller.
// Write implies read. One the caller may not see is NOT_FOUND "deal application not found"; one they see
// but may not change is PERMISSION_DENIED "missing permission applications.write.<scope>".
#ifndef CRM_SERVICES_DEALS_APPLICATIONS_ACCESS_H_
#define CRM_SERVICES_DEALS_APPLICATIONS_ACCESS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crm/common/v1/common.pb.h"
#include "services/deals/access.h"
#include "services/deals/interactions/access.h"

namespace crm::deals::applications {

inline constexpr char kReadPrefix[] = "applications.read.";
inline constexpr char kWritePrefix[] = "applications.write.";

using Owner = crm::deals::interactions::Owner;

Scope ReadScope(const crm::common::v1::Principal& caller);
Scope WriteScope(const crm::common::v1::Principal& caller);

absl::Status CheckCanRead(const crm::common::v1::Principal& caller, const Owner& owner);
absl::Status CheckCanWrite(const crm::common::v1::Principal& caller, const Owner& owner);

// An SQL set of the responsibles whose applications the caller reads in the own / team scopes.
std::string VisibleResponsibles(const crm::common::v1::Principal& caller, SqlParams& p);

}  // namespace crm::deals::applications

#endif  // CRM_SERVICES_DEALS_APPLICATIONS_ACCESS_H_
