// File: services/dialogs/inbox/access.h
// -----------------------------------------------------------------------------
// Who sees which dialogs (T6/T7 visibility, "as for deals": services/deals/access.h), decided from the
// caller's Principal (permissions, id, team_ids) and the bots they operate (bot_operators):
//   dialogs.read.all  — every dialog;
//   dialogs.read.team — dialogs whose team_ids (the responsible's teams when they took it) overlap the
//                       caller's, and what read.own gives;
//   dialogs.read.own  — dialogs assigned to the caller, and the queue (QUEUED) of the bots they operate.
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

// Conditions over `dialogs d` whose OR holds exactly for the dialogs `caller` sees; `bots` = the bots the
// caller operates. {"TRUE"} for dialogs.read.all, {} when the caller sees none. Each branch has an index
// of its own (responsible, the bots' queue, the teams), so a list reads each in number order and merges
// (service.cc) instead of walking every dialog past the ones out of scope.
std::vector<std::string> VisibleBranches(const crm::common::v1::Principal& caller,
                                         const std::vector<std::string>& bots, SqlParams& params);
// The same decision for one dialog.
bool CanSee(const crm::common::v1::Principal& caller, const StoredDialog& d, bool operates_bot);

}  // namespace crm::dialogs::inbox

#endif  // CRM_SERVICES_DIALOGS_INBOX_ACCESS_H_
