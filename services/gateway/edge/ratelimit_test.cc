#include "services/gateway/edge/ratelimit.h"

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace crm::gateway {
namespace {

class RateLimiterTest : public ::testing::Test {
 protected:
  ManualClock clock_{absl::FromUnixSeconds(1'800'000'000)};
};

TEST_F(RateLimiterTest, BurstThenRefuseWithRetryAfter) {
  RateLimiter rl(2, 3, clock_, 10);  // 2 tokens/s, burst 3
  EXPECT_TRUE(rl.Take("a").allowed);
  EXPECT_TRUE(rl.Take("a").allowed);
  EXPECT_TRUE(rl.Take("a").allowed);
  auto d = rl.Take("a");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, absl::Milliseconds(500));
  // A refused request took nothing: the same wait is reported again.
  EXPECT_EQ(rl.Take("a").retry_after, absl::Milliseconds(500));
}

TEST_F(RateLimiterTest, RefillsWithTheClockUpToBurst) {
  RateLimiter rl(2, 3, clock_, 10);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(rl.Take("a").allowed);
  clock_.Advance(absl::Milliseconds(499));
  EXPECT_FALSE(rl.Take("a").allowed);
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(rl.Take("a").allowed);
  EXPECT_FALSE(rl.Take("a").allowed);
  clock_.Advance(absl::Hours(1));  // capped at burst
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(rl.Take("a").allowed) << i;
  EXPECT_FALSE(rl.Take("a").allowed);
}

TEST_F(RateLimiterTest, KeysAreIndependent) {
  RateLimiter rl(1, 1, clock_, 10);
  EXPECT_TRUE(rl.Take("a").allowed);
  EXPECT_FALSE(rl.Take("a").allowed);
  EXPECT_TRUE(rl.Take("b").allowed);
}

TEST_F(RateLimiterTest, CostAboveBurstIsNeverAllowed) {
  RateLimiter rl(1, 2, clock_, 10);
  auto d = rl.Take("a", 3);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, absl::InfiniteDuration());
  EXPECT_TRUE(rl.Take("a", 2).allowed);  // the refused request took nothing
  auto d2 = rl.Take("a", 0.5);
  EXPECT_FALSE(d2.allowed);
  EXPECT_EQ(d2.retry_after, absl::Milliseconds(500));
}

TEST_F(RateLimiterTest, ClockSteppingBackAddsNothing) {
  RateLimiter rl(1, 1, clock_, 10);
  EXPECT_TRUE(rl.Take("a").allowed);
  clock_.Advance(absl::Seconds(-10));
  EXPECT_FALSE(rl.Take("a").allowed);
  clock_.Advance(absl::Seconds(10));
  EXPECT_FALSE(rl.Take("a").allowed);  // no credit for the time it spent behind
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(rl.Take("a").allowed);
}

TEST_F(RateLimiterTest, EvictsLeastRecentlyUsedBeyondMaxKeys) {
  RateLimiter rl(1, 1, clock_, 2);
  EXPECT_TRUE(rl.Take("a").allowed);
  EXPECT_TRUE(rl.Take("b").allowed);
  EXPECT_FALSE(rl.Take("a").allowed);  // touches a: b is now least recently used
  EXPECT_TRUE(rl.Take("c").allowed);   // evicts b
  EXPECT_EQ(rl.size(), 2u);
  EXPECT_FALSE(rl.Take("a").allowed);  // a was kept (still empty)
  EXPECT_TRUE(rl.Take("b").allowed);   // b was forgotten: starts full again
  EXPECT_EQ(rl.size(), 2u);
}

TEST_F(RateLimiterTest, ConcurrentTakesNeverExceedBurst) {
  RateLimiter rl(1, 100, clock_, 10);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (rl.Take("k").allowed) allowed.fetch_add(1);
        rl.Take("other" + std::to_string(i));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 100);
  EXPECT_LE(rl.size(), 10u);
}

}  // namespace
}  // namespace crm::gateway
