#include "libs/calendar/calendar.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"

namespace crm::calendar {
namespace {

constexpr int kMinutesPerDay = 24 * 60;
// Searches stop this many days out (about 200 years) and report "never".
constexpr int64_t kHorizonDays = 200 * 366;

constexpr std::string_view kWeekdayNames[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                               "Friday", "Saturday", "Sunday"};

const std::vector<Interval> kNoHours;

// An absolute working span [begin, end).
struct Span {
  absl::Time begin;
  absl::Time end;
};

std::string Hhmm(int minute) { return absl::StrFormat("%02d:%02d", minute / 60, minute % 60); }

// Appends a problem for each bad interval of one day's hours; `what` names the day.
void CheckIntervals(const std::vector<Interval>& hours, std::string_view what,
                    std::vector<std::string>* errors) {
  for (size_t i = 0; i < hours.size(); ++i) {
    const Interval& iv = hours[i];
    if (iv.begin_minute < 0 || iv.end_minute > kMinutesPerDay || iv.begin_minute >= iv.end_minute) {
      errors->push_back(absl::StrCat(AsAbsl(what), ": interval [", iv.begin_minute, ", ", iv.end_minute,
                                     ") must satisfy 0 <= begin < end <= 1440"));
    } else if (i > 0 && hours[i - 1].end_minute > iv.begin_minute) {
      errors->push_back(absl::StrCat(AsAbsl(what), ": interval ", Hhmm(iv.begin_minute), "-",
                                     Hhmm(iv.end_minute), " is out of order or overlaps the one before"));
    }
  }
}

int WeekdayIndex(absl::CivilDay day) { return static_cast<int>(absl::GetWeekday(day)); }

absl::Time LocalMinute(absl::CivilDay day, int minute, const absl::TimeZone& zone) {
  // FromCivil maps a skipped wall time to the transition and a repeated one to its first occurrence,
  // so it never decreases as the wall time increases.
  return absl::FromCivil(absl::CivilSecond(day) + int64_t{minute} * 60, zone);
}

}  // namespace

WorkingCalendar::WorkingCalendar(CalendarSpec spec)
    : spec_(std::move(spec)),
      max_days_off_(static_cast<int64_t>(spec_.holidays.size() + spec_.overrides.size()) + 8) {}

absl::StatusOr<WorkingCalendar> WorkingCalendar::Create(CalendarSpec spec) {
  std::vector<std::string> errors;
  bool any_working_weekday = false;
  for (int d = 0; d < 7; ++d) {
    CheckIntervals(spec.week[d], kWeekdayNames[d], &errors);
    any_working_weekday |= !spec.week[d].empty();
  }
  if (!any_working_weekday) errors.push_back("week: no weekday has working hours");

  std::vector<absl::CivilDay> override_days;
  for (const auto& [day, hours] : spec.overrides) override_days.push_back(day);
  std::sort(override_days.begin(), override_days.end());
  for (absl::CivilDay day : override_days) {
    const std::string name = absl::FormatCivilTime(day);
    CheckIntervals(spec.overrides.at(day), name, &errors);
    if (spec.holidays.contains(day)) {
      errors.push_back(absl::StrCat(name, ": both a holiday and an override; keep one"));
    }
  }
  if (!errors.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid working calendar: ", absl::StrJoin(errors, "; ")));
  }
  return WorkingCalendar(std::move(spec));
}

WorkingCalendar WorkingCalendar::FiveDay(absl::TimeZone zone) {
  CalendarSpec spec;
  spec.zone = zone;
  for (int d = 0; d < 5; ++d) spec.week[d] = {{9 * 60, 18 * 60}};
  return WorkingCalendar(std::move(spec));
}

absl::StatusOr<WorkingCalendar> WorkingCalendar::FiveDay(std::string_view zone_name,
                                                         std::string_view holidays_csv) {
  CRM_ASSIGN_OR_RETURN(absl::TimeZone zone, LoadTimeZone(zone_name));
  CalendarSpec spec = FiveDay(zone).spec();
  CRM_ASSIGN_OR_RETURN(spec.holidays, ParseDays(holidays_csv));
  return Create(std::move(spec));
}

absl::StatusOr<absl::flat_hash_set<absl::CivilDay>> WorkingCalendar::ParseDays(std::string_view csv) {
  absl::flat_hash_set<absl::CivilDay> days;
  for (absl::string_view item : absl::StrSplit(AsAbsl(csv), ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) continue;
    absl::CivilDay day;
    // ParseCivilTime normalises (2026-02-30 -> 2026-03-02): a round trip rejects such dates.
    if (!absl::ParseCivilTime(item, &day) || absl::FormatCivilTime(day) != item) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid date ", QuoteForError(AsStd(item)), ": want an existing YYYY-MM-DD date"));
    }
    days.insert(day);
  }
  return days;
}

const std::vector<Interval>& WorkingCalendar::HoursOn(absl::CivilDay day) const {
  if (auto it = spec_.overrides.find(day); it != spec_.overrides.end()) return it->second;
  if (spec_.holidays.contains(day)) return kNoHours;
  return spec_.week[WeekdayIndex(day)];
}

