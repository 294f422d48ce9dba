#include "services/mortgage/calculators.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/strings.h"
#include "services/mortgage/schedule.h"

namespace crm::mortgage {
namespace {

using Rounding = ConventionProfile::Rounding;

Rate R(const char* text) {
  auto r = ParseRate(text);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : Rate{};
}

int64_t Pay(int64_t principal, Rate rate, int months) {
  return AnnuityPayment(principal, rate, months, Rounding::kHalfUp);
}

void ExpectInvalidField(const absl::Status& st, const std::string& field) {
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(std::string(AsStd(st.message())), ::testing::StartsWith(field + ":")) << st;
}

// --- MaxLoanForPayment ----------------------------------------------------------------------------

TEST(MaxLoanForPaymentTest, BoundaryIsExact) {
  // 1 854.02 ₽ over 180 months at 7.5 % is the annuity of 200 000 ₽ (schedule.h's example).
  auto loan = MaxLoanForPayment(185'402, R("0.075"), 180);
  ASSERT_TRUE(loan.ok()) << loan.status();
  EXPECT_LE(Pay(*loan, R("0.075"), 180), 185'402);
  EXPECT_GT(Pay(*loan + 1, R("0.075"), 180), 185'402);
  EXPECT_GE(*loan, 20'000'000);
  EXPECT_LT(*loan, 20'000'000 + 200);  // within ~half a kopeck of payment * annuity factor
}

TEST(MaxLoanForPaymentTest, RandomBoundaryProperty) {
  std::mt19937_64 rng(42);
  auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int t = 0; t < 3000; ++t) {
    const int64_t payment = uni(0, 100'000'000);
    const Rate rate{uni(0, 5) == 0 ? 0 : uni(1, 40'000'000)};
    const int n = static_cast<int>(uni(1, 600));
    SCOPED_TRACE(testing::Message() << "A=" << payment << " r=" << FormatRate(rate) << " n=" << n);
    auto loan = MaxLoanForPayment(payment, rate, n);
    ASSERT_TRUE(loan.ok()) << loan.status();
    EXPECT_LE(Pay(*loan, rate, n), payment);
    EXPECT_GT(Pay(*loan + 1, rate, n), payment);
  }
}

TEST(MaxLoanForPaymentTest, ZeroRateAndZeroPayment) {
  // At 0 % the payment is round(S / n): S = 12 * 1000 + 5 still rounds to 1000 (1000.42), + 6 gives 1000.5.
  EXPECT_EQ(*MaxLoanForPayment(1'000, Rate{0}, 12), 12'005);
  // Half-up: 1 kopeck over 3 months pays round(0.33) = 0, so 1 kopeck "fits" a zero payment.
  EXPECT_EQ(*MaxLoanForPayment(0, Rate{0}, 3), 1);
  EXPECT_EQ(*MaxLoanForPayment(0, R("0.1"), 1), 0);
}

TEST(MaxLoanForPaymentTest, BadInput) {
  ExpectInvalidField(MaxLoanForPayment(-1, R("0.1"), 12).status(), "max_payment");
  ExpectInvalidField(MaxLoanForPayment(1, Rate{100'000'000}, 12).status(), "rate");
  ExpectInvalidField(MaxLoanForPayment(1, R("0.1"), 0).status(), "term_months");
  ExpectInvalidField(MaxLoanForPayment(1, R("0.1"), 601).status(), "term_months");
}

// --- income, down payment, term --------------------------------------------------------------------

TEST(MaxPaymentForIncomeTest, FloorsAndRoundTripsWithRequiredIncome) {
  EXPECT_EQ(*MaxPaymentForIncome(10'000'000, 0, R("0.7")), 7'000'000);
  EXPECT_EQ(*MaxPaymentForIncome(10'000'000, 2'000'000, R("0.5")), 3'000'000);
  EXPECT_EQ(*MaxPaymentForIncome(10'000'000, 9'000'000, R("0.5")), 0);
  EXPECT_EQ(*MaxPaymentForIncome(333, 0, R("0.5")), 166);  // 166.5 rounds down
  std::mt19937_64 rng(3);
  for (int t = 0; t < 1000; ++t) {
    const int64_t income = std::uniform_int_distribution<int64_t>(0, 1'000'000'000)(rng);
    const Rate pti{std::uniform_int_distribution<int64_t>(1, 100'000'000)(rng)};
    const int64_t pay = *MaxPaymentForIncome(income, 0, pti);
    EXPECT_LE(*RequiredIncome(pay, 0, pti), income);
    EXPECT_GT(*RequiredIncome(pay + 1, 0, pti), income);
  }
  ExpectInvalidField(MaxPaymentForIncome(-1, 0, R("0.5")).status(), "monthly_income");
  ExpectInvalidField(MaxPaymentForIncome(1, -1, R("0.5")).status(), "other_debt_payments");
  ExpectInvalidField(MaxPaymentForIncome(1, 0, Rate{0}).status(), "pti");
  ExpectInvalidField(MaxPaymentForIncome(1, 0, Rate{100'000'001}).status(), "pti");
}

TEST(MinDownPaymentTest, SmallestDownPaymentThatFits) {
  const Rate rate = R("0.16");
  const int64_t price = 1'200'000'000;  // 12 M ₽
  const int64_t max_payment = 10'000'000;  // 100 000 ₽
  auto down = MinDownPayment(price, max_payment, rate, 360);
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_GT(*down, 0);
  EXPECT_LE(Pay(price - *down, rate, 360), max_payment);
  EXPECT_GT(Pay(price - *down + 1, rate, 360), max_payment);
  EXPECT_EQ(*MinDownPayment(100'000'000, max_payment, rate, 360), 0);  // 1 M ₽ fits whole
  // A zero payment still carries the few kopecks whose half-up payment rounds to 0.
  EXPECT_EQ(*MinDownPayment(100'000'000, 0, rate, 360), 100'000'000 - *MaxLoanForPayment(0, rate, 360));
  ExpectInvalidField(MinDownPayment(0, max_payment, rate, 360).status(), "price");
  ExpectInvalidField(MinDownPayment(price, -1, rate, 360).status(), "max_payment");
}

TEST(TermForPaymentTest, ShortestTermIsMinimal) {
  std::mt19937_64 rng(11);
  auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int t = 0; t < 300; ++t) {
    const int64_t principal = uni(100'000, 5'000'000'000);
    const Rate rate{uni(0, 4) == 0 ? 0 : uni(1, 30'000'000)};
    const int max_term = static_cast<int>(uni(1, 600));
    const int64_t target = uni(1, Pay(principal, rate, 1));
    SCOPED_TRACE(testing::Message() << "S=" << principal << " r=" << FormatRate(rate) << " target=" << target
                                    << " max=" << max_term);
    auto n = TermForPayment(principal, target, rate, max_term);
    // Reference: the first term that fits by a plain scan.
    int expected = 0;
    for (int m = 1; m <= max_term && expected == 0; ++m) {
      if (Pay(principal, rate, m) <= target) expected = m;
    }
    if (expected == 0) {
      EXPECT_EQ(n.status().code(), absl::StatusCode::kFailedPrecondition) << n.status();
      EXPECT_THAT(std::string(AsStd(n.status().message())),
                  ::testing::HasSubstr(std::to_string(Pay(principal, rate, max_term))));
      continue;
    }
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(*n, expected);
  }
  ExpectInvalidField(TermForPayment(0, 1, R("0.1"), 12).status(), "principal");
  ExpectInvalidField(TermForPayment(1, 0, R("0.1"), 12).status(), "target_payment");
  ExpectInvalidField(TermForPayment(1, 1, R("0.1"), 0).status(), "max_term");
}

// --- family split --------------------------------------------------------------------------------

TEST(FamilySplitTest, UnderTheLimitIsOneAnnuity) {
  // Limits 6 M ₽ (regions) / 12 M ₽ (Moscow, St Petersburg and their oblasts) at <= 6 %, as published
  // by okkkkk.ru and bash.news (design/anchors/mortgage.md §3).
  const int64_t loan = 500'000'000;  // 5 M ₽ under the 6 M ₽ regional limit
  auto r = FamilySplit(loan, R("0.06"), R("0.21"), 600'000'000, 360);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->subsidised_tranche, loan);
  EXPECT_EQ(r->market_tranche, 0);
  EXPECT_EQ(r->market_payment, 0);
  EXPECT_EQ(r->payment, Pay(loan, R("0.06"), 360));
  EXPECT_EQ(r->blended_rate, R("0.06"));
  LoanRequest req;
  req.principal_kopecks = loan;
  req.annual_rate = R("0.06");
  req.term_months = 360;
  req.issue_date = absl::CivilDay(2026, 3, 1);
  auto s = BuildSchedule(req, nullptr);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(r->overpayment, s->total_interest);
}

TEST(FamilySplitTest, OverTheLimitBlends) {
  const int64_t loan = 1'500'000'000;  // 15 M ₽ against a 12 M ₽ (Moscow) limit
  auto r = FamilySplit(loan, R("0.06"), R("0.2"), 1'200'000'000, 360);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->subsidised_tranche, 1'200'000'000);
  EXPECT_EQ(r->market_tranche, 300'000'000);
  EXPECT_EQ(r->subsidised_payment, Pay(1'200'000'000, R("0.06"), 360));
  EXPECT_EQ(r->market_payment, Pay(300'000'000, R("0.2"), 360));
  EXPECT_EQ(r->payment, r->subsidised_payment + r->market_payment);
  EXPECT_GT(r->blended_rate.e8, 6'000'000);
  EXPECT_LT(r->blended_rate.e8, 20'000'000);
  // The blended rate reproduces the payment to within a kopeck, and the next e8 either way does not
  // come nearer by more than rounding.
  EXPECT_NEAR(static_cast<double>(Pay(loan, r->blended_rate, 360)), static_cast<double>(r->payment), 1.0);
  EXPECT_LE(Pay(loan, Rate{r->blended_rate.e8 - 100}, 360), r->payment);
  EXPECT_GE(Pay(loan, Rate{r->blended_rate.e8 + 100}, 360), r->payment);
  // Overpayment = the two tranche schedules' interest.
  int64_t interest = 0;
  for (auto [s, rate] : {std::pair<int64_t, const char*>{1'200'000'000, "0.06"}, {300'000'000, "0.2"}}) {
    LoanRequest req;
    req.principal_kopecks = s;
    req.annual_rate = R(rate);
    req.term_months = 360;
    req.issue_date = absl::CivilDay(2026, 3, 1);
    interest += BuildSchedule(req, nullptr)->total_interest;
  }
  EXPECT_EQ(r->overpayment, interest);
}

TEST(FamilySplitTest, BadInput) {
  ExpectInvalidField(FamilySplit(0, R("0.06"), R("0.2"), 1, 360).status(), "loan");
  ExpectInvalidField(FamilySplit(1, Rate{-1}, R("0.2"), 1, 360).status(), "subsidised_rate");
  ExpectInvalidField(FamilySplit(1, R("0.06"), Rate{100'000'000}, 1, 360).status(), "market_rate");
  ExpectInvalidField(FamilySplit(1, R("0.06"), R("0.2"), -1, 360).status(), "limit");
  ExpectInvalidField(FamilySplit(1, R("0.06"), R("0.2"), 1, 0).status(), "term_months");
}

// --- military ------------------------------------------------------------------------------------

TEST(MilitaryTest, ContributionTable) {
  const auto& t = DefaultMilitaryContributions();
  ASSERT_FALSE(t.empty());
  for (size_t k = 1; k < t.size(); ++k) {
    EXPECT_GT(t[k].year, t[k - 1].year);
    EXPECT_GE(t[k].amount, t[k - 1].amount);
  }
  auto amount = [&](int year) {
    for (const auto& e : t) if (e.year == year) return e.amount;
    return int64_t{-1};
  };
  EXPECT_EQ(amount(2015), 24'588'000);
  EXPECT_EQ(amount(2017), 26'014'100);
  EXPECT_EQ(amount(2023), 34'961'400);
  EXPECT_EQ(amount(2026), 41'118'490);
}

TEST(MilitaryTest, MaxLoanIsThePresentValueOfTheContribution) {
  MilitaryRequest req;
  req.rate = R("0.08");
  req.age = 30;
  req.issue_date = absl::CivilDay(2026, 3, 1);
  req.savings = 150'000'000;
  req.own_funds = 50'000'000;
  auto r = Military(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->monthly_contribution, 41'118'490 / 12);  // 34 265.40 ₽
  EXPECT_EQ(r->term_months, 180);
  EXPECT_EQ(r->max_loan, *MaxLoanForPayment(r->monthly_contribution, req.rate, 180));
  EXPECT_LE(Pay(r->max_loan, req.rate, 180), r->monthly_contribution);
  EXPECT_EQ(r->max_price, req.savings + r->max_loan + req.own_funds);
  EXPECT_EQ(r->loan, r->max_loan);
  EXPECT_EQ(r->payment, Pay(r->max_loan, req.rate, 180));
  EXPECT_EQ(r->gap, 0);

  // A price above what the contribution carries leaves a gap; below it needs a smaller loan.
  req.price = r->max_price + 1'000'000;
  auto high = Military(req);
  EXPECT_EQ(high->gap, 1'000'000);
  EXPECT_EQ(high->loan, r->max_loan);
  req.price = 400'000'000;
  auto low = Military(req);
  EXPECT_EQ(low->gap, 0);
  EXPECT_EQ(low->loan, 200'000'000);
  EXPECT_EQ(low->payment, Pay(200'000'000, req.rate, 180));
}

TEST(MilitaryTest, OlderServicemenGetLessAndTheIssueYearPicksTheContribution) {
  MilitaryRequest req;
  req.rate = R("0.1");
  req.issue_date = absl::CivilDay(2023, 6, 1);
  int64_t prev = INT64_MAX;
  for (int age = 20; age <= 44; ++age) {
    req.age = age;
    auto r = Military(req);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->term_months, 12 * (45 - age));
    EXPECT_EQ(r->monthly_contribution, 34'961'400 / 12);
    EXPECT_LT(r->max_loan, prev);
    prev = r->max_loan;
  }
  req.issue_date = absl::CivilDay(2040, 1, 1);  // after the table: the last year's
  EXPECT_EQ(Military(req)->monthly_contribution, 41'118'490 / 12);
  req.issue_date = absl::CivilDay(2010, 1, 1);  // before the table: the first year's
  EXPECT_EQ(Military(req)->monthly_contribution, 24'588'000 / 12);
  req.contributions = {{2020, 1'200'000}, {2024, 2'400'000}};
  req.issue_date = absl::CivilDay(2023, 12, 31);
  EXPECT_EQ(Military(req)->monthly_contribution, 100'000);
}

TEST(MilitaryTest, BadInput) {
  MilitaryRequest ok;
  ok.rate = R("0.1");
  ok.age = 30;
  ok.issue_date = absl::CivilDay(2026, 1, 1);
  MilitaryRequest r = ok;
  r.age = 45;
  ExpectInvalidField(Military(r).status(), "age");
  r.age = 17;
  ExpectInvalidField(Military(r).status(), "age");
  r = ok;
  r.age_limit = 70;
  ExpectInvalidField(Military(r).status(), "age_limit");
  r = ok;
  r.savings = -1;
  ExpectInvalidField(Military(r).status(), "savings");
  r = ok;
  r.own_funds = -1;
  ExpectInvalidField(Military(r).status(), "own_funds");
  r = ok;
  r.price = -1;
  ExpectInvalidField(Military(r).status(), "price");
  r = ok;
  r.rate = Rate{-1};
  ExpectInvalidField(Military(r).status(), "rate");
  r = ok;
  r.contributions = {{2024, 1}, {2023, 1}};
  ExpectInvalidField(Military(r).status(), "contributions[1]");
}

// --- developer subsidy ---------------------------------------------------------------------------

// loan - PV(payments during) - PV(balance after), evaluated literally from a default-profile schedule.
double LiteralCost(int64_t loan, Rate sub, Rate market, int months, int term) {
  LoanRequest req;
  req.principal_kopecks = loan;
  req.annual_rate = sub;
  req.term_months = term;
  req.issue_date = absl::CivilDay(2026, 1, 10);
  auto s = BuildSchedule(req, nullptr);
  EXPECT_TRUE(s.ok()) << s.status();
  const long double v = 1 / (1 + market.e8 / 1.2e9L);
  long double pv = 0, disc = 1;
  for (int k = 0; k < months; ++k) {
    disc *= v;
    pv += disc * s->rows[k].payment;
  }
  pv += disc * s->rows[months - 1].balance_after;
  return static_cast<double>(loan - pv);
}

TEST(SubsidyTest, EqualRatesCostNothing) {
  std::mt19937_64 rng(5);
  auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int t = 0; t < 200; ++t) {
    const int64_t loan = uni(1'000'000, 3'000'000'000);
    const Rate rate{uni(0, 30'000'000)};
    const int term = static_cast<int>(uni(2, 360));
    const int months = static_cast<int>(uni(1, term - 1));
    auto r = Subsidy(loan, rate, rate, months, term);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_LE(std::abs(r->developer_cost), 1);
    EXPECT_EQ(r->payment_during, Pay(loan, rate, term));
  }
}

TEST(SubsidyTest, CostMatchesTheLiteralPresentValue) {
  const int64_t loan = 1'000'000'000;  // 10 M ₽
  auto r = Subsidy(loan, R("0.05"), R("0.2"), 36, 360);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->payment_during, Pay(loan, R("0.05"), 360));
  EXPECT_GT(r->payment_after, r->payment_during);
  // Differs from the literal formula only by the interest rounding, <= half a kopeck a month.
  EXPECT_NEAR(static_cast<double>(r->developer_cost), LiteralCost(loan, R("0.05"), R("0.2"), 36, 360), 18.0);
  EXPECT_GT(r->developer_cost, 0);
  EXPECT_EQ(r->cost_share.e8, (r->developer_cost * 100'000'000 * 2 + loan) / (2 * loan));
  // A longer subsidy costs more; a lower subsidised rate costs more.
  EXPECT_GT(Subsidy(loan, R("0.05"), R("0.2"), 60, 360)->developer_cost, r->developer_cost);
  EXPECT_GT(Subsidy(loan, R("0.01"), R("0.2"), 36, 360)->developer_cost, r->developer_cost);
}

TEST(SubsidyTest, AgreesWithTheScheduleOfAnInitialRatePeriod) {
  for (int months : {1, 12, 36, 119}) {
    const int64_t loan = 750'000'000;
    auto r = Subsidy(loan, R("0.0599"), R("0.2175"), months, 120);
    ASSERT_TRUE(r.ok()) << r.status();
    LoanRequest req;
    req.principal_kopecks = loan;
    req.annual_rate = R("0.2175");
    req.initial_rate_months = months;
    req.initial_rate = R("0.0599");
    req.term_months = 120;
    req.issue_date = absl::CivilDay(2026, 5, 31);
    auto s = BuildSchedule(req, nullptr);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(r->payment_during, s->rows[0].payment);
    EXPECT_EQ(r->payment_during, s->regular_payment);
    EXPECT_EQ(r->payment_after, s->rows[months].payment) << months;
    // The developer pays what the bank forgoes: the interest at the market rate on the
    // schedule's own balances minus the interest charged, discounted.
    long double cost = 0, disc = 1;
    int64_t balance = loan;
    for (int k = 0; k < months; ++k) {
      disc /= 1 + 0.2175L / 12;
      cost += disc * (PeriodInterest(balance, R("0.2175"), {}, {}, req.profile) - s->rows[k].interest);
      balance = s->rows[k].balance_after;
    }
    EXPECT_NEAR(static_cast<double>(r->developer_cost), static_cast<double>(cost), 1.0);
  }
}

TEST(SubsidyTest, BadInput) {
  ExpectInvalidField(Subsidy(0, R("0.05"), R("0.2"), 12, 360).status(), "loan");
  ExpectInvalidField(Subsidy(1'000, R("0.3"), R("0.2"), 12, 360).status(), "subsidised_rate");
  ExpectInvalidField(Subsidy(1'000, R("0.05"), Rate{100'000'000}, 12, 360).status(), "market_rate");
  ExpectInvalidField(Subsidy(1'000, R("0.05"), R("0.2"), 0, 360).status(), "months");
  ExpectInvalidField(Subsidy(1'000, R("0.05"), R("0.2"), 360, 360).status(), "months");
  ExpectInvalidField(Subsidy(1'000, R("0.05"), R("0.2"), 12, 601).status(), "term_months");
}

}  // namespace
}  // namespace crm::mortgage
