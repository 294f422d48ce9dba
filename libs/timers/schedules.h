// File: libs/timers/schedules.h
// -----------------------------------------------------------------------------
// Cron-like schedules on top of durable timers (R10): "every working day at 19:00" (R5's end-of-day
// check), "every day at 09:30", "weekly on monday at 10:00" (R6's conversion watch), as wall time in an
// IANA time zone, with working days from a named working calendar.
//
// Each enabled schedule has exactly one "next occurrence", held as a timer with key
// "schedule:<schedule id>:<occurrence Unix seconds>" and the schedule's kind and payload. The key makes
// the timer unique: any number of replicas materializing at once create ONE timer per occurrence, and an
// occurrence fires once. When it fires (through a handler wrapped by Wrap()), the next occurrence after
// the firing time is computed and its timer created in the same transaction. Occurrences missed while no
// replica ran collapse into one late firing; the next after that is on time.
//
// Example:
//   crm::timers::ScheduleStore schedules(*pool, clock, [&](std::string_view name) {
//     return calendars.Get(name);                       // -> StatusOr<crm::calendar::WorkingCalendar>
//   });
//   CRM_RETURN_IF_ERROR(crm::pg::InTransaction(*pool, [&](pqxx::work& tx) -> absl::Status {
//     return schedules.Put(tx, {.key = "org:1:end-of-day", .spec = "every working day at 19:00",
//                               .time_zone = "Europe/Moscow", .calendar = "ru-production",
//                               .kind = "robots.end_of_day"}).status();
//   }));
//   crm::timers::TimerLoop loop(timers, schedules.Wrap(handler),
//                               {.before_pass = [&] { return schedules.Materialize().status(); }});
#ifndef CRM_LIBS_TIMERS_SCHEDULES_H_
#define CRM_LIBS_TIMERS_SCHEDULES_H_

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "libs/timers/timers.h"

namespace crm::calendar {
class WorkingCalendar;
}  // namespace crm::calendar

namespace crm::timers {

// A parsed schedule spec. Grammar (case-insensitive, single spaces or more between words):
//   every day at HH:MM
//   every working day at HH:MM           (days with working hours in the schedule's calendar)
//   weekly on <weekday> at HH:MM         (monday … sunday, or mon … sun)
struct ScheduleSpec {
  enum class Days { kEveryDay, kWorkingDays, kWeekly };
  Days days = Days::kEveryDay;
  absl::Weekday weekday = absl::Weekday::monday;  // kWeekly only
  int hour = 0;                                   // 0..23
  int minute = 0;                                 // 0..59
};

// Parses `text`. InvalidArgument quoting the spec and naming the problem (unknown form, bad weekday,
// time not HH:MM, hour or minute out of range).
absl::StatusOr<ScheduleSpec> ParseScheduleSpec(std::string_view text);

// The first occurrence strictly after `after`: the wall time hour:minute in `zone` on the first matching
// local day. A wall time skipped by a clock change maps to the instant of the change, a repeated one to
// its first occurrence. `calendar` is required for kWorkingDays (only its IsWorkingDay is used; the zone
// is `zone`). absl::InfiniteFuture() if no matching day comes within 20 years.
absl::Time NextOccurrence(const ScheduleSpec& spec, absl::Time after, const absl::TimeZone& zone,
                          const calendar::WorkingCalendar* calendar);

// What Put() stores.
struct ScheduleDef {
  std::string key;        // the caller's unique name for the schedule
  std::string spec;       // see ParseScheduleSpec
  std::string time_zone;  // IANA name, e.g. "Europe/Moscow"
  std::string calendar;   // working calendar name, "" for none (then "every working day" is rejected)
  std::string kind;       // kind of the occurrence timers (what the handler runs)
  std::string payload;    // payload of the occurrence timers
  bool enabled = true;
};

// Resolves a working calendar by name (NotFound if unknown).
using CalendarResolver = std::function<absl::StatusOr<calendar::WorkingCalendar>(std::string_view name)>;

// The prefix of every occurrence timer's key.
inline constexpr char kScheduleKeyPrefix[] = "schedule:";

// Schedules in one database (the same one as the TimerStore's). Thread-safe.
class ScheduleStore {
 public:
  // `pool`, `clock` must outlive the store; `calendars` is called for schedules with a calendar.
  ScheduleStore(pg::Pool& pool, const Clock& clock, CalendarResolver calendars);

  // Creates or replaces (by key) a schedule in the caller's transaction and returns its id. Its next
  // occurrence after clock.Now() gets its timer in the same transaction (none when disabled). When the
  // spec, zone, calendar, kind, payload or enabled flag change, the version goes up and the previous
  // occurrence's pending timer is cancelled (if another transaction holds it, it fires as a no-op).
  // InvalidArgument for an empty key/kind, a bad spec or zone, or "every working day" without a
  // calendar; the resolver's error for an unknown calendar.
  absl::StatusOr<std::string> Put(pqxx::transaction_base& tx, const ScheduleDef& def);

  // Ensures every enabled schedule's next occurrence has its timer (a no-op for those that do), in one
  // transaction of its own. Safe to run on every replica at once. Returns how many timers it created.
  absl::StatusOr<int> Materialize();

  // A handler for TimerLoop / FireDue: timers whose key starts with "schedule:" are occurrences. For one
  // that is still its schedule's current occurrence, `inner` runs and then, in the same transaction and
  // savepoint, the schedule moves to its next occurrence after max(occurrence, now) and that timer is
  // created. A stale occurrence (schedule changed, disabled or deleted) fires as a no-op without `inner`.
  // Other timers go to `inner` unchanged. The store must outlive the returned handler.
  TimerHandler Wrap(TimerHandler inner);

 private:
  absl::StatusOr<absl::Time> Next(const std::string& spec, const std::string& zone,
                                  const std::string& calendar, absl::Time after) const;

  pg::Pool& pool_;
  const Clock& clock_;
  CalendarResolver calendars_;
};

// The key of a schedule's occurrence timer: "schedule:<id>:<Unix seconds of occurrence>".
std::string OccurrenceKey(std::string_view schedule_id, absl::Time occurrence);

}  // namespace crm::timers

#endif  // CRM_LIBS_TIMERS_SCHEDULES_H_
