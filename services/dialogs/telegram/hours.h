// File: services/dialogs/telegram/hours.h
// -----------------------------------------------------------------------------
// A bot's working hours (T1): its week schedule (crm.dialogs.v1.DayHours, minutes in the company's zone)
// closed on the production calendar's holidays (libs/calendar). Pure: the inbox asks it for each client
// message and sends the bot's out-of-hours text when it says no.
#ifndef CRM_SERVICES_DIALOGS_TELEGRAM_HOURS_H_
#define CRM_SERVICES_DIALOGS_TELEGRAM_HOURS_H_

#include <vector>

#include "absl/time/time.h"
#include "crm/dialogs/v1/bots.pb.h"
#include "libs/base/status.h"

namespace crm::calendar {
class WorkingCalendar;
}  // namespace crm::calendar

namespace crm::dialogs::telegram {

// Whether `t` is within `bot`'s working hours: an empty schedule is always open; a holiday of
// `calendar` is closed; else open iff some entry of t's weekday (in calendar.zone()) holds t's minute.
bool InWorkingHours(const crm::dialogs::v1::Bot& bot, const crm::calendar::WorkingCalendar& calendar, absl::Time t);

// The schedule's violations, paths under `prefix` ("bot.working_hours[2].end_minute").
void ValidateWorkingHours(const crm::dialogs::v1::Bot& bot, std::vector<crm::FieldViolation>& bad);

}  // namespace crm::dialogs::telegram

#endif  // CRM_SERVICES_DIALOGS_TELEGRAM_HOURS_H_
