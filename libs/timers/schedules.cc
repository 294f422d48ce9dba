#include "libs/timers/schedules.h"

#include <algorithm>
#include <pqxx/pqxx>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/calendar/calendar.h"
#include "libs/pg/pool.h"
#include "libs/pg/sql_time.h"

namespace crm::timers {
namespace {

constexpr char kForms[] =
    "expected \"every day at HH:MM\", \"every working day at HH:MM\" or \"weekly on <weekday> at HH:MM\"";

absl::Status SpecError(std::string_view text, std::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("schedule spec \"", std::string(text), "\": ", std::string(problem)));
}

bool ParseHhMm(std::string_view s, int* hour, int* minute) {
  if (s.size() != 5 || s[2] != ':') return false;
  for (size_t i : {0, 1, 3, 4}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  *hour = (s[0] - '0') * 10 + (s[1] - '0');
  *minute = (s[3] - '0') * 10 + (s[4] - '0');
  return *hour < 24 && *minute < 60;
}

bool ParseWeekday(std::string_view s, absl::Weekday* out) {
  static constexpr std::pair<const char*, absl::Weekday> kDays[] = {
      {"monday", absl::Weekday::monday},       {"tuesday", absl::Weekday::tuesday},
      {"wednesday", absl::Weekday::wednesday}, {"thursday", absl::Weekday::thursday},
      {"friday", absl::Weekday::friday},       {"saturday", absl::Weekday::saturday},
      {"sunday", absl::Weekday::sunday}};
  for (const auto& [name, day] : kDays) {
    const std::string_view full(name);
    if (s == full || s == full.substr(0, 3)) {
      *out = day;
      return true;
    }
  }
  return false;
}

std::string TimeParam(int n) { return pg::TimeOfMicros(n); }
constexpr char kNextMicros[] = "(extract(epoch FROM next_time) * 1000000)::bigint";

// Exceptions after which the transaction itself is gone.
bool EndsTransaction(const std::exception& e) {
  return dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
         dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr;
}

}  // namespace

absl::StatusOr<ScheduleSpec> ParseScheduleSpec(std::string_view text) {
  const std::string lower = absl::AsciiStrToLower(AsAbsl(text));
  std::vector<std::string> w = absl::StrSplit(lower, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  ScheduleSpec spec;
  std::string time;
  if (w.size() == 4 && w[0] == "every" && w[1] == "day" && w[2] == "at") {
    spec.days = ScheduleSpec::Days::kEveryDay;
    time = w[3];
  } else if (w.size() == 5 && w[0] == "every" && w[1] == "working" && w[2] == "day" && w[3] == "at") {
    spec.days = ScheduleSpec::Days::kWorkingDays;
    time = w[4];
  } else if (w.size() == 5 && w[0] == "weekly" && w[1] == "on" && w[3] == "at") {
    spec.days = ScheduleSpec::Days::kWeekly;
    if (!ParseWeekday(w[2], &spec.weekday)) {
      return SpecError(text, absl::StrCat("unknown weekday \"", w[2], "\" (monday … sunday or mon … sun)"));
    }
    time = w[4];
  } else {
    return SpecError(text, kForms);
  }
  if (!ParseHhMm(time, &spec.hour, &spec.minute)) {
    return SpecError(text, absl::StrCat("time \"", time, "\" is not HH:MM within 00:00..23:59"));
  }
  return spec;
}

absl::Time NextOccurrence(const ScheduleSpec& spec, absl::Time after, const absl::TimeZone& zone,
                          const calendar::WorkingCalendar* calendar) {
  absl::CivilDay day = absl::ToCivilDay(after, zone);
  for (int i = 0; i < 20 * 366 + 2; ++i, ++day) {
    switch (spec.days) {
      case ScheduleSpec::Days::kEveryDay:
        break;
      case ScheduleSpec::Days::kWorkingDays:
        if (calendar == nullptr || !calendar->IsWorkingDay(day)) continue;
        break;
      case ScheduleSpec::Days::kWeekly:
        if (absl::GetWeekday(day) != spec.weekday) continue;
        break;
    }
    const absl::TimeZone::TimeInfo ti =
        zone.At(absl::CivilSecond(day.year(), day.month(), day.day(), spec.hour, spec.minute, 0));
    const absl::Time t = ti.kind == absl::TimeZone::TimeInfo::SKIPPED ? ti.trans : ti.pre;
    if (t > after) return t;
  }
  return absl::InfiniteFuture();
}

std::string OccurrenceKey(std::string_view schedule_id, absl::Time occurrence) {
  return absl::StrCat(kScheduleKeyPrefix, std::string(schedule_id), ":", absl::ToUnixSeconds(occurrence));
}

ScheduleStore::ScheduleStore(pg::Pool& pool, const Clock& clock, CalendarResolver calendars)
    : pool_(pool), clock_(clock), calendars_(std::move(calendars)) {}

absl::StatusOr<absl::Time> ScheduleStore::Next(const std::string& spec_text, const std::string& zone_name,
                                               const std::string& calendar_name, absl::Time after) const {
  CRM_ASSIGN_OR_RETURN(ScheduleSpec spec, ParseScheduleSpec(spec_text));
  CRM_ASSIGN_OR_RETURN(absl::TimeZone zone, LoadTimeZone(zone_name));
  if (calendar_name.empty()) {
    if (spec.days == ScheduleSpec::Days::kWorkingDays) {
      return absl::InvalidArgumentError(
          absl::StrCat("schedule spec \"", spec_text, "\": working days need a calendar, none is set"));
    }
    return NextOccurrence(spec, after, zone, nullptr);
  }
  if (!calendars_) return absl::InvalidArgumentError("schedules: no calendar resolver is configured");
  CRM_ASSIGN_OR_RETURN(calendar::WorkingCalendar cal, calendars_(calendar_name));
  return NextOccurrence(spec, after, zone, &cal);
}

absl::StatusOr<std::string> ScheduleStore::Put(pqxx::transaction_base& tx, const ScheduleDef& def) {
  if (def.key.empty()) return absl::InvalidArgumentError("schedule key is empty");
  if (def.kind.empty())
    return absl::InvalidArgumentError(absl::StrCat("schedule ", def.key, ": kind is empty"));
  CRM_ASSIGN_OR_RETURN(absl::Time next, Next(def.spec, def.time_zone, def.calendar, clock_.Now()));
  const bool armed = def.enabled && next != absl::InfiniteFuture();
  const pqxx::binarystring payload(def.payload.data(), def.payload.size());
  try {
    pqxx::result old =
        tx.exec_params(absl::StrCat("SELECT id::text, spec, time_zone, calendar, kind, payload, enabled, ",
                                    kNextMicros, " FROM schedules WHERE key = $1 FOR UPDATE"),
                       def.key);
    std::string id;
    if (old.empty()) {
      id = NewUuidV7();
      tx.exec_params(
          absl::StrCat("INSERT INTO schedules (id, key, spec, time_zone, calendar, kind, payload, "
                       "next_time, enabled) VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, CASE WHEN $9 "
                       "THEN ",
                       TimeParam(8), " END, $9)"),
          id, def.key, def.spec, def.time_zone, def.calendar, def.kind, payload,
          armed ? absl::ToUnixMicros(next) : 0, armed);
    } else {
      const pqxx::row& r = old[0];
      id = r[0].as<std::string>();
      const bool same = r[1].as<std::string>() == def.spec && r[2].as<std::string>() == def.time_zone &&
                        r[3].as<std::string>() == def.calendar && r[4].as<std::string>() == def.kind &&
                        pqxx::binarystring(r[5]).str() == def.payload && r[6].as<bool>() == def.enabled;
      if (same) return id;
      const bool had_next = !r[7].is_null();
      const absl::Time old_next = had_next ? absl::FromUnixMicros(r[7].as<int64_t>()) : absl::InfinitePast();
      if (had_next && (!armed || absl::ToUnixSeconds(old_next) != absl::ToUnixSeconds(next))) {
        // Never waits: a timer being fired right now is left to fire as a no-op (Wrap sees it is stale).
        tx.exec_params(
            "UPDATE timers SET state = 'cancelled', update_time = now() WHERE id IN (SELECT id FROM "
            "timers WHERE key = $1 AND state = 'pending' FOR UPDATE SKIP LOCKED)",
            OccurrenceKey(id, old_next));
      } else if (had_next) {
        tx.exec_params(
            "UPDATE timers SET kind = $2, payload = $3, update_time = now() WHERE id IN (SELECT id "
            "FROM timers WHERE key = $1 AND state = 'pending' FOR UPDATE SKIP LOCKED)",
            OccurrenceKey(id, old_next), def.kind, payload);
      }
      tx.exec_params(absl::StrCat("UPDATE schedules SET spec = $2, time_zone = $3, calendar = $4, kind = $5, "
                                  "payload = $6, next_time = CASE WHEN $8 THEN ",
                                  TimeParam(7),
                                  " END, enabled = $9, version = version + 1, update_time = now() WHERE id = "
                                  "$1::uuid"),
                     id, def.spec, def.time_zone, def.calendar, def.kind, payload,
                     armed ? absl::ToUnixMicros(next) : 0, armed, def.enabled);
      if (had_next && armed && absl::ToUnixSeconds(old_next) == absl::ToUnixSeconds(next)) return id;
    }
    if (armed) {
      CRM_RETURN_IF_ERROR(
          TimerStore::Schedule(tx, OccurrenceKey(id, next), def.kind, next, def.payload).status());
    }
    return id;
  } catch (const std::exception& e) {
    if (EndsTransaction(e)) throw;
    return pg::StatusFromException(e);
  }
}

absl::StatusOr<int> ScheduleStore::Materialize() {
  int created = 0;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    created = 0;
    // In id order, so materializers running at once wait on each other's inserts without deadlocking.
    pqxx::result rows =
        tx.exec(absl::StrCat("SELECT id::text, kind, payload, ", kNextMicros,
                             " FROM schedules WHERE enabled AND next_time IS NOT NULL ORDER BY id"));
    for (const pqxx::row& r : rows) {
      const absl::Time next = absl::FromUnixMicros(r[3].as<int64_t>());
      CRM_ASSIGN_OR_RETURN(
          ScheduleOutcome o,
          TimerStore::Schedule(tx, OccurrenceKey(r[0].as<std::string>(), next), r[1].as<std::string>(), next,
                               pqxx::binarystring(r[2]).str()));
      if (o == ScheduleOutcome::kCreated) ++created;
    }
    return absl::OkStatus();
  }));
  return created;
}

