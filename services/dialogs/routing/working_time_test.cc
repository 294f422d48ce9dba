// Working time of a bot (working_time.h; T6 answer timeouts, T8 metrics), as tables over a week in Moscow:
// Mon–Fri 09:00–13:00 and 14:00–18:00, Sat 10:00–14:00, Sunday closed, 2026-11-04 a holiday.
#include "services/dialogs/routing/working_time.h"

#include <gtest/gtest.h>

#include "libs/calendar/calendar.h"

namespace crm::dialogs::routing {
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

absl::CivilSecond S(int y, int mo, int d, int h, int mi) { return absl::CivilSecond(y, mo, d, h, mi, 0); }

class WorkingTimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cal = crm::calendar::WorkingCalendar::FiveDay("Europe/Moscow", "2026-11-04");
    ASSERT_TRUE(cal.ok()) << cal.status();
    cal_.emplace(*std::move(cal));
  }
  absl::Time T(absl::CivilSecond s) const { return absl::FromCivil(s, cal_->zone()); }
  std::optional<crm::calendar::WorkingCalendar> cal_;
};

TEST_F(WorkingTimeTest, WorkingSeconds) {
  const WeekHours week = Week();
  struct Case {
    absl::CivilSecond a, b;
    int64_t minutes;
  } cases[] = {
      {S(2026, 11, 2, 10, 0), S(2026, 11, 2, 10, 30), 30},   // inside
      {S(2026, 11, 2, 8, 0), S(2026, 11, 2, 9, 15), 15},     // before opening
      {S(2026, 11, 2, 12, 50), S(2026, 11, 2, 14, 10), 20},  // over lunch
      {S(2026, 11, 2, 17, 50), S(2026, 11, 3, 9, 10), 20},   // overnight
      {S(2026, 11, 3, 17, 0), S(2026, 11, 5, 9, 30), 90},    // over the holiday
      {S(2026, 11, 7, 13, 0), S(2026, 11, 9, 9, 30), 90},    // Saturday → Monday, Sunday closed
      {S(2026, 11, 8, 10, 0), S(2026, 11, 8, 16, 0), 0},     // all Sunday
      {S(2026, 11, 2, 10, 0), S(2026, 11, 2, 10, 0), 0},     // empty
      {S(2026, 11, 2, 11, 0), S(2026, 11, 2, 10, 0), 0},     // backwards
      {S(2026, 11, 2, 9, 0), S(2026, 11, 9, 9, 0), (8 * 4 + 4) * 60},  // a week with the holiday
  };
  for (const Case& c : cases) {
    EXPECT_EQ(WorkingSeconds(week, *cal_, T(c.a), T(c.b)), c.minutes * 60) << c.a << " → " << c.b;
  }
  // No schedule: wall time.
  EXPECT_EQ(WorkingSeconds(WeekHours(), *cal_, T(S(2026, 11, 8, 10, 0)), T(S(2026, 11, 8, 16, 0))), 6 * 3600);
}

TEST_F(WorkingTimeTest, AddWorkingTime) {
  const WeekHours week = Week();
  struct Case {
    absl::CivilSecond from;
    int minutes;
    absl::CivilSecond want;
  } cases[] = {
      {S(2026, 11, 2, 10, 0), 15, S(2026, 11, 2, 10, 15)},
      {S(2026, 11, 2, 12, 50), 15, S(2026, 11, 2, 14, 5)},   // the lunch does not count
      {S(2026, 11, 2, 17, 55), 15, S(2026, 11, 3, 9, 10)},   // overnight
      {S(2026, 11, 3, 17, 55), 15, S(2026, 11, 5, 9, 10)},   // over the holiday
      {S(2026, 11, 7, 20, 0), 15, S(2026, 11, 9, 9, 15)},    // Saturday evening → Monday
      {S(2026, 11, 2, 12, 0), 60, S(2026, 11, 2, 14, 0)},    // ends exactly at the lunch: the next start
      {S(2026, 11, 8, 3, 0), 0, S(2026, 11, 8, 3, 0)},       // nothing to add
  };
  for (const Case& c : cases) {
    const absl::Time got = AddWorkingTime(week, *cal_, T(c.from), absl::Minutes(c.minutes));
    // Ending exactly at an interval's end is the same working instant as the next start.
    const absl::Time want = T(c.want);
    EXPECT_TRUE(got == want || WorkingSeconds(week, *cal_, got, want) == 0) << c.from << " +" << c.minutes;
    EXPECT_EQ(WorkingSeconds(week, *cal_, T(c.from), got), c.minutes * 60) << c.from;
  }
  EXPECT_EQ(AddWorkingTime(WeekHours(), *cal_, T(S(2026, 11, 8, 3, 0)), absl::Minutes(15)), T(S(2026, 11, 8, 3, 15)));
  WeekHours never;  // a schedule with no minute at all in it is not "always"; it never ends
  auto* h = never.Add();
  h->set_weekday(9), h->set_start_minute(0), h->set_end_minute(60);
  EXPECT_EQ(AddWorkingTime(never, *cal_, T(S(2026, 11, 8, 3, 0)), absl::Minutes(15)), absl::InfiniteFuture());
}

}  // namespace
}  // namespace crm::dialogs::routing
