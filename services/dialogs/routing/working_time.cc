// File: services/dialogs/routing/working_time.cc
#include "services/dialogs/routing/working_time.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "libs/calendar/calendar.h"

namespace crm::dialogs::routing {
namespace {

constexpr int kHorizonDays = 2 * 366;

int WeekdayNumber(absl::CivilDay day) {
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
}

// The day's working intervals as instants, in order.
std::vector<std::pair<absl::Time, absl::Time>> Intervals(const WeekHours& week,
                                                         const crm::calendar::WorkingCalendar& calendar,
                                                         absl::CivilDay day) {
  std::vector<std::pair<absl::Time, absl::Time>> out;
  if (calendar.spec().holidays.contains(day)) return out;
  const int weekday = WeekdayNumber(day);
  for (const auto& h : week) {
    if (h.weekday() != weekday || h.end_minute() <= h.start_minute()) continue;
    out.emplace_back(absl::FromCivil(absl::CivilMinute(day) + h.start_minute(), calendar.zone()),
                     absl::FromCivil(absl::CivilMinute(day) + h.end_minute(), calendar.zone()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int64_t WorkingSeconds(const WeekHours& week, const crm::calendar::WorkingCalendar& calendar, absl::Time a,
                       absl::Time b) {
  if (b <= a) return 0;
  if (week.empty()) return absl::ToInt64Seconds(b - a);
  const absl::CivilDay first(absl::ToCivilDay(a, calendar.zone()));
  const absl::CivilDay last(absl::ToCivilDay(b, calendar.zone()));
  absl::Duration total;
  for (absl::CivilDay day = first; day <= last; ++day) {
    for (const auto& [start, end] : Intervals(week, calendar, day)) {
      const absl::Time s = std::max(start, a);
      const absl::Time e = std::min(end, b);
      if (s < e) total += e - s;
    }
  }
  return absl::ToInt64Seconds(total);
}

absl::Time AddWorkingTime(const WeekHours& week, const crm::calendar::WorkingCalendar& calendar, absl::Time from,
                          absl::Duration d) {
  if (d <= absl::ZeroDuration()) return from;
  if (week.empty()) return from + d;
  const absl::CivilDay first(absl::ToCivilDay(from, calendar.zone()));
  absl::Duration left = d;
  for (int k = 0; k <= kHorizonDays; ++k) {
    for (const auto& [start, end] : Intervals(week, calendar, first + k)) {
      const absl::Time s = std::max(start, from);
      if (s >= end) continue;
      if (end - s >= left) return s + left;
      left -= end - s;
    }
  }
  return absl::InfiniteFuture();
}

}  // namespace crm::dialogs::routing
