// File: services/deals/access.cc
#include "services/deals/access.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/base/strings.h"
#include "libs/base/uuid.h"
#include "libs/rpc/call.h"

namespace crm::deals {

using crm::common::v1::Principal;

Scope ScopeOf(const Principal& p, std::string_view prefix) {
  auto has = [&](std::string_view s) {
    return rpc::HasPermission(p, std::string(prefix) + std::string(s));
  };
  if (has("all")) return Scope::kAll;
  if (has("team")) return Scope::kTeam;
  if (has("own")) return Scope::kOwn;
  return Scope::kNone;
}

Scope NeededScope(const Principal& caller, std::string_view responsible_id,
                  const std::vector<std::string>& team_ids) {
  const std::string me = ActingUserId(caller);
  if (!me.empty() && responsible_id == me) return Scope::kOwn;
  for (const std::string& t : caller.team_ids()) {
    if (std::find(team_ids.begin(), team_ids.end(), t) != team_ids.end()) return Scope::kTeam;
  }
  return Scope::kAll;
}

const char* ScopeName(Scope s) {
  switch (s) {
    case Scope::kOwn:
      return "own";
    case Scope::kTeam:
      return "team";
    default:
      return "all";
  }
}

std::string ActingUserId(const Principal& caller) {
  if (caller.kind() == Principal::KIND_USER) return caller.id();
  return caller.on_behalf_of_user_id();
}

bool IsMe(std::string_view user_filter) {
  return absl::EqualsIgnoreCase(crm::AsAbsl(user_filter), "me") || absl::EqualsIgnoreCase(crm::AsAbsl(user_filter), "mine");
}

Scope ReadScope(const Principal& caller) {
  return std::max(ScopeOf(caller, "deals.read."), ScopeOf(caller, "deals.write."));
}

Scope WriteScope(const Principal& caller) { return ScopeOf(caller, "deals.write."); }

std::vector<std::string> CallerTeamIds(const Principal& caller) {
  std::vector<std::string> teams;
  for (const std::string& t : caller.team_ids()) {
    if (IsUuid(t)) teams.push_back(t);
  }
  return teams;
}

std::string SqlParams::Add(std::string value) {
  values_.push_back(std::move(value));
  return absl::StrCat("$", values_.size());
}

std::string ReadableWhere(const Principal& caller, std::string_view alias, SqlParams& params) {
  const std::string a(alias);
  const std::string me = ActingUserId(caller);
  switch (ReadScope(caller)) {
    case Scope::kAll:
      return "TRUE";
    case Scope::kTeam: {
      const std::vector<std::string> teams = CallerTeamIds(caller);
      std::string own = me.empty() ? "FALSE" : absl::StrCat(a, ".responsible_id = ", params.Add(me), "::uuid");
      return absl::StrCat("(", own, " OR ", a, ".team_ids && ", params.Add(ArrayLiteral(teams)), "::uuid[])");
    }
    case Scope::kOwn:
      if (me.empty()) return "FALSE";
      return absl::StrCat(a, ".responsible_id = ", params.Add(me), "::uuid");
    case Scope::kNone:
      break;
  }
  return "FALSE";
}

absl::Status CheckCanRead(const Principal& caller, const DealOwnership& deal) {
  if (ReadScope(caller) >= NeededScope(caller, deal.responsible_id, deal.team_ids)) return absl::OkStatus();
  return absl::NotFoundError("deal not found");
}

absl::Status CheckCanReadSetup(const Principal& caller) {
  if (ReadScope(caller) != Scope::kNone || rpc::HasPermission(caller, kPipelinesManagePermission)) return absl::OkStatus();
  return absl::PermissionDeniedError("missing permission deals.read.own");
}

absl::Status CheckCanWrite(const Principal& caller, const DealOwnership& deal) {
  const Scope needed = NeededScope(caller, deal.responsible_id, deal.team_ids);
  if (ReadScope(caller) < needed) return absl::NotFoundError("deal not found");
  if (WriteScope(caller) >= needed) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("missing permission deals.write.", ScopeName(needed)));
}

}  // namespace crm::deals
