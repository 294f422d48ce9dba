#include "services/mortgage/calculators.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"

namespace crm::mortgage {
namespace {

constexpr int64_t kRateScale = 100'000'000;            // 10^8
constexpr int64_t kMaxPrincipal = 10'000'000'000'000;  // 10^13 kopecks, as BuildSchedule
constexpr int kMaxTermMonths = 600;
constexpr ConventionProfile::Rounding kHalfUp = ConventionProfile::Rounding::kHalfUp;

absl::Status Invalid(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(AsAbsl(field), ": ", AsAbsl(what)));
}

absl::Status CheckRate(Rate rate, std::string_view field) {
  if (rate.e8 < 0 || rate.e8 >= kRateScale) return Invalid(field, "must be in [0, 1)");
  return absl::OkStatus();
}

absl::Status CheckTerm(int months, std::string_view field) {
  if (months < 1 || months > kMaxTermMonths) return Invalid(field, "must be in 1..600");
  return absl::OkStatus();
}

absl::Status CheckLoan(int64_t loan, std::string_view field) {
  if (loan <= 0) return Invalid(field, "must be positive");
  if (loan > kMaxPrincipal) return Invalid(field, "must be at most 10^13 kopecks");
  return absl::OkStatus();
}

int64_t Annuity(int64_t principal, Rate rate, int months) {
  return principal <= 0 ? 0 : AnnuityPayment(principal, rate, months, kHalfUp);
}

// The annuity payment before rounding (long double), for the blended-rate search.
long double RawAnnuity(int64_t principal, int64_t rate_e8, int months) {
  if (rate_e8 == 0) return static_cast<long double>(principal) / months;
  const long double i = static_cast<long double>(rate_e8) / (12.0L * kRateScale);
  return static_cast<long double>(principal) * i / -std::expm1(-months * std::log1p(i));
}

// The schedule of issue 7's default profile (interest r/12 per month half-up, payment half-up, the
// last payment closing the balance): the same arithmetic as BuildSchedule with a default
// ConventionProfile, without dates, ПСК or rows. Calls `on_month(k, balance_before, interest)` per
// month k = 1..months and returns the balance after `months` (months <= term).
template <typename OnMonth>
int64_t RunDefaultSchedule(int64_t principal, Rate rate, int term, int months, OnMonth on_month) {
  const ConventionProfile profile;
  const absl::CivilDay d;  // kMonthly ignores dates
  const int64_t a = Annuity(principal, rate, term);
  int64_t balance = principal;
  for (int k = 1; k <= months && balance > 0; ++k) {
    const int64_t interest = PeriodInterest(balance, rate, d, d, profile);
    const int64_t paid = k == term ? balance : std::clamp<int64_t>(a - interest, 0, balance);
    on_month(k, balance, interest);
    balance -= paid;
  }
  return balance;
}

// Total interest of the default-profile schedule over the full term.
int64_t TotalInterest(int64_t principal, Rate rate, int term) {
  int64_t total = 0;
  RunDefaultSchedule(principal, rate, term, term,
                     [&](int, int64_t, int64_t interest) { total += interest; });
  return total;
}

}  // namespace

// --- inverse questions ---------------------------------------------------------------------------

absl::StatusOr<int64_t> MaxLoanForPayment(int64_t max_payment, Rate rate, int term_months) {
  if (max_payment < 0) return Invalid("max_payment", "must not be negative");
  if (max_payment > kMaxPrincipal) return Invalid("max_payment", "must be at most 10^13 kopecks");
  CRM_RETURN_IF_ERROR(CheckRate(rate, "rate"));
  CRM_RETURN_IF_ERROR(CheckTerm(term_months, "term_months"));
  // AnnuityPayment is non-decreasing in the principal (a product and a quotient by positive
  // constants, then a monotone rounding), so the answer is the last principal of a monotone
  // predicate: start at the closed form S = A * (1 - (1+i)^-n) / i and bracket it exactly.
  auto fits = [&](int64_t s) { return Annuity(s, rate, term_months) <= max_payment; };
  long double guess;
  if (rate.e8 == 0) {
    guess = static_cast<long double>(max_payment) * term_months;
  } else {
    const long double i = static_cast<long double>(rate.e8) / (12.0L * kRateScale);
    guess = static_cast<long double>(max_payment) * -std::expm1(-term_months * std::log1p(i)) / i;
  }
  int64_t lo, hi;  // fits(lo), !fits(hi)
  int64_t g = std::max<int64_t>(0, static_cast<int64_t>(guess));
  if (fits(g)) {
    lo = g;
    int64_t step = 1;
    for (hi = g + step; fits(hi); hi = lo + step) {
      lo = hi;
      step *= 2;
    }
  } else {
    hi = g;
    int64_t step = 1;
    for (lo = std::max<int64_t>(0, g - step); !fits(lo); lo = std::max<int64_t>(0, hi - step)) {
      hi = lo;
      step *= 2;
    }
  }
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (fits(mid) ? lo : hi) = mid;
  }
  return lo;
}

