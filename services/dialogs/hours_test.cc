// A bot's working hours (hours.h, T1/T4): open or not, and the next working instant, over a week in
// Moscow (Mon–Fri 09:00–13:00 and 14:00–18:00, Sat 10:00–14:00, Sunday closed, 2026-11-04 a holiday).
#include "services/dialogs/hours.h"

#include <gtest/gtest.h>

#include "libs/calendar/calendar.h"

namespace crm::dialogs {
namespace {

WeekHours Week() {
  WeekHours week;
  auto add = [&](int day, int start, int end) {
    auto* h = week.Add();
    h->set_weekday(day), h->set_start_minute(start), h->set_end_minute(end);
  };
  for (int d = 1; d <= 5; ++d) add(d, 9 * 60, 13 * 60), add(d, 14 * 60, 18 * 60);
  add(6, 10 * 60, 14 * 60);
  return week;
}

absl::CivilSecond S(int y, int mo, int d, int h, int mi, int s) { return absl::CivilSecond(y, mo, d, h, mi, s); }

TEST(InWorkingHoursTest, OpenAndTheNextWorkingInstant) {
  auto cal = crm::calendar::WorkingCalendar::FiveDay("Europe/Moscow", "2026-11-04");
  ASSERT_TRUE(cal.ok()) << cal.status();
  const absl::TimeZone msk = cal->zone();
  const WeekHours week = Week();
  struct Case {
    absl::CivilSecond at;
    bool open;
    absl::CivilSecond next;
  } cases[] = {
      {S(2026, 11, 2, 8, 59, 59), false, S(2026, 11, 2, 9, 0, 0)},   // Monday before opening
      {S(2026, 11, 2, 9, 0, 0), true, S(2026, 11, 2, 9, 0, 0)},      // Monday, opening minute
      {S(2026, 11, 2, 13, 30, 0), false, S(2026, 11, 2, 14, 0, 0)},  // lunch
      {S(2026, 11, 2, 17, 59, 0), true, S(2026, 11, 2, 17, 59, 0)},
      {S(2026, 11, 2, 18, 0, 0), false, S(2026, 11, 3, 9, 0, 0)},    // end is exclusive
      {S(2026, 11, 3, 19, 0, 0), false, S(2026, 11, 5, 9, 0, 0)},    // Wednesday the 4th is a holiday
      {S(2026, 11, 4, 11, 0, 0), false, S(2026, 11, 5, 9, 0, 0)},    // the holiday itself
      {S(2026, 11, 7, 10, 0, 0), true, S(2026, 11, 7, 10, 0, 0)},    // Saturday
      {S(2026, 11, 7, 14, 0, 0), false, S(2026, 11, 9, 9, 0, 0)},    // Sunday has no entry
      {S(2026, 11, 8, 12, 0, 0), false, S(2026, 11, 9, 9, 0, 0)},
  };
  for (const Case& c : cases) {
    absl::Time next;
    EXPECT_EQ(InWorkingHours(week, *cal, absl::FromCivil(c.at, msk), &next), c.open) << c.at;
    EXPECT_EQ(next, absl::FromCivil(c.next, msk)) << c.at;
    EXPECT_EQ(InWorkingHours(week, *cal, absl::FromCivil(c.at, msk)), c.open) << c.at;
  }
  absl::Time next;
  const absl::Time night = absl::FromCivil(absl::CivilSecond(2026, 11, 4, 3, 0, 0), msk);
  EXPECT_TRUE(InWorkingHours(WeekHours(), *cal, night, &next));  // no schedule: always open
  EXPECT_EQ(next, night);
}

TEST(ValidateWorkingHoursTest, NamesEveryBadField) {
  WeekHours week;
  auto* h = week.Add();
  h->set_weekday(8), h->set_start_minute(600), h->set_end_minute(500);
  auto* a = week.Add();
  a->set_weekday(1), a->set_start_minute(540), a->set_end_minute(780);
  auto* b = week.Add();
  b->set_weekday(1), b->set_start_minute(700), b->set_end_minute(800);
  std::vector<crm::FieldViolation> bad;
  ValidateWorkingHours(week, "bot.working_hours", bad);
  ASSERT_EQ(bad.size(), 3u);
  EXPECT_EQ(bad[0].field, "bot.working_hours[0].weekday");
  EXPECT_EQ(bad[1].field, "bot.working_hours[0].end_minute");
  EXPECT_EQ(bad[2].field, "bot.working_hours[2]");
}

}  // namespace
}  // namespace crm::dialogs
