// File: libs/calendar/calendar.h
// -----------------------------------------------------------------------------
// A company's working calendar: which local hours are working time, in its own time zone. Robots use it
// for SLAs ("in 4 working hours", "in 2 working days"), deals for deadlines, dialogs for the
// out-of-hours reply. It models the Russian production calendar: a weekly schedule (usually Mon-Fri
// 09:00-18:00), public holidays, and per-date overrides for transferred working days (a Saturday that is
// worked) and shortened pre-holiday days (09:00-17:00).
//
// Every question is about instants (absl::Time); the calendar turns them into local wall time of its
// zone, so daylight-saving changes (e.g. Europe/Moscow before 2011) are handled: a working interval that
// spans a clock change is as long as the real time that passes. Wall times that do not exist (skipped by
// a clock change) map to the instant of the change; repeated ones to their first occurrence.
//
// For a day, its override wins if present, else it is a holiday (no hours), else the weekly schedule
// applies. Searches are bounded: the longest possible run of days off is finite (holidays and overrides
// are finite and at least one weekday works), and answers more than 200 years out are reported as
// absl::InfiniteFuture() / absl::InfiniteDuration().
//
// Example:
//   CRM_ASSIGN_OR_RETURN(absl::TimeZone msk, crm::LoadTimeZone("Europe/Moscow"));
//   crm::calendar::CalendarSpec spec = crm::calendar::WorkingCalendar::FiveDay(msk).spec();
//   CRM_ASSIGN_OR_RETURN(spec.holidays, crm::calendar::WorkingCalendar::ParseDays("2026-01-01,2026-01-02"));
//   spec.overrides[absl::CivilDay(2025, 11, 1)] = {{9 * 60, 17 * 60}};  // worked, shortened Saturday
//   CRM_ASSIGN_OR_RETURN(crm::calendar::WorkingCalendar cal,
//                        crm::calendar::WorkingCalendar::Create(std::move(spec)));
//   absl::Time due = cal.AddWorkingTime(created_at, absl::Hours(4));
//   absl::Time check = cal.At(absl::CivilDay(2026, 11, 24), 19, 0);      // "the 19:00 check"
#ifndef CRM_LIBS_CALENDAR_CALENDAR_H_
#define CRM_LIBS_CALENDAR_CALENDAR_H_

#include <array>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace crm::calendar {

// Local minutes from midnight, half-open [begin, end), within 0..1440 (1440 = the next midnight).
struct Interval {
  int begin_minute;
  int end_minute;
};

// The raw description of a calendar; WorkingCalendar::Create() validates it.
struct CalendarSpec {
  absl::TimeZone zone;
  std::array<std::vector<Interval>, 7> week;     // index 0 = Monday … 6 = Sunday; sorted, non-overlapping
  absl::flat_hash_set<absl::CivilDay> holidays;  // non-working days
  absl::flat_hash_map<absl::CivilDay, std::vector<Interval>> overrides;  // a day's own hours (may be empty)
};

// An immutable, validated calendar. Copyable; all methods are const and thread-safe.
class WorkingCalendar {
 public:
  // Validates `spec`: every interval has 0 <= begin < end <= 1440, each day's intervals are sorted and
  // do not overlap, at least one weekday has hours, and no date is both a holiday and an override.
  // InvalidArgument listing every problem, each naming its weekday ("Monday") or date ("2026-01-01").
  static absl::StatusOr<WorkingCalendar> Create(CalendarSpec spec);

  // Mon–Fri 09:00–18:00 in `zone`, no holidays.
  static WorkingCalendar FiveDay(absl::TimeZone zone);

  // Mon–Fri 09:00–18:00 in the IANA zone `zone_name` with the holidays of `holidays_csv` (ParseDays):
  // what a service's TIME_ZONE and HOLIDAYS settings describe. InvalidArgument for an unknown zone or
  // a bad date.
  static absl::StatusOr<WorkingCalendar> FiveDay(std::string_view zone_name, std::string_view holidays_csv);

  // Parses comma-separated YYYY-MM-DD dates ("2026-01-01, 2026-01-02"); blanks around items and empty
  // items are ignored. InvalidArgument naming the first bad item (malformed or non-existent date).
  static absl::StatusOr<absl::flat_hash_set<absl::CivilDay>> ParseDays(std::string_view csv);

  // True if `day` has any working hours.
  bool IsWorkingDay(absl::CivilDay day) const;

  // True if `t` falls inside a working interval (begin inclusive, end exclusive).
  bool IsWorkingTime(absl::Time t) const;

  // The earliest working instant >= t: t itself when inside working time.
  absl::Time NextWorkingTime(absl::Time t) const;

  // The instant at which `d` of working time has elapsed since `from`, counting only working time.
  // Ends exactly at the end of an interval when the time runs out there (Fri 16:00 + 2h = Fri 18:00).
  // A zero or negative `d` gives NextWorkingTime(from).
  absl::Time AddWorkingTime(absl::Time from, absl::Duration d) const;

  // The same local wall-clock time as `from` on the `days`-th working day after from's local day,
  // moved to NextWorkingTime() if that is outside working hours. `days` <= 0 gives NextWorkingTime(from).
  absl::Time AddWorkingDays(absl::Time from, int days) const;

  // Working time within [a, b); zero if b <= a.
  absl::Duration WorkingTimeBetween(absl::Time a, absl::Time b) const;

  // The instant of local wall time hour:minute on `day` in the calendar's zone (out-of-range hour or
  // minute values normalise, e.g. 24:00 is the next midnight).
  absl::Time At(absl::CivilDay day, int hour, int minute) const;

  // The calendar's time zone.
  const absl::TimeZone& zone() const { return spec_.zone; }

  // The validated description (e.g. to derive a variant: copy, edit, Create()).
  const CalendarSpec& spec() const { return spec_; }

 private:
  explicit WorkingCalendar(CalendarSpec spec);
  // The hours of `day`: its override, nothing for a holiday, else the weekly schedule.
  const std::vector<Interval>& HoursOn(absl::CivilDay day) const;

  CalendarSpec spec_;
  int64_t max_days_off_;  // an upper bound on consecutive days without working hours
};

}  // namespace crm::calendar

#endif  // CRM_LIBS_CALENDAR_CALENDAR_H_
