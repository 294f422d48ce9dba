// File: services/identity/throttle_test.cc
// The sign-in delay policy (throttle.h), without a database.
#include "services/identity/throttle.h"

#include <gtest/gtest.h>

namespace crm::identity {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'795'000'000);

TEST(DelayPolicyTest, FreeFailuresThenDoublingUpToTheCap) {
  const DelayPolicy p{.free_failures = 5, .first_delay = absl::Seconds(1), .max_delay = absl::Minutes(15)};
  for (int n = 0; n <= 5; ++n) EXPECT_EQ(DelayAfter(p, n), absl::ZeroDuration()) << n;
  EXPECT_EQ(DelayAfter(p, 6), absl::Seconds(1));
  EXPECT_EQ(DelayAfter(p, 7), absl::Seconds(2));
  EXPECT_EQ(DelayAfter(p, 8), absl::Seconds(4));
  EXPECT_EQ(DelayAfter(p, 15), absl::Seconds(512));
  EXPECT_EQ(DelayAfter(p, 16), absl::Minutes(15));  // 1024 s capped at 900 s
  EXPECT_EQ(DelayAfter(p, 1'000'000), absl::Minutes(15));
}

TEST(DelayPolicyTest, AQuietPeriodForgetsTheFailures) {
  const DelayPolicy p{.free_failures = 5, .forget_after = absl::Hours(1)};
  EXPECT_EQ(CountedFailures(p, 9, kT0, kT0 + absl::Minutes(59)), 9);
  EXPECT_EQ(CountedFailures(p, 9, kT0, kT0 + absl::Hours(1)), 0);
  EXPECT_EQ(CountedFailures(p, -3, kT0, kT0), 0);
  EXPECT_EQ(WaitBefore(p, 100, kT0, kT0 + absl::Hours(1)), absl::ZeroDuration());
}

TEST(DelayPolicyTest, WaitBeforeIsWhatRemainsOfTheDelay) {
  const DelayPolicy p{.free_failures = 2, .first_delay = absl::Seconds(1), .max_delay = absl::Minutes(15)};
  EXPECT_EQ(WaitBefore(p, 2, kT0, kT0), absl::ZeroDuration());  // still free
  EXPECT_EQ(WaitBefore(p, 4, kT0, kT0), absl::Seconds(2));
  EXPECT_EQ(WaitBefore(p, 4, kT0, kT0 + absl::Milliseconds(500)), absl::Milliseconds(1500));
  EXPECT_EQ(WaitBefore(p, 4, kT0, kT0 + absl::Seconds(2)), absl::ZeroDuration());
  EXPECT_EQ(WaitBefore(p, 4, kT0, kT0 + absl::Seconds(30)), absl::ZeroDuration());
}

TEST(DelayPolicyTest, DefaultsSlowAPairSoonerThanAnAddress) {
  const SignInThrottlePolicy p;
  EXPECT_EQ(DelayAfter(p.per_login_address, 6), absl::Seconds(1));
  EXPECT_EQ(DelayAfter(p.per_address, 6), absl::ZeroDuration());
  EXPECT_EQ(DelayAfter(p.per_address, 31), absl::Seconds(1));
  EXPECT_EQ(DelayAfter(p.per_address, 100), absl::Minutes(15));
}

}  // namespace
}  // namespace crm::identity
