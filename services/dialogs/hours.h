// File: services/dialogs/hours.h
// -----------------------------------------------------------------------------
// A bot's working hours (T1, T4): its week schedule (crm.dialogs.v1.DayHours, minutes in the company's
// zone) closed on the production calendar's holidays (libs/calendar), and the out-of-hours text. The
// hours and the text are the BOT's (telegram/bots.h stores them); the scenario runner reads them through
// a BotHoursProvider set at wiring. Pure: table tests in hours_test.cc.
//
//   absl::Time next;
//   if (!InWorkingHours(bot.working_hours(), calendar, now, &next)) { /* the text; routing waits for next */ }
#ifndef CRM_SERVICES_DIALOGS_HOURS_H_
#define CRM_SERVICES_DIALOGS_HOURS_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crm/dialogs/v1/hours.pb.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "libs/base/status.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm::calendar {
class WorkingCalendar;
}  // namespace crm::calendar

namespace crm::dialogs {

using WeekHours = google::protobuf::RepeatedPtrField<crm::dialogs::v1::DayHours>;

// Whether `t` is within `week`: an empty schedule is always open; a holiday of `calendar` is closed; else
// open iff some entry of t's weekday (in calendar.zone()) holds t's minute. `next` (when given) gets `t`
// when open, else the start of the next working interval (InfiniteFuture when none within two years).
bool InWorkingHours(const WeekHours& week, const crm::calendar::WorkingCalendar& calendar, absl::Time t,
                    absl::Time* next = nullptr);

// Every violation of `week`, paths under `prefix` ("bot.working_hours[2].end_minute"): weekday 1..7,
// start_minute 0..1439, end_minute after start_minute and at most 1440, no overlap within a weekday.
void ValidateWorkingHours(const WeekHours& week, std::string_view prefix, std::vector<crm::FieldViolation>& bad);

// What the scenario runner needs of a bot.
struct BotHours {
  WeekHours working_hours;        // empty = always working
  std::string out_of_hours_text;  // "" = no notice
};

// A bot's hours read in the caller's transaction; an unknown bot has empty BotHours (always working).
using BotHoursProvider =
    std::function<absl::StatusOr<BotHours>(pqxx::transaction_base& tx, std::string_view bot_id)>;

}  // namespace crm::dialogs

#endif  // CRM_SERVICES_DIALOGS_HOURS_H_
