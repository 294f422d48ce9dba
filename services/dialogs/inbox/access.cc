// File: services/dialogs/inbox/access.cc
#include "services/dialogs/inbox/access.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
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

std::vector<std::string> VisibleBranches(const Principal& caller, const std::vector<std::string>& bots,
                                         SqlParams& params) {
  const ReadScope scope = ReadScopeOf(caller);
  if (scope == ReadScope::kAll) return {"TRUE"};
  std::vector<std::string> parts;
  if (scope == ReadScope::kNone) return parts;
  const std::string me = CallerUserId(caller);
  if (IsUuid(me)) parts.push_back(absl::StrCat("d.responsible_id = ", params.Add(me), "::uuid"));
  if (!bots.empty()) {
    parts.push_back(absl::StrCat("d.status = 'QUEUED' AND d.bot_id = ANY (", params.Add(crm::pg::ArrayLiteral(bots)),
                                 "::uuid[])"));
  }
  if (scope == ReadScope::kTeam) {
    const std::vector<std::string> teams = CallerTeams(caller);
    if (!teams.empty()) {
      parts.push_back(absl::StrCat("d.team_ids && ", params.Add(crm::pg::ArrayLiteral(teams)), "::uuid[]"));
    }
  }
  return parts;
}

bool CanSee(const Principal& caller, const StoredDialog& d, bool operates_bot) {
  const ReadScope scope = ReadScopeOf(caller);
  if (scope == ReadScope::kAll) return true;
  if (scope == ReadScope::kNone) return false;
  const std::string me = CallerUserId(caller);
  if (!me.empty() && d.dialog.responsible_id() == me) return true;
  if (operates_bot && d.dialog.status() == v1::DIALOG_STATUS_QUEUED) return true;
  if (scope == ReadScope::kTeam) {
    const std::vector<std::string> teams = CallerTeams(caller);
    for (const std::string& t : d.team_ids) {
      if (std::find(teams.begin(), teams.end(), t) != teams.end()) return true;
    }
  }
  return false;
}

}  // namespace crm::dialogs::inbox