absl::StatusOr<int64_t> MaxPaymentForIncome(int64_t monthly_income, int64_t other_debt_payments, Rate pti) {
  if (monthly_income < 0) return Invalid("monthly_income", "must not be negative");
  if (monthly_income > kMaxPrincipal) return Invalid("monthly_income", "must be at most 10^13 kopecks");
  if (other_debt_payments < 0) return Invalid("other_debt_payments", "must not be negative");
  if (pti.e8 <= 0 || pti.e8 > kRateScale) return Invalid("pti", "must be in (0, 1]");
  // Rounded down, so that RequiredIncome(result, other, pti) <= monthly_income.
  const int64_t allowed =
      static_cast<int64_t>(absl::int128(monthly_income) * pti.e8 / kRateScale);
  return std::max<int64_t>(0, allowed - other_debt_payments);
}

absl::StatusOr<int64_t> MinDownPayment(int64_t price, int64_t max_payment, Rate rate, int term_months) {
  CRM_RETURN_IF_ERROR(CheckLoan(price, "price"));
  CRM_ASSIGN_OR_RETURN(const int64_t max_loan, MaxLoanForPayment(max_payment, rate, term_months));
  return std::max<int64_t>(0, price - max_loan);
}

absl::StatusOr<int> TermForPayment(int64_t principal, int64_t target_payment, Rate rate, int max_term) {
  CRM_RETURN_IF_ERROR(CheckLoan(principal, "principal"));
  if (target_payment <= 0) return Invalid("target_payment", "must be positive");
  CRM_RETURN_IF_ERROR(CheckRate(rate, "rate"));
  CRM_RETURN_IF_ERROR(CheckTerm(max_term, "max_term"));
  auto fits = [&](int n) { return Annuity(principal, rate, n) <= target_payment; };
  if (!fits(max_term)) {
    return absl::FailedPreconditionError(
        absl::StrCat("target_payment: ", target_payment, " kopecks is below the payment ",
                     Annuity(principal, rate, max_term), " kopecks at the longest term of ", max_term,
                     " months"));
  }
  // The payment is non-increasing in the term: the first term that fits, by bisection.
  int lo = 0, hi = max_term;  // !fits(lo) (or lo == 0), fits(hi)
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    (fits(mid) ? hi : lo) = mid;
  }
  return hi;
}

// --- family mortgage -----------------------------------------------------------------------------