bool WorkingCalendar::IsWorkingDay(absl::CivilDay day) const { return !HoursOn(day).empty(); }

absl::Time WorkingCalendar::At(absl::CivilDay day, int hour, int minute) const {
  return absl::FromCivil(absl::CivilMinute(day.year(), day.month(), day.day(), hour, minute), spec_.zone);
}

// Calls f(span) for each working span of `day` in time order; stops early when f returns true.
// Returns true if f did.
template <typename F>
static bool ForEachSpan(const WorkingCalendar& cal, const std::vector<Interval>& hours, absl::CivilDay day,
                        F&& f) {
  for (const Interval& iv : hours) {
    const Span span{LocalMinute(day, iv.begin_minute, cal.zone()),
                    LocalMinute(day, iv.end_minute, cal.zone())};
    if (span.end <= span.begin) continue;  // entirely inside a skipped hour
    if (f(span)) return true;
  }
  return false;
}

bool WorkingCalendar::IsWorkingTime(absl::Time t) const {
  if (t == absl::InfiniteFuture() || t == absl::InfinitePast()) return false;
  const absl::CivilDay today = absl::ToCivilDay(t, spec_.zone);
  for (absl::CivilDay day = today - 1; day <= today + 1; ++day) {
    if (ForEachSpan(*this, HoursOn(day), day, [t](const Span& s) { return s.begin <= t && t < s.end; })) {
      return true;
    }
  }
  return false;
}

absl::Time WorkingCalendar::NextWorkingTime(absl::Time t) const {
  if (t == absl::InfiniteFuture() || t == absl::InfinitePast()) return t;
  absl::CivilDay day = absl::ToCivilDay(t, spec_.zone) - 1;
  absl::Time found = absl::InfiniteFuture();
  for (int64_t k = 0; k < max_days_off_ + 3; ++k, ++day) {
    if (ForEachSpan(*this, HoursOn(day), day, [&](const Span& s) {
          if (s.end <= t) return false;
          found = std::max(s.begin, t);
          return true;
        })) {
      return found;
    }
  }
  return absl::InfiniteFuture();  // unreachable for a validated calendar
}

absl::Time WorkingCalendar::AddWorkingTime(absl::Time from, absl::Duration d) const {
  if (from == absl::InfiniteFuture() || from == absl::InfinitePast()) return from;
  if (d <= absl::ZeroDuration()) return NextWorkingTime(from);
  if (d == absl::InfiniteDuration()) return absl::InfiniteFuture();
  absl::Duration remaining = d;
  absl::Time cursor = from;
  absl::Time result = absl::InfiniteFuture();
  absl::CivilDay day = absl::ToCivilDay(from, spec_.zone) - 1;
  for (int64_t k = 0; k < kHorizonDays + max_days_off_; ++k, ++day) {
    if (ForEachSpan(*this, HoursOn(day), day, [&](const Span& s) {
          if (s.end <= cursor) return false;
          const absl::Time start = std::max(s.begin, cursor);
          const absl::Duration available = s.end - start;
          if (remaining <= available) {
            result = start + remaining;
            return true;
          }
          remaining -= available;
          cursor = s.end;
          return false;
        })) {
      return result;
    }
  }
  return absl::InfiniteFuture();
}

absl::Time WorkingCalendar::AddWorkingDays(absl::Time from, int days) const {
  if (from == absl::InfiniteFuture() || from == absl::InfinitePast()) return from;
  if (days <= 0) return NextWorkingTime(from);
  if (days > kHorizonDays) return absl::InfiniteFuture();
  const absl::CivilSecond local = absl::ToCivilSecond(from, spec_.zone);
  const absl::Duration subsecond = from - absl::FromUnixSeconds(absl::ToUnixSeconds(from));
  absl::CivilDay day(local);
  // Each working day is at most max_days_off_ days after the previous one, so this terminates.
  for (int found = 0; found < days;) {
    ++day;
    if (IsWorkingDay(day)) ++found;
  }
  const absl::CivilSecond target(day.year(), day.month(), day.day(), local.hour(), local.minute(),
                                 local.second());
  return NextWorkingTime(absl::FromCivil(target, spec_.zone) + subsecond);
}

absl::Duration WorkingCalendar::WorkingTimeBetween(absl::Time a, absl::Time b) const {
  if (b <= a) return absl::ZeroDuration();
  if (a == absl::InfinitePast() || b == absl::InfiniteFuture()) return absl::InfiniteDuration();
  const absl::CivilDay first = absl::ToCivilDay(a, spec_.zone) - 1;
  const absl::CivilDay last = absl::ToCivilDay(b, spec_.zone) + 1;
  if (last - first > kHorizonDays) return absl::InfiniteDuration();
  absl::Duration total;
  for (absl::CivilDay day = first; day <= last; ++day) {
    ForEachSpan(*this, HoursOn(day), day, [&](const Span& s) {
      const absl::Time lo = std::max(s.begin, a);
      const absl::Time hi = std::min(s.end, b);
      if (hi > lo) total += hi - lo;
      return false;
    });
  }
  return total;
}

}  // namespace crm::calendar
