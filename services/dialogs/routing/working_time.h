// File: services/dialogs/routing/working_time.h
// -----------------------------------------------------------------------------
// Working time of a bot (T6 answer timeouts, T8 metrics), PURE (table test: working_time_test.cc): only
// the time inside the bot's week schedule (hours.h: minutes in the company's zone) on days that are not
// the calendar's holidays counts. An empty schedule is always open: working time = wall time.
#ifndef CRM_SERVICES_DIALOGS_ROUTING_WORKING_TIME_H_
#define CRM_SERVICES_DIALOGS_ROUTING_WORKING_TIME_H_

#include <cstdint>

#include "absl/time/time.h"
#include "services/dialogs/hours.h"

namespace crm::dialogs::routing {

// Whole working seconds in [a, b); 0 when b <= a.
int64_t WorkingSeconds(const WeekHours& week, const crm::calendar::WorkingCalendar& calendar, absl::Time a,
                       absl::Time b);

// The instant when `d` of working time has passed since `from` (`from` itself when d <= 0 — even out of
// hours); InfiniteFuture when the schedule has no working minute within two years.
absl::Time AddWorkingTime(const WeekHours& week, const crm::calendar::WorkingCalendar& calendar, absl::Time from,
                          absl::Duration d);

}  // namespace crm::dialogs::routing

#endif  // CRM_SERVICES_DIALOGS_ROUTING_WORKING_TIME_H_
