// File: services/deals/realty/access.cc
#include "services/deals/realty/access.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "libs/rpc/call.h"

namespace crm::deals::realty {

using crm::common::v1::Principal;

namespace {

Scope ScopeOf(const Principal& p, const char* prefix) {
  auto has = [&](const char* s) { return rpc::HasPermission(p, absl::StrCat(prefix, s)); };
  if (has("all")) return Scope::kAll;
  if (has("team")) return Scope::kTeam;
  if (has("own")) return Scope::kOwn;
  return Scope::kNone;
}

// The narrowest scope that reaches `b` for `caller`.
Scope Needed(const Principal& caller, const BookingOwnership& b) {
  const std::string me = ActingUserId(caller);
  if (!me.empty() && b.responsible_id == me) return Scope::kOwn;
  for (const std::string& t : caller.team_ids()) {
    if (std::find(b.team_ids.begin(), b.team_ids.end(), t) != b.team_ids.end()) return Scope::kTeam;
  }
  return Scope::kAll;
}

const char* Name(Scope s) {
  switch (s) {
    case Scope::kOwn:
      return "own";
    case Scope::kTeam:
      return "team";
    default:
      return "all";
  }
}

}  // namespace

absl::Status RequireRealtyRead(const Principal& caller) {
  if (rpc::HasPermission(caller, kRealtyRead) || rpc::HasPermission(caller, kRealtyManage))
    return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("missing permission ", kRealtyRead));
}

absl::Status RequireRealtyManage(const Principal& caller) {
  return rpc::RequirePermission(caller, kRealtyManage);
}

Scope BookingReadScope(const Principal& caller) {
  return std::max(ScopeOf(caller, "bookings.read."), ScopeOf(caller, "bookings.write."));
}

Scope BookingWriteScope(const Principal& caller) { return ScopeOf(caller, "bookings.write."); }

bool CanReadBooking(const Principal& caller, const BookingOwnership& b) {
  return BookingReadScope(caller) >= Needed(caller, b);
}

absl::Status CheckCanReadBooking(const Principal& caller, const BookingOwnership& b) {
  if (CanReadBooking(caller, b)) return absl::OkStatus();
  return absl::NotFoundError("booking not found");
}

absl::Status CheckCanWriteBooking(const Principal& caller, const BookingOwnership& b) {
  const Scope needed = Needed(caller, b);
  if (BookingReadScope(caller) < needed) return absl::NotFoundError("booking not found");
  if (BookingWriteScope(caller) >= needed) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("missing permission bookings.write.", Name(needed)));
}

}  // namespace crm::deals::realty
