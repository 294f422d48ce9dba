// File: services/deals/access.h
// -----------------------------------------------------------------------------
// Who may see and who may change a deal, decided from the caller's Principal alone (permissions, id,
// team_ids); deals keeps no copy of identity's users. Three scopes per direction:
//   deals.read.all  / deals.write.all  — every deal;
//   deals.read.team / deals.write.team — deals whose team_ids overlap the caller's team_ids, or whose
//                                        responsible is the caller;
//   deals.read.own  / deals.write.own  — deals whose responsible is the caller.
// A write permission also lets the caller see what it lets them change. A deal the caller may not see is
// reported as NOT_FOUND "deal not found" (its existence is not revealed); a visible deal the caller may
// not change is PERMISSION_DENIED naming the permission that would allow it.
//
// Example:
//   SqlParams params;
//   std::string where = ReadableWhere(caller, "d", params);   // "(d.responsible_id = $1::uuid OR ...)"
//   tx.exec_params("SELECT ... FROM deals d WHERE " + where, pqxx::prepare::make_dynamic_params(params.values()));
//   CRM_RETURN_IF_ERROR(CheckCanWrite(caller, DealOwnership{row_responsible, row_team_ids}));
#ifndef CRM_SERVICES_DEALS_ACCESS_H_
#define CRM_SERVICES_DEALS_ACCESS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "crm/common/v1/common.pb.h"
#include "libs/pg/sql_array.h"

namespace crm::deals {

// How far a caller's rights reach, widest last.
enum class Scope { kNone = 0, kOwn = 1, kTeam = 2, kAll = 3 };

// The user a call acts as: the principal's id for a user, the owner (on_behalf_of_user_id) for an API
// key or a service acting for a user; "" when there is none (a service acting on its own).
std::string ActingUserId(const crm::common::v1::Principal& caller);

// Whether a user id filter names the caller (issue 16: one spelling for "me", README "Lists"): "me", or
// its alias "mine", in any case. ListDeals' filter.responsible_ids and ListTasks' responsible take it.
bool IsMe(std::string_view user_filter);

// The widest of the scopes the caller holds as "<prefix>own", "<prefix>team", "<prefix>all" (prefix
// "deals.read.", "bookings.write.", ...); kNone without any. Every scoped family of deals (deals, bookings,
// interactions) decides with these three.
Scope ScopeOf(const crm::common::v1::Principal& caller, std::string_view prefix);
// The narrowest scope that reaches a record of `responsible_id` and `team_ids` for `caller`: kOwn when the
// caller is its responsible, kTeam when they share a team, else kAll.
Scope NeededScope(const crm::common::v1::Principal& caller, std::string_view responsible_id,
                  const std::vector<std::string>& team_ids);
// "own", "team" or "all": a scope as its permissions end.
const char* ScopeName(Scope s);

// The widest scope the caller may read in (read or write permissions; write implies read).
Scope ReadScope(const crm::common::v1::Principal& caller);
// The widest scope the caller may change deals in.
Scope WriteScope(const crm::common::v1::Principal& caller);

// Positional parameters of a query built in pieces: Add() stores a value and returns its placeholder
// ("$1", "$2", ...), so values never become part of the SQL text.
class SqlParams {
 public:
  // Appends `value` and returns its placeholder.
  std::string Add(std::string value);
  // The values, in placeholder order (for pqxx::prepare::make_dynamic_params).
  const std::vector<std::string>& values() const { return values_; }

 private:
  std::vector<std::string> values_;
};

// The array literal of a list, one parameter (libs/pg/sql_array.h).
using crm::pg::ArrayLiteral;

// The caller's team ids that are UUIDs (anything else could never match a team, nor cast to uuid[]).
std::vector<std::string> CallerTeamIds(const crm::common::v1::Principal& caller);

// Returns a boolean SQL condition over the deals table aliased `alias` that holds exactly for the deals
// `caller` may see ("TRUE" for deals.read.all, "FALSE" without any deals permission); its values are
// added to `params`. Uses only responsible_id and team_ids (the indexes' leading columns for "own").
std::string ReadableWhere(const crm::common::v1::Principal& caller, std::string_view alias, SqlParams& params);

// What access to one deal depends on.
struct DealOwnership {
  std::string responsible_id;
  std::vector<std::string> team_ids;
};

// Returns OK if `caller` may see the deal; NotFound "deal not found" otherwise.
absl::Status CheckCanRead(const crm::common::v1::Principal& caller, const DealOwnership& deal);

// The permission that lets a caller change pipelines, stages and field definitions.
inline constexpr char kPipelinesManagePermission[] = "pipelines.manage";

// OK if `caller` may see the sales set-up deals are read against — pipelines and their stages, deal
// fields, lost reasons: anyone who may read some deals (a deals.read.* or deals.write.* permission) or
// manage pipelines. Else PermissionDenied "missing permission deals.read.own" (issue 15: a parking
// attendant, a waiter or a driver has no business with the sales funnel).
absl::Status CheckCanReadSetup(const crm::common::v1::Principal& caller);

// Returns OK if `caller` may change the deal; NotFound "deal not found" if they may not even see it;
// PermissionDenied "missing permission deals.write.<scope>" (the narrowest permission that would allow
// it) if they may see but not change it.
absl::Status CheckCanWrite(const crm::common::v1::Principal& caller, const DealOwnership& deal);

}  // namespace crm::deals

#endif  // CRM_SERVICES_DEALS_ACCESS_H_
