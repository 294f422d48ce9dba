#include "libs/calendar/calendar.h"

#include <climits>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/time.h"

namespace crm::calendar {
namespace {

using ::testing::HasSubstr;

absl::TimeZone Zone(const char* name) { return LoadTimeZone(name).value(); }

// Parses an RFC 3339 time with offset, for readable expectations.
absl::Time T(const char* rfc3339) { return ParseRfc3339(rfc3339).value(); }

constexpr int H(int hour, int minute = 0) { return hour * 60 + minute; }

class MoscowTest : public ::testing::Test {
 protected:
  WorkingCalendar cal_ = WorkingCalendar::FiveDay(Zone("Europe/Moscow"));
  std::string Local(absl::Time t) const { return FormatRfc3339Local(t, cal_.zone()); }
};

TEST_F(MoscowTest, FridayEveningPlusTwoWorkingHoursIsMondayTen) {
  EXPECT_EQ(Local(cal_.AddWorkingTime(T("2026-11-27T17:00:00+03:00"), absl::Hours(2))),
            "2026-11-30T10:00:00+03:00");
}

TEST_F(MoscowTest, AddWorkingTimeWithinAndAtTheEndOfADay) {
  EXPECT_EQ(Local(cal_.AddWorkingTime(T("2026-11-24T10:00:00+03:00"), absl::Hours(4))),
            "2026-11-24T14:00:00+03:00");
  EXPECT_EQ(Local(cal_.AddWorkingTime(T("2026-11-27T16:00:00+03:00"), absl::Hours(2))),
            "2026-11-27T18:00:00+03:00");  // runs out exactly at closing time
  EXPECT_EQ(Local(cal_.AddWorkingTime(T("2026-11-28T12:00:00+03:00"), absl::Minutes(30))),
            "2026-11-30T09:30:00+03:00");  // from a Saturday
  EXPECT_EQ(Local(cal_.AddWorkingTime(T("2026-11-24T07:00:00+03:00"), absl::Hours(9))),
            "2026-11-24T18:00:00+03:00");
  EXPECT_EQ(Local(cal_.AddWorkingTime(T("2026-11-24T07:00:00+03:00"), absl::Hours(9) + absl::Seconds(1))),
            "2026-11-25T09:00:01+03:00");
  EXPECT_EQ(Local(cal_.AddWorkingTime(T("2026-11-23T09:00:00+03:00"), absl::Hours(45))),
            "2026-11-27T18:00:00+03:00");  // exactly one working week
  EXPECT_EQ(Local(cal_.AddWorkingTime(T("2026-11-24T20:00:00+03:00"), absl::ZeroDuration())),
            "2026-11-25T09:00:00+03:00");
}

TEST_F(MoscowTest, IsWorkingTimeBoundaries) {
  EXPECT_FALSE(cal_.IsWorkingTime(T("2026-11-24T08:59:59+03:00")));
  EXPECT_TRUE(cal_.IsWorkingTime(T("2026-11-24T09:00:00+03:00")));
  EXPECT_TRUE(cal_.IsWorkingTime(T("2026-11-24T17:59:59.999+03:00")));
  EXPECT_FALSE(cal_.IsWorkingTime(T("2026-11-24T18:00:00+03:00")));
  EXPECT_FALSE(cal_.IsWorkingTime(T("2026-11-28T12:00:00+03:00")));  // Saturday
  EXPECT_TRUE(cal_.IsWorkingTime(T("2026-11-24T07:00:00Z")));        // 10:00 in Moscow
  EXPECT_FALSE(cal_.IsWorkingTime(absl::InfiniteFuture()));
}

TEST_F(MoscowTest, NextWorkingTime) {
  const absl::Time inside = T("2026-11-24T12:34:56.789+03:00");
  EXPECT_EQ(cal_.NextWorkingTime(inside), inside);
  EXPECT_EQ(Local(cal_.NextWorkingTime(T("2026-11-24T06:00:00+03:00"))), "2026-11-24T09:00:00+03:00");
  EXPECT_EQ(Local(cal_.NextWorkingTime(T("2026-11-24T18:00:00+03:00"))), "2026-11-25T09:00:00+03:00");
  EXPECT_EQ(Local(cal_.NextWorkingTime(T("2026-11-27T19:00:00+03:00"))), "2026-11-30T09:00:00+03:00");
  EXPECT_EQ(Local(cal_.NextWorkingTime(T("2026-11-29T23:59:59+03:00"))), "2026-11-30T09:00:00+03:00");
}

TEST_F(MoscowTest, WorkingTimeBetweenAcrossWeekend) {
  EXPECT_EQ(cal_.WorkingTimeBetween(T("2026-11-27T17:00:00+03:00"), T("2026-11-30T10:00:00+03:00")),
            absl::Hours(2));
  EXPECT_EQ(cal_.WorkingTimeBetween(T("2026-11-27T09:00:00+03:00"), T("2026-11-30T18:00:00+03:00")),
            absl::Hours(18));
  EXPECT_EQ(cal_.WorkingTimeBetween(T("2026-11-28T00:00:00+03:00"), T("2026-11-29T23:00:00+03:00")),
            absl::ZeroDuration());
  EXPECT_EQ(cal_.WorkingTimeBetween(T("2026-11-24T10:15:00+03:00"), T("2026-11-24T10:45:30+03:00")),
            absl::Seconds(30 * 60 + 30));
  EXPECT_EQ(cal_.WorkingTimeBetween(T("2026-11-30T10:00:00+03:00"), T("2026-11-27T17:00:00+03:00")),
            absl::ZeroDuration());
  EXPECT_EQ(cal_.WorkingTimeBetween(T("2026-11-23T00:00:00+03:00"), T("2026-12-21T00:00:00+03:00")),
            absl::Hours(4 * 45));
}

TEST_F(MoscowTest, AddWorkingTimeAndBetweenAgree) {
  const absl::Time from = T("2026-11-26T15:20:00+03:00");
  for (absl::Duration d : {absl::Minutes(1), absl::Hours(3), absl::Hours(11), absl::Hours(100)}) {
    EXPECT_EQ(cal_.WorkingTimeBetween(from, cal_.AddWorkingTime(from, d)), d) << d;
  }
}

TEST_F(MoscowTest, AddWorkingDays) {
  EXPECT_EQ(Local(cal_.AddWorkingDays(T("2026-11-23T15:30:00+03:00"), 2)), "2026-11-25T15:30:00+03:00");
  EXPECT_EQ(Local(cal_.AddWorkingDays(T("2026-11-27T15:30:00+03:00"), 1)), "2026-11-30T15:30:00+03:00");
  EXPECT_EQ(Local(cal_.AddWorkingDays(T("2026-11-27T15:30:00+03:00"), 5)), "2026-12-04T15:30:00+03:00");
  // 20:00 on the next working day is out of hours: moved to the next morning.
  EXPECT_EQ(Local(cal_.AddWorkingDays(T("2026-11-27T20:00:00+03:00"), 1)), "2026-12-01T09:00:00+03:00");
  EXPECT_EQ(Local(cal_.AddWorkingDays(T("2026-11-28T12:00:00+03:00"), 1)), "2026-11-30T12:00:00+03:00");
  EXPECT_EQ(Local(cal_.AddWorkingDays(T("2026-11-24T07:00:00+03:00"), 1)), "2026-11-25T09:00:00+03:00");
  EXPECT_EQ(Local(cal_.AddWorkingDays(T("2026-11-28T12:00:00+03:00"), 0)), "2026-11-30T09:00:00+03:00");
  const absl::Time with_fraction = T("2026-11-24T11:00:00.25+03:00");
  EXPECT_EQ(cal_.AddWorkingDays(with_fraction, 1), with_fraction + absl::Hours(24));
}

TEST_F(MoscowTest, AtIsLocalWallTime) {
  EXPECT_EQ(cal_.At(absl::CivilDay(2026, 11, 24), 19, 0), T("2026-11-24T16:00:00Z"));
  EXPECT_EQ(cal_.At(absl::CivilDay(2026, 11, 24), 24, 0), T("2026-11-25T00:00:00+03:00"));
}

// National Unity Day, 4 November 2026 (a Wednesday), with 3 November shortened to 09:00-17:00.
absl::StatusOr<WorkingCalendar> Moscow2026() {
  CalendarSpec spec = WorkingCalendar::FiveDay(Zone("Europe/Moscow")).spec();
  spec.holidays = WorkingCalendar::ParseDays("2026-11-04").value();
  spec.overrides[absl::CivilDay(2026, 11, 3)] = {{H(9), H(17)}};
  return WorkingCalendar::Create(std::move(spec));
}

TEST(HolidayTest, HolidayIsSkipped) {
  const WorkingCalendar cal = Moscow2026().value();
  EXPECT_FALSE(cal.IsWorkingDay(absl::CivilDay(2026, 11, 4)));
  EXPECT_FALSE(cal.IsWorkingTime(T("2026-11-04T12:00:00+03:00")));
  // Monday 17-18 (1h) + the shortened Tuesday (8h) + 1h on Thursday.
  EXPECT_EQ(cal.AddWorkingTime(T("2026-11-02T17:00:00+03:00"), absl::Hours(10)),
            T("2026-11-05T10:00:00+03:00"));
  EXPECT_EQ(cal.NextWorkingTime(T("2026-11-04T10:00:00+03:00")), T("2026-11-05T09:00:00+03:00"));
  EXPECT_EQ(cal.AddWorkingDays(T("2026-11-03T11:00:00+03:00"), 1), T("2026-11-05T11:00:00+03:00"));
  EXPECT_EQ(cal.WorkingTimeBetween(T("2026-11-03T00:00:00+03:00"), T("2026-11-06T00:00:00+03:00")),
            absl::Hours(8 + 9));
}

TEST(HolidayTest, ShortenedPreHolidayDay) {
  const WorkingCalendar cal = Moscow2026().value();
  EXPECT_TRUE(cal.IsWorkingTime(T("2026-11-03T16:59:00+03:00")));
  EXPECT_FALSE(cal.IsWorkingTime(T("2026-11-03T17:30:00+03:00")));
  EXPECT_EQ(cal.AddWorkingTime(T("2026-11-03T16:00:00+03:00"), absl::Hours(2)),
            T("2026-11-05T10:00:00+03:00"));
  // 17:30 on the shortened day is after hours: moved to the next working morning.
  EXPECT_EQ(cal.AddWorkingDays(T("2026-11-02T17:30:00+03:00"), 1), T("2026-11-05T09:00:00+03:00"));
}

// Modelled on the 2025 production calendar: Saturday 1 November worked (shortened to 09:00-17:00),
// Monday 3 and Tuesday 4 November off.
TEST(TransferTest, WorkingSaturday) {
  CalendarSpec spec = WorkingCalendar::FiveDay(Zone("Europe/Moscow")).spec();
  spec.holidays = WorkingCalendar::ParseDays("2025-11-03,2025-11-04").value();
  spec.overrides[absl::CivilDay(2025, 11, 1)] = {{H(9), H(17)}};
  const WorkingCalendar cal = WorkingCalendar::Create(std::move(spec)).value();

  EXPECT_TRUE(cal.IsWorkingDay(absl::CivilDay(2025, 11, 1)));
  EXPECT_FALSE(cal.IsWorkingDay(absl::CivilDay(2025, 11, 2)));
  EXPECT_FALSE(cal.IsWorkingDay(absl::CivilDay(2025, 11, 3)));
  EXPECT_TRUE(cal.IsWorkingTime(T("2025-11-01T10:00:00+03:00")));
  EXPECT_EQ(cal.AddWorkingTime(T("2025-10-31T17:00:00+03:00"), absl::Hours(2)),
            T("2025-11-01T10:00:00+03:00"));
  EXPECT_EQ(cal.AddWorkingTime(T("2025-11-01T16:30:00+03:00"), absl::Hours(1)),
            T("2025-11-05T09:30:00+03:00"));
  EXPECT_EQ(cal.AddWorkingDays(T("2025-10-31T10:00:00+03:00"), 1), T("2025-11-01T10:00:00+03:00"));
  EXPECT_EQ(cal.AddWorkingDays(T("2025-10-31T10:00:00+03:00"), 2), T("2025-11-05T10:00:00+03:00"));
  EXPECT_EQ(cal.WorkingTimeBetween(T("2025-10-31T09:00:00+03:00"), T("2025-11-05T18:00:00+03:00")),
            absl::Hours(9 + 8 + 9));
}

TEST(LunchBreakTest, BreakIsNotWorkingTime) {
  CalendarSpec spec;
  spec.zone = Zone("Europe/Moscow");
  for (int d = 0; d < 5; ++d) spec.week[d] = {{H(9), H(13)}, {H(14), H(18)}};
  const WorkingCalendar cal = WorkingCalendar::Create(std::move(spec)).value();
  EXPECT_FALSE(cal.IsWorkingTime(T("2026-11-24T13:30:00+03:00")));
  EXPECT_EQ(cal.AddWorkingTime(T("2026-11-24T12:30:00+03:00"), absl::Hours(1)),
            T("2026-11-24T14:30:00+03:00"));
  EXPECT_EQ(cal.NextWorkingTime(T("2026-11-24T13:00:00+03:00")), T("2026-11-24T14:00:00+03:00"));
  EXPECT_EQ(cal.WorkingTimeBetween(T("2026-11-24T00:00:00+03:00"), T("2026-11-25T00:00:00+03:00")),
            absl::Hours(8));
}

TEST(ZoneTest, YekaterinburgHasNoDst) {
  const WorkingCalendar cal = WorkingCalendar::FiveDay(Zone("Asia/Yekaterinburg"));
  EXPECT_EQ(cal.AddWorkingTime(T("2026-11-27T17:00:00+05:00"), absl::Hours(2)),
            T("2026-11-30T10:00:00+05:00"));
  EXPECT_EQ(cal.At(absl::CivilDay(2026, 6, 15), 9, 0), T("2026-06-15T09:00:00+05:00"));
  EXPECT_EQ(cal.At(absl::CivilDay(2026, 12, 15), 9, 0), T("2026-12-15T09:00:00+05:00"));
  // The same instant is working time in Yekaterinburg (10:00) but not yet in Moscow (08:00).
  EXPECT_TRUE(cal.IsWorkingTime(T("2026-11-24T05:00:00Z")));
  EXPECT_FALSE(WorkingCalendar::FiveDay(Zone("Europe/Moscow")).IsWorkingTime(T("2026-11-24T05:00:00Z")));
}

// Moscow observed summer time until 2010: +03:00 -> +04:00 at 02:00 on Sunday 28 March 2010 and back at
// 03:00 on Sunday 31 October 2010.
TEST(ZoneTest, MoscowDstIn2010) {
  const WorkingCalendar cal = WorkingCalendar::FiveDay(Zone("Europe/Moscow"));
  EXPECT_EQ(cal.AddWorkingTime(T("2010-03-26T17:00:00+03:00"), absl::Hours(2)),
            T("2010-03-29T10:00:00+04:00"));
  EXPECT_EQ(cal.WorkingTimeBetween(T("2010-03-26T09:00:00+03:00"), T("2010-03-29T18:00:00+04:00")),
            absl::Hours(18));
  EXPECT_EQ(cal.AddWorkingTime(T("2010-10-29T17:00:00+04:00"), absl::Hours(2)),
            T("2010-11-01T10:00:00+03:00"));
  EXPECT_EQ(cal.AddWorkingDays(T("2010-03-26T11:00:00+03:00"), 1), T("2010-03-29T11:00:00+04:00"));
  EXPECT_EQ(cal.At(absl::CivilDay(2010, 7, 1), 9, 0), T("2010-07-01T09:00:00+04:00"));
  EXPECT_EQ(cal.At(absl::CivilDay(2010, 12, 1), 9, 0), T("2010-12-01T09:00:00+03:00"));
}

// Around the clock every day: the days of a clock change last 23 and 25 hours.
TEST(ZoneTest, IntervalsSpanningAClockChangeCountRealTime) {
  CalendarSpec spec;
  spec.zone = Zone("Europe/Moscow");
  for (auto& day : spec.week) day = {{0, 24 * 60}};
  const WorkingCalendar cal = WorkingCalendar::Create(std::move(spec)).value();
  EXPECT_EQ(cal.WorkingTimeBetween(cal.At(absl::CivilDay(2010, 3, 28), 0, 0),
                                   cal.At(absl::CivilDay(2010, 3, 29), 0, 0)),
            absl::Hours(23));
  EXPECT_EQ(cal.WorkingTimeBetween(cal.At(absl::CivilDay(2010, 10, 31), 0, 0),
                                   cal.At(absl::CivilDay(2010, 11, 1), 0, 0)),
            absl::Hours(25));
  EXPECT_EQ(cal.AddWorkingTime(T("2010-03-28T00:00:00+03:00"), absl::Hours(3)),
            T("2010-03-28T04:00:00+04:00"));
  // 02:30 did not exist that night: it maps to the change itself, 03:00 MSD.
  EXPECT_EQ(cal.At(absl::CivilDay(2010, 3, 28), 2, 30), T("2010-03-28T03:00:00+04:00"));
}

TEST(ZoneTest, IntervalStartingInsideTheSkippedHour) {
  CalendarSpec spec;
  spec.zone = Zone("Europe/Moscow");
  spec.week[6] = {{H(2, 30), H(3, 30)}};  // Sundays 02:30-03:30
  const WorkingCalendar cal = WorkingCalendar::Create(std::move(spec)).value();
  EXPECT_EQ(cal.WorkingTimeBetween(T("2010-03-27T00:00:00+03:00"), T("2010-03-29T00:00:00+04:00")),
            absl::Minutes(30));  // only 03:00-03:30 MSD existed
  EXPECT_EQ(cal.WorkingTimeBetween(T("2010-03-20T00:00:00+03:00"), T("2010-03-22T00:00:00+03:00")),
            absl::Hours(1));
}

TEST(CreateTest, RejectsBadSpecsNamingWeekdayAndDate) {
  CalendarSpec spec;
  spec.zone = Zone("Europe/Moscow");
  spec.week[0] = {{H(9), H(18)}, {H(12), H(20)}};  // overlap
  spec.week[1] = {{H(18), H(9)}};                  // reversed
  spec.week[2] = {{H(9), 1441}};                   // past midnight
  spec.week[3] = {{-5, H(9)}};                     // negative
  spec.week[4] = {{H(14), H(18)}, {H(9), H(13)}};  // out of order
  spec.holidays = {absl::CivilDay(2026, 1, 1)};
  spec.overrides[absl::CivilDay(2026, 1, 1)] = {{H(9), H(17)}};
  spec.overrides[absl::CivilDay(2026, 1, 10)] = {{H(10), H(10)}};
  const absl::Status s = WorkingCalendar::Create(std::move(spec)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("Monday: interval 12:00-20:00"));
  EXPECT_THAT(s.message(), HasSubstr("Tuesday: interval [1080, 540)"));
  EXPECT_THAT(s.message(), HasSubstr("Wednesday: interval [540, 1441)"));
  EXPECT_THAT(s.message(), HasSubstr("Thursday: interval [-5, 540)"));
  EXPECT_THAT(s.message(), HasSubstr("Friday: interval 09:00-13:00"));
  EXPECT_THAT(s.message(), HasSubstr("2026-01-01: both a holiday and an override"));
  EXPECT_THAT(s.message(), HasSubstr("2026-01-10: interval [600, 600)"));
}

TEST(CreateTest, NeedsAWorkingWeekday) {
  CalendarSpec spec;
  spec.overrides[absl::CivilDay(2026, 1, 10)] = {{H(10), H(12)}};
  const absl::Status s = WorkingCalendar::Create(std::move(spec)).status();
  EXPECT_THAT(s.message(), HasSubstr("no weekday has working hours"));
}

TEST(CreateTest, AcceptsTouchingIntervalsAndFullDays) {
  CalendarSpec spec;
  spec.week[0] = {{0, H(12)}, {H(12), 24 * 60}};
  EXPECT_TRUE(WorkingCalendar::Create(std::move(spec)).ok());
}

TEST(ParseDaysTest, ParsesAndRejects) {
  const auto days = WorkingCalendar::ParseDays(" 2026-01-01, 2026-01-02,,2026-01-01 ").value();
  EXPECT_EQ(days.size(), 2u);
  EXPECT_TRUE(days.contains(absl::CivilDay(2026, 1, 2)));
  EXPECT_TRUE(WorkingCalendar::ParseDays("").value().empty());
  for (const char* bad : {"2026-02-30", "2026-13-01", "2026-1-1", "01.01.2026", "2026-01-01T00:00", "soon"}) {
    const auto r = WorkingCalendar::ParseDays(absl::StrCat("2026-01-01,", bad));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr(bad));
  }
}

TEST(BoundsTest, LongHolidayRunsAndHugeRequestsTerminate) {
  CalendarSpec spec = WorkingCalendar::FiveDay(Zone("Europe/Moscow")).spec();
  for (absl::CivilDay d(2027, 1, 1); d < absl::CivilDay(2028, 1, 1); ++d) spec.holidays.insert(d);
  const WorkingCalendar cal = WorkingCalendar::Create(std::move(spec)).value();
  EXPECT_EQ(cal.NextWorkingTime(T("2027-01-01T00:00:00+03:00")), T("2028-01-03T09:00:00+03:00"));
  EXPECT_EQ(cal.AddWorkingDays(T("2026-12-31T10:00:00+03:00"), 1), T("2028-01-03T10:00:00+03:00"));
  EXPECT_EQ(cal.AddWorkingTime(T("2026-12-31T17:00:00+03:00"), absl::Hours(2)),
            T("2028-01-03T10:00:00+03:00"));

  EXPECT_EQ(cal.AddWorkingTime(T("2026-01-01T00:00:00Z"), absl::InfiniteDuration()), absl::InfiniteFuture());
  EXPECT_EQ(cal.AddWorkingTime(T("2026-01-01T00:00:00Z"), absl::Hours(1'000'000)), absl::InfiniteFuture());
  EXPECT_EQ(cal.AddWorkingDays(T("2026-01-01T00:00:00Z"), INT_MAX), absl::InfiniteFuture());
  EXPECT_EQ(cal.WorkingTimeBetween(T("2026-01-01T00:00:00Z"), absl::InfiniteFuture()),
            absl::InfiniteDuration());
  EXPECT_EQ(cal.NextWorkingTime(absl::InfiniteFuture()), absl::InfiniteFuture());
}

// What a service's TIME_ZONE and HOLIDAYS settings make.
TEST(FromSettingsTest, ZoneNameAndHolidays) {
  auto cal = WorkingCalendar::FiveDay("Europe/Moscow", "2026-01-01, 2026-01-02");
  ASSERT_TRUE(cal.ok()) << cal.status();
  EXPECT_FALSE(cal->IsWorkingDay(absl::CivilDay(2026, 1, 2)));   // a holiday on a Friday
  EXPECT_TRUE(cal->IsWorkingDay(absl::CivilDay(2026, 1, 5)));    // Monday
  EXPECT_FALSE(cal->IsWorkingDay(absl::CivilDay(2026, 1, 10)));  // Saturday
  EXPECT_EQ(cal->zone().name(), "Europe/Moscow");
  EXPECT_EQ(WorkingCalendar::FiveDay("Mars/Olympus", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WorkingCalendar::FiveDay("Europe/Moscow", "2026-02-30").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crm::calendar
