// File: services/mortgage/schedule.h
// -----------------------------------------------------------------------------
// The mortgage calculator (M3): a pure library (no I/O, no clocks, no globals) that turns a loan
// request into a month-by-month repayment schedule under a per-bank convention profile, with early
// repayments, totals, overpayment and the full cost of credit (ПСК, 353-FZ art. 6), plus the
// required-income check.
//
// Number representation (system.md: money never in floating point):
//   * Money is int64 kopecks everywhere, in and out.
//   * Rates are exact decimals with scale 8 (Rate::e8 = rate * 10^8, "0.0456" -> 4'560'000).
//   * Interest for a period is computed EXACTLY as a rational number in absl::int128
//     (balance * e8 * day fractions / denominators) and rounded once per the profile. (For speed
//     the quotient is first estimated in fixed point and then corrected with the exact integer
//     remainder, so the result is the exact one.)
//   * Two places use floating point, each followed by one deterministic rounding to kopecks or to
//     the published 3 decimals: the annuity factor (long double) A = S*i / (1 - (1+i)^-n) (computed as
//     S*i / -expm1(-n*log1p(i)); the relative error ~1e-18 is far below half a kopeck for any
//     principal we accept, <= 10^13 kopecks) and the ПСК root solver (double; an iterative root has no
//     exact decimal form anyway; the law only asks for 3 decimals). The last payment always absorbs
//     the remainder, so the principal closes to exactly zero whatever the payment rounding.
//
// An optional initial-rate period (LoanRequest::initial_rate_months, e.g. a developer-subsidised
// rate) charges a lower rate first and recomputes the payment at the contract rate afterwards.
//
// Conventions (ConventionProfile): interest by 1/12 of the annual rate or by actual days over
// (previous payment date, this payment date] with the period split at 31 December and 365/366 days
// per part; optional interest-only first period (A then computed over n-1 months); half-up or
// truncating rounding of interest and of the payment; payment dates moved to the next working day.
// Nominal payment dates are the issue day-of-month in each following month, clamped to the month end
// (issue 31 Jan -> 28/29 Feb, 31 Mar, ...).
//
// Example:
//   crm::mortgage::LoanRequest req;
//   req.principal_kopecks = 20'000'000;                                  // 200 000 ₽
//   CRM_ASSIGN_OR_RETURN(req.annual_rate, crm::mortgage::ParseRate("0.075"));
//   req.term_months = 180;
//   req.issue_date = absl::CivilDay(2026, 1, 15);
//   CRM_ASSIGN_OR_RETURN(crm::mortgage::Schedule s, crm::mortgage::BuildSchedule(req, nullptr));
//   // s.regular_payment == 185402 (1 854.02 ₽), s.rows.back().balance_after == 0, s.psk_percent "7.500"
#ifndef CRM_SERVICES_MORTGAGE_SCHEDULE_H_
#define CRM_SERVICES_MORTGAGE_SCHEDULE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/types/span.h"

namespace crm::calendar {
class WorkingCalendar;
}  // namespace crm::calendar

