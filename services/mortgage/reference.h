// File: services/mortgage/reference.h
// -----------------------------------------------------------------------------
// The reference data of the multi-calculator (M1, M2) as plain values, resolved for one date: what the
// pure calculator (multicalc.h) reads. The service (store.h) keeps the dated documents in PostgreSQL and
// resolves them into a Reference "as of" a day; demo.h builds the demo banks of seed 004 §5.2.2.
//
// Units follow proto/crm/mortgage/v1/mortgage.proto: kopecks, months, years, basis points, 0/1 flags,
// enum numbers. The enum values below are the proto's numbers, so conversion is a cast.
#ifndef CRM_SERVICES_MORTGAGE_REFERENCE_H_
#define CRM_SERVICES_MORTGAGE_REFERENCE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "services/mortgage/schedule.h"

namespace crm::mortgage {

// proto crm.mortgage.v1.Parameter: what a predicate tests. kCount bounds the array of values.
enum class Param : int {
  kAge = 1, kAgeAtMaturity = 2, kCitizenshipRu = 3, kEmployment = 4, kTotalExperienceMonths = 5,
  kCurrentJobMonths = 6, kChildrenUnder18 = 7, kYoungestChildAge = 8, kDisabledChild = 9,
  kMaternityCapital = 10, kDownPaymentShare = 11, kTermMonths = 12, kLoanAmount = 13, kPrice = 14,
  kObjectType = 15, kIncomeProof = 16, kInsurance = 17, kRegion = 18, kMonthlyIncome = 19,
  kItAccredited = 20, kNisYears = 21, kMarried = 22, kSalaryClient = 23,
  kCount = 24,
};

// proto enums, same numbers.
enum class ProgramKind : int {
  kClassic = 1, kFamily = 2, kStateSupport = 3, kMilitary = 4, kSubsidised = 5, kConsumer = 6, kIt = 7,
  kFarEast = 8, kTwoDocuments = 9,
};
enum class ObjectType : int { kNewBuild = 1, kSecondary = 2, kHouse = 3, kApartments = 4, kParking = 5 };
enum class Employment : int {
  kHired = 1, kSoleProprietor = 2, kBusinessOwner = 3, kSelfEmployed = 4, kMilitary = 5, kPensioner = 6,
};
enum class IncomeProof : int { kNdfl2 = 1, kBankForm = 2, kNone = 3 };

// min <= value <= max, or value in one_of (when non-empty). A parameter without a value fails it.
struct Predicate {
  Param param = Param::kAge;
  std::optional<int64_t> min;
  std::optional<int64_t> max;
  std::vector<int64_t> one_of;
};

// Declined when the parameter's value is in [min, max] («Возраст >70» = {kAge, min 71}).
struct StopFactor {
  std::string code;
  std::string text;
  Param param = Param::kAge;
  std::optional<int64_t> min;
  std::optional<int64_t> max;
};

// Met when any alternative holds; an alternative holds when all its predicates do.
struct Requirement {
  std::string code;
  std::string text;
  std::vector<std::vector<Predicate>> any_of;
};

struct RateCell {
  std::vector<Predicate> when;
  Rate rate;
};

struct RateAdjustment {
  std::string code;
  std::string text;
  std::vector<Predicate> when;
  int64_t delta_e8 = 0;  // added to the cell's rate; the sum is clamped at 0
};

struct ProgramLimits {  // 0 = no limit
  int64_t min_loan = 0;
  int64_t max_loan = 0;
  int min_down_payment_bp = 0;
  int max_down_payment_bp = 0;
  int min_term_months = 0;
  int max_term_months = 0;
  int max_age_at_maturity = 0;
};

struct FamilyTerms {
  int64_t limit = 0;
  int64_t capital_regions_limit = 0;
  std::vector<int64_t> capital_regions;
  Rate market_rate;
};

struct SubsidyTerms {
  int months = 0;
  Rate rate_after;
};

// A program with the rate grid in force on the date (empty cells = no rate set: not offered).
struct ProgramTerms {
  std::string id;
  std::string code;
  std::string name;
  ProgramKind kind = ProgramKind::kClassic;
  std::vector<ObjectType> object_types;  // empty = any
  ProgramLimits limits;
  std::vector<Requirement> requirements;
  FamilyTerms family;      // kFamily
  SubsidyTerms subsidy;    // kSubsidised
  int64_t one_time_fees = 0;
  Rate yearly_insurance_rate;  // of the balance, when insured
  std::vector<RateCell> cells;  // lowest rate first: the first matching cell applies
  std::vector<RateAdjustment> adjustments;
  std::string rate_document_id;
  std::string scheme_code;  // the scheme whose rate document decided the cells (empty: none)
  bool early_repayment_allowed = true;
};

struct BankTerms {
  std::string id;
  std::string code;
  std::string name;
  int decision_days = 0;
  ConventionProfile profile;
  int64_t calculation_step = 0;  // the loan is rounded down to a multiple (0 = exact)
  std::optional<Rate> pti_coefficient;  // none set: required income is not checked
  std::vector<StopFactor> stop_factors;
  std::string stop_factor_document_id;  // the document that set them (empty: none in force)
  std::vector<ProgramTerms> programs;
};

// Every bank's terms on one date.
struct Reference {
  absl::CivilDay as_of;
  std::vector<BankTerms> banks;
};

}  // namespace crm::mortgage

#endif  // CRM_SERVICES_MORTGAGE_REFERENCE_H_
