// File: services/deals/interactions/slots.cc
#include "services/deals/interactions/slots.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/base/strings.h"
#include "libs/base/uuid.h"

namespace crm::deals::interactions {

namespace v1 = crm::deals::v1;

int ParseHm(std::string_view hm) {
  int h = 0;
  int m = 0;
  if (hm.size() != 5 || hm[2] != ':' || !absl::SimpleAtoi(AsAbsl(hm.substr(0, 2)), &h) ||
      !absl::SimpleAtoi(AsAbsl(hm.substr(3, 2)), &m)) {
    return -1;
  }
  if (h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0)) return -1;
  return h * 60 + m;
}

std::string FormatHm(int minutes) { return absl::StrFormat("%02d:%02d", minutes / 60, minutes % 60); }

bool ParseDay(std::string_view text, absl::CivilDay* day) {
  return text.size() == 10 && absl::ParseCivilTime(AsAbsl(text), day);
}

std::vector<FieldViolation> ValidateCalendar(const v1::SlotCalendar& c, std::string_view prefix) {
  std::vector<FieldViolation> out;
  const auto bad = [&](std::string_view field, std::string description) {
    out.push_back({.field = absl::StrCat(AsAbsl(prefix), ".", AsAbsl(field)), .description = std::move(description)});
  };
  if (!IsUuid(c.id())) bad("id", "not a UUID");
  if (c.name().empty()) bad("name", "required");
  if (CodePoints(c.name()) > 200) bad("name", "longer than 200 characters");
  if (!c.project_id().empty() && !IsUuid(c.project_id())) bad("project_id", "not a UUID");
  const int open = ParseHm(c.open_time());
  const int close = ParseHm(c.close_time());
  if (open < 0 || open >= 24 * 60) bad("open_time", "expected HH:MM, 00:00..23:59");
  if (close <= 0) bad("close_time", "expected HH:MM, 00:01..24:00");
  if (open >= 0 && close > 0 && open >= close) bad("close_time", "must be after open_time");
  if (c.slot_minutes() < 15 || c.slot_minutes() > 240) {
    bad("slot_minutes", "must be 15..240");
  } else if (open >= 0 && close > open && (close - open) % c.slot_minutes() != 0) {
    bad("slot_minutes", "must divide the time from open_time to close_time");
  }
  if (c.capacity() < 1 || c.capacity() > 100) bad("capacity", "must be 1..100");
  std::set<int> days;
  for (int i = 0; i < c.weekdays_size(); ++i) {
    const int d = c.weekdays(i);
    if (d < 1 || d > 7) {
      bad(absl::StrCat("weekdays[", i, "]"), "must be 1 (Monday) .. 7 (Sunday)");
    } else if (!days.insert(d).second) {
      bad(absl::StrCat("weekdays[", i, "]"), "repeated");
    }
  }
  if (c.closed_days_size() > 366) bad("closed_days", "more than 366 dates");
  for (int i = 0; i < c.closed_days_size() && i <= 366; ++i) {
    absl::CivilDay day;
    if (!ParseDay(c.closed_days(i), &day)) bad(absl::StrCat("closed_days[", i, "]"), "expected YYYY-MM-DD");
  }
  return out;
}

SlotGrid GridOf(const v1::SlotCalendar& c, absl::TimeZone zone) {
  SlotGrid g;
  g.open_minute = ParseHm(c.open_time());
  g.close_minute = ParseHm(c.close_time());
  g.slot_minutes = c.slot_minutes();
  g.capacity = c.capacity();
  g.weekdays.insert(c.weekdays().begin(), c.weekdays().end());
  for (const std::string& d : c.closed_days()) {
    absl::CivilDay day;
    if (ParseDay(d, &day)) g.closed_days.insert(day);
  }
  g.zone = zone;
  return g;
}

namespace {

int IsoWeekday(absl::CivilDay day) {
  switch (absl::GetWeekday(day)) {
    case absl::Weekday::monday:
      return 1;
    case absl::Weekday::tuesday:
      return 2;
    case absl::Weekday::wednesday:
      return 3;
    case absl::Weekday::thursday:
      return 4;
    case absl::Weekday::friday:
      return 5;
    case absl::Weekday::saturday:
      return 6;
    case absl::Weekday::sunday:
      return 7;
  }
  return 0;
}

}  // namespace

bool IsOpen(const SlotGrid& grid, absl::CivilDay day) {
  if (grid.closed_days.contains(day)) return false;
  return grid.weekdays.empty() || grid.weekdays.contains(IsoWeekday(day));
}

std::vector<absl::Time> SlotStarts(const SlotGrid& grid, absl::CivilDay day) {
  std::vector<absl::Time> out;
  if (!IsOpen(grid, day) || grid.slot_minutes <= 0) return out;
  for (int m = grid.open_minute; m + grid.slot_minutes <= grid.close_minute; m += grid.slot_minutes) {
    out.push_back(absl::FromCivil(absl::CivilMinute(day) + m, grid.zone));
  }
  return out;
}

bool IsSlotStart(const SlotGrid& grid, absl::Time t) {
  const absl::CivilDay day = absl::ToCivilDay(t, grid.zone);
  for (absl::Time s : SlotStarts(grid, day)) {
    if (s == t) return true;
  }
  return false;
}

std::string SlotLabel(const SlotGrid& grid, absl::Time t) {
  const absl::CivilMinute m = absl::ToCivilMinute(t, grid.zone);
  return absl::StrFormat("%02d:%02d", m.hour(), m.minute());
}

std::string BookingLabel(bool online, std::string_view client_name) {
  return absl::StrCat(online ? "Онлайн ПЗ:" : "ПЗ:", AsAbsl(client_name));
}

std::string SlotText(std::string_view label, int booked, int capacity, const std::vector<std::string>& bookings) {
  std::string out = absl::StrCat(AsAbsl(label), " - (", booked, "/", capacity, ")");
  for (const std::string& b : bookings) absl::StrAppend(&out, "(", b, ")");
  return out;
}

}  // namespace crm::deals::interactions
