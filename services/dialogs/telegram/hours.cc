#include "services/dialogs/telegram/hours.h"

#include "absl/strings/str_cat.h"
#include "libs/calendar/calendar.h"

namespace crm::dialogs::telegram {

bool InWorkingHours(const crm::dialogs::v1::Bot& bot, const crm::calendar::WorkingCalendar& calendar, absl::Time t) {
  if (bot.working_hours().empty()) return true;
  const absl::CivilSecond local = absl::ToCivilSecond(t, calendar.zone());
  const absl::CivilDay day(local);
  if (calendar.spec().holidays.contains(day)) return false;
  const int weekday = [&] {
    switch (absl::GetWeekday(day)) {
      case absl::Weekday::monday: return 1;
      case absl::Weekday::tuesday: return 2;
      case absl::Weekday::wednesday: return 3;
      case absl::Weekday::thursday: return 4;
      case absl::Weekday::friday: return 5;
      case absl::Weekday::saturday: return 6;
      case absl::Weekday::sunday: return 7;
    }
    return 0;
  }();
  const int minute = local.hour() * 60 + local.minute();
  for (const auto& h : bot.working_hours()) {
    if (h.weekday() == weekday && h.start_minute() <= minute && minute < h.end_minute()) return true;
  }
  return false;
}

void ValidateWorkingHours(const crm::dialogs::v1::Bot& bot, std::vector<crm::FieldViolation>& bad) {
  for (int i = 0; i < bot.working_hours_size(); ++i) {
    const auto& h = bot.working_hours(i);
    const std::string at = absl::StrCat("bot.working_hours[", i, "]");
    if (h.weekday() < 1 || h.weekday() > 7) bad.push_back({at + ".weekday", "1 (Monday) .. 7 (Sunday)"});
    if (h.start_minute() < 0 || h.start_minute() > 1439) bad.push_back({at + ".start_minute", "0..1439"});
    if (h.end_minute() <= h.start_minute() || h.end_minute() > 1440) {
      bad.push_back({at + ".end_minute", "after start_minute, at most 1440"});
    }
  }
}

}  // namespace crm::dialogs::telegram
