#include "libs/base/money.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/base/strings.h"

namespace crm {
namespace {

struct CurrencyInfo {
  std::string_view code;
  int digits;
};

// Common ISO 4217 codes and their minor-unit exponents (ISO 4217 list one).
constexpr std::array<CurrencyInfo, 61> kCurrencies = {{
    {"RUB", 2}, {"USD", 2}, {"EUR", 2}, {"CNY", 2}, {"KZT", 2}, {"BYN", 2}, {"UZS", 2}, {"AMD", 2},
    {"GEL", 2}, {"KGS", 2}, {"AZN", 2}, {"TJS", 2}, {"TMT", 2}, {"MDL", 2}, {"UAH", 2}, {"MNT", 2},
    {"AED", 2}, {"TRY", 2}, {"GBP", 2}, {"CHF", 2}, {"JPY", 0}, {"KRW", 0}, {"VND", 0}, {"CLP", 0},
    {"ISK", 0}, {"KWD", 3}, {"BHD", 3}, {"OMR", 3}, {"JOD", 3}, {"TND", 3}, {"IQD", 3}, {"LYD", 3},
    {"CAD", 2}, {"AUD", 2}, {"NZD", 2}, {"HKD", 2}, {"SGD", 2}, {"INR", 2}, {"IDR", 2}, {"THB", 2},
    {"MYR", 2}, {"SAR", 2}, {"QAR", 2}, {"ILS", 2}, {"EGP", 2}, {"ZAR", 2}, {"BRL", 2}, {"MXN", 2},
    {"ARS", 2}, {"SEK", 2}, {"NOK", 2}, {"DKK", 2}, {"PLN", 2}, {"CZK", 2}, {"HUF", 2}, {"RON", 2},
    {"BGN", 2}, {"RSD", 2}, {"IRR", 2}, {"PKR", 2}, {"LKR", 2},
}};

const CurrencyInfo* FindCurrency(std::string_view code) {
  for (const CurrencyInfo& c : kCurrencies) {
    if (c.code == code) return &c;
  }
  return nullptr;
}

constexpr uint64_t kPow10[] = {1, 10, 100, 1000};

// Length of a digit-group separator starting at s[i]: ' ', U+00A0 or U+202F; 0 if none.
size_t GroupSeparatorLength(std::string_view s, size_t i) {
  if (s[i] == ' ') return 1;
  if (s.substr(i, 2) == "\xC2\xA0") return 2;
  if (s.substr(i, 3) == "\xE2\x80\xAF") return 3;
  return 0;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

uint64_t Magnitude(int64_t v) {
  return v < 0 ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
}

// Returns -magnitude or +magnitude as int64; the caller guarantees it fits.
int64_t Signed(uint64_t magnitude, bool negative) {
  return static_cast<int64_t>(negative ? uint64_t{0} - magnitude : magnitude);
}

}  // namespace

absl::Status ValidateCurrency(std::string_view code) {
  if (FindCurrency(code) != nullptr) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("unknown currency ", QuoteForError(code), ": expected an ISO 4217 code such as RUB"));
}

int MinorUnitDigits(std::string_view code) {
  const CurrencyInfo* c = FindCurrency(code);
  return c == nullptr ? -1 : c->digits;
}

absl::StatusOr<Money> ParseMoney(std::string_view decimal, std::string_view currency) {
  const CurrencyInfo* info = FindCurrency(currency);
  if (info == nullptr) return ValidateCurrency(currency);
  const auto malformed = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid amount ", QuoteForError(decimal), ": expected a decimal number like 1500.50"));
  };

