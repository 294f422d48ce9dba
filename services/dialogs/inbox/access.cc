// File: services/dialogs/inbox/access.cc
#include "services/dialogs/inbox/access.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "libs/base/strings.h"
#include "libs/base/uuid.h"
#include "libs/pg/sql_array.h"
#include "libs/rpc/call.h"

namespace crm::dialogs::inbox {

using crm::common::v1::Principal;

ReadScope ReadScopeOf(const Principal& caller) {
  if (crm::rpc::HasPermission(caller, kReadAll)) return ReadScope::kAll;
  if (crm::rpc::HasPermission(caller, kReadTeam)) return ReadScope::kTeam;
  if (crm::rpc::HasPermission(caller, kReadOwn)) return ReadScope::kOwn;
  return ReadScope::kNone;
}

std::string SqlParams::Add(std::string value) {
  values_.push_back(std::move(value));
  return absl::StrCat("$", values_.size());
}

std::string CallerUserId(const Principal& caller) {
  if (caller.kind() == Principal::KIND_USER) return caller.id();
  return caller.on_behalf_of_user_id();
}

std::vector<std::string> CallerTeams(const Principal& caller) {
  std::vector<std::string> out;
  for (const std::string& t : caller.team_ids()) {
    if (IsUuid(t)) out.push_back(t);
  }
  return out;
}

std::vector<Branch> VisibleBranches(const Principal& caller, const std::vector<std::string>& bots,
                                    SqlParams& params) {
  const ReadScope scope = ReadScopeOf(caller);
  if (scope == ReadScope::kAll) return {{Branch::Kind::kAll, "TRUE"}};
  std::vector<Branch> out;
  if (scope == ReadScope::kNone) return out;
  const std::string me = CallerUserId(caller);
  std::string me_param;
  if (IsUuid(me)) {
    me_param = params.Add(me);
    out.push_back({Branch::Kind::kResponsible, absl::StrCat("d.responsible_id = ", me_param, "::uuid")});
  }
  if (!bots.empty()) {
    out.push_back({Branch::Kind::kQueue, absl::StrCat("d.status = 'QUEUED' AND d.bot_id = ANY (",
                                                      params.Add(crm::pg::ArrayLiteral(bots)), "::uuid[])")});
  }
  if (scope == ReadScope::kTeam) {
    for (const std::string& team : CallerTeams(caller)) {
      out.push_back({Branch::Kind::kTeam, absl::StrCat("d.team_id = ", params.Add(team), "::uuid")});
    }
  }
  // T6: a supervisor's subordinates, as user_directory has them in the list's own snapshot.
  if (!me_param.empty() && crm::rpc::HasPermission(caller, kSupervise)) {
    out.push_back({Branch::Kind::kSubordinates, absl::StrCat("s.supervisor_id = ", me_param, "::uuid")});
  }
  return out;
}

std::string BranchPage(const Branch& b, std::string_view filters, std::string_view limit) {
  const absl::string_view f = AsAbsl(filters), n = AsAbsl(limit);
  switch (b.kind) {
    case Branch::Kind::kTeam:
      return absl::StrCat("SELECT d.number FROM dialog_teams d WHERE ", b.condition, f,
                          " ORDER BY d.number DESC LIMIT ", n, "::int");
    case Branch::Kind::kSubordinates:
      // Each subordinate's newest page on dialogs_responsible; the union of those pages holds the page.
      return absl::StrCat("SELECT x.number FROM user_directory s CROSS JOIN LATERAL (SELECT d.number ",
                          "FROM dialogs d WHERE d.responsible_id = s.user_id", f, " ORDER BY d.number DESC LIMIT ",
                          n, "::int) x WHERE ", b.condition);
    case Branch::Kind::kQueue:
      // Small: read from its partial index and sorted ("+ 0": no walk of the number index past the rest).
      return absl::StrCat("SELECT d.number FROM dialogs d WHERE ", b.condition, f,
                          " ORDER BY d.number + 0 DESC LIMIT ", n, "::int");
    default:
      return absl::StrCat("SELECT d.number FROM dialogs d WHERE ", b.condition, f,
                          " ORDER BY d.number DESC LIMIT ", n, "::int");
  }
}

bool CanSee(const Principal& caller, const StoredDialog& d, bool operates_bot) {
  const ReadScope scope = ReadScopeOf(caller);
  if (scope == ReadScope::kAll) return true;
  if (scope == ReadScope::kNone) return false;
  const std::string me = CallerUserId(caller);
  if (!me.empty() && d.dialog.responsible_id() == me) return true;
  if (operates_bot && d.dialog.status() == v1::DIALOG_STATUS_QUEUED) return true;
  // T6: the responsible names the caller as their supervisor (as user_directory has it in this transaction).
  const bool supervises = crm::rpc::HasPermission(caller, kSupervise);
  if (!me.empty() && d.responsible_supervisor_id == me && supervises) return true;
  if (scope == ReadScope::kTeam) {
    const std::vector<std::string> teams = CallerTeams(caller);
    for (const std::string& t : d.team_ids) {
      if (std::find(teams.begin(), teams.end(), t) != teams.end()) return true;
    }
  }
  return false;
}

}  // namespace crm::dialogs::inbox
