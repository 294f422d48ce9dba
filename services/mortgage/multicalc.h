// File: services/mortgage/multicalc.h
// -----------------------------------------------------------------------------
// The multi-calculation (M3): one client and one property against every program of every bank in a
// Reference (reference.h): eligible or not with every reason (a code, a text and the fix where one
// exists), the rate from the program's grid and adjustments, the payment, overpayment, ПСК, required
// income and the Bank of Russia's PTI-limit flag; ranked. Pure: no I/O, no clock, no allocation beyond
// the answer and a little per-call scratch; full schedules only for the programs asked for, so the
// answer stays small.
//
// Lifetime: the answer is views into the result and the Reference. Offer::reasons views the result's
// reason_storage; Reason::code/source and Offer::applied_adjustments point to string literals or into
// the Reference; Reason::text/fix and Offer::pti_risk_text into the result's text arena. Moving the
// result keeps them all valid (it cannot be copied); an Offer copied out of its result is valid only
// while that result and the Reference live.
//
// Example:
//   crm::mortgage::Client client{.age = 34, .citizen_ru = true, .monthly_income = 25'000'000, ...};
//   crm::mortgage::Purchase purchase{.type = ObjectType::kNewBuild, .price = 1'200'000'000,
//                                    .down_payment = 300'000'000, .term_months = 300, .region = 77};
//   CRM_ASSIGN_OR_RETURN(auto result, crm::mortgage::MultiCalculate(reference, client, purchase, {}));
//   for (const Offer& o : result.offers) ...   // eligible first, by ПСК then payment
//   // o.reasons[k].text is valid while `result` (even moved) and `reference` live.
#ifndef CRM_SERVICES_MORTGAGE_MULTICALC_H_
#define CRM_SERVICES_MORTGAGE_MULTICALC_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "services/mortgage/reference.h"
#include "services/mortgage/schedule.h"

namespace crm::calendar {
class WorkingCalendar;
}  // namespace crm::calendar

namespace crm::mortgage {

// proto ClientProfile.
struct Client {
  int age = 0;
  bool citizen_ru = true;
  Employment employment = Employment::kHired;
  int total_experience_months = 0;
  int current_job_months = 0;
  int64_t monthly_income = 0;
  int64_t other_debt_payments = 0;
  IncomeProof income_proof = IncomeProof::kNdfl2;
  std::vector<int> children_ages;
  bool disabled_child = false;
  int64_t maternity_capital = 0;
  bool married = false;
  bool insurance = true;
  bool it_accredited = false;
  int nis_years = 0;
  std::vector<std::string> salary_bank_ids;
};

// proto Property.
struct Purchase {
  ObjectType type = ObjectType::kNewBuild;
  int64_t price = 0;
  int64_t down_payment = 0;
  int term_months = 0;
  int region = 0;
};

// The texts are views (see "Lifetime" above): the code and source into string literals or the
// Reference, the text and fix into the MultiCalcResult's text arena.
struct Reason {
  std::string_view code;    // AGE_AT_MATURITY, DOWN_PAYMENT_TOO_LOW, INCOME_TOO_LOW, NO_RATE, ...
  std::string_view text;    // «Возраст на момент погашения 73 > 70» (Russian: staff read it)
  std::string_view fix;     // «Срок не более 24 лет», «Добавьте 312 000 ₽ к первоначальному взносу»
  std::string_view source;  // "stop_factor", "requirement", "limit", "rate", "income"
  // The fix as numbers, when `fix` names one (0 = none): applying it to the purchase or the client
  // removes this reason (other reasons may remain or appear, e.g. a longer loan's income).
  int64_t fix_down_payment_add = 0;  // kopecks to add to the down payment (whole rubles)
  int fix_term_months = 0;           // the term to choose instead (the longest or shortest allowed)
  int64_t fix_income = 0;            // the monthly income needed (kopecks)
};

struct Offer {
  const BankTerms* bank = nullptr;        // points into the Reference passed in
  const ProgramTerms* program = nullptr;
  bool eligible = false;
  std::span<const Reason> reasons;  // every failing reason, in the result's storage; empty when eligible
  std::optional<Rate> rate;               // none when no cell of the grid matches
  int64_t loan = 0;
  int64_t payment = 0;        // monthly: annuity, or the first of a differentiated loan
  int64_t payment_after = 0;  // kSubsidised: after the subsidised months
  int64_t overpayment = 0;    // interest + fees + insurance over the term
  std::string psk;            // "12.683"; empty when there is no rate
  int64_t required_income = 0;  // 0 when the bank has no PTI coefficient
  bool pti_risk = false;
  std::string_view pti_risk_text;  // into the result's text arena; empty without pti_risk
  absl::InlinedVector<std::string_view, 2> applied_adjustments;  // RateAdjustment codes (the Reference's)
  int rank = 0;               // 1.. among the eligible, 0 otherwise
  int64_t subsidy_cost = 0;   // kSubsidised: the developer's cost
  std::optional<Schedule> schedule;  // when asked for
};

struct MultiCalcOptions {
  LoanRequest::Kind kind = LoanRequest::Kind::kAnnuity;
  absl::CivilDay issue_date;                 // the schedules' issue date (default: reference.as_of)
  std::vector<std::string> schedules_for;    // program ids; "*" = all
  bool eligible_only = false;
  // For banks that shift payment dates; without one their schedules are built unshifted.
  const calendar::WorkingCalendar* calendar = nullptr;
};

// Append-only storage of texts whose addresses never change while it lives, also when it is moved
// (the views it hands out stay valid in the moved-to arena). Move-only.
class TextArena {
 public:
  TextArena() = default;
  TextArena(TextArena&& other) noexcept;
  TextArena& operator=(TextArena&& other) noexcept;
  TextArena(const TextArena&) = delete;
  TextArena& operator=(const TextArena&) = delete;
  ~TextArena() = default;

