// File: services/deals/realty/demo.h
// -----------------------------------------------------------------------------
// Demo real estate (D14) for `tools/crm up` (crm-deals demo): the project «ЖК Северный парк» with two
// buildings — «Корпус 1» (4 sections × 12 floors × 4 places: flats, commerce on the ground floor of
// section 1) and «Корпус 2» (3 sections, a parking and storage level -1 and 9 floors of flats) — 312
// units with prices, discounts, special offers, a right holder and every status; four demo clients and
// their paid bookings (one unit with a queue of two), so the chessboard is live. Loaded through the
// import (upsert by fixed external ids) and the booking store: running it again changes nothing, and
// bookings that expired since are made again. The bookings' responsible is kDemoBookingManagerId, a
// demo user id no sign-in has: the head of sales (bookings.read.all) sees them.
#ifndef CRM_SERVICES_DEALS_REALTY_DEMO_H_
#define CRM_SERVICES_DEALS_REALTY_DEMO_H_

#include "absl/status/status.h"

namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::deals::realty {

inline constexpr char kDemoProjectExternalId[] = "demo-severny-park";
inline constexpr char kDemoBuilding1ExternalId[] = "demo-severny-park-k1";
inline constexpr char kDemoBuilding2ExternalId[] = "demo-severny-park-k2";
inline constexpr char kDemoBookingManagerId[] = "01930000-0100-7000-8000-0000000000aa";

// Loads what is missing of the demo (see the file comment); the first error otherwise.
absl::Status LoadDemoRealty(crm::pg::Pool& pool);

}  // namespace crm::deals::realty

#endif  // CRM_SERVICES_DEALS_REALTY_DEMO_H_
