// File: services/deals/applications/shares_test.cc
// «Пересчитать доли» (D15): the pure share function on a table of cases and on thousands of random owner
// sets — fractions always sum exactly to 1, amounts always sum exactly to the price in kopecks, each
// amount within one kopeck of price × fraction, ties to the earlier owner.
#include "services/deals/applications/shares.h"

#include <numeric>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status.h"

namespace crm::deals::applications {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;
__extension__ typedef __int128 i128;

std::vector<ShareInput> Owners(std::vector<Fraction> given) {
  std::vector<ShareInput> out;
  for (size_t i = 0; i < given.size(); ++i) {
    out.push_back({"application.participants[" + std::to_string(i) + "]", given[i]});
  }
  return out;
}

std::vector<int64_t> Amounts(const std::vector<Share>& s) {
  std::vector<int64_t> out;
  for (const Share& x : s) out.push_back(x.amount_minor.value_or(-1));
  return out;
}

std::vector<std::string> Fields(const absl::Status& s) {
  std::vector<std::string> out;
  for (const FieldViolation& v : FieldViolations(s)) out.push_back(v.field);
  return out;
}

TEST(SharesTest, Table) {
  struct Case {
    Ownership kind;
    std::vector<Fraction> given;
    bool equal;
    int64_t price;
    std::vector<Fraction> fractions;
    std::vector<int64_t> amounts;
  };
  const std::vector<Case> cases = {
      // Individual: one owner owns the whole (the seed's row: 26 984 568,84).
      {Ownership::kIndividual, {{}}, false, 2698456884, {{1, 1}}, {2698456884}},
      {Ownership::kIndividual, {{1, 2}}, false, 100, {{1, 1}}, {100}},
      // Shared, equal split: 1/3 each, the leftover kopeck to the first (ties to the earlier owner).
      {Ownership::kShared, {{}, {}, {}}, false, 100, {{1, 3}, {1, 3}, {1, 3}}, {34, 33, 33}},
      {Ownership::kShared, {{}, {}, {}}, false, 101, {{1, 3}, {1, 3}, {1, 3}}, {34, 34, 33}},
      {Ownership::kShared, {{1, 2}, {1, 2}, {}}, true, 1000, {{1, 3}, {1, 3}, {1, 3}}, {334, 333, 333}},
      // Shared, given fractions: reduced to lowest terms; the largest remainder gets the kopeck.
      {Ownership::kShared, {{2, 6}, {4, 6}}, false, 100, {{1, 3}, {2, 3}}, {33, 67}},
      {Ownership::kShared, {{1, 4}, {3, 4}}, false, 2698456884, {{1, 4}, {3, 4}}, {674614221, 2023842663}},
      {Ownership::kShared, {{1, 6}, {1, 3}, {1, 2}}, false, 1, {{1, 6}, {1, 3}, {1, 2}}, {0, 0, 1}},
      // Overflow-safe: huge coprime denominators still sum exactly.
      {Ownership::kShared,
       {{1, 3037000493}, {3037000492, 3037000493}},
       false,
       1'000'000'000'000'000,
       {{1, 3037000493}, {3037000492, 3037000493}},
       {329272, 999999999670728}},
      {Ownership::kShared, {{}, {}}, false, 0, {{1, 2}, {1, 2}}, {0, 0}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    absl::StatusOr<std::vector<Share>> got = ComputeShares(c.kind, Owners(c.given), c.equal, c.price);
    ASSERT_TRUE(got.ok()) << i << ": " << got.status();
    std::vector<Fraction> fractions;
    for (const Share& s : *got) fractions.push_back(s.fraction);
    EXPECT_EQ(fractions, c.fractions) << i;
    EXPECT_EQ(Amounts(*got), c.amounts) << i;
  }
}

TEST(SharesTest, JointHasNoFractionsNorAmounts) {
  absl::StatusOr<std::vector<Share>> got = ComputeShares(Ownership::kJoint, Owners({{1, 2}, {}}), false, 500);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, ElementsAre(Share{}, Share{}));
}

TEST(SharesTest, RefusesNamingTheFields) {
  // Not summing to 1: every owner's share fields.
  absl::Status s = ComputeShares(Ownership::kShared, Owners({{1, 2}, {1, 3}}), false, 100).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Fields(s), UnorderedElementsAre(
                             "application.participants[0].share_numerator", "application.participants[0].share_denominator",
                             "application.participants[1].share_numerator", "application.participants[1].share_denominator"));
  // Over 1.
  EXPECT_FALSE(ComputeShares(Ownership::kShared, Owners({{2, 3}, {2, 3}}), false, 100).ok());
  // Bad fractions, every one at once.
  s = ComputeShares(Ownership::kShared, Owners({{0, 2}, {3, 2}, {1, 0}}), false, 100).status();
  EXPECT_THAT(Fields(s), ElementsAre("application.participants[0].share_numerator",
                                     "application.participants[1].share_numerator",
                                     "application.participants[2].share_denominator"));
  // A given fraction beside a missing one.
  s = ComputeShares(Ownership::kShared, Owners({{1, 2}, {}}), false, 100).status();
  EXPECT_THAT(Fields(s), ElementsAre("application.participants[1].share_numerator",
                                     "application.participants[1].share_denominator"));
  // The number of owners.
  EXPECT_THAT(Fields(ComputeShares(Ownership::kIndividual, Owners({{}, {}}), false, 100).status()),
              ElementsAre("application.ownership_kind"));
  EXPECT_THAT(Fields(ComputeShares(Ownership::kShared, {}, false, 100).status()),
              ElementsAre("application.ownership_kind"));
  EXPECT_THAT(Fields(ComputeShares(Ownership::kJoint, {}, false, 100).status()),
              ElementsAre("application.ownership_kind"));
}

