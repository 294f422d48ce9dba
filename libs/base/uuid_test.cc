#include "libs/base/uuid.h"

#include <algorithm>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace crm {
namespace {

const absl::Time kStart = absl::FromUnixMillis(1'795'000'000'123);  // 2026-11-18

void ExpectV7Shape(const std::string& id) {
  ASSERT_EQ(id.size(), 36u) << id;
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      EXPECT_EQ(id[i], '-') << id;
    } else {
      EXPECT_TRUE((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')) << id;
    }
  }
  EXPECT_EQ(id[14], '7') << "version nibble: " << id;
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << "variant bits 10: " << id;
  EXPECT_TRUE(IsUuid(id));
}

TEST(UuidV7Test, FormatVersionVariantAndTimestamp) {
  ManualClock clock(kStart);
  UuidV7Generator gen(clock);
  const std::string id = gen.Next();
  ExpectV7Shape(id);
  // 1795000000123 ms = 0x01a1ee565e7b.
  EXPECT_EQ(id.substr(0, 13), "01a1ee56-5e7b");
  EXPECT_EQ(UuidV7Time(id).value(), kStart);
}

TEST(UuidV7Test, StrictlyIncreasingWithinOneMillisecond) {
  ManualClock clock(kStart);
  UuidV7Generator gen(clock);
  std::string prev = gen.Next();
  for (int i = 0; i < 100'000; ++i) {
    std::string id = gen.Next();
    ASSERT_LT(prev, id) << "at " << i;
    prev = std::move(id);
  }
  ExpectV7Shape(prev);
  // Counter rollovers run the embedded time ahead of the stopped clock, but only by what is needed
  // (at least 2048 ids fit in each millisecond).
  const absl::Time last = UuidV7Time(prev).value();
  EXPECT_GE(last, kStart);
  EXPECT_LE(last, kStart + absl::Milliseconds(100'001 / 2048 + 1));
}

TEST(UuidV7Test, MonotonicWhenClockStepsBack) {
  ManualClock clock(kStart);
  UuidV7Generator gen(clock);
  const std::string a = gen.Next();
  clock.Advance(absl::Seconds(-10));
  const std::string b = gen.Next();
  EXPECT_LT(a, b);
  EXPECT_EQ(UuidV7Time(b).value(), kStart);  // keeps the last timestamp rather than going back
  clock.Advance(absl::Seconds(20));
  const std::string c = gen.Next();
  EXPECT_LT(b, c);
  EXPECT_EQ(UuidV7Time(c).value(), kStart + absl::Seconds(10));
}

TEST(UuidV7Test, NewMillisecondRestartsFromClock) {
  ManualClock clock(kStart);
  UuidV7Generator gen(clock);
  const std::string a = gen.Next();
  clock.Advance(absl::Milliseconds(1));
  const std::string b = gen.Next();
  EXPECT_LT(a, b);
  EXPECT_EQ(UuidV7Time(b).value(), kStart + absl::Milliseconds(1));
}

TEST(UuidV7Test, ThreadSafeAndUnique) {
  ManualClock clock(kStart);
  UuidV7Generator gen(clock);
  constexpr int kThreads = 4, kPerThread = 5000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) ids[t].push_back(gen.Next());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& v : ids) {
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));  // each thread sees increasing ids
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), size_t{kThreads * kPerThread});
}

TEST(UuidV7Test, RandomBitsDifferBetweenGenerators) {
  ManualClock clock(kStart);
  UuidV7Generator g1(clock), g2(clock);
  EXPECT_NE(g1.Next(), g2.Next());
}

TEST(UuidV7Test, ProcessWideGeneratorUsesWallClock) {
  const absl::Time before = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));
  const std::string a = NewUuidV7();
  const std::string b = NewUuidV7();
  ExpectV7Shape(a);
  EXPECT_LT(a, b);
  const absl::Time t = UuidV7Time(a).value();
  EXPECT_GE(t, before);
  EXPECT_LE(t, absl::Now());
}

TEST(IsUuidTest, AcceptsCanonicalAnyVersionAnyCase) {
  EXPECT_TRUE(IsUuid("00000000-0000-0000-0000-000000000000"));
  EXPECT_TRUE(IsUuid("550e8400-e29b-41d4-a716-446655440000"));  // v4
  EXPECT_TRUE(IsUuid("550E8400-E29B-41D4-A716-446655440000"));
  EXPECT_TRUE(IsUuid("019a4b2c-8f3e-7a01-9c2d-3b4f5a6e7d8c"));
}

TEST(IsUuidTest, RejectsOtherForms) {
  EXPECT_FALSE(IsUuid(""));
  EXPECT_FALSE(IsUuid("550e8400e29b41d4a716446655440000"));        // no hyphens
  EXPECT_FALSE(IsUuid("{550e8400-e29b-41d4-a716-446655440000}"));  // braces
  EXPECT_FALSE(IsUuid("550e8400-e29b-41d4-a716-44665544000"));     // short
  EXPECT_FALSE(IsUuid("550e8400-e29b-41d4-a716-4466554400000"));   // long
  EXPECT_FALSE(IsUuid("550e8400-e29b-41d4-a716_446655440000"));    // wrong separator
  EXPECT_FALSE(IsUuid("550e8400-e29b-41d4-a716-44665544000g"));    // not hex
  EXPECT_FALSE(IsUuid("550e840-0e29b-41d4-a716-446655440000"));    // hyphen misplaced
}

TEST(UuidV7TimeTest, RejectsNonV7) {
  EXPECT_EQ(UuidV7Time("550e8400-e29b-41d4-a716-446655440000").status().code(),
            absl::StatusCode::kInvalidArgument);                          // v4
  EXPECT_FALSE(UuidV7Time("019a4b2c-8f3e-7a01-cc2d-3b4f5a6e7d8c").ok());  // variant 110
  EXPECT_FALSE(UuidV7Time("not-a-uuid").ok());
  EXPECT_EQ(UuidV7Time("019A4B2C-8F3E-7A01-9C2D-3B4F5A6E7D8C").value(), absl::FromUnixMillis(0x019a4b2c8f3e));
}

}  // namespace
}  // namespace crm