TimerHandler ScheduleStore::Wrap(TimerHandler inner) {
  return [this, inner = std::move(inner)](pqxx::transaction_base& tx, const Timer& t) -> absl::Status {
    if (t.key.rfind(kScheduleKeyPrefix, 0) != 0) return inner(tx, t);
    // "schedule:<id>:<seconds>"; the occurrence is in the key (the due moves when a run is retried).
    const std::string_view rest = std::string_view(t.key).substr(sizeof(kScheduleKeyPrefix) - 1);
    const size_t colon = rest.rfind(':');
    int64_t occurrence_s = 0;
    if (colon == std::string_view::npos || !absl::SimpleAtoi(AsAbsl(rest.substr(colon + 1)), &occurrence_s)) {
      return absl::InvalidArgumentError(absl::StrCat("timer key ", t.key, " is not schedule:<id>:<seconds>"));
    }
    const std::string id(rest.substr(0, colon));
    pqxx::result r =
        tx.exec_params(absl::StrCat("SELECT spec, time_zone, calendar, kind, payload, enabled, ", kNextMicros,
                                    " FROM schedules WHERE id = $1::uuid FOR UPDATE"),
                       id);
    if (r.empty() || !r[0][5].as<bool>() || r[0][6].is_null() ||
        absl::ToUnixSeconds(absl::FromUnixMicros(r[0][6].as<int64_t>())) != occurrence_s) {
      return absl::OkStatus();  // stale occurrence: the schedule moved on
    }
    CRM_RETURN_IF_ERROR(inner(tx, t));
    const absl::Time after = std::max(absl::FromUnixSeconds(occurrence_s), clock_.Now());
    CRM_ASSIGN_OR_RETURN(absl::Time next, Next(r[0][0].as<std::string>(), r[0][1].as<std::string>(),
                                               r[0][2].as<std::string>(), after));
    const bool armed = next != absl::InfiniteFuture();
    tx.exec_params(absl::StrCat("UPDATE schedules SET next_time = CASE WHEN $3 THEN ", TimeParam(2),
                                " END, update_time = now() WHERE id = $1::uuid"),
                   id, armed ? absl::ToUnixMicros(next) : 0, armed);
    if (!armed) return absl::OkStatus();
    return TimerStore::Schedule(tx, OccurrenceKey(id, next), r[0][3].as<std::string>(), next,
                                pqxx::binarystring(r[0][4]).str())
        .status();
  };
}

}  // namespace crm::timers
