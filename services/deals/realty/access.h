// File: services/deals/realty/access.h
// -----------------------------------------------------------------------------
// Who may read and change the real-estate side (D14), decided from the caller's Principal alone:
//   realty.read                   read the inventory, the chessboard, matching, the unit list, prices;
//   realty.manage                 also change it (projects, buildings, units, statuses, the bulk import);
//   bookings.read.{own,team,all}  see bookings as deals are seen (services/deals/access.h): one's own
//                                 (responsible = caller), those of one's teams, all;
//   bookings.write.{own,team,all} make and release them in that scope (write implies read).
// A booking the caller may not see is NOT_FOUND "booking not found"; one they see but may not change is
// PERMISSION_DENIED naming the narrowest permission that would allow it.
//
// Example:
//   CRM_RETURN_IF_ERROR(RequireRealtyRead(caller));
//   CRM_RETURN_IF_ERROR(CheckCanWriteBooking(caller, {row.responsible_id, row.team_ids}));
#ifndef CRM_SERVICES_DEALS_REALTY_ACCESS_H_
#define CRM_SERVICES_DEALS_REALTY_ACCESS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "crm/common/v1/common.pb.h"
#include "services/deals/access.h"

namespace crm::deals::realty {

inline constexpr char kRealtyRead[] = "realty.read";
inline constexpr char kRealtyManage[] = "realty.manage";

// OK with realty.read or realty.manage, else PermissionDenied "missing permission realty.read".
absl::Status RequireRealtyRead(const crm::common::v1::Principal& caller);
// OK with realty.manage, else PermissionDenied "missing permission realty.manage".
absl::Status RequireRealtyManage(const crm::common::v1::Principal& caller);

// The widest scope the caller reads bookings in (bookings.read.* or bookings.write.*) and changes them in.
Scope BookingReadScope(const crm::common::v1::Principal& caller);
Scope BookingWriteScope(const crm::common::v1::Principal& caller);

// What access to one booking depends on: its responsible and the teams it was made in.
using BookingOwnership = DealOwnership;

// Whether `caller` may see the booking (no error: the chessboard shows the client only then).
bool CanReadBooking(const crm::common::v1::Principal& caller, const BookingOwnership& booking);
// OK if `caller` may see the booking; NotFound "booking not found" otherwise.
absl::Status CheckCanReadBooking(const crm::common::v1::Principal& caller, const BookingOwnership& booking);
// OK if `caller` may change it; NotFound when they may not see it; PermissionDenied "missing permission
// bookings.write.<scope>" when they see but may not change it.
absl::Status CheckCanWriteBooking(const crm::common::v1::Principal& caller, const BookingOwnership& booking);

}  // namespace crm::deals::realty

#endif  // CRM_SERVICES_DEALS_REALTY_ACCESS_H_
