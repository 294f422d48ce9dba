// File: services/deals/realty/access.cc
#include "services/deals/realty/access.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "libs/rpc/call.h"

namespace crm::deals::realty {

using crm::common::v1::Principal;


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
  return BookingReadScope(caller) >= NeededScope(caller, b.responsible_id, b.team_ids);
}

absl::Status CheckCanReadBooking(const Principal& caller, const BookingOwnership& b) {
  if (CanReadBooking(caller, b)) return absl::OkStatus();
  return absl::NotFoundError("booking not found");
}

absl::Status CheckCanWriteBooking(const Principal& caller, const BookingOwnership& b) {
  const Scope needed = NeededScope(caller, b.responsible_id, b.team_ids);
  if (BookingReadScope(caller) < needed) return absl::NotFoundError("booking not found");
  if (BookingWriteScope(caller) >= needed) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("missing permission bookings.write.", ScopeName(needed)));
}

}  // namespace crm::deals::realty