// Thousands of random owner sets: a random common denominator split into random positive parts (each
// part's fraction also given unreduced, times a random factor), a random price up to 10^13 roubles.
TEST(SharesTest, RandomOwnerSetsAlwaysSumExactly) {
  std::mt19937_64 rng(20261207);
  for (int iter = 0; iter < 20000; ++iter) {
    const int n = 1 + static_cast<int>(rng() % 12);
    const int64_t big = (iter % 3 == 0) ? 1'000'000'000'000LL : 1000;
    const int64_t d = n + static_cast<int64_t>(rng() % big);
    // n positive parts of d: n-1 distinct cut points in [1, d-1].
    std::vector<int64_t> cuts;
    while (static_cast<int>(cuts.size()) < n - 1) {
      int64_t c = 1 + static_cast<int64_t>(rng() % (d - 1));
      if (std::find(cuts.begin(), cuts.end(), c) == cuts.end()) cuts.push_back(c);
    }
    std::sort(cuts.begin(), cuts.end());
    std::vector<Fraction> given;
    int64_t prev = 0;
    for (int i = 0; i < n; ++i) {
      const int64_t next = i + 1 < n ? cuts[i] : d;
      const int64_t k = (d < 1'000'000) ? 1 + static_cast<int64_t>(rng() % 1000) : 1;
      given.push_back({(next - prev) * k, d * k});
      prev = next;
    }
    const bool equal = iter % 5 == 0;
    const int64_t price = static_cast<int64_t>(rng() % 1'000'000'000'000'000LL);
    absl::StatusOr<std::vector<Share>> got = ComputeShares(Ownership::kShared, Owners(given), equal, price);
    ASSERT_TRUE(got.ok()) << iter << ": " << got.status();
    ASSERT_EQ(got->size(), given.size());
    // Fractions: lowest terms, summing to exactly 1 (over the common denominator d, or n for equal).
    i128 sum_over_d = 0;
    int64_t amounts = 0;
    for (size_t i = 0; i < got->size(); ++i) {
      const Share& s = (*got)[i];
      ASSERT_GT(s.fraction.denominator, 0);
      ASSERT_EQ(std::gcd(s.fraction.numerator, s.fraction.denominator), 1) << iter;
      const int64_t whole = equal ? n : d;
      ASSERT_EQ(whole % s.fraction.denominator, 0) << iter;
      sum_over_d += static_cast<i128>(s.fraction.numerator) * (whole / s.fraction.denominator);
      if (!equal) {
        // The same fraction as given.
        ASSERT_EQ(static_cast<i128>(s.fraction.numerator) * given[i].denominator,
                  static_cast<i128>(given[i].numerator) * s.fraction.denominator);
      }
      // Within one kopeck of price × fraction: |amount × den − price × num| < den.
      ASSERT_TRUE(s.amount_minor.has_value());
      const i128 diff = static_cast<i128>(*s.amount_minor) * s.fraction.denominator -
                        static_cast<i128>(price) * s.fraction.numerator;
      ASSERT_LT(diff < 0 ? -diff : diff, static_cast<i128>(s.fraction.denominator)) << iter;
      amounts += *s.amount_minor;
    }
    ASSERT_EQ(sum_over_d, static_cast<i128>(equal ? n : d)) << iter;
    ASSERT_EQ(amounts, price) << iter;
    // Deterministic: the same input gives the same shares.
    ASSERT_EQ(*ComputeShares(Ownership::kShared, Owners(given), equal, price), *got);
  }
}

}  // namespace
}  // namespace crm::deals::applications
