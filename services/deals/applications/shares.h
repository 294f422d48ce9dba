// File: services/deals/applications/shares.h
// -----------------------------------------------------------------------------
// «Пересчитать доли» (D15, seed 004 §6.3): the owners' shares of a unit as exact fractions and their
// amounts in kopecks. A PURE function (no database, no clock): the store calls it on every write of an
// application and the RecalculateShares button; shares_test.cc checks it on a table and on thousands of
// random owner sets.
//
// Rules:
//   INDIVIDUAL  exactly one owner, 1/1, the whole price;
//   SHARED      equal split (`equal_split`, or no owner gives a fraction): 1/n each; else every owner's
//               fraction, reduced to lowest terms, and together exactly 1 (INVALID_ARGUMENT naming each
//               owner's share fields otherwise); sums are exact in __int128 with gcd reduction (a sum
//               whose common denominator outgrows 2^126 is refused: such denominators never occur in
//               real ownership);
//   JOINT       the owners own the whole together: no fractions (0/0) and no amounts per owner (the
//               application's price is the amount), at least one owner.
// Amounts (INDIVIDUAL, SHARED): floor(price × fraction) each, then the kopecks left over (fewer than
// the owners) go one each to the largest remainders, ties to the earlier owner — so they sum to the
// price exactly and each is within one kopeck of price × fraction.
//
// Example:
//   std::vector<ShareInput> owners = {{"application.participants[0]", {1, 3}}, {"...[1]", {2, 3}}};
//   absl::StatusOr<std::vector<Share>> s = ComputeShares(Ownership::kShared, owners, false, 100'00);
//   // s: 1/3 → 33.33 (3333), 2/3 → 66.67 (6667)
#ifndef CRM_SERVICES_DEALS_APPLICATIONS_SHARES_H_
#define CRM_SERVICES_DEALS_APPLICATIONS_SHARES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace crm::deals::applications {

enum class Ownership { kIndividual = 1, kShared = 2, kJoint = 3 };

// An exact fraction; {0, 0} = none given.
struct Fraction {
  int64_t numerator = 0;
  int64_t denominator = 0;
  friend bool operator==(const Fraction&, const Fraction&) = default;
};

struct ShareInput {
  // The owner's field path ("application.participants[2]"): violations name "<path>.share_numerator"
  // and "<path>.share_denominator".
  std::string path;
  Fraction given;
};

struct Share {
  Fraction fraction;                  // lowest terms; {0, 0} for a joint owner
  std::optional<int64_t> amount_minor;  // none for a joint owner
  friend bool operator==(const Share&, const Share&) = default;
};

// The owners' shares in the order given (see the file comment). `price_minor` ≥ 0. `kind_path` names
// the ownership kind in a violation about the number of owners.
absl::StatusOr<std::vector<Share>> ComputeShares(Ownership kind, const std::vector<ShareInput>& owners,
                                                 bool equal_split, int64_t price_minor,
                                                 const std::string& kind_path = "application.ownership_kind");

// `f` in lowest terms (denominator > 0); INVALID_ARGUMENT naming `path`'s share fields when it is not a
// fraction in (0, 1].
absl::StatusOr<Fraction> ReduceShare(const Fraction& f, const std::string& path);

}  // namespace crm::deals::applications

#endif  // CRM_SERVICES_DEALS_APPLICATIONS_SHARES_H_