  std::string_view s = AsStd(absl::StripAsciiWhitespace(AsAbsl(decimal)));
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }

  std::string digits;  // integer digits then fraction digits, separators dropped
  int first_group = -1;
  int group = 0;
  size_t i = 0;
  while (i < s.size()) {
    if (IsDigit(s[i])) {
      digits.push_back(s[i++]);
      ++group;
      continue;
    }
    const size_t sep = GroupSeparatorLength(s, i);
    if (sep == 0) break;
    if (group == 0) return malformed();  // leading or doubled separator
    if (first_group < 0) {
      if (group > 3) return malformed();
      first_group = group;
    } else if (group != 3) {
      return malformed();
    }
    group = 0;
    i += sep;
  }
  if (group == 0 || (first_group >= 0 && group != 3)) return malformed();

  size_t fraction_digits = 0;
  if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
    ++i;
    while (i < s.size() && IsDigit(s[i])) {
      digits.push_back(s[i++]);
      ++fraction_digits;
    }
    if (fraction_digits == 0) return malformed();
  }
  if (i != s.size()) return malformed();

  const size_t allowed = static_cast<size_t>(info->digits);
  if (fraction_digits > allowed) {
    return absl::InvalidArgumentError(absl::StrCat("amount ", QuoteForError(decimal), " has ",
                                                   fraction_digits, " fraction digits; ", AsAbsl(info->code),
                                                   " allows ", info->digits));
  }

  const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  const auto overflow = [&] {
    return absl::OutOfRangeError(
        absl::StrCat("amount ", QuoteForError(decimal), " is too large for ", AsAbsl(info->code)));
  };
  uint64_t magnitude = 0;
  for (char c : digits) {
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (magnitude > (limit - d) / 10) return overflow();
    magnitude = magnitude * 10 + d;
  }
  const uint64_t scale = kPow10[allowed - fraction_digits];
  if (magnitude > limit / scale) return overflow();
  magnitude *= scale;

  return Money{Signed(magnitude, negative), std::string(currency)};
}

std::string FormatDecimal(const Money& money) {
  int digits = MinorUnitDigits(money.currency);
  if (digits < 0) digits = 2;
  const uint64_t magnitude = Magnitude(money.minor);
  const uint64_t scale = kPow10[digits];
  std::string out = absl::StrCat(money.minor < 0 ? "-" : "", magnitude / scale);
  if (digits > 0) {
    std::string fraction = absl::StrCat(magnitude % scale);
    out.push_back('.');
    out.append(static_cast<size_t>(digits) - fraction.size(), '0');
    out.append(fraction);
  }
  return out;
}

absl::StatusOr<Money> Add(const Money& a, const Money& b) {
  if (a.currency != b.currency) {
    return absl::InvalidArgumentError(
        absl::StrCat("currency mismatch: ", QuoteForError(a.currency), " vs ", QuoteForError(b.currency)));
  }
  int64_t sum;
  if (__builtin_add_overflow(a.minor, b.minor, &sum)) {
    return absl::OutOfRangeError(
        absl::StrCat("sum of ", FormatDecimal(a), " and ", FormatDecimal(b), " ", a.currency, " overflows"));
  }
  return Money{sum, a.currency};
}

absl::StatusOr<std::vector<int64_t>> SplitByBasisPoints(int64_t total_minor,
                                                        const std::vector<int>& basis_points) {
  constexpr int64_t kWhole = 10000;
  if (basis_points.empty()) return absl::InvalidArgumentError("basis_points: at least one part is required");
  int64_t sum = 0;
  for (size_t i = 0; i < basis_points.size(); ++i) {
    if (basis_points[i] < 0 || basis_points[i] > kWhole) {
      return absl::InvalidArgumentError(
          absl::StrCat("basis_points[", i, "] = ", basis_points[i], ": must be between 0 and 10000"));
    }
    sum += basis_points[i];
  }
  if (sum != kWhole) {
    return absl::InvalidArgumentError(absl::StrCat("basis_points sum to ", sum, ", must sum to 10000"));
  }

  // floor(m * bp / 10000) = (m / 10000) * bp + ((m % 10000) * bp) / 10000, with no intermediate overflow.
  const uint64_t m = Magnitude(total_minor);
  const uint64_t high = m / kWhole;
  const uint64_t low = m % kWhole;
  std::vector<uint64_t> parts(basis_points.size());
  std::vector<uint64_t> remainders(basis_points.size());
  uint64_t assigned = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const uint64_t bp = static_cast<uint64_t>(basis_points[i]);
    parts[i] = high * bp + (low * bp) / kWhole;
    remainders[i] = (low * bp) % kWhole;
    assigned += parts[i];
  }
  // The leftover (m - assigned) is smaller than the number of parts with a non-zero remainder, so it
  // goes one unit each to the parts with the largest remainders; stable_sort keeps ties in part order.
  std::vector<size_t> order(parts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return remainders[a] > remainders[b]; });
  for (uint64_t k = 0; k < m - assigned; ++k) ++parts[order[k]];
  std::vector<int64_t> out;
  out.reserve(parts.size());
  for (uint64_t p : parts) out.push_back(Signed(p, total_minor < 0));
  return out;
}

}  // namespace crm