absl::StatusOr<FamilySplitResult> FamilySplit(int64_t loan, Rate subsidised_rate, Rate market_rate,
                                              int64_t limit, int term_months) {
  CRM_RETURN_IF_ERROR(CheckLoan(loan, "loan"));
  CRM_RETURN_IF_ERROR(CheckRate(subsidised_rate, "subsidised_rate"));
  CRM_RETURN_IF_ERROR(CheckRate(market_rate, "market_rate"));
  if (limit < 0) return Invalid("limit", "must not be negative");
  CRM_RETURN_IF_ERROR(CheckTerm(term_months, "term_months"));
  FamilySplitResult r;
  r.subsidised_tranche = std::min(loan, limit);
  r.market_tranche = loan - r.subsidised_tranche;
  r.subsidised_payment = Annuity(r.subsidised_tranche, subsidised_rate, term_months);
  r.market_payment = Annuity(r.market_tranche, market_rate, term_months);
  r.payment = r.subsidised_payment + r.market_payment;
  r.overpayment = TotalInterest(r.subsidised_tranche, subsidised_rate, term_months) +
                  TotalInterest(r.market_tranche, market_rate, term_months);
  if (r.market_tranche == 0 || subsidised_rate == market_rate) {
    r.blended_rate = r.market_tranche == 0 ? subsidised_rate : market_rate;
    return r;
  }
  if (r.subsidised_tranche == 0) {
    r.blended_rate = market_rate;
    return r;
  }
  // The unrounded annuity on `loan` is increasing in the rate; the blended rate lies between the two
  // tranche rates. Bisection on e8 for the last rate whose annuity is <= payment, then the nearer of
  // it and the next e8.
  const long double target = static_cast<long double>(r.payment);
  int64_t lo = std::min(subsidised_rate.e8, market_rate.e8);
  int64_t hi = std::max(subsidised_rate.e8, market_rate.e8);
  if (RawAnnuity(loan, lo, term_months) > target) {
    r.blended_rate = Rate{lo};
    return r;
  }
  if (RawAnnuity(loan, hi, term_months) <= target) {
    r.blended_rate = Rate{hi};
    return r;
  }
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (RawAnnuity(loan, mid, term_months) <= target ? lo : hi) = mid;
  }
  const long double d_lo = target - RawAnnuity(loan, lo, term_months);
  const long double d_hi = RawAnnuity(loan, hi, term_months) - target;
  r.blended_rate = Rate{d_hi < d_lo ? hi : lo};
  return r;
}

// --- military mortgage (НИС) ---------------------------------------------------------------------

const std::vector<YearContribution>& DefaultMilitaryContributions() {
  // The yearly накопительный взнос per participant of НИС (set each year by the federal budget law),
  // in kopecks. Sources (independent of each other where two are given):
  //   2015, 2016: 245 880 ₽ (indexation suspended in 2015-2016; librs.net handbook «Военная ипотека
  //               (справочник для военнослужащего)», molodostroy.ru/voennaya_ipoteka/nakopleniya.php
  //               notes the suspension).
  //   2017: 260 141 ₽ (emny.ru; design/anchors/mortgage.md §3).
  //   2018-2022: NO SOURCE at hand: the 2017 amount is carried forward (under-states those years; fill
  //              them from the budget laws before relying on them).
  //   2023: 349 614 ₽ (emny.ru; anchors §3).
  //   2024: 365 346.60 ₽ (molodostroy.ru НИС calculator page).
  //   2025: 395 364 ₽ = 32 947 × 12 (broker pages, dzen Тропа.РФ). CONFLICT: ura.news (2025-12-05)
  //         gives 383 979 ₽; the broker figure is used until the budget law is checked.
  //   2026: 411 184.90 ₽ (34 265.41 ₽/month; m24.ru 2026-02-18).
  // Later years use 2026's, earlier years 2015's (see calculators.h).
  static const std::vector<YearContribution>* const kTable = new std::vector<YearContribution>{
      {2015, 24'588'000},  {2016, 24'588'000}, {2017, 26'014'100}, {2018, 26'014'100},
      {2019, 26'014'100},  {2020, 26'014'100}, {2021, 26'014'100}, {2022, 26'014'100},
      {2023, 34'961'400},  {2024, 36'534'660}, {2025, 39'536'400}, {2026, 41'118'490},
  };
  return *kTable;
}

