// File: services/dialogs/inbox/access.h
// -----------------------------------------------------------------------------
// Who sees which dialogs (T6/T7 visibility, "as for deals": services/deals/access.h), decided from the
// caller's Principal (permissions, id, team_ids), the bots they operate (bot_operators) and the users naming
// them as supervisor (user_directory.supervisor_id, identity's User.supervisor_id; users.h):
//   dialogs.read.all  — every dialog;
//   dialogs.read.team — dialogs whose team_ids (the responsible's teams when they took it) overlap the
//                       caller's, and what read.own gives;
//   dialogs.read.own  — dialogs assigned to the caller, and the queue (QUEUED) of the bots they operate;
//   dialogs.supervise — with any read scope, also the dialogs whose responsible names the caller as their
//                       supervisor now (direct subordinates only: seed 004 §3.3.9 gives each supervisor an
//                       explicit list of operators, not a hierarchy; deals has no supervisor rule at all).
// Changing a dialog (answer, take, pick a client, status) takes dialogs.operate besides seeing it; a
// dialog the caller may not see is NOT_FOUND (its existence is not revealed). dialogs.supervise lets a
// supervisor take any queued dialog they see and answer or change dialogs that are not theirs.
#ifndef CRM_SERVICES_DIALOGS_INBOX_ACCESS_H_
#define CRM_SERVICES_DIALOGS_INBOX_ACCESS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "crm/common/v1/common.pb.h"
#include "services/dialogs/inbox/store.h"

namespace crm::dialogs::inbox {

inline constexpr char kReadOwn[] = "dialogs.read.own";
inline constexpr char kReadTeam[] = "dialogs.read.team";
inline constexpr char kReadAll[] = "dialogs.read.all";
inline constexpr char kOperate[] = "dialogs.operate";
inline constexpr char kSupervise[] = "dialogs.supervise";

enum class ReadScope { kNone, kOwn, kTeam, kAll };
ReadScope ReadScopeOf(const crm::common::v1::Principal& caller);

// Positional parameters of a statement built in pieces: Add() keeps the value and returns "$n".
class SqlParams {
 public:
  std::string Add(std::string value);
  const std::vector<std::string>& values() const { return values_; }

 private:
  std::vector<std::string> values_;
};

// The caller's user id ("" for a service acting for nobody) and team ids that are UUIDs.
std::string CallerUserId(const crm::common::v1::Principal& caller);
std::vector<std::string> CallerTeams(const crm::common::v1::Principal& caller);

// One way the caller reaches dialogs, read in number order on an index of its own (a list reads each
// branch's newest page and merges them: service.cc), so no branch walks past dialogs out of scope.
struct Branch {
  enum class Kind {
    kAll,           // every dialog: `condition` is "TRUE"
    kResponsible,   // the caller's own (dialogs_responsible)
    kQueue,         // the QUEUED dialogs of the bots they operate: few, read from dialogs_queue and sorted
    kTeam,          // one team's dialogs: its rows of dialog_teams (an index per filter, team first)
    kSubordinates,  // each subordinate's own, newest first (user_directory_supervisor, dialogs_responsible)
  };
  Kind kind = Kind::kAll;
  std::string condition;  // over `dialogs d` (kTeam: `dialog_teams d`; kSubordinates: `user_directory s`)
};

// The branches whose union is exactly the dialogs `caller` sees; `bots` = the bots the caller operates.
// {kAll} for dialogs.read.all, {} when the caller sees none. A team is a branch of its own (one index
// range each); the subordinates are read by the list's own statement, in its snapshot.
std::vector<Branch> VisibleBranches(const crm::common::v1::Principal& caller,
                                    const std::vector<std::string>& bots, SqlParams& params);

// A statement giving the numbers of the newest `limit` dialogs of `b` that pass `filters` (" AND d.status =
// $3 ..." over the columns dialog_teams shares with dialogs: number, closed, status, bot_id, project, topic,
// responsible_id, client_id), newest first.
std::string BranchPage(const Branch& b, std::string_view filters, std::string_view limit);

// The same decision for one dialog.
bool CanSee(const crm::common::v1::Principal& caller, const StoredDialog& d, bool operates_bot);

}  // namespace crm::dialogs::inbox

#endif  // CRM_SERVICES_DIALOGS_INBOX_ACCESS_H_
