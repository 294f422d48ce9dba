// File: services/deals/interactions/access.h
// -----------------------------------------------------------------------------
// Who may see and change interactions and client requests (D15, D16): "as for deals" (../access.h),
// decided from the caller's Principal and the record's responsible alone, with a permission family of
// their own, so a call-centre operator may record calls without holding deals' rights:
//   interactions.read.all  / interactions.write.all  — every interaction and request (head of sales,
//                                                      integrator; the telephony, dialogs and queue
//                                                      services call with these);
//   interactions.read.team / interactions.write.team — those whose responsible is the caller or shares a
//                                                      team with them;
//   interactions.read.own  / interactions.write.own  — those whose responsible is the caller.
// A write permission also lets the caller see what it lets them change. One the caller may not see is
// NOT_FOUND "<what> not found"; one they see but may not change is PERMISSION_DENIED "missing permission
// interactions.write.<scope>". Handing a record to another responsible needs the write scope that
// reaches the new responsible too.
//
// Lists reach the team scope's records through deals' user directory (../listing.h's
// VisibleResponsiblesSql): the responsibles who share a team with the caller. A single record is
// checked on its responsible's teams as the directory knows them (TeamsOf), the same set.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(Owner owner, OwnerOf(tx, responsible_id));
//   CRM_RETURN_IF_ERROR(CheckCanWrite(actor.principal, owner, "interaction"));
#ifndef CRM_SERVICES_DEALS_INTERACTIONS_ACCESS_H_
#define CRM_SERVICES_DEALS_INTERACTIONS_ACCESS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crm/common/v1/common.pb.h"
#include "services/deals/access.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm::deals::interactions {

inline constexpr char kReadPrefix[] = "interactions.read.";
inline constexpr char kWritePrefix[] = "interactions.write.";
// Configure slot calendars (UpsertSlotCalendar).
inline constexpr char kSlotsManagePermission[] = "interactions.slots.manage";

// The widest scope the caller may read in (read or write permissions; write implies read).
Scope ReadScope(const crm::common::v1::Principal& caller);
// The widest scope the caller may change records in.
Scope WriteScope(const crm::common::v1::Principal& caller);

// What access to one record depends on: its responsible and their teams.
struct Owner {
  std::string responsible_id;
  std::vector<std::string> team_ids;
};

// The Owner of a record held by `responsible_id` (their teams from deals' user directory).
absl::StatusOr<Owner> OwnerOf(pqxx::transaction_base& tx, const std::string& responsible_id);

// OK if `caller` may see it; NotFound "<what> not found" otherwise.
absl::Status CheckCanRead(const crm::common::v1::Principal& caller, const Owner& owner, std::string_view what);
// OK if `caller` may change it; NotFound if they may not even see it; PermissionDenied naming the
// narrowest permission that would allow it.
absl::Status CheckCanWrite(const crm::common::v1::Principal& caller, const Owner& owner, std::string_view what);
// OK if `caller` may hold a record with responsible `owner` (creating one, or handing one over):
// PermissionDenied naming the permission otherwise (never NotFound: it is the caller's own choice).
absl::Status CheckCanAssign(const crm::common::v1::Principal& caller, const Owner& owner);

// The condition on `column` (a responsible id) of the caller's read scope for lists: "" for every
// record (scope all), "FALSE" for none, else `column` IN the visible responsibles.
std::string ResponsibleCondition(const crm::common::v1::Principal& caller, const std::string& column, SqlParams& p);

// An SQL set (usable after IN / as a FROM item with one column) of the responsibles whose records
// `caller` reads in the own and team scopes; only for those scopes.
std::string VisibleResponsibles(const crm::common::v1::Principal& caller, SqlParams& p);

}  // namespace crm::deals::interactions

#endif  // CRM_SERVICES_DEALS_INTERACTIONS_ACCESS_H_
