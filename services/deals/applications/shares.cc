// File: services/deals/applications/shares.cc
#include "services/deals/applications/shares.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "libs/base/status.h"

namespace crm::deals::applications {

namespace {

__extension__ typedef __int128 i128;  // exact products of two int64 (-Wpedantic)

i128 Gcd(i128 a, i128 b) {
  if (a < 0) a = -a;
  if (b < 0) b = -b;
  while (b != 0) {
    i128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

constexpr i128 kLimit = static_cast<i128>(1) << 126;

// a/b + c/d in lowest terms, false when the common denominator would pass kLimit.
bool AddFractions(i128& num, i128& den, int64_t c, int64_t d) {
  const i128 g = Gcd(den, d);
  const i128 dg = d / g;
  if (den > kLimit / dg) return false;
  const i128 lcm = den * dg;
  // num/den ≤ 1 and c/d ≤ 1 here (each share ≤ 1; a partial sum over 1 stops the loop), so the new
  // numerator ≤ 2 × lcm < 2^127.
  num = num * dg + static_cast<i128>(c) * (lcm / d);
  den = lcm;
  const i128 r = Gcd(num, den);
  if (r > 1) {
    num /= r;
    den /= r;
  }
  return true;
}

}  // namespace

absl::StatusOr<Fraction> ReduceShare(const Fraction& f, const std::string& path) {
  std::vector<FieldViolation> bad;
  if (f.numerator <= 0) bad.push_back({absl::StrCat(path, ".share_numerator"), "must be > 0"});
  if (f.denominator <= 0) bad.push_back({absl::StrCat(path, ".share_denominator"), "must be > 0"});
  if (bad.empty() && f.numerator > f.denominator) {
    bad.push_back({absl::StrCat(path, ".share_numerator"), "a share is at most the whole (numerator ≤ denominator)"});
  }
  if (!bad.empty()) return InvalidFieldsError(bad);
  const int64_t g = std::gcd(f.numerator, f.denominator);
  return Fraction{f.numerator / g, f.denominator / g};
}

absl::StatusOr<std::vector<Share>> ComputeShares(Ownership kind, const std::vector<ShareInput>& owners,
                                                 bool equal_split, int64_t price_minor,
                                                 const std::string& kind_path) {
  if (price_minor < 0) return absl::InvalidArgumentError("price must not be negative");
  const size_t n = owners.size();
  std::vector<Share> out(n);
  if (kind == Ownership::kJoint) {
    if (n == 0) return InvalidFieldError(kind_path, "joint ownership needs at least one owner");
    return out;  // together: no fractions, no amounts per owner
  }
  if (kind == Ownership::kIndividual) {
    if (n != 1) {
      return InvalidFieldError(kind_path, absl::StrCat("individual ownership has exactly one owner, not ", n));
    }
    out[0] = {{1, 1}, price_minor};
    return out;
  }
  if (n == 0) return InvalidFieldError(kind_path, "shared ownership needs at least one owner");
  bool any_given = false;
  for (const ShareInput& o : owners) any_given = any_given || o.given != Fraction{};
  if (equal_split || !any_given) {
    for (Share& s : out) s.fraction = {1, static_cast<int64_t>(n)};
  } else {
    std::vector<FieldViolation> bad;
    for (size_t i = 0; i < n; ++i) {
      absl::StatusOr<Fraction> f = ReduceShare(owners[i].given, owners[i].path);
      if (!f.ok()) {
        for (FieldViolation& v : FieldViolations(f.status())) bad.push_back(std::move(v));
        continue;
      }
      out[i].fraction = *f;
    }
    if (!bad.empty()) return InvalidFieldsError(bad);
    i128 num = 0, den = 1;
    bool exact = true;
    for (size_t i = 0; i < n && exact; ++i) {
      exact = AddFractions(num, den, out[i].fraction.numerator, out[i].fraction.denominator);
      if (num > den) break;  // already over the whole
    }
    if (!exact || num != den) {
      const std::string why = !exact ? "the shares' common denominator is too large to add exactly"
                                     : "the owners' shares must sum to exactly 1";
      for (const ShareInput& o : owners) {
        bad.push_back({absl::StrCat(o.path, ".share_numerator"), why});
        bad.push_back({absl::StrCat(o.path, ".share_denominator"), why});
      }
      return InvalidFieldsError(bad);
    }
  }
  // Largest remainder: floors, then the leftover kopecks to the largest remainders (r/den), earlier first.
  std::vector<i128> rem(n);
  i128 assigned = 0;
  for (size_t i = 0; i < n; ++i) {
    const i128 scaled = static_cast<i128>(price_minor) * out[i].fraction.numerator;
    const i128 den = out[i].fraction.denominator;
    out[i].amount_minor = static_cast<int64_t>(scaled / den);
    rem[i] = scaled % den;
    assigned += scaled / den;
  }
  int64_t left = static_cast<int64_t>(static_cast<i128>(price_minor) - assigned);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    // rem[a]/den[a] > rem[b]/den[b], exactly: each side < 2^63 × 2^63.
    return rem[a] * out[b].fraction.denominator > rem[b] * out[a].fraction.denominator;
  });
  for (size_t k = 0; k < order.size() && left > 0; ++k, --left) *out[order[k]].amount_minor += 1;
  return out;
}

}  // namespace crm::deals::applications
