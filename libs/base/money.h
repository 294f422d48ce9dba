// File: libs/base/money.h
// -----------------------------------------------------------------------------
// Money is an exact integer count of a currency's minor units (kopecks, cents) plus its ISO 4217 code:
// never floating point. This header parses and formats decimal amounts, adds, and splits a total into
// instalments (payment schedules "100", "50+50", "30+70") so that the parts always add up to the total.
//
// Currencies come from a built-in table of common ISO 4217 alpha-3 codes with their minor-unit
// exponent: RUB, USD, EUR, GBP, CHF, CNY, the CIS and neighbouring currencies (KZT, BYN, UZS, AMD, GEL,
// KGS, AZN, TJS, TMT, MDL, UAH, MNT), AED, TRY and other majors; JPY, KRW, VND, CLP, ISK have 0 digits;
// KWD, BHD, OMR, JOD, TND, IQD, LYD have 3. Codes are upper-case only.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(crm::Money price, crm::ParseMoney("1 500,50", "RUB"));  // {150050, "RUB"}
//   CRM_ASSIGN_OR_RETURN(crm::Money total, crm::Add(price, delivery));
//   CRM_ASSIGN_OR_RETURN(std::vector<int64_t> parts, crm::SplitByBasisPoints(total.minor, {3000, 7000}));
//   std::string shown = crm::FormatDecimal(total);                                 // "1800.50"
#ifndef CRM_LIBS_BASE_MONEY_H_
#define CRM_LIBS_BASE_MONEY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace crm {

// The business bound of any one amount in the suite: 10^15 minor units (10 trillion roubles), far above
// any real deal, payment or price. crm.common.v1.Money.amount_minor carries it as its bounds
// (proto/crm/common/v1/validation.proto), checked on arrival by every service; code that computes an
// amount (a line's price × quantity, a deal's payments) checks the result against it. 9 000 such amounts
// still sum within int64.
inline constexpr int64_t kMaxAmountMinor = int64_t{1'000'000'000'000'000};

// An amount: `minor` units (1/10^MinorUnitDigits(currency) of the major unit) of `currency`.
struct Money {
  int64_t minor = 0;
  std::string currency;

  friend bool operator==(const Money&, const Money&) = default;
};

// OK if `code` is a known ISO 4217 alpha-3 code (upper case); otherwise InvalidArgument naming it.
absl::Status ValidateCurrency(std::string_view code);

// Returns the number of minor-unit digits of a known currency (2 for RUB, 0 for JPY, 3 for KWD),
// or -1 for an unknown code.
int MinorUnitDigits(std::string_view code);

// Parses an exact decimal amount of `currency`: optional sign, digits, optionally grouped in threes by
// spaces (also U+00A0 and U+202F), and an optional fraction after '.' or ',' ("1500.5", "-3",
// "1 500,50"); surrounding ASCII whitespace is ignored. Returns InvalidArgument for an unknown currency,
// a malformed amount, or more fraction digits than the currency has ("1.500" in RUB); OutOfRange if the
// amount does not fit in int64 minor units.
absl::StatusOr<Money> ParseMoney(std::string_view decimal, std::string_view currency);

// Returns the amount as a plain decimal with exactly the currency's fraction digits and '.' as the
// separator, no grouping: "1500.50", "-0.05", "1500" (JPY). An unknown currency is shown with 2 digits.
// ParseMoney(FormatDecimal(m), m.currency) == m for every valid m.
std::string FormatDecimal(const Money& money);

// Returns a + b. InvalidArgument if the currencies differ; OutOfRange if the sum overflows int64.
absl::StatusOr<Money> Add(const Money& a, const Money& b);

// Splits `total_minor` into parts proportional to `basis_points` (1/100 of a percent each; they must be
// non-negative and sum to exactly 10000, else InvalidArgument). The parts always sum exactly to the
// total: each gets its exact share rounded toward zero, and the few leftover minor units go one each to
// the parts with the largest discarded remainders, ties to the earlier part. A negative total is split
// as its magnitude, negated. Examples: 101 by {5000, 5000} -> {51, 50};
// 100 by {3333, 3333, 3334} -> {33, 33, 34}.
absl::StatusOr<std::vector<int64_t>> SplitByBasisPoints(int64_t total_minor,
                                                        const std::vector<int>& basis_points);

}  // namespace crm

#endif  // CRM_LIBS_BASE_MONEY_H_
