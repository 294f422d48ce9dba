// File: services/deals/interactions/demo.h
// -----------------------------------------------------------------------------
// Demo requests and interactions (D15, D16) for `tools/crm up` (crm-deals demo, after the demo
// pipelines): six demo clients of seed 004's calendar (Юлия, Зита, Кристина, Заира, Иван, Олег), one
// request each in the demo project, the slot calendar «Офис продаж» (09:00–21:00 by the hour, two
// meetings a slot, every day), and for each client a finished primary call with its decode, and today's
// calls and meetings — planned, booked into slots ("14:00 - (2/2)(Онлайн ПЗ:Юлия)(ПЗ:Зита)"), done and
// overdue — so «Задачи на сегодня» and the calendar are alive.
//
// Everything goes through the stores (events, slots, primacy and stages as in production) and is keyed
// so loading again adds nothing: clients and the calendar by fixed ids, requests by (client, project),
// interactions by UpsertInteraction's (source "demo", external id). The responsible is a user of deals'
// directory (identity's demo users, once their events arrived; the first with a team), else the fixed
// kDemoResponsibleId. The project is kDemoProjectId — realty's demo project (services/deals/realty): the
// two must name the same id (README "Left open").
//
// Example:
//   CRM_RETURN_IF_ERROR(crm::deals::interactions::LoadDemoInteractions(*pool, zone, crm::SystemClock()));
#ifndef CRM_SERVICES_DEALS_INTERACTIONS_DEMO_H_
#define CRM_SERVICES_DEALS_INTERACTIONS_DEMO_H_

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace crm {
class Clock;
namespace pg {
class Pool;
}  // namespace pg
}  // namespace crm

namespace crm::deals::interactions {

inline constexpr char kDemoProjectId[] = "01930000-0014-7000-8000-000000000001";
inline constexpr char kDemoCalendarId[] = "01930000-0016-7000-8000-000000000001";
inline constexpr char kDemoResponsibleId[] = "01930000-0016-7000-8000-0000000000ff";

// Loads the demo data (see the file comment); safe to run again.
absl::Status LoadDemoInteractions(pg::Pool& pool, absl::TimeZone zone, const Clock& clock);

}  // namespace crm::deals::interactions

#endif  // CRM_SERVICES_DEALS_INTERACTIONS_DEMO_H_
