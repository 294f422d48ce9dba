#include "libs/base/time.h"

#include "gmock/gmock.h"
#include "google/protobuf/timestamp.pb.h"
#include "gtest/gtest.h"

namespace crm {
namespace {

using ::testing::HasSubstr;

// 2026-11-24T10:00:00Z
const absl::Time kT = absl::FromUnixSeconds(1795514400);

TEST(LoadTimeZoneTest, LoadsIanaZones) {
  const absl::TimeZone msk = LoadTimeZone("Europe/Moscow").value();
  EXPECT_EQ(msk.name(), "Europe/Moscow");
  EXPECT_EQ(msk.At(kT).offset, 3 * 3600);
  const absl::TimeZone ekb = LoadTimeZone("Asia/Yekaterinburg").value();
  EXPECT_EQ(ekb.At(kT).offset, 5 * 3600);
  EXPECT_TRUE(LoadTimeZone("UTC").ok());
}

TEST(LoadTimeZoneTest, ErrorNamesTheZone) {
  const auto r = LoadTimeZone("Europe/Atlantis");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("Europe/Atlantis"));
  EXPECT_FALSE(LoadTimeZone("").ok());
  EXPECT_FALSE(LoadTimeZone("/etc/passwd").ok());
  EXPECT_FALSE(LoadTimeZone("../../etc/passwd").ok());
  EXPECT_FALSE(LoadTimeZone("file:/usr/share/zoneinfo/UTC").ok());
}

TEST(FormatTest, UtcWithFractionOnlyWhenNonZero) {
  EXPECT_EQ(FormatRfc3339Utc(kT), "2026-11-24T10:00:00Z");
  EXPECT_EQ(FormatRfc3339Utc(kT + absl::Milliseconds(123)), "2026-11-24T10:00:00.123Z");
  EXPECT_EQ(FormatRfc3339Utc(kT + absl::Microseconds(123456)), "2026-11-24T10:00:00.123456Z");
  EXPECT_EQ(FormatRfc3339Utc(kT + absl::Nanoseconds(1)), "2026-11-24T10:00:00.000000001Z");
  EXPECT_EQ(FormatRfc3339Utc(absl::UnixEpoch() - absl::Milliseconds(500)), "1969-12-31T23:59:59.5Z");
}

TEST(FormatTest, LocalWithOffset) {
  const absl::TimeZone msk = LoadTimeZone("Europe/Moscow").value();
  const absl::TimeZone ekb = LoadTimeZone("Asia/Yekaterinburg").value();
  EXPECT_EQ(FormatRfc3339Local(kT, msk), "2026-11-24T13:00:00+03:00");
  EXPECT_EQ(FormatRfc3339Local(kT + absl::Milliseconds(250), ekb), "2026-11-24T15:00:00.25+05:00");
  // Moscow observed summer time (+04:00) until 2010 and +04:00 all year 2011-2014.
  EXPECT_EQ(FormatRfc3339Local(absl::FromUnixSeconds(1277028000), msk), "2010-06-20T14:00:00+04:00");
  EXPECT_EQ(FormatRfc3339Local(absl::FromUnixSeconds(1261994400), msk), "2009-12-28T13:00:00+03:00");
}

TEST(ParseTest, AcceptsZAndOffsets) {
  EXPECT_EQ(ParseRfc3339("2026-11-24T10:00:00Z").value(), kT);
  EXPECT_EQ(ParseRfc3339("2026-11-24T13:00:00+03:00").value(), kT);
  EXPECT_EQ(ParseRfc3339("2026-11-24T15:00:00+05:00").value(), kT);
  EXPECT_EQ(ParseRfc3339("2026-11-24T05:30:00-04:30").value(), kT);
  EXPECT_EQ(ParseRfc3339("2026-11-24T10:00:00.123Z").value(), kT + absl::Milliseconds(123));
  EXPECT_EQ(ParseRfc3339("2026-11-24t10:00:00z").value(), kT);
}

TEST(ParseTest, RequiresOffsetAndWellFormed) {
  for (const char* bad : {"2026-11-24T10:00:00", "2026-11-24", "2026-11-24 10:00:00Z", "10:00:00Z", "",
                          "2026-13-24T10:00:00Z", "2026-11-24T25:00:00Z", "infinite-future", "yesterday"}) {
    const auto r = ParseRfc3339(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(ParseRfc3339("2026-11-24T10:00:00").status().message(), HasSubstr("\"2026-11-24T10:00:00\""));
}

TEST(ParseTest, RoundTripsFormat) {
  const absl::TimeZone msk = LoadTimeZone("Europe/Moscow").value();
  for (absl::Time t : {kT, kT + absl::Nanoseconds(7), absl::UnixEpoch(), absl::FromUnixSeconds(1277028000)}) {
    EXPECT_EQ(ParseRfc3339(FormatRfc3339Utc(t)).value(), t);
    EXPECT_EQ(ParseRfc3339(FormatRfc3339Local(t, msk)).value(), t);
  }
}

TEST(ProtoTimestampTest, RoundTripsAndFloors) {
  const absl::Time t = kT + absl::Nanoseconds(123456789);
  const google::protobuf::Timestamp ts = ToProtoTimestamp(t);
  EXPECT_EQ(ts.seconds(), 1795514400);
  EXPECT_EQ(ts.nanos(), 123456789);
  EXPECT_EQ(FromProtoTimestamp(ts), t);

  const google::protobuf::Timestamp before_epoch =
      ToProtoTimestamp(absl::UnixEpoch() - absl::Milliseconds(1));
  EXPECT_EQ(before_epoch.seconds(), -1);
  EXPECT_EQ(before_epoch.nanos(), 999000000);
  EXPECT_EQ(FromProtoTimestamp(before_epoch), absl::UnixEpoch() - absl::Milliseconds(1));
}

TEST(ProtoTimestampTest, ClampsToTimestampRange) {
  const google::protobuf::Timestamp hi = ToProtoTimestamp(absl::InfiniteFuture());
  EXPECT_EQ(hi.seconds(), 253402300799);
  EXPECT_EQ(hi.nanos(), 999999999);
  const google::protobuf::Timestamp lo = ToProtoTimestamp(absl::InfinitePast());
  EXPECT_EQ(lo.seconds(), -62135596800);
  EXPECT_EQ(lo.nanos(), 0);
}

TEST(ParseCivilDayTest, ExactDatesOnly) {
  auto day = ParseCivilDay("2026-02-28", "issue_date");
  ASSERT_TRUE(day.ok()) << day.status();
  EXPECT_EQ(*day, absl::CivilDay(2026, 2, 28));
  for (const char* bad : {"2026-02-30", "2026-13-01", "2026-2-28", "2026-02-28T00:00:00Z", "", "tomorrow"}) {
    auto r = ParseCivilDay(bad, "issue_date");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("issue_date"), absl::string_view::npos) << bad;
  }
}

}  // namespace
}  // namespace crm
