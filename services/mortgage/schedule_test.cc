#include "services/mortgage/schedule.h"

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/strings.h"
#include "libs/calendar/calendar.h"

namespace crm::mortgage {
namespace {

using ::testing::HasSubstr;
using Accrual = ConventionProfile::Accrual;
using Rounding = ConventionProfile::Rounding;

Rate R(const char* text) {
  auto r = ParseRate(text);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : Rate{};
}

LoanRequest Loan(int64_t principal, const char* rate, int months,
                 absl::CivilDay issue = absl::CivilDay(2026, 1, 15)) {
  LoanRequest req;
  req.principal_kopecks = principal;
  req.annual_rate = R(rate);
  req.term_months = months;
  req.issue_date = issue;
  return req;
}

Schedule Build(const LoanRequest& req, const calendar::WorkingCalendar* cal = nullptr) {
  auto s = BuildSchedule(req, cal);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : Schedule{};
}

// Asserts the status is InvalidArgument and its message starts with `field`.
void ExpectInvalidField(const absl::Status& st, const std::string& field) {
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(std::string(AsStd(st.message())), ::testing::StartsWith(field + ":")) << st;
}

// The invariants every schedule must satisfy.
void CheckInvariants(const LoanRequest& req, const Schedule& s) {
  ASSERT_FALSE(s.rows.empty());
  EXPECT_EQ(s.rows.back().balance_after, 0);
  int64_t interest = 0, principal = 0, paid = 0, balance = req.principal_kopecks;
  absl::CivilDay prev = req.issue_date;
  for (const Row& r : s.rows) {
    EXPECT_GE(r.payment, 0);
    EXPECT_GE(r.interest, 0);
    EXPECT_GE(r.principal, 0);
    EXPECT_GE(r.early, 0);
    EXPECT_EQ(r.payment, r.interest + r.principal);
    EXPECT_GT(r.date, prev);
    balance -= r.principal + r.early;
    EXPECT_EQ(r.balance_after, balance);
    EXPECT_GE(r.balance_after, 0);
    interest += r.interest;
    principal += r.principal + r.early;
    paid += r.payment + r.early;
    prev = r.date;
  }
  EXPECT_EQ(principal, req.principal_kopecks);
  EXPECT_EQ(s.total_principal, req.principal_kopecks);
  EXPECT_EQ(s.total_interest, interest);
  EXPECT_EQ(s.total_paid, paid);
  EXPECT_EQ(s.total_paid, req.principal_kopecks + s.total_interest);
  EXPECT_EQ(s.overpayment, s.total_interest + s.total_fees);
  EXPECT_LE(static_cast<int>(s.rows.size()), req.term_months);
}

// --- Rates -------------------------------------------------------------------------------------

TEST(RateTest, ParsesExactDecimals) {
  EXPECT_EQ(ParseRate("0.0456")->e8, 4'560'000);
  EXPECT_EQ(ParseRate("0")->e8, 0);
  EXPECT_EQ(ParseRate("0.12345678")->e8, 12'345'678);
  EXPECT_EQ(ParseRate("0.99999999")->e8, 99'999'999);
  EXPECT_EQ(FormatRate(Rate{4'560'000}), "0.0456");
  EXPECT_EQ(FormatRate(Rate{0}), "0");
}

TEST(RateTest, RejectsBadRatesNamingTheField) {
  for (const char* bad : {"", "1", "1.0", "-0.1", "0.123456789", "5%", "1e-2", ".5", "0.", "abc", "12345"}) {
    ExpectInvalidField(ParseRate(bad).status(), "annual_rate");
  }
  ExpectInvalidField(ParseRate("2", "pti_max").status(), "pti_max");
}

// --- Published vectors ---------------------------------------------------------------------------

// Source: numpy-financial documentation of pmt: npf.pmt(0.075/12, 12*15, 200000) = -1854.0247200054619
// ("the monthly payment needed to pay off a $200,000 loan in 15 years at an annual rate of 7.5%").
TEST(PublishedVectorsTest, NumpyFinancialPmt200000) {
  EXPECT_EQ(AnnuityPayment(20'000'000, R("0.075"), 180, Rounding::kHalfUp), 185402);
  EXPECT_EQ(AnnuityPayment(20'000'000, R("0.075"), 180, Rounding::kTruncate), 185402);
  LoanRequest req = Loan(20'000'000, "0.075", 180);
  Schedule s = Build(req);
  CheckInvariants(req, s);
  EXPECT_EQ(s.regular_payment, 185402);
  ASSERT_EQ(s.rows.size(), 180u);
  // Row 1: interest = 200000 * 0.075 / 12 = 1250.00 exactly.
  EXPECT_EQ(s.rows[0].interest, 125000);
  EXPECT_EQ(s.rows[0].principal, 185402 - 125000);
}

// Source: numpy-financial test suite, test_pmt: npf.pmt(0.08/12, 5*12, 15000) = -304.146 (full
// value 304.14591...), so 30415 kopecks half-up and 30414 truncated: the rounding profile matters.
TEST(PublishedVectorsTest, NumpyFinancialPmt15000RoundingMatters) {
  EXPECT_EQ(AnnuityPayment(1'500'000, R("0.08"), 60, Rounding::kHalfUp), 30415);
  EXPECT_EQ(AnnuityPayment(1'500'000, R("0.08"), 60, Rounding::kTruncate), 30414);
  for (Rounding pr : {Rounding::kHalfUp, Rounding::kTruncate}) {
    LoanRequest req = Loan(1'500'000, "0.08", 60);
    req.profile.payment_rounding = pr;
    Schedule s = Build(req);
    CheckInvariants(req, s);
    // Every payment but the last equals A; the last one absorbs the remainder.
    for (size_t k = 0; k + 1 < s.rows.size(); ++k) EXPECT_EQ(s.rows[k].payment, s.regular_payment);
  }
}

// Source: timmson/loan-schedule.js (its test of interest by actual days): 1 000 ₽ at 16.7 % from
// 10.12.2015 to 10.01.2016 = 1000 * 0.167 * (21/365 + 10/366) = 14.17 ₽.
TEST(PublishedVectorsTest, TimmsonActualDaysAcrossNewYear) {
  ConventionProfile p;
  p.accrual = Accrual::kActualDays;
  EXPECT_EQ(PeriodInterest(100'000, R("0.167"), absl::CivilDay(2015, 12, 10),
                           absl::CivilDay(2016, 1, 10), p),
            1417);
  LoanRequest req = Loan(100'000, "0.167", 1, absl::CivilDay(2015, 12, 10));
  req.profile = p;
  Schedule s = Build(req);
  CheckInvariants(req, s);
  ASSERT_EQ(s.rows.size(), 1u);
  EXPECT_EQ(s.rows[0].date, absl::CivilDay(2016, 1, 10));
  EXPECT_EQ(s.rows[0].interest, 1417);
  EXPECT_EQ(s.rows[0].payment, 101417);
}

// Source: GitHub issue we-promise/sure#3638: on 300 000 at 6 %, January interest by actual days is
// +28.77 and February -119.18 against a flat 1/12 (1 500.00): 300000*0.06*31/365 = 1528.77,
// 300000*0.06*28/365 = 1380.82.
TEST(PublishedVectorsTest, SureJanuaryFebruaryActualDayEffect) {
  ConventionProfile actual;
  actual.accrual = Accrual::kActualDays;
  ConventionProfile monthly;
  const Rate r = R("0.06");
  const int64_t b = 30'000'000;
  const int64_t flat = PeriodInterest(b, r, absl::CivilDay(2022, 12, 31), absl::CivilDay(2023, 1, 31), monthly);
  EXPECT_EQ(flat, 150'000);
  const int64_t jan = PeriodInterest(b, r, absl::CivilDay(2022, 12, 31), absl::CivilDay(2023, 1, 31), actual);
  const int64_t feb = PeriodInterest(b, r, absl::CivilDay(2023, 1, 31), absl::CivilDay(2023, 2, 28), actual);
  EXPECT_EQ(jan - flat, 2'877);
  EXPECT_EQ(feb - flat, -11'918);
  // Interest truncated instead of half-up (perryqh/mortgage-buddy floor_rounding.rb convention).
  actual.interest_rounding = Rounding::kTruncate;
  EXPECT_EQ(PeriodInterest(b, r, absl::CivilDay(2023, 1, 31), absl::CivilDay(2023, 2, 28), actual), 138'082);
  // Issue date 31 Dec: the schedule's first two periods are exactly these (month-end clamping).
  LoanRequest req = Loan(b, "0.06", 12, absl::CivilDay(2022, 12, 31));
  req.profile.accrual = Accrual::kActualDays;
  Schedule s = Build(req);
  CheckInvariants(req, s);
  EXPECT_EQ(s.rows[0].date, absl::CivilDay(2023, 1, 31));
  EXPECT_EQ(s.rows[1].date, absl::CivilDay(2023, 2, 28));
  EXPECT_EQ(s.rows[2].date, absl::CivilDay(2023, 3, 31));
  EXPECT_EQ(s.rows[0].interest, 152'877);
}

// Source: the differentiated-payment identity (anchor mortgage.md §1): with principal part S/n and
// interest B*i, interest is S*i*(n - k + 1)/n in month k, so the total is S*i*(n+1)/2.
// 1 200 000 ₽ at 12 % over 12 months: 1 200 000 * 0.01 * 13 / 2 = 78 000 ₽.
TEST(PublishedVectorsTest, DifferentiatedTotalInterest) {
  LoanRequest req = Loan(120'000'000, "0.12", 12);
  req.kind = LoanRequest::Kind::kDifferentiated;
  Schedule s = Build(req);
  CheckInvariants(req, s);
  EXPECT_EQ(s.total_interest, 7'800'000);
  EXPECT_EQ(s.rows[0].payment, 10'000'000 + 1'200'000);
  EXPECT_EQ(s.rows[11].payment, 10'000'000 + 100'000);
  EXPECT_EQ(s.regular_payment, 11'200'000);
}

TEST(ScheduleTest, DifferentiatedLastTakesTheRemainder) {
  LoanRequest req = Loan(1'000'000, "0.1", 3);  // 10 000 ₽ / 3 = 3333.33 (+0.01 on the last)
  req.kind = LoanRequest::Kind::kDifferentiated;
  Schedule s = Build(req);
  CheckInvariants(req, s);
  EXPECT_EQ(s.rows[0].principal, 333'333);
  EXPECT_EQ(s.rows[1].principal, 333'333);
  EXPECT_EQ(s.rows[2].principal, 333'334);
}

// Anchor mortgage.md §1 "variant B": payment 1 is interest only, A is computed over n-1 months.
// 1 200 000 ₽ at 12 % over 13 months: payment 1 = 12 000 ₽; A = annuity over 12 months = 106 618.55.
TEST(ScheduleTest, InterestOnlyFirstPeriod) {
  LoanRequest req = Loan(120'000'000, "0.12", 13);
  req.profile.interest_only_first_period = true;
  Schedule s = Build(req);
  CheckInvariants(req, s);
  ASSERT_EQ(s.rows.size(), 13u);
  EXPECT_EQ(s.rows[0].payment, 1'200'000);
  EXPECT_EQ(s.rows[0].principal, 0);
  EXPECT_EQ(s.regular_payment, 10'661'855);
  EXPECT_EQ(s.rows[1].payment, 10'661'855);
}

TEST(ScheduleTest, ZeroRate) {
  LoanRequest req = Loan(1'000'000, "0", 3);
  Schedule s = Build(req);
  CheckInvariants(req, s);
  EXPECT_EQ(s.total_interest, 0);
  EXPECT_EQ(s.regular_payment, 333'333);
  EXPECT_EQ(s.rows[2].payment, 333'334);
  EXPECT_EQ(s.psk_percent, "0.000");
}

TEST(ScheduleTest, PaymentDatesShiftOffWeekendsAndHolidays) {
  calendar::CalendarSpec spec = calendar::WorkingCalendar::FiveDay(absl::UTCTimeZone()).spec();
  spec.holidays.insert(absl::CivilDay(2026, 3, 10));  // a Tuesday made a holiday
  auto cal = calendar::WorkingCalendar::Create(std::move(spec));
  ASSERT_TRUE(cal.ok()) << cal.status();
  LoanRequest req = Loan(100'000'000, "0.1", 12, absl::CivilDay(2026, 1, 10));
  req.profile.accrual = Accrual::kActualDays;
  req.profile.shift_payment_dates = true;
  ExpectInvalidField(BuildSchedule(req, nullptr).status(), "calendar");
  Schedule s = Build(req, &*cal);
  CheckInvariants(req, s);
  EXPECT_EQ(s.rows[0].date, absl::CivilDay(2026, 2, 10));  // Tuesday
  EXPECT_EQ(s.rows[1].date, absl::CivilDay(2026, 3, 11));  // holiday -> Wednesday
  EXPECT_EQ(s.rows[3].date, absl::CivilDay(2026, 5, 11));  // Sunday -> Monday
  for (const Row& r : s.rows) EXPECT_TRUE(cal->IsWorkingDay(r.date)) << r.date;
  // Interest runs to the moved date: March period is 29 days, April's 30 days (11.03 -> 10.04).
  ConventionProfile p;
  p.accrual = Accrual::kActualDays;
  EXPECT_EQ(s.rows[1].interest, PeriodInterest(s.rows[0].balance_after, req.annual_rate,
                                               absl::CivilDay(2026, 2, 10), absl::CivilDay(2026, 3, 11), p));
  // The unshifted schedule differs.
  req.profile.shift_payment_dates = false;
  Schedule unshifted = Build(req);
  EXPECT_NE(unshifted.total_interest, s.total_interest);
}

// --- ПСК (353-FZ art. 6) -----------------------------------------------------------------------------

// Derivation: with no fees and payments exactly on monthly anniversaries, every e_k = 0 and q_k = k,
// so the law's equation is sum A/(1+i)^k = S, which the annuity satisfies at i = r/12 (up to kopeck
// rounding, far below 0.0005 %): ПСК = 12 * (r/12) * 100 = the nominal rate.
TEST(PskTest, NoFeesMonthlyAnniversariesGivesNominalRate) {
  LoanRequest req = Loan(120'000'000, "0.12", 12);
  EXPECT_EQ(Build(req).psk_percent, "12.000");
  req = Loan(500'000'000, "0.0456", 240);
  EXPECT_EQ(Build(req).psk_percent, "4.560");
}

// Derivation: one repayment of 112 000 ₽ 12 months after 100 000 ₽: q = 12, e = 0, so
// (1+i)^12 = 1.12, i = 1.12^(1/12) - 1 and ПСК = 1200 * i = 11.38655...% -> "11.387".
TEST(PskTest, SingleRepaymentAfterAYear) {
  std::vector<CashFlow> flows = {{absl::CivilDay(2025, 3, 1), -10'000'000},
                                 {absl::CivilDay(2026, 3, 1), 11'200'000}};
  EXPECT_EQ(*Psk(flows), "11.387");
}

// Derivation: one repayment of 100 500 ₽ 10 days after 100 000 ₽: q = 0, e = 10 / (365/12), so
// 1 + e*i = 1.005, i = 0.005 * 365 / 120 and ПСК = 1200 * i = 0.5 % * 365 / 10 = 18.250 %.
TEST(PskTest, ShortLoanUsesFractionOfBasePeriod) {
  std::vector<CashFlow> flows = {{absl::CivilDay(2025, 3, 1), -10'000'000},
                                 {absl::CivilDay(2025, 3, 11), 10'050'000}};
  EXPECT_EQ(*Psk(flows), "18.250");
}

TEST(PskTest, FeesAndInsuranceRaiseIt) {
  LoanRequest req = Loan(500'000'000, "0.1", 120);
  Schedule plain = Build(req);
  req.one_time_fees_kopecks = 2'000'000;
  Schedule fees = Build(req);
  req.yearly_insurance_kopecks = 1'500'000;
  Schedule both = Build(req);
  CheckInvariants(req, both);
  EXPECT_EQ(plain.psk_percent, "10.000");
  EXPECT_GT(std::stod(fees.psk_percent), 10.0);
  EXPECT_GT(std::stod(both.psk_percent), std::stod(fees.psk_percent));
  EXPECT_EQ(fees.total_fees, 2'000'000);
  EXPECT_EQ(both.total_fees, 2'000'000 + 10 * 1'500'000);  // at issue + 9 anniversaries before the end
  EXPECT_EQ(both.overpayment, both.total_interest + both.total_fees);
}

TEST(PskTest, BadFlows) {
  ExpectInvalidField(Psk({}).status(), "cash_flows");
  std::vector<CashFlow> no_cost = {{absl::CivilDay(2025, 3, 1), -100}, {absl::CivilDay(2025, 4, 1), 90}};
  ExpectInvalidField(Psk(no_cost).status(), "cash_flows");
  std::vector<CashFlow> before = {{absl::CivilDay(2025, 3, 1), -100}, {absl::CivilDay(2025, 2, 1), 190}};
  ExpectInvalidField(Psk(before).status(), "cash_flows");
}

// --- Required income, principal ---------------------------------------------------------------------

TEST(RequiredIncomeTest, PaymentToIncome) {
  // DomClick's PTI 0.70 (anchor mortgage.md §1): (50 000 + 6 000) / 0.7 = 80 000 ₽.
  EXPECT_EQ(*RequiredIncome(5'000'000, 600'000, R("0.7")), 8'000'000);
  EXPECT_EQ(*RequiredIncome(100, 0, R("0.3")), 334);  // 333.33.. rounded up
  ExpectInvalidField(RequiredIncome(-1, 0, R("0.7")).status(), "monthly_payment");
  ExpectInvalidField(RequiredIncome(1, -1, R("0.7")).status(), "other_debt_payments");
  ExpectInvalidField(RequiredIncome(1, 0, Rate{0}).status(), "pti_max");
}

TEST(LoanPrincipalTest, DownPayment) {
  EXPECT_EQ(*LoanPrincipal(1'000'000'000, 200'000'000), 800'000'000);
  ExpectInvalidField(LoanPrincipal(1'000'000'000, 1'000'000'001).status(), "down_payment");
  ExpectInvalidField(LoanPrincipal(1'000'000'000, 1'000'000'000).status(), "down_payment");
  ExpectInvalidField(LoanPrincipal(1'000'000'000, -1).status(), "down_payment");
  ExpectInvalidField(LoanPrincipal(0, 0).status(), "price");
}

// --- Early repayment ------------------------------------------------------------------------------

TEST(EarlyRepaymentTest, ReduceTermShortensAndReducePaymentLowersThePayment) {
  LoanRequest base_req = Loan(300'000'000, "0.1", 120);
  Schedule base = Build(base_req);
  LoanRequest req = base_req;
  req.early_repayments.push_back({absl::CivilDay(2027, 1, 15), 50'000'000, EarlyRepayment::Mode::kReduceTerm, 0});
  Schedule term = Build(req);
  CheckInvariants(req, term);
  EXPECT_LT(term.rows.size(), base.rows.size());
  EXPECT_EQ(term.rows[11].early, 50'000'000);
  EXPECT_EQ(term.rows[12].payment, base.regular_payment);
  EXPECT_LT(term.total_interest, base.total_interest);

  req.early_repayments[0].mode = EarlyRepayment::Mode::kReducePayment;
  Schedule pay = Build(req);
  CheckInvariants(req, pay);
  EXPECT_EQ(pay.rows.size(), base.rows.size());
  EXPECT_LT(pay.rows[12].payment, base.rows[12].payment);
  EXPECT_EQ(pay.rows[12].payment,
            AnnuityPayment(pay.rows[11].balance_after, req.annual_rate, 108, Rounding::kHalfUp));
  EXPECT_LT(pay.total_interest, base.total_interest);
  // Reducing the term saves more interest than reducing the payment.
  EXPECT_LT(term.total_interest, pay.total_interest);
}

TEST(EarlyRepaymentTest, OffPaymentDateIsMadeOnTheNextPaymentDate) {
  LoanRequest req = Loan(300'000'000, "0.1", 120);
  req.early_repayments.push_back({absl::CivilDay(2026, 6, 1), 1'000'000, EarlyRepayment::Mode::kReduceTerm, 0});
  Schedule s = Build(req);
  EXPECT_EQ(s.rows[4].date, absl::CivilDay(2026, 6, 15));
  EXPECT_EQ(s.rows[4].early, 1'000'000);
}

TEST(EarlyRepaymentTest, RegularRepaymentClosesEarlyAndCapsTheLast) {
  LoanRequest req = Loan(100'000'000, "0.09", 240);
  req.early_repayments.push_back({absl::CivilDay(2026, 2, 15), 2'000'000, EarlyRepayment::Mode::kReduceTerm, 1});
  Schedule s = Build(req);
  CheckInvariants(req, s);
  EXPECT_LT(s.rows.size(), 60u);
  for (size_t k = 0; k + 1 < s.rows.size(); ++k) EXPECT_EQ(s.rows[k].early, 2'000'000);
  EXPECT_LE(s.rows.back().early, 2'000'000);
}

TEST(EarlyRepaymentTest, PaidInFullByAnEarlyRepayment) {
  LoanRequest req = Loan(100'000'000, "0.09", 240);
  Schedule base = Build(req);
  req.early_repayments.push_back(
      {absl::CivilDay(2026, 3, 15), base.rows[1].balance_after, EarlyRepayment::Mode::kReduceTerm, 0});
  Schedule s = Build(req);
  CheckInvariants(req, s);
  EXPECT_EQ(s.rows.size(), 2u);
}

// --- Initial-rate (developer-subsidy) period -----------------------------------------------------------

TEST(InitialRateTest, SubsidisedPeriodThenRecomputedAtTheContractRate) {
  LoanRequest req = Loan(1'000'000'000, "0.2", 360);  // 10 M ₽ at 20 %, the first 24 months at 5 %
  req.initial_rate_months = 24;
  req.initial_rate = R("0.05");
  Schedule s = Build(req);
  CheckInvariants(req, s);
  ASSERT_EQ(s.rows.size(), 360u);
  const int64_t during = AnnuityPayment(1'000'000'000, R("0.05"), 360, Rounding::kHalfUp);
  EXPECT_EQ(s.regular_payment, during);
  int64_t balance = 1'000'000'000;
  for (int k = 0; k < 24; ++k) {
    EXPECT_EQ(s.rows[k].interest, (balance * 5 + 600) / 1200);  // 5 % / 12, half-up
    EXPECT_EQ(s.rows[k].payment, during);
    balance = s.rows[k].balance_after;
  }
  const int64_t after = AnnuityPayment(balance, R("0.2"), 336, Rounding::kHalfUp);
  EXPECT_GT(after, during);
  for (int k = 24; k < 359; ++k) EXPECT_EQ(s.rows[k].payment, after) << k;
  EXPECT_EQ(s.rows[24].interest, PeriodInterest(balance, R("0.2"), {}, {}, req.profile));
  // Cheaper than the same loan at 20 % throughout.
  EXPECT_LT(s.total_interest, Build(Loan(1'000'000'000, "0.2", 360)).total_interest);
  // Differentiated: the principal part stays, only the interest follows the rate.
  req.kind = LoanRequest::Kind::kDifferentiated;
  Schedule d = Build(req);
  CheckInvariants(req, d);
  EXPECT_EQ(d.rows[23].principal, d.rows[24].principal);
  EXPECT_EQ(d.rows[24].interest, PeriodInterest(d.rows[23].balance_after, R("0.2"), {}, {}, req.profile));
}

TEST(InitialRateTest, WorksWithEveryProfileAndRejectsBadInput) {
  LoanRequest req = Loan(300'000'000, "0.18", 120);
  req.initial_rate_months = 12;
  req.initial_rate = R("0.01");
  req.profile.accrual = Accrual::kActualDays;
  req.profile.interest_only_first_period = true;
  Schedule s = Build(req);
  CheckInvariants(req, s);
  EXPECT_EQ(s.rows[0].principal, 0);
  EXPECT_EQ(s.rows[1].payment, AnnuityPayment(300'000'000, R("0.01"), 119, Rounding::kHalfUp));
  EXPECT_EQ(s.rows[12].payment, AnnuityPayment(s.rows[11].balance_after, R("0.18"), 108, Rounding::kHalfUp));

  LoanRequest bad = req;
  bad.initial_rate_months = 120;
  ExpectInvalidField(BuildSchedule(bad, nullptr).status(), "initial_rate_months");
  bad.initial_rate_months = -1;
  ExpectInvalidField(BuildSchedule(bad, nullptr).status(), "initial_rate_months");
  bad.initial_rate_months = 12;
  bad.initial_rate = Rate{100'000'000};
  ExpectInvalidField(BuildSchedule(bad, nullptr).status(), "initial_rate");
  bad.initial_rate_months = 0;  // no period: the initial rate is ignored
  EXPECT_TRUE(BuildSchedule(bad, nullptr).ok());
}

// --- Bad input ------------------------------------------------------------------------------------

TEST(BadInputTest, NamesTheField) {
  LoanRequest ok = Loan(100'000'000, "0.09", 240);
  LoanRequest r = ok;
  r.term_months = 0;
  ExpectInvalidField(BuildSchedule(r, nullptr).status(), "term_months");
  r.term_months = -12;
  ExpectInvalidField(BuildSchedule(r, nullptr).status(), "term_months");
  r.term_months = 601;
  ExpectInvalidField(BuildSchedule(r, nullptr).status(), "term_months");
  r = ok;
  r.principal_kopecks = 0;
  ExpectInvalidField(BuildSchedule(r, nullptr).status(), "principal");
  r.principal_kopecks = -5;
  ExpectInvalidField(BuildSchedule(r, nullptr).status(), "principal");
  r = ok;
  r.annual_rate = Rate{100'000'000};
  ExpectInvalidField(BuildSchedule(r, nullptr).status(), "annual_rate");
  r.annual_rate = Rate{-1};
  ExpectInvalidField(BuildSchedule(r, nullptr).status(), "annual_rate");
  r = ok;
  r.one_time_fees_kopecks = -1;
  ExpectInvalidField(BuildSchedule(r, nullptr).status(), "one_time_fees");
  // Issue 15: fees at int64's maximum once gave 200 with totalFees -2, and fees near the loan a 400
  // naming the internal `cash_flows`.
  r = ok;
  r.one_time_fees_kopecks = std::numeric_limits<int64_t>::max();
  r.yearly_insurance_kopecks = std::numeric_limits<int64_t>::max();
  ExpectInvalidField(BuildSchedule(r, nullptr).status(), "one_time_fees");
  r.one_time_fees_kopecks = 0;
  ExpectInvalidField(BuildSchedule(r, nullptr).status(), "yearly_insurance");
  r.yearly_insurance_kopecks = 0;
  r.one_time_fees_kopecks = ok.principal_kopecks - 1;  // the borrower receives one kopeck
  const absl::Status near_all = BuildSchedule(r, nullptr).status();
  if (!near_all.ok()) ExpectInvalidField(near_all, "one_time_fees");
  EXPECT_EQ(std::string(near_all.message()).find("cash_flows"), std::string::npos) << near_all;
  r.one_time_fees_kopecks = 1'000'000;
  r.yearly_insurance_kopecks = 300'000;
  absl::StatusOr<Schedule> fine = BuildSchedule(r, nullptr);
  ASSERT_TRUE(fine.ok()) << fine.status();
  EXPECT_GT(fine->total_fees, 1'300'000);
  r = ok;
  r.early_repayments.push_back({absl::CivilDay(2026, 3, 15), 1'000, EarlyRepayment::Mode::kReduceTerm, 0});
  r.early_repayments.push_back({absl::CivilDay(2026, 4, 15), 1'000, EarlyRepayment::Mode::kReduceTerm, 0});
  r.early_repayments.push_back({absl::CivilDay(2026, 5, 15), 0, EarlyRepayment::Mode::kReduceTerm, 0});
  ExpectInvalidField(BuildSchedule(r, nullptr).status(), "early_repayments[2].amount");
  r.early_repayments[2].amount_kopecks = 200'000'000;  // above the balance
  ExpectInvalidField(BuildSchedule(r, nullptr).status(), "early_repayments[2].amount");
  r.early_repayments[2].amount_kopecks = 1'000;
  r.early_repayments[1].date = absl::CivilDay(2026, 1, 1);  // before issue
  ExpectInvalidField(BuildSchedule(r, nullptr).status(), "early_repayments[1].date");
  r.early_repayments[1].date = absl::CivilDay(2050, 1, 1);  // after the last payment
  ExpectInvalidField(BuildSchedule(r, nullptr).status(), "early_repayments[1].date");
  r.early_repayments[1].date = absl::CivilDay(2026, 4, 15);
  r.early_repayments[0].repeat_every_months = -1;
  ExpectInvalidField(BuildSchedule(r, nullptr).status(), "early_repayments[0].repeat_every_months");
  r.early_repayments[0].repeat_every_months = 0;
  EXPECT_TRUE(BuildSchedule(r, nullptr).ok());
}

// --- Properties over random loans (seeded) ------------------------------------------------------------

LoanRequest RandomLoan(std::mt19937_64& rng) {
  auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  LoanRequest req;
  req.principal_kopecks = uni(10'000, 10'000'000'000);
  req.annual_rate = Rate{uni(0, 4) == 0 ? 0 : uni(1, 35'000'000)};
  req.term_months = static_cast<int>(uni(2, 360));
  req.kind = uni(0, 1) ? LoanRequest::Kind::kAnnuity : LoanRequest::Kind::kDifferentiated;
  req.issue_date = absl::CivilDay(uni(2000, 2030), uni(1, 12), uni(1, 31));
  req.profile.accrual = uni(0, 1) ? Accrual::kMonthly : Accrual::kActualDays;
  req.profile.interest_only_first_period = uni(0, 3) == 0;
  req.profile.interest_rounding = uni(0, 1) ? Rounding::kHalfUp : Rounding::kTruncate;
  req.profile.payment_rounding = uni(0, 1) ? Rounding::kHalfUp : Rounding::kTruncate;
  req.profile.shift_payment_dates = uni(0, 1) == 0;
  return req;
}

TEST(PropertyTest, RandomLoansCloseExactlyAndSumUp) {
  const calendar::WorkingCalendar cal = calendar::WorkingCalendar::FiveDay(absl::UTCTimeZone());
  std::mt19937_64 rng(20261125);
  for (int t = 0; t < 400; ++t) {
    LoanRequest req = RandomLoan(rng);
    SCOPED_TRACE(testing::Message() << "loan " << t << " kind " << int(req.kind) << " acc " << int(req.profile.accrual) << " io " << req.profile.interest_only_first_period << " ir " << int(req.profile.interest_rounding) << " pr " << int(req.profile.payment_rounding) << " sh " << req.profile.shift_payment_dates << " d " << req.issue_date << " S=" << req.principal_kopecks << " r="
                                    << FormatRate(req.annual_rate) << " n=" << req.term_months);
    Schedule s = Build(req, &cal);
    CheckInvariants(req, s);
    // Half-up payments overshoot by <= 0.5 kopeck a month, which cannot close a loan of >= 10 000 ₽
    // early; tiny loans may legitimately close a payment early.
    // Under actual-day accrual at high rates a long period's interest can exceed A (the payment is
    // then the interest alone) while short periods repay extra principal, so such loans may close
    // before the term; the closing-to-zero invariants above still hold.
    if (req.principal_kopecks >= 1'000'000 && req.profile.accrual == Accrual::kMonthly) {
      EXPECT_EQ(static_cast<int>(s.rows.size()), req.term_months);
    }
    if (req.profile.accrual == Accrual::kMonthly) {
      for (size_t k = 1; k < s.rows.size(); ++k) EXPECT_LE(s.rows[k].interest, s.rows[k - 1].interest);
    }
    EXPECT_FALSE(s.psk_percent.empty());
    if (::testing::Test::HasFailure()) break;
  }
}

// Loans without early repayments or moved dates take BuildSchedule's short path. With a calendar on
// which every day is a working day, "shift the payment dates" moves nothing but takes the general
// path: both must give the same schedule, row for row.
TEST(PropertyTest, ShortPathEqualsGeneralPath) {
  calendar::CalendarSpec spec;
  spec.zone = absl::UTCTimeZone();
  for (auto& day : spec.week) day = {{0, 1440}};
  auto every_day = calendar::WorkingCalendar::Create(spec);
  ASSERT_TRUE(every_day.ok()) << every_day.status();
  std::mt19937_64 rng(99);
  auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int t = 0; t < 1500; ++t) {
    LoanRequest req = RandomLoan(rng);
    req.profile.shift_payment_dates = false;
    if (uni(0, 3) == 0 && req.term_months > 2) {
      req.initial_rate_months = static_cast<int>(uni(1, req.term_months - 1));
      req.initial_rate = Rate{uni(0, 10'000'000)};
    }
    if (uni(0, 2) == 0) req.one_time_fees_kopecks = uni(0, 10'000'000);
    if (uni(0, 2) == 0) req.yearly_insurance_kopecks = uni(0, 5'000'000);
    SCOPED_TRACE(testing::Message() << "loan " << t);
    LoanRequest general = req;
    general.profile.shift_payment_dates = true;
    const absl::StatusOr<Schedule> short_path = BuildSchedule(req, nullptr);
    const absl::StatusOr<Schedule> general_path = BuildSchedule(general, &*every_day);
    ASSERT_EQ(short_path.status(), general_path.status());  // e.g. fees above a tiny loan: no ПСК
    if (!short_path.ok()) continue;
    const Schedule& a = *short_path;
    const Schedule& b = *general_path;
    ASSERT_EQ(a.rows.size(), b.rows.size());
    for (size_t r = 0; r < a.rows.size(); ++r) {
      const Row& x = a.rows[r];
      const Row& y = b.rows[r];
      ASSERT_TRUE(x.n == y.n && x.date == y.date && x.payment == y.payment && x.interest == y.interest &&
                  x.principal == y.principal && x.early == y.early && x.balance_after == y.balance_after)
          << "row " << r;
    }
    ASSERT_EQ(a.regular_payment, b.regular_payment);
    ASSERT_EQ(a.total_interest, b.total_interest);
    ASSERT_EQ(a.total_principal, b.total_principal);
    ASSERT_EQ(a.total_paid, b.total_paid);
    ASSERT_EQ(a.total_fees, b.total_fees);
    ASSERT_EQ(a.psk_percent, b.psk_percent);
  }
}

TEST(PropertyTest, EarlyRepaymentNeverRaisesTotalInterest) {
  const calendar::WorkingCalendar cal = calendar::WorkingCalendar::FiveDay(absl::UTCTimeZone());
  std::mt19937_64 rng(7);
  auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int t = 0; t < 300; ++t) {
    LoanRequest req = RandomLoan(rng);
    req.principal_kopecks = std::max<int64_t>(req.principal_kopecks, 10'000'000);
    req.term_months = std::max(req.term_months, 24);
    req.issue_date = absl::CivilDay(req.issue_date.year(), req.issue_date.month(), std::min(req.issue_date.day(), 28));
    Schedule base = Build(req, &cal);
    if (base.rows.size() < 3) continue;
    const int m = static_cast<int>(uni(1, static_cast<int64_t>(base.rows.size()) - 2));  // after payment m
    const int64_t bal = base.rows[m - 1].balance_after;
    const int64_t amount = std::max<int64_t>(1, bal * uni(1, 50) / 100);
    for (auto mode : {EarlyRepayment::Mode::kReduceTerm, EarlyRepayment::Mode::kReducePayment}) {
      LoanRequest e = req;
      e.early_repayments.push_back(
          {absl::CivilDay(req.issue_date.year(), req.issue_date.month() + m, req.issue_date.day()), amount, mode,
           static_cast<int>(uni(0, 1) * uni(1, 12))});
      SCOPED_TRACE(testing::Message() << "loan " << t << " mode " << static_cast<int>(mode) << " m=" << m
                                      << " amount=" << amount << " S=" << req.principal_kopecks
                                      << " r=" << FormatRate(req.annual_rate) << " n=" << req.term_months);
      Schedule s = Build(e, &cal);
      CheckInvariants(e, s);
      // Both modes: a reduce-payment repayment on a schedule running ahead of its contractual path
      // (actual-day accrual closing early) keeps that earlier end instead of re-spreading.
      EXPECT_LE(s.total_interest, base.total_interest);
      EXPECT_LE(s.rows.size(), base.rows.size());
      EXPECT_EQ(s.rows[m - 1].early, e.early_repayments[0].amount_kopecks > bal ? bal : amount);
      if (s.rows.size() > static_cast<size_t>(m) && m + 1 < req.term_months) {
        EXPECT_LE(s.rows[m].payment, base.rows[m].payment);
      }
    }
    if (::testing::Test::HasFailure()) break;
  }
}

// Every profile (accrual x interest-only first period x both roundings x kind) crossed with one-off
// and repeated, reduce-term and reduce-payment early repayments of 10 ₽ .. 60 % of the balance,
// and an initial-rate period now and then; rates reach 40 % so that actual-day schedules whose long
// periods' interest exceeds the payment (and which therefore close before their term) are common.
// Every schedule closes to exactly 0 with totals equal to the row sums and no negative amounts, and
// the early repayment never raises the total interest against the same loan without it.
// (Known limit, not asserted: repayments of a few ₽ on a near-interest-only annuity - rates of 30 %+
// over long terms - can lose to the kopeck rounding of the recomputed payment, which such an
// annuity amplifies about (1+i)^n / i times: seen 2.41 ₽ repaid at 36 % costing 10 ₽ more interest;
// likewise a repayment of tens of ₽ before an initial-rate period steps up to such a rate.)
TEST(PropertyTest, EarlyRepaymentNeverRaisesInterestUnderAnyProfile) {
  const calendar::WorkingCalendar cal = calendar::WorkingCalendar::FiveDay(absl::UTCTimeZone());
  std::mt19937_64 rng(20261125);
  auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  int early_closing_bases = 0, checked = 0;
  for (int t = 0; t < 3000; ++t) {
    LoanRequest req;
    req.principal_kopecks = uni(100'000, 5'000'000'000);
    req.annual_rate = Rate{uni(0, 9) == 0 ? 0 : uni(1, 40'000'000)};
    req.term_months = static_cast<int>(uni(12, 360));
    req.issue_date = absl::CivilDay(uni(2015, 2030), uni(1, 12), uni(1, 31));
    req.profile.accrual = (t & 1) ? Accrual::kActualDays : Accrual::kMonthly;
    req.profile.interest_only_first_period = (t & 2) != 0;
    req.profile.interest_rounding = (t & 4) ? Rounding::kTruncate : Rounding::kHalfUp;
    req.profile.payment_rounding = (t & 8) ? Rounding::kTruncate : Rounding::kHalfUp;
    req.kind = (t & 16) ? LoanRequest::Kind::kDifferentiated : LoanRequest::Kind::kAnnuity;
    req.profile.shift_payment_dates = uni(0, 3) == 0;
    if (uni(0, 4) == 0) {
      req.initial_rate_months = static_cast<int>(uni(1, req.term_months - 1));
      req.initial_rate = Rate{uni(0, req.annual_rate.e8)};
    }
    auto base = BuildSchedule(req, &cal);
    ASSERT_TRUE(base.ok()) << base.status();
    CheckInvariants(req, *base);
    if (base->rows.size() < 2) continue;
    early_closing_bases += static_cast<int>(base->rows.size()) < req.term_months;
    const int m = static_cast<int>(uni(1, static_cast<int64_t>(base->rows.size()) - 1));
    const int64_t bal = base->rows[m - 1].balance_after;
    if (bal <= 0) continue;
    LoanRequest e = req;
    EarlyRepayment er;
    er.date = base->rows[m - 1].date;
    er.amount_kopecks = uni(0, 3) == 0 ? uni(1'000, 100'000) : std::max<int64_t>(1, bal * uni(1, 60) / 100);
    er.mode = (t & 32) ? EarlyRepayment::Mode::kReducePayment : EarlyRepayment::Mode::kReduceTerm;
    er.repeat_every_months = (t & 64) ? static_cast<int>(uni(1, 12)) : 0;
    if (er.repeat_every_months == 0) er.amount_kopecks = std::min(er.amount_kopecks, bal);
    e.early_repayments.push_back(er);
    SCOPED_TRACE(testing::Message() << "case " << t << " S=" << req.principal_kopecks << " r="
                                    << FormatRate(req.annual_rate) << " n=" << req.term_months << " issue "
                                    << req.issue_date << " init " << req.initial_rate_months << "@"
                                    << FormatRate(req.initial_rate) << " m=" << m << " amount="
                                    << er.amount_kopecks << " every " << er.repeat_every_months);
    auto s = BuildSchedule(e, &cal);
    ASSERT_TRUE(s.ok()) << s.status();
    CheckInvariants(e, *s);
    EXPECT_LE(s->total_interest, base->total_interest);
    ++checked;
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GT(checked, 2500);
  EXPECT_GT(early_closing_bases, 100);  // the case that used to fail is well represented
}

}  // namespace
}  // namespace crm::mortgage