namespace crm::mortgage {

// An exact non-negative decimal rate with 8 decimal places: value = e8 / 10^8 (0.0456 -> 4'560'000).
struct Rate {
  int64_t e8 = 0;
  friend bool operator==(const Rate&, const Rate&) = default;
};

// Parses a plain decimal ("0.0456", "0.12", "0", ".5" is rejected) with at most 8 decimal places
// into an exact Rate. Promises InvalidArgument naming `field` for anything else (sign, exponent,
// percent sign, more than 8 decimals, value >= 1). Range 0 <= rate < 1 is enforced here as well.
absl::StatusOr<Rate> ParseRate(std::string_view text, std::string_view field = "annual_rate");

// Formats a rate as a decimal without trailing zeros ("0.0456", "0").
std::string FormatRate(Rate rate);

// A bank's calculation conventions. The default is the REST endpoint's default of issue 7:
// monthly accrual (r/12), half-up rounding of both interest and payment, no interest-only first
// period, no date shifting.
struct ConventionProfile {
  enum class Accrual {
    kMonthly,     // interest = balance * r / 12 per period, whatever its length
    kActualDays,  // interest = balance * r * (d1/Y1 + d2/Y2), split at 31 Dec, Y = 365 or 366
  };
  enum class Rounding {
    kHalfUp,    // to the nearest kopeck, halves away from zero
    kTruncate,  // down to the kopeck
  };
  Accrual accrual = Accrual::kMonthly;
  bool interest_only_first_period = false;
  Rounding interest_rounding = Rounding::kHalfUp;
  Rounding payment_rounding = Rounding::kHalfUp;
  // When true, a payment date that is not a working day of the calendar passed to BuildSchedule
  // moves to the next working day (interest then runs to the moved date).
  bool shift_payment_dates = false;
};

// A partial early repayment (ЧДП). It is made on the first scheduled payment date on or after
// `date` (the calculator models repayment on payment dates only), after that date's regular
// payment, and goes wholly to principal.
struct EarlyRepayment {
  enum class Mode {
    kReduceTerm,     // keep the payment, finish earlier
    kReducePayment,  // keep the end date, recompute the payment over the remaining months
  };
  absl::CivilDay date;
  int64_t amount_kopecks = 0;
  Mode mode = Mode::kReduceTerm;
  // 0 = one-off; k > 0 = repeated on date, date + k months, ... while the loan lasts. A repeated
  // repayment larger than the remaining balance repays the balance and closes the loan; a one-off
  // one larger than the balance is an error.
  int repeat_every_months = 0;
};

struct LoanRequest {
  enum class Kind { kAnnuity, kDifferentiated };
  int64_t principal_kopecks = 0;  // 1 .. 10^13
  Rate annual_rate;               // 0 <= rate < 1
  int term_months = 0;            // 1 .. 600
  Kind kind = Kind::kAnnuity;
  absl::CivilDay issue_date;
  ConventionProfile profile;
  std::vector<EarlyRepayment> early_repayments;
  int64_t one_time_fees_kopecks = 0;     // paid at issue; counted in ПСК and overpayment
  int64_t yearly_insurance_kopecks = 0;  // paid at issue and on each anniversary before the last
                                         // payment; counted in ПСК and overpayment
  // A developer-subsidised (or any introductory) rate period: payments 1..initial_rate_months accrue
  // interest at `initial_rate`, and the payment is the annuity at initial_rate over the whole term;
  // from payment initial_rate_months + 1 the payment is recomputed at annual_rate over the remaining
  // months (on the balance left then). 0 = none. Must be below term_months; initial_rate is then
  // checked like annual_rate. A reduce-payment early repayment inside the period recomputes at the
  // initial rate. A differentiated loan keeps its principal part; only its interest follows the rate.
  int initial_rate_months = 0;
  Rate initial_rate;
};

// One payment of the schedule. payment = interest + principal (the regular payment); `early` is the
// early repayment made the same day, on top of it; balance_after is after both.
struct Row {
  int n = 0;  // 1-based payment number
  absl::CivilDay date;  // the actual (possibly shifted) payment date
  int64_t payment = 0;
  int64_t interest = 0;
  int64_t principal = 0;
  int64_t early = 0;
  int64_t balance_after = 0;
};

struct Schedule {
  std::vector<Row> rows;
  int64_t regular_payment = 0;  // the first full payment (annuity A, at initial_rate when there is
                                // an initial-rate period; for differentiated, row 1 or row 2 if the
                                // first period is interest-only)
  int64_t total_interest = 0;   // sum of rows[].interest
  int64_t total_principal = 0;  // sum of rows[].principal + rows[].early == principal
  int64_t total_paid = 0;       // sum of rows[].payment + rows[].early (to the bank under the schedule)
  int64_t total_fees = 0;       // one-time fees + all insurance payments
  int64_t overpayment = 0;      // total_interest + total_fees: what the credit costs over the principal
  std::string psk_percent;      // ПСК, % per year, 3 decimals ("12.683")
};

// Builds the schedule. Promises: rows in date order; the balance after the last row is exactly 0;
// sum of principal + early == principal; no negative amounts; totals equal the row sums; an early
// repayment does not raise the total interest against the same request without it. A
// reduce-payment repayment re-spreads the balance over the remaining months (the bank's formula),
// but the payment never falls by more than the balance does (rounded like the payment): a schedule
// running ahead of its contractual path (actual-day accrual where a long period's interest exceeds
// the payment, so it would close early) keeps its earlier end instead of being lengthened.
// Limit: repayments of a few ₽ on near-interest-only annuities (30 %+ over long terms) can lose to
// the kopeck rounding of the recomputed payment.
// `calendar` is used (and required) only when profile.shift_payment_dates is set.
// InvalidArgument naming the field ("principal", "annual_rate", "term_months", "issue_date",
// "one_time_fees", "yearly_insurance", "calendar", "early_repayments[2].amount",
// "early_repayments[0].date", "early_repayments[1].repeat_every_months", "initial_rate_months",
// "initial_rate") for bad input.
absl::StatusOr<Schedule> BuildSchedule(const LoanRequest& request,
                                       const calendar::WorkingCalendar* calendar);

// Fills `schedule`'s fees, overpayment and ПСК from its rows and totals, as BuildSchedule does: for a
// schedule the caller composed from others (a family loan's two tranches), `request` being the loan as
// a whole (principal, issue date, profile, fees, insurance). InvalidArgument naming "cash_flows" when
// the flows have no ПСК (fees above the loan). `schedule.rows` must not be empty.
absl::Status FinishSchedule(const LoanRequest& request, Schedule& schedule);

// The nominal date of payment `k` of a loan issued on `issue`: the issue's day of month k months later,
// clamped to the month's end (31 Jan -> 28/29 Feb). BuildSchedule's dates before any shifting.
absl::CivilDay PaymentDate(absl::CivilDay issue, int k);

// The exact interest on `balance_kopecks` over (from, to] at `rate` under `profile` (accrual and
// interest rounding only; for kMonthly the dates are ignored and one period is charged).
int64_t PeriodInterest(int64_t balance_kopecks, Rate rate, absl::CivilDay from, absl::CivilDay to,
                       const ConventionProfile& profile);

// The annuity payment for `principal_kopecks` over `months` at rate/12, rounded per `rounding`
// (S/n if the rate is 0). Requires months >= 1.
int64_t AnnuityPayment(int64_t principal_kopecks, Rate annual_rate, int months,
                       ConventionProfile::Rounding rounding);

// A cash flow of the credit, from the lender's side as the law counts it: the loan given is
// negative, repayments, interest, fees and insurance paid by the borrower are positive.
struct CashFlow {
  absl::CivilDay date;
  int64_t amount_kopecks = 0;
};

// ПСК per 353-FZ art. 6 p. 2: ПСК = i * ЧБП * 100 with ЧБП = 12 (base period = month), i the smallest
// positive root of sum ДП_k / ((1 + e_k*i) * (1 + i)^q_k) = 0, q_k the whole months from the first
// flow's date to the k-th flow, e_k the remaining days / (365/12) (year = 365 days). Returns the value
// with exactly 3 decimals ("12.683"). InvalidArgument naming "cash_flows" when there is no flow,
// a flow precedes the first one, or there is no positive root (e.g. repayments do not exceed the loan).
absl::StatusOr<std::string> Psk(absl::Span<const CashFlow> cash_flows);

// The monthly income needed so that (payment + other debt payments) / income <= pti_max, rounded up
// to the kopeck. pti_max is a Rate in (0, 1] ("0.7" for DomClick's 70 %). InvalidArgument naming
// "monthly_payment", "other_debt_payments" (negative) or "pti_max".
absl::StatusOr<int64_t> RequiredIncome(int64_t monthly_payment_kopecks,
                                       int64_t other_debt_payments_kopecks, Rate pti_max);

// The loan amount for a purchase: price - down payment. InvalidArgument naming "price" (<= 0) or
// "down_payment" (negative, or not below the price).
absl::StatusOr<int64_t> LoanPrincipal(int64_t price_kopecks, int64_t down_payment_kopecks);

}  // namespace crm::mortgage

#endif  // CRM_SERVICES_MORTGAGE_SCHEDULE_H_
