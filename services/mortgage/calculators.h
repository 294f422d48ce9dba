// File: services/mortgage/calculators.h
// -----------------------------------------------------------------------------
// The special calculators of M3 on top of schedule.h, pure like it: the inverse questions (the largest
// loan or price for an income, the smallest down payment, the term for a target payment), the family
// mortgage's split tranche, the military mortgage (НИС) and a developer-subsidised rate.
// Money in kopecks, rates as exact Rate, payments by AnnuityPayment (1/12 of the annual rate, half-up).
// Every function returns InvalidArgument whose message starts with the offending field ("price: ...").
//
// Example:
//   Rate rate{6'000'000};                                         // 6 %
//   CRM_ASSIGN_OR_RETURN(int64_t pay, MaxPaymentForIncome(15'000'000, 0, Rate{50'000'000}));  // 75 000 ₽
//   CRM_ASSIGN_OR_RETURN(int64_t loan, MaxLoanForPayment(pay, rate, 360));  // ~12.5 M ₽
//   CRM_ASSIGN_OR_RETURN(int64_t down, MinDownPayment(1'500'000'000, pay, rate, 360));
#ifndef CRM_SERVICES_MORTGAGE_CALCULATORS_H_
#define CRM_SERVICES_MORTGAGE_CALCULATORS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "services/mortgage/schedule.h"

namespace crm::mortgage {

// --- inverse questions ---------------------------------------------------------------------------

// The largest loan (kopecks) whose annuity payment over `term_months` at `rate` is <= `max_payment`.
// Promises: AnnuityPayment(result) <= max_payment < AnnuityPayment(result + 1), exactly (kopeck search
// around the closed form). InvalidArgument naming "max_payment" (outside 0..10^13), "rate" (outside
// [0, 1)), "term_months" (1..600).
absl::StatusOr<int64_t> MaxLoanForPayment(int64_t max_payment, Rate rate, int term_months);

// The largest payment an income allows: floor(income * pti) - other debts, floored at 0; so
// RequiredIncome(result, other, pti) <= income. InvalidArgument naming "monthly_income",
// "other_debt_payments" (negative) or "pti" (outside (0, 1]).
absl::StatusOr<int64_t> MaxPaymentForIncome(int64_t monthly_income, int64_t other_debt_payments, Rate pti);

// The smallest down payment so that the loan (price - down) has a payment <= max_payment; 0 when the
// whole price fits; max(0, price - MaxLoanForPayment(max_payment, ...)). InvalidArgument naming "price" (outside
// 1..10^13) and those of MaxLoanForPayment.
absl::StatusOr<int64_t> MinDownPayment(int64_t price, int64_t max_payment, Rate rate, int term_months);

// The shortest term in months (1..max_term) whose annuity payment is <= target_payment.
// FailedPrecondition when even max_term does not reach it (the message names the payment at max_term).
// InvalidArgument naming "principal", "target_payment" (<= 0), "rate", "max_term" (1..600).
absl::StatusOr<int> TermForPayment(int64_t principal, int64_t target_payment, Rate rate, int max_term);

// --- family mortgage: the split tranche ------------------------------------------------------------

struct FamilySplitResult {
  int64_t subsidised_tranche = 0;  // min(loan, limit)
  int64_t market_tranche = 0;      // the rest
  int64_t subsidised_payment = 0;
  int64_t market_payment = 0;
  int64_t payment = 0;             // the sum
  Rate blended_rate;               // the single rate whose annuity on `loan` is `payment` (to 1e-8:
                                   // the e8 whose unrounded annuity is nearest); exactly the tranche
                                   // rate when there is one tranche or the rates are equal
  int64_t overpayment = 0;         // the two tranche schedules' total interest (the default profile,
                                   // each last payment absorbing its remainder)
};
// InvalidArgument naming "loan" (1..10^13), "subsidised_rate", "market_rate", "limit" (< 0),
// "term_months".
absl::StatusOr<FamilySplitResult> FamilySplit(int64_t loan, Rate subsidised_rate, Rate market_rate,
                                              int64_t limit, int term_months);

// --- military mortgage (НИС) -----------------------------------------------------------------------

// The state's yearly contribution (накопительный взнос), per year. Later years than the table's last use
// the last; earlier than the first use the first.
struct YearContribution {
  int year = 0;
  int64_t amount = 0;
};
// The table as published (see calculators.cc for sources).
const std::vector<YearContribution>& DefaultMilitaryContributions();

struct MilitaryRequest {
  Rate rate;
  int age = 0;             // years today
  int age_limit = 45;      // the loan must be repaid by the contribution until this age (19..65)
  int64_t savings = 0;     // НИС savings used as the down payment
  int64_t own_funds = 0;
  int64_t price = 0;       // optional
  absl::CivilDay issue_date;
  std::vector<YearContribution> contributions;  // empty = DefaultMilitaryContributions(); years
                                                // strictly increasing, amounts positive
};
struct MilitaryResult {
  int64_t max_loan = 0;             // MaxLoanForPayment(monthly_contribution, rate, term_months)
  int term_months = 0;              // 12 * (age_limit - age): `age` is taken as reached on the issue
                                    // date; the contribution is held at the issue year's amount
  int64_t monthly_contribution = 0; // the issue year's contribution / 12, rounded down to the kopeck
  int64_t max_price = 0;            // savings + max_loan + own funds
  int64_t gap = 0;                  // price - max_price when positive
  int64_t loan = 0;                 // for `price` > 0: min(max_loan, max(0, price - savings - own
                                    // funds)); max_loan when price is 0
  int64_t payment = 0;              // the loan's annuity payment
};
// InvalidArgument naming "rate", "age" (18..age_limit-1), "age_limit", "savings", "own_funds", "price"
// (each 0..10^13), "contributions[k]".
absl::StatusOr<MilitaryResult> Military(const MilitaryRequest& request);

// --- developer-subsidised rate ---------------------------------------------------------------------

struct SubsidyResult {
  int64_t payment_during = 0;  // annuity at the subsidised rate over the full term
  int64_t payment_after = 0;   // annuity on the balance left after `months` (the default-profile
                               // schedule), at the market rate over the remaining months; equals
                               // BuildSchedule's payment `months + 1` with initial_rate(_months)
  int64_t developer_cost = 0;  // loan - PV at market rate/12 of (payments during + balance after
                               // `months`), evaluated as the PV of the monthly interest forgone
                               // (market-rate interest on the balance - interest charged, both
                               // rounded like the schedule): equal rates cost exactly 0
  Rate cost_share;             // developer_cost / loan, half-up to 1e-8
};
// InvalidArgument naming "loan" (1..10^13), "subsidised_rate" (also when above the market rate),
// "market_rate", "term_months" (1..600), "months" (1..term_months-1).
absl::StatusOr<SubsidyResult> Subsidy(int64_t loan, Rate subsidised_rate, Rate market_rate, int months,
                                      int term_months);

}  // namespace crm::mortgage

#endif  // CRM_SERVICES_MORTGAGE_CALCULATORS_H_
