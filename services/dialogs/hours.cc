// File: services/dialogs/hours.cc
#include "services/dialogs/hours.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/base/strings.h"
#include "libs/calendar/calendar.h"

namespace crm::dialogs {
namespace {

// How far `next` looks: beyond any run of holidays a production calendar has.
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

}  // namespace

bool InWorkingHours(const WeekHours& week, const crm::calendar::WorkingCalendar& calendar, absl::Time t,
                    absl::Time* next) {
  if (next != nullptr) *next = t;
  if (week.empty()) return true;
  const absl::TimeZone zone = calendar.zone();
  const absl::CivilSecond local = absl::ToCivilSecond(t, zone);
  const absl::CivilDay today(local);
  const int minute = local.hour() * 60 + local.minute();
  if (!calendar.spec().holidays.contains(today)) {
    const int weekday = WeekdayNumber(today);
    for (const auto& h : week) {
      if (h.weekday() == weekday && h.start_minute() <= minute && minute < h.end_minute()) return true;
    }
  }
  if (next == nullptr) return false;
  *next = absl::InfiniteFuture();
  for (int k = 0; k <= kHorizonDays; ++k) {
    const absl::CivilDay day = today + k;
    if (calendar.spec().holidays.contains(day)) continue;
    const int weekday = WeekdayNumber(day);
    int earliest = 1440;
    for (const auto& h : week) {
      if (h.weekday() != weekday || (k == 0 && h.start_minute() <= minute)) continue;
      earliest = std::min(earliest, h.start_minute());
    }
    if (earliest < 1440) {
      *next = absl::FromCivil(absl::CivilMinute(day) + earliest, zone);
      return false;
    }
  }
  return false;
}

void ValidateWorkingHours(const WeekHours& week, std::string_view prefix, std::vector<crm::FieldViolation>& bad) {
  std::map<int, std::vector<std::pair<int, int>>> days;
  for (int i = 0; i < week.size(); ++i) {
    const auto& h = week.Get(i);
    const std::string at = absl::StrCat(crm::AsAbsl(prefix), "[", i, "]");
    bool ok = true;
    if (h.weekday() < 1 || h.weekday() > 7) {
      bad.push_back({at + ".weekday", "1 (Monday) .. 7 (Sunday)"});
      ok = false;
    }
    if (h.start_minute() < 0 || h.start_minute() > 1439) {
      bad.push_back({at + ".start_minute", "0..1439"});
      ok = false;
    }
    if (h.end_minute() <= h.start_minute() || h.end_minute() > 1440) {
      bad.push_back({at + ".end_minute", "after start_minute, at most 1440"});
      ok = false;
    }
    if (!ok) continue;
    for (const auto& [b, e] : days[h.weekday()]) {
      if (h.start_minute() < e && b < h.end_minute()) {
        bad.push_back({at, "overlaps another interval of the same weekday"});
        break;
      }
    }
    days[h.weekday()].push_back({h.start_minute(), h.end_minute()});
  }
}

}  // namespace crm::dialogs
