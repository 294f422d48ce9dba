#include "libs/base/clock.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace crm {
namespace {

TEST(ManualClockTest, StandsStillUntilMoved) {
  const absl::Time start = absl::FromUnixSeconds(1'800'000'000);
  ManualClock clock(start);
  EXPECT_EQ(clock.Now(), start);
  EXPECT_EQ(clock.Now(), start);
  clock.Advance(absl::Minutes(5));
  EXPECT_EQ(clock.Now(), start + absl::Minutes(5));
  clock.Advance(absl::Seconds(-30));
  EXPECT_EQ(clock.Now(), start + absl::Seconds(270));
  clock.Set(start - absl::Hours(1));
  EXPECT_EQ(clock.Now(), start - absl::Hours(1));
}

TEST(ManualClockTest, ConcurrentAdvancesAllCount) {
  ManualClock clock(absl::UnixEpoch());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&clock] {
      for (int i = 0; i < 1000; ++i) {
        clock.Advance(absl::Milliseconds(1));
        (void)clock.Now();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(clock.Now(), absl::UnixEpoch() + absl::Seconds(4));
}

TEST(SystemClockTest, FollowsWallClock) {
  const absl::Time before = absl::Now();
  const absl::Time now = SystemClock().Now();
  EXPECT_GE(now, before);
  EXPECT_LE(now - before, absl::Minutes(1));
  EXPECT_EQ(&SystemClock(), &SystemClock());
}

}  // namespace
}  // namespace crm