absl::StatusOr<MilitaryResult> Military(const MilitaryRequest& req) {
  CRM_RETURN_IF_ERROR(CheckRate(req.rate, "rate"));
  if (req.age_limit < 19 || req.age_limit > 65) return Invalid("age_limit", "must be in 19..65");
  if (req.age < 18 || req.age >= req.age_limit) {
    return Invalid("age", absl::StrCat("must be in 18..", req.age_limit - 1));
  }
  if (req.savings < 0 || req.savings > kMaxPrincipal) return Invalid("savings", "must be in 0..10^13 kopecks");
  if (req.own_funds < 0 || req.own_funds > kMaxPrincipal) {
    return Invalid("own_funds", "must be in 0..10^13 kopecks");
  }
  if (req.price < 0 || req.price > kMaxPrincipal) return Invalid("price", "must be in 0..10^13 kopecks");
  const std::vector<YearContribution>& table =
      req.contributions.empty() ? DefaultMilitaryContributions() : req.contributions;
  for (size_t k = 0; k < table.size(); ++k) {
    if (table[k].amount <= 0 || table[k].amount > kMaxPrincipal || (k > 0 && table[k].year <= table[k - 1].year)) {
      return Invalid(absl::StrCat("contributions[", k, "]"),
                     "amounts must be positive and years strictly increasing");
    }
  }
  // The issue year's contribution: the last entry with year <= issue year, else the first.
  const int year = static_cast<int>(req.issue_date.year());
  const YearContribution* c = &table.front();
  for (const YearContribution& e : table) {
    if (e.year <= year) c = &e;
  }
  MilitaryResult r;
  r.monthly_contribution = c->amount / 12;  // rounded down to the kopeck
  // Convention: `age` is taken as reached on the issue date, so the contribution runs
  // 12 * (age_limit - age) months; the contribution is held at the issue year's amount (indexation
  // of later years is not promised, so not lent against).
  r.term_months = 12 * (req.age_limit - req.age);
  CRM_ASSIGN_OR_RETURN(r.max_loan, MaxLoanForPayment(r.monthly_contribution, req.rate, r.term_months));
  r.max_price = req.savings + r.max_loan + req.own_funds;
  if (req.price > 0) {
    r.gap = std::max<int64_t>(0, req.price - r.max_price);
    r.loan = std::clamp<int64_t>(req.price - req.savings - req.own_funds, 0, r.max_loan);
  } else {
    r.loan = r.max_loan;
  }
  r.payment = Annuity(r.loan, req.rate, r.term_months);
  return r;
}

// --- developer-subsidised rate -------------------------------------------------------------------

absl::StatusOr<SubsidyResult> Subsidy(int64_t loan, Rate subsidised_rate, Rate market_rate, int months,
                                      int term_months) {
  CRM_RETURN_IF_ERROR(CheckLoan(loan, "loan"));
  CRM_RETURN_IF_ERROR(CheckRate(subsidised_rate, "subsidised_rate"));
  CRM_RETURN_IF_ERROR(CheckRate(market_rate, "market_rate"));
  if (subsidised_rate.e8 > market_rate.e8) {
    return Invalid("subsidised_rate", "must not exceed market_rate");
  }
  CRM_RETURN_IF_ERROR(CheckTerm(term_months, "term_months"));
  if (months < 1 || months >= term_months) {
    return Invalid("months", absl::StrCat("must be in 1..", term_months - 1));
  }
  SubsidyResult r;
  r.payment_during = Annuity(loan, subsidised_rate, term_months);
  // The developer pays the bank the interest it forgoes: per month, the interest the market rate
  // would charge on the actual balance minus the interest charged, discounted at the market rate.
  // In exact arithmetic this equals loan - PV(payments during) - PV(balance after `months`)
  // (telescoping B_{k-1}/v^{k-1} - B_k/v^k); summing the rounded interest differences instead keeps
  // the kopeck rounding of the charged interest out of the cost (equal rates cost exactly 0).
  const ConventionProfile profile;
  const absl::CivilDay d;
  const long double v = 1.0L / (1.0L + static_cast<long double>(market_rate.e8) / (12.0L * kRateScale));
  long double disc = 1, cost = 0;
  const int64_t balance = RunDefaultSchedule(
      loan, subsidised_rate, term_months, months, [&](int, int64_t balance_before, int64_t interest) {
        disc *= v;
        cost += disc * static_cast<long double>(
                           PeriodInterest(balance_before, market_rate, d, d, profile) - interest);
      });
  r.payment_after = Annuity(balance, market_rate, term_months - months);
  r.developer_cost = static_cast<int64_t>(std::floor(cost + 0.5L));
  const absl::int128 share = (absl::int128(r.developer_cost) * kRateScale * 2 + loan) / (2 * loan);
  r.cost_share = Rate{static_cast<int64_t>(share)};
  return r;
}

}  // namespace crm::mortgage
