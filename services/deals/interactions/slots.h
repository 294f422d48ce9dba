// File: services/deals/interactions/slots.h
// -----------------------------------------------------------------------------
// The slot calendar of planned meetings (D16, seed 004 §6.5.3 «Календарь», §6.9), pure: a calendar's
// configuration (SlotCalendar, data in slot_calendars) as a grid of slot starts per local day in the
// company's time zone, and the seed's text of a slot: "09:00 - (0/2)", "14:00 - (1/2)(Онлайн ПЗ:Юлия)"
// — the start, booked of capacity, and who is booked («ПЗ» = предварительная запись, a meeting booked
// for a time; «Онлайн ПЗ» when it is online), each booking in its own brackets.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(SlotGrid grid, GridOf(calendar, zone));
//   for (absl::Time t : SlotStarts(grid, absl::CivilDay(2021, 12, 20))) ...
//   SlotText("14:00", 1, 2, {BookingLabel(true, "Юлия")});  // "14:00 - (1/2)(Онлайн ПЗ:Юлия)"
#ifndef CRM_SERVICES_DEALS_INTERACTIONS_SLOTS_H_
#define CRM_SERVICES_DEALS_INTERACTIONS_SLOTS_H_

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "crm/deals/v1/interactions.pb.h"
#include "libs/base/status.h"

namespace crm::deals::interactions {

// A validated calendar in a zone.
struct SlotGrid {
  int open_minute = 9 * 60;    // local minutes from midnight of the first slot's start
  int close_minute = 21 * 60;  // ... and of the last slot's end
  int slot_minutes = 60;
  int capacity = 2;
  std::set<int> weekdays;  // ISO 1 = Monday … 7 = Sunday; empty = every day
  std::set<absl::CivilDay> closed_days;
  absl::TimeZone zone;
};

// Every problem of `c`'s configuration, each naming its field under `prefix` ("calendar.open_time"):
// id a UUID, name 1..200 characters, project_id empty or a UUID, open/close "HH:MM" with open < close,
// slot_minutes 15..240 dividing close − open, capacity 1..100, weekdays within 1..7 without repeats,
// closed_days YYYY-MM-DD. Empty when it is valid.
std::vector<FieldViolation> ValidateCalendar(const crm::deals::v1::SlotCalendar& c, std::string_view prefix);

// The grid of a calendar ValidateCalendar accepts, in `zone`.
SlotGrid GridOf(const crm::deals::v1::SlotCalendar& c, absl::TimeZone zone);

// "HH:MM" (00:00 .. 24:00) as minutes from midnight; -1 when malformed.
int ParseHm(std::string_view hm);
// Minutes from midnight as "HH:MM".
std::string FormatHm(int minutes);
// A YYYY-MM-DD day; false when malformed or not a date.
bool ParseDay(std::string_view text, absl::CivilDay* day);

// Whether the calendar takes meetings on `day` (its weekday is listed and it is not closed).
bool IsOpen(const SlotGrid& grid, absl::CivilDay day);
// The slots' starts of `day`, earliest first (none on a day it is closed).
std::vector<absl::Time> SlotStarts(const SlotGrid& grid, absl::CivilDay day);
// Whether `t` is exactly one of the slot starts of its local day.
bool IsSlotStart(const SlotGrid& grid, absl::Time t);
// "09:00": the local start of the slot at `t`.
std::string SlotLabel(const SlotGrid& grid, absl::Time t);

// Who is booked, as the calendar shows it: "Онлайн ПЗ:<name>" or "ПЗ:<name>".
std::string BookingLabel(bool online, std::string_view client_name);
// "09:00 - (1/2)(Онлайн ПЗ:Юлия)": label, booked / capacity, then each booking's label in brackets.
std::string SlotText(std::string_view label, int booked, int capacity, const std::vector<std::string>& bookings);

}  // namespace crm::deals::interactions

#endif  // CRM_SERVICES_DEALS_INTERACTIONS_SLOTS_H_