  // A copy of `text` owned by the arena (an empty view for an empty text).
  std::string_view Store(std::string_view text);

 private:
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* next_ = nullptr;  // the free part of blocks_.back()
  size_t left_ = 0;
};

// Move-only: the offers' reasons point into `reason_storage`, their texts into `texts`; both keep
// their addresses when the result is moved.
struct MultiCalcResult {
  std::vector<Offer> offers;  // eligible first (by ПСК, then payment, then bank name), then the rest
  int eligible_count = 0;
  std::vector<Reason> reason_storage;  // every offer's reasons (each offer views its own run)
  TextArena texts;                     // owns the reasons' text/fix and the pti_risk_text of `offers`

  MultiCalcResult() = default;
  MultiCalcResult(MultiCalcResult&&) = default;
  MultiCalcResult& operator=(MultiCalcResult&&) = default;
  MultiCalcResult(const MultiCalcResult&) = delete;
  MultiCalcResult& operator=(const MultiCalcResult&) = delete;
};

// InvalidArgument naming the first bad field: "profile.age" (18..90), "profile.monthly_income",
// "profile.other_debt_payments", "profile.total_experience_months", "profile.current_job_months",
// "profile.children_ages[i]" (0..60), "profile.maternity_capital", "profile.nis_years", "property.type"
// (1..5), "property.price" (> 0, <= 10^13), "property.down_payment" (0 <= dp < price),
// "property.term_months" (1..600), "property.region" (0..999).
absl::Status ValidateInput(const Client& client, const Purchase& purchase);

// Validates the input (InvalidArgument naming "profile.age", "property.price",
// "property.down_payment" — not below the price —, "property.term_months", ...) and evaluates every
// program of every bank. Promises: one offer per program (fewer with eligible_only); an ineligible
// offer lists every failing reason, not only the first; payment, overpayment and ПСК are those of
// BuildSchedule for the same loan under the bank's profile to within the summary's closed form: the
// payment exactly (annuity: BuildSchedule's regular payment, also after an interest-only first
// period), ПСК within 0.05 p.p. for 1/12 accrual (actual-day accrual is summarised as 1/12; see
// multicalc.cc), and exactly the schedule's figures for the offers whose schedule was asked for.
// Every offer with a rate has payment, overpayment, ПСК and required income, eligible or not.
// The offers point into `reference`, which must outlive the result, and into the result's own arena.
absl::StatusOr<MultiCalcResult> MultiCalculate(const Reference& reference, const Client& client,
                                               const Purchase& purchase, const MultiCalcOptions& options);

}  // namespace crm::mortgage

#endif  // CRM_SERVICES_MORTGAGE_MULTICALC_H_
