// File: services/telephony/requests/rules_test.cc
// The queue's pure rules (rules.h), table-tested: readiness after each end of an offer, priorities, due
// times, and the matcher's pairing (queue order × longest idle, exclusions).
#include "services/telephony/requests/rules.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace crm::telephony::requests {
namespace {

absl::Time T(int s) { return absl::FromUnixSeconds(1796000000 + s); }

TEST(ReadinessAfter, Table) {
  struct Case {
    Readiness now;
    OfferEnd end;
    Readiness want;
    std::string want_reason;
  };
  const std::vector<Case> cases = {
      {Readiness::kReady, OfferEnd::kAccepted, Readiness::kReady, "r"},
      {Readiness::kReady, OfferEnd::kDeclined, Readiness::kReady, "r"},
      {Readiness::kReady, OfferEnd::kExpired, Readiness::kNotReady, kReasonExpired},
      {Readiness::kReady, OfferEnd::kFinished, Readiness::kNotReady, kReasonAfterRequest},
      {Readiness::kAutoReady, OfferEnd::kAccepted, Readiness::kAutoReady, "r"},
      {Readiness::kAutoReady, OfferEnd::kDeclined, Readiness::kAutoReady, "r"},
      {Readiness::kAutoReady, OfferEnd::kExpired, Readiness::kNotReady, kReasonExpired},
      {Readiness::kAutoReady, OfferEnd::kFinished, Readiness::kAutoReady, "r"},
      // Set not ready while holding a request: stays so, with their own reason.
      {Readiness::kNotReady, OfferEnd::kFinished, Readiness::kNotReady, "r"},
      {Readiness::kNotReady, OfferEnd::kDeclined, Readiness::kNotReady, "r"},
      {Readiness::kNotReady, OfferEnd::kExpired, Readiness::kNotReady, kReasonExpired},
  };
  for (const Case& c : cases) {
    auto [got, reason] = ReadinessAfter(c.now, "r", c.end);
    EXPECT_EQ(got, c.want) << static_cast<int>(c.now) << " " << static_cast<int>(c.end);
    EXPECT_EQ(reason, c.want_reason) << static_cast<int>(c.now) << " " << static_cast<int>(c.end);
  }
}

TEST(PriorityAndDue, Table) {
  EXPECT_EQ(PriorityOf(0, false), kDefaultPriority);
  EXPECT_EQ(PriorityOf(0, true), kHighestPriority);
  EXPECT_EQ(PriorityOf(3, true), 3);
  EXPECT_EQ(PriorityOf(1, false), 1);
  EXPECT_EQ(DueOf(std::nullopt, T(5)), T(5));
  EXPECT_EQ(DueOf(T(100), T(5)), T(100));
  EXPECT_EQ(DueOf(T(1), T(5)), T(1));  // a planned time already past keeps its place
}

TEST(Pair, Table) {
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  struct Case {
    std::string name;
    std::vector<QueuedRequest> requests;
    std::vector<FreeOperator> operators;
    Pairs exclude;
    Pairs want;
  };
  const std::vector<Case> cases = {
      {"nothing", {}, {{"o1", T(0)}}, {}, {}},
      {"nobody free", {{"r1", 2, T(0)}}, {}, {}, {}},
      {"priority before time", {{"r-late", 1, T(50)}, {"r-early", 2, T(0)}}, {{"o1", T(0)}}, {}, {{"r-late", "o1"}}},
      {"then due time", {{"r2", 2, T(20)}, {"r1", 2, T(10)}}, {{"o1", T(0)}}, {}, {{"r1", "o1"}}},
      {"then id", {{"rb", 2, T(10)}, {"ra", 2, T(10)}}, {{"o1", T(0)}}, {}, {{"ra", "o1"}}},
      {"longest idle first",
       {{"r1", 1, T(0)}, {"r2", 2, T(0)}},
       {{"o-recent", T(30)}, {"o-idle", T(1)}, {"o-mid", T(10)}},
       {},
       {{"r1", "o-idle"}, {"r2", "o-mid"}}},
      {"idle tie by id", {{"r1", 1, T(0)}}, {{"ob", T(1)}, {"oa", T(1)}}, {}, {{"r1", "oa"}}},
      {"more requests than operators",
       {{"r1", 1, T(0)}, {"r2", 1, T(1)}, {"r3", 1, T(2)}},
       {{"o1", T(0)}, {"o2", T(1)}},
       {},
       {{"r1", "o1"}, {"r2", "o2"}}},
      {"excluded pair goes to the next operator",
       {{"r1", 1, T(0)}, {"r2", 2, T(0)}},
       {{"o1", T(0)}, {"o2", T(5)}},
       {{"r1", "o1"}},
       {{"r1", "o2"}, {"r2", "o1"}}},
      {"excluded and alone: the next request", {{"r1", 1, T(0)}, {"r2", 2, T(0)}}, {{"o1", T(0)}}, {{"r1", "o1"}},
       {{"r2", "o1"}}},
      {"excluded and nothing else: nothing", {{"r1", 1, T(0)}}, {{"o1", T(0)}}, {{"r1", "o1"}}, {}},
  };
  for (const Case& c : cases) EXPECT_EQ(Pair(c.requests, c.operators, c.exclude), c.want) << c.name;
}

}  // namespace
}  // namespace crm::telephony::requests
