// File: services/deals/applications/demo.h
// -----------------------------------------------------------------------------
// Demo deal applications (D15 second half) for `tools/crm up` (crm-deals demo, after the realty and
// interactions demos): three marketing campaigns (fixed ids) and an application for each of the first
// two demo requests of the demo project — one paid in full, one with a MORTGAGE payment kind, a bank
// and own funds — each on an available unit of the project with a schedule summing to its price. Made
// through the store (events as in production); a request that has an application already gets none.
#ifndef CRM_SERVICES_DEALS_APPLICATIONS_DEMO_H_
#define CRM_SERVICES_DEALS_APPLICATIONS_DEMO_H_

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace crm {
class Clock;
namespace pg {
class Pool;
}  // namespace pg
}  // namespace crm

namespace crm::deals::applications {

inline constexpr char kDemoCampaignId[] = "01930000-0015-7000-8000-0000000000c1";
// The demo mortgage bank (mortgage's demo data names its banks; a plain id here).
inline constexpr char kDemoBankId[] = "01900000-0000-7000-8000-000000000014";  // Сбербанк

absl::Status LoadDemoApplications(pg::Pool& pool, absl::TimeZone zone, const Clock& clock);

}  // namespace crm::deals::applications

#endif  // CRM_SERVICES_DEALS_APPLICATIONS_DEMO_H_
