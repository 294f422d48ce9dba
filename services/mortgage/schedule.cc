#include "services/mortgage/schedule.h"


#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "libs/base/strings.h"
#include "libs/base/status.h"
#include "libs/calendar/calendar.h"

namespace crm::mortgage {
namespace {

constexpr int64_t kRateScale = 100'000'000;  // 10^8
constexpr int64_t kMaxPrincipal = 10'000'000'000'000;  // 10^13 kopecks = 100 bn ₽
constexpr int kMaxTermMonths = 600;

absl::Status Invalid(std::string_view field, std::string_view what) { return InvalidFieldError(field, what); }

// num / den for num >= 0, den > 0, rounded per `r`.
int64_t Divide(absl::int128 num, absl::int128 den, ConventionProfile::Rounding r) {
  absl::int128 q = num / den;
  if (r == ConventionProfile::Rounding::kHalfUp && (num - q * den) * 2 >= den) q += 1;
  return static_cast<int64_t>(q);
}

// a * b / den for a, b >= 0, den > 0, rounded per `r`, exactly. The hot path of every schedule row
// (a = the balance, which each row waits for; b / den = the period's rate): the quotient is
// estimated with a 63-bit fixed-point reciprocal of den / b (one 64x64 multiply on the row-to-row
// dependency chain; the reciprocal is computed off it) and corrected with the exact remainder, which
// lies within a few den of 0 and so is exact in wrapping 64-bit arithmetic. No 128-bit division
// (several times the latency) is left on the chain.
template <int64_t kDen>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline int64_t DivideProduct(int64_t a, int64_t b, ConventionProfile::Rounding r) {
  static_assert(kDen > 0 && kDen < (int64_t{1} << 60));
  if (b >= kDen || a < 0) return Divide(absl::int128(a) * b, kDen, r);
  // recip ~ b / kDen * 2^63 (to ~2^-51 relative; a multiply by a constant, no division), so q is
  // floor(a * b / kDen) give or take 1 for 0 <= a < 2^63.
  constexpr double kInverse = 0x1p63 / static_cast<double>(kDen);
  const uint64_t recip = static_cast<uint64_t>(static_cast<int64_t>(static_cast<double>(b) * kInverse));
  int64_t q = static_cast<int64_t>((absl::uint128(static_cast<uint64_t>(a)) * recip) >> 63);
  int64_t rem = static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b) -
                                     static_cast<uint64_t>(q) * static_cast<uint64_t>(kDen));
  while (rem < 0) {
    --q;
    rem += kDen;
  }
  while (rem >= kDen) {
    ++q;
    rem -= kDen;
  }
  if (r == ConventionProfile::Rounding::kHalfUp && rem >= kDen - rem) ++q;
  return q;
}

int64_t RoundMoney(long double v, ConventionProfile::Rounding r) {
  if (v <= 0) return 0;
  return static_cast<int64_t>(r == ConventionProfile::Rounding::kHalfUp ? std::floor(v + 0.5L)
                                                                          : std::floor(v));
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// `start` plus `months` months, its day of month clamped to the month's end.
// Plain arithmetic (no civil-time normalisation, which dominated the cost of a schedule).
absl::CivilDay AddMonths(absl::CivilDay start, int64_t months) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const int64_t total = start.year() * 12 + (start.month() - 1) + months;  // years >= 0 here
  const int64_t year = total / 12;
  const int month = static_cast<int>(total % 12) + 1;
  const int dim = kDays[month - 1] + (month == 2 && IsLeap(year) ? 1 : 0);
  return absl::CivilDay(year, month, std::min(start.day(), dim));
}

absl::CivilDay ShiftToWorkingDay(absl::CivilDay d, const calendar::WorkingCalendar& cal) {
  for (int i = 0; i < 366 && !cal.IsWorkingDay(d); ++i) ++d;
  return d;
}

}  // namespace

absl::StatusOr<Rate> ParseRate(std::string_view text, std::string_view field) {
  if (text.empty()) return Invalid(field, "empty rate");
  size_t i = 0;
  int64_t whole = 0;
  int whole_digits = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (whole_digits++ > 3) return Invalid(field, "rate must be below 1 (100 %)");
    whole = whole * 10 + (text[i++] - '0');
  }
  if (whole_digits == 0) return Invalid(field, absl::StrCat("not a decimal: ", AsAbsl(QuoteForError(text))));
  int64_t frac = 0;
  int frac_digits = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (++frac_digits > 8) return Invalid(field, "more than 8 decimal places");
      frac = frac * 10 + (text[i++] - '0');
    }
    if (frac_digits == 0) return Invalid(field, absl::StrCat("not a decimal: ", AsAbsl(QuoteForError(text))));
  }
  if (i != text.size()) return Invalid(field, absl::StrCat("not a decimal: ", AsAbsl(QuoteForError(text))));
  for (int k = frac_digits; k < 8; ++k) frac *= 10;
  Rate rate{whole * kRateScale + frac};
  if (rate.e8 >= kRateScale) return Invalid(field, "rate must be below 1 (100 %)");
  return rate;
}

std::string FormatRate(Rate rate) {
  std::string s = absl::StrFormat("%d.%08d", rate.e8 / kRateScale, rate.e8 % kRateScale);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil): plain
// integer arithmetic, no civil-time normalisation.
inline int64_t DayNumber(absl::CivilDay d) {
  const int64_t y = d.year() - (d.month() <= 2);
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const uint64_t yoe = static_cast<uint64_t>(y - era * 400);  // [0, 399]
  const uint64_t m = static_cast<uint64_t>(d.month());
  const uint64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + static_cast<uint64_t>(d.day()) - 1;
  const uint64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int64_t DecemberThirtyFirst(int64_t year) { return DayNumber(absl::CivilDay(year, 12, 31)); }

// The days (from, to] split by calendar year, as sum d_y / Y_y scaled by 365 * 366:
// d365 * 366 + d366 * 365 (a day belongs to its own year; 31 Dec ends a year). y0/y1 are the
// years and n0/n1 the DayNumbers of from/to.
int64_t DayWeight(int64_t y0, int64_t n0, int64_t y1, int64_t n1) {
  if (n1 <= n0) return 0;
  auto per_day = [](int64_t y) -> int64_t { return IsLeap(y) ? 365 : 366; };
  if (y0 == y1) return (n1 - n0) * per_day(y0);
  int64_t w = (DecemberThirtyFirst(y0) - n0) * per_day(y0);  // the rest of y0
  w += (y1 - y0 - 1) * (365 * 366);                           // whole years between
  w += (n1 - DecemberThirtyFirst(y1 - 1)) * per_day(y1);      // the start of y1
  return w;
}

int64_t DayWeight(absl::CivilDay from, absl::CivilDay to) {
  return DayWeight(from.year(), DayNumber(from), to.year(), DayNumber(to));
}

// The nominal payment dates of a loan issued on `issue` over `months` (issue day of month, clamped
// to the month's end) with their day numbers and the DayWeight of each period. A multi-calculation
// builds hundreds of schedules with one issue date and term: the table is made once per thread for
// the last (issue, months) asked for. Dates depend on nothing else, so the cache cannot go stale.
struct NominalDates {
  absl::CivilDay issue;
  int months = -1;
  struct Entry {
    absl::CivilDay date;
    int64_t weight;  // DayWeight from the previous nominal date (the issue for the first)
  };
  std::vector<Entry> entries;  // entries[k - 1] = payment k
};

const NominalDates& DatesFor(absl::CivilDay issue, int months) {
  thread_local NominalDates table;
  if (table.months == months && table.issue == issue) return table;
  table.issue = issue;
  table.months = months;
  table.entries.resize(months);
  absl::CivilDay prev = issue;
  int64_t prev_day = DayNumber(prev);
  for (int k = 1; k <= months; ++k) {
    const absl::CivilDay date = AddMonths(issue, k);
    const int64_t day = DayNumber(date);
    table.entries[k - 1] = {date, DayWeight(prev.year(), prev_day, date.year(), day)};
    prev = date;
    prev_day = day;
  }
  return table;
}

// Interest on `balance` at `rate_e8` for a period of DayWeight `weight` (actual days) or one month.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline int64_t Interest(int64_t balance, int64_t rate_e8,
                                                     ConventionProfile::Accrual accrual, int64_t weight,
                                                     ConventionProfile::Rounding rounding) {
  if (balance <= 0 || rate_e8 == 0) return 0;
  if (accrual == ConventionProfile::Accrual::kMonthly) {
    return DivideProduct<kRateScale * 12>(balance, rate_e8, rounding);
  }
  if (weight <= INT64_MAX / kRateScale) {
    return DivideProduct<kRateScale * 365 * 366>(balance, rate_e8 * weight, rounding);
  }
  return Divide(absl::int128(balance) * rate_e8 * weight, absl::int128(kRateScale) * (365 * 366), rounding);
}

}  // namespace

int64_t PeriodInterest(int64_t balance, Rate rate, absl::CivilDay from, absl::CivilDay to,
                       const ConventionProfile& profile) {
  const bool monthly = profile.accrual == ConventionProfile::Accrual::kMonthly;
  return Interest(balance, rate.e8, profile.accrual, monthly ? 0 : DayWeight(from, to),
                  profile.interest_rounding);
}

int64_t AnnuityPayment(int64_t principal, Rate annual_rate, int months,
                       ConventionProfile::Rounding rounding) {
  if (months <= 0) return principal;
  if (annual_rate.e8 == 0) {
    return Divide(principal, months, rounding);
  }
  // (1 + i)^n by squaring in 80-bit long double (at most ~19 multiplications for n <= 600, relative
  // error ~1e-18: far below half a kopeck of any principal accepted), A = S i g / (g - 1).
  const long double i = static_cast<long double>(annual_rate.e8) / (12.0L * kRateScale);
  long double g = 1, base = 1 + i;
  for (int k = months; k > 0; k >>= 1) {
    if (k & 1) g *= base;
    base *= base;
  }
  const long double a = static_cast<long double>(principal) * i * g / (g - 1);
  return RoundMoney(a, rounding);
}

namespace {

// A run of cash flows of the ПСК equation: `count` flows of `amount` at q, q + step, ..., each with
// the same e (the remaining days / (365/12)); q counts whole base periods since the first flow. A
// schedule's level payments are one run, its yearly insurance another: the equation is evaluated per
// run in closed form, not per flow.
struct PskTerm {
  double amount;
  int64_t q;
  double e;
  int64_t count = 1;
  int64_t step = 1;
};

PskTerm MakePskTerm(int64_t amount, int64_t q, int64_t days) {
  return {static_cast<double>(amount), q, days == 0 ? 0.0 : 12.0 * static_cast<double>(days) / 365.0};
}

// Appends `t` to `terms`, extending the last run when `t` is its next flow.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void AppendTerm(std::vector<PskTerm>& terms, const PskTerm& t) {
  if (!terms.empty()) {
    PskTerm& last = terms.back();
    if (last.step == 1 && last.e == 0 && t.e == 0 && t.count == 1 && last.amount == t.amount &&
        t.q == last.q + last.count) {
      ++last.count;
      return;
    }
  }
  terms.push_back(t);
}

// v^k for k >= 0 by squaring.
double PowInt(double v, int64_t k) {
  double r = 1;
  while (k > 0) {
    if (k & 1) r *= v;
    v *= v;
    k >>= 1;
  }
  return r;
}

// The term of a flow of `amount` on `date` counted from `start` (date >= start): q is the largest
// with AddMonths(start, q) <= date, e the days after that date / (365/12).
PskTerm TermAt(absl::CivilDay start, absl::CivilDay date, int64_t amount) {
  int64_t q = (date.year() - start.year()) * 12 + (date.month() - start.month());
  absl::CivilDay at = AddMonths(start, q);
  while (q > 0 && at > date) at = AddMonths(start, --q);
  return MakePskTerm(amount, q, date - at);
}

// Solves the ПСК equation over `terms` (sorted by q) and formats it; `guess` is a starting point
// for the monthly root (e.g. the nominal monthly rate; 0 when unknown). See Psk() for the contract.
absl::StatusOr<std::string> SolvePsk(absl::Span<const PskTerm> terms, double guess) {
  bool has_negative = false, has_positive = false;
  // Conventional flows (every negative flow is at the start: q = 0, e = 0) make f(i) a constant
  // plus positive, decreasing, convex terms: f is decreasing and convex, so its only positive root
  // is reached by plain Newton (monotonically once left of the root).
  bool conventional = true;
  for (const PskTerm& t : terms) {
    has_negative |= t.amount < 0;
    has_positive |= t.amount > 0;
    if (t.amount < 0 && (t.q != 0 || t.e != 0)) conventional = false;
  }
  if (!has_negative || !has_positive) {
    return Invalid("cash_flows", "needs both the loan given (negative) and repayments (positive)");
  }
  // f(i) and f'(i). Terms sorted by q let (1+i)^-q be built by repeated multiplication (q is
  // integral, up to ~600): no pow per term.
  auto eval = [&](double i, double* deriv) {
    double sum = 0, dq_sum = 0, de_sum = 0;
    const double step = 1 / (1 + i);
    double disc = 1;  // step^disc_q
    int64_t disc_q = 0;
    for (const PskTerm& t : terms) {
      if (t.q - disc_q <= 8) {
        while (disc_q < t.q) {
          disc *= step;
          ++disc_q;
        }
      } else {
        disc *= PowInt(step, t.q - disc_q);
        disc_q = t.q;
      }
      if (t.count == 1) {
        if (t.e == 0) {
          const double v = t.amount * disc;
          sum += v;
          dq_sum += v * static_cast<double>(t.q);
        } else {
          const double lin = 1 + t.e * i;
          const double v = t.amount * disc / lin;
          sum += v;
          dq_sum += v * static_cast<double>(t.q);
          de_sum += v * t.e / lin;
        }
        continue;
      }
      // A run (e = 0): sum_j v^(q + j s) = v^q G(w), G(w) = (1 - w^c) / (1 - w), w = v^s; its
      // derivative in i is -v * v^q (q G + s w G'(w)). Close to w = 1 (a rate near 0) the closed form
      // cancels badly: sum the flows one by one there.
      const double w = t.step == 1 ? step : PowInt(step, t.step);
      const double c = static_cast<double>(t.count);
      double g, dg;
      if (1 - w > 1e-6) {
        const double wc = PowInt(w, t.count);
        g = (1 - wc) / (1 - w);
        dg = (-c * (wc / w) * (1 - w) + (1 - wc)) / ((1 - w) * (1 - w));
      } else {
        g = 0;
        dg = 0;
        double wj = 1;
        for (int64_t j = 0; j < t.count; ++j) {
          g += wj;
          if (j > 0) dg += static_cast<double>(j) * wj / w;
          wj *= w;
        }
      }
      const double v = t.amount * disc;
      sum += v * g;
      dq_sum += v * (static_cast<double>(t.q) * g + static_cast<double>(t.step) * w * dg);
    }
    if (deriv != nullptr) *deriv = -(dq_sum * step + de_sum);
    return sum;
  };
  auto format = [](double x) {
    double psk = x * 12 * 100;
    int64_t milli = static_cast<int64_t>(std::floor(psk * 1000 + 0.5));
    return absl::StrFormat("%d.%03d", milli / 1000, milli % 1000);
  };
  // f(0) = sum of flows must be > 0 (costs exceed the loan).
  double f0 = 0;  // eval(0): every discount is 1
  for (const PskTerm& t : terms) f0 += t.amount * static_cast<double>(t.count);
  if (f0 == 0) return std::string("0.000");
  if (f0 < 0) return Invalid("cash_flows", "repayments do not exceed the loan: no positive root");
  if (conventional) {
    // Newton from `guess` (the root is usually within a few % of the nominal monthly rate: 3-5
    // steps). Left of the root the iterates rise monotonically to it; a step from the right lands
    // left of it. Anything odd falls back to the bracketing search below.
    double x = guess > 0 && guess < 10 ? guess : 0;
    for (int iter = 0; iter < 100; ++iter) {
      double d = 0;
      const double fx = eval(x, &d);
      if (fx == 0) return format(x);
      if (!(d < 0)) break;
      const double nx = x - fx / d;
      if (!(nx > -0.5) || !(nx < 1e3)) break;
      // Newton converges quadratically here (f convex, f' bounded away from 0): after a step below
      // 1e-9 the new iterate is within ~1e-16 of the root. The result is published to 3 decimals
      // of 1200*i, so far below that.
      if (std::fabs(nx - x) < 1e-9) return format(nx > 0 ? nx : 0);
      x = nx;
    }
  }
  // General flows: bracket the smallest positive root (scan upward geometrically for the first sign
  // change), then safeguarded Newton inside it.
  double lo = 0, hi = 1e-4;
  while (eval(hi, nullptr) > 0) {
    lo = hi;
    hi *= 2;
    if (hi > 1e3) return Invalid("cash_flows", "no positive root below 100000 % per month");
  }
  double x = (lo + hi) / 2;
  for (int iter = 0; iter < 200 && hi - lo > 1e-13; ++iter) {
    double d = 0;
    double fx = eval(x, &d);
    if (fx == 0) {
      lo = hi = x;
      break;
    }
    if (fx > 0) lo = x; else hi = x;
    double nx = d != 0 ? x - fx / d : (lo + hi) / 2;
    if (!(nx > lo && nx < hi)) nx = (lo + hi) / 2;
    if (std::fabs(nx - x) < 1e-13) {
      x = nx;
      break;
    }
    x = nx;
  }
  return format(x);
}

}  // namespace

absl::StatusOr<std::string> Psk(absl::Span<const CashFlow> flows) {
  if (flows.empty()) return Invalid("cash_flows", "no cash flows");
  const absl::CivilDay start = flows.front().date;
  std::vector<PskTerm> terms;
  for (size_t k = 0; k < flows.size(); ++k) {
    if (flows[k].date < start) {
      return Invalid("cash_flows", absl::StrCat("flow ", k, " precedes the first flow"));
    }
    terms.push_back(TermAt(start, flows[k].date, flows[k].amount_kopecks));
  }
  auto by_q = [](const PskTerm& a, const PskTerm& b) { return a.q < b.q; };
  if (!std::is_sorted(terms.begin(), terms.end(), by_q)) std::stable_sort(terms.begin(), terms.end(), by_q);
  std::vector<PskTerm> runs;
  for (const PskTerm& t : terms) AppendTerm(runs, t);
  return SolvePsk(runs, 0);
}

absl::StatusOr<int64_t> RequiredIncome(int64_t payment, int64_t other, Rate pti_max) {
  if (payment < 0) return Invalid("monthly_payment", "must not be negative");
  if (other < 0) return Invalid("other_debt_payments", "must not be negative");
  if (pti_max.e8 <= 0 || pti_max.e8 > kRateScale) return Invalid("pti_max", "must be in (0, 1]");
  absl::int128 num = absl::int128(payment + other) * kRateScale;
  absl::int128 q = num / pti_max.e8;
  if (num % pti_max.e8 != 0) q += 1;
  return static_cast<int64_t>(q);
}

absl::StatusOr<int64_t> LoanPrincipal(int64_t price, int64_t down_payment) {
  if (price <= 0) return Invalid("price", "must be positive");
  if (down_payment < 0) return Invalid("down_payment", "must not be negative");
  if (down_payment >= price) return Invalid("down_payment", "must be below the price");
  return price - down_payment;
}

namespace {

// InvalidArgument naming the first bad field of `req` (BuildSchedule's contract), or OK.
absl::Status Validate(const LoanRequest& req, const calendar::WorkingCalendar* cal) {
  const ConventionProfile& prof = req.profile;
  const int n = req.term_months;
  if (req.principal_kopecks <= 0) return Invalid("principal", "must be positive");
  if (req.principal_kopecks > kMaxPrincipal) return Invalid("principal", "must be at most 10^13 kopecks");
  if (req.annual_rate.e8 < 0 || req.annual_rate.e8 >= kRateScale) {
    return Invalid("annual_rate", "must be in [0, 1)");
  }
  if (n <= 0) return Invalid("term_months", "must be positive");
  if (n > kMaxTermMonths) return Invalid("term_months", "must be at most 600");
  if (prof.interest_only_first_period && n < 2) {
    return Invalid("term_months", "must be at least 2 with an interest-only first period");
  }
  const int m0 = req.initial_rate_months;
  if (m0 < 0) return Invalid("initial_rate_months", "must not be negative");
  if (m0 > 0 && m0 >= n) return Invalid("initial_rate_months", "must be below term_months");
  if (m0 > 0 && (req.initial_rate.e8 < 0 || req.initial_rate.e8 >= kRateScale)) {
    return Invalid("initial_rate", "must be in [0, 1)");
  }
  if (req.issue_date.year() < 1900 || req.issue_date.year() > 2200) {
    return Invalid("issue_date", "must be within 1900..2200");
  }
  if (req.one_time_fees_kopecks < 0) return Invalid("one_time_fees", "must not be negative");
  if (req.yearly_insurance_kopecks < 0) return Invalid("yearly_insurance", "must not be negative");
  // Paid at issue, they come off what the borrower receives (ПСК's first flow): together they must
  // leave some of the loan, and each is then bounded like the principal, so no total overflows.
  if (req.one_time_fees_kopecks >= req.principal_kopecks) {
    return Invalid("one_time_fees", "must be below the principal (the borrower would receive nothing)");
  }
  if (req.yearly_insurance_kopecks >= req.principal_kopecks - req.one_time_fees_kopecks) {
    return Invalid("yearly_insurance",
                   "with one_time_fees, must be below the principal (the borrower would receive nothing)");
  }
  if (prof.shift_payment_dates && cal == nullptr) {
    return Invalid("calendar", "required when payment dates are shifted");
  }
  const absl::CivilDay last_nominal = AddMonths(req.issue_date, n);
  const size_t n_early = req.early_repayments.size();
  for (size_t k = 0; k < n_early; ++k) {
    const EarlyRepayment& e = req.early_repayments[k];
    std::string prefix = absl::StrCat("early_repayments[", k, "].");
    if (e.amount_kopecks <= 0) return Invalid(prefix + "amount", "must be positive");
    if (e.date <= req.issue_date) return Invalid(prefix + "date", "must be after the issue date");
    if (e.date > last_nominal) return Invalid(prefix + "date", "must not be after the last payment date");
    if (e.repeat_every_months < 0 || e.repeat_every_months > kMaxTermMonths) {
      return Invalid(prefix + "repeat_every_months", "must be in 0..600");
    }
  }

  return absl::OkStatus();
}


// The rows and totals of a loan without early repayments or moved dates: BuildSchedule's row
// recipe, statement for statement, without the branches those need (most schedules, and the
// multi-calculation's hundreds at once, take this path).
// The running state of a plain schedule.
struct PlainState {
  int64_t balance;
  int64_t level;
  int64_t total_interest = 0;
  int64_t total_principal = 0;
  int64_t total_paid = 0;
};

// Rows from..to (inclusive) of a plain schedule where nothing changes from row to row: the same rate
// and level, amortising, none of them the last. Accrual and kind are template parameters so the loop
// carries no branch on them; the arithmetic is BuildSchedule's.
template <bool kActualDays, bool kAnnuity>
void PlainRun(int from, int to, int64_t rate_e8, ConventionProfile::Rounding rounding, const NominalDates& nominal,
              PlainState& st, std::vector<Row>& rows) {
  constexpr ConventionProfile::Accrual kAccrual =
      kActualDays ? ConventionProfile::Accrual::kActualDays : ConventionProfile::Accrual::kMonthly;
  for (int k = from; k <= to && st.balance > 0; ++k) {
    const NominalDates::Entry& when = nominal.entries[k - 1];
    Row& row = rows.emplace_back();
    row.n = k;
    row.date = when.date;
    row.interest = Interest(st.balance, rate_e8, kAccrual, kActualDays ? when.weight : 0, rounding);
    row.principal = kAnnuity ? std::clamp<int64_t>(st.level - row.interest, 0, st.balance)
                             : std::min(st.level, st.balance);
    row.payment = row.interest + row.principal;
    st.balance -= row.principal;
    row.balance_after = st.balance;
    st.total_interest += row.interest;
    st.total_principal += row.principal;
    st.total_paid += row.payment;
  }
}

// The rows and totals of a loan without early repayments or moved dates: BuildSchedule's row
// recipe without the branches those need (most schedules, and the multi-calculation's hundreds at
// once, take this path). The rows where something happens (an interest-only first row, the rate
// changing after an initial period, the last row) are made one by one; the runs between them by
// PlainRun.
void BuildPlainRows(const LoanRequest& req, Schedule& s) {
  const ConventionProfile& prof = req.profile;
  const int n = req.term_months;
  const int m0 = req.initial_rate_months;
  const NominalDates& nominal = DatesFor(req.issue_date, n);
  const bool annuity = req.kind == LoanRequest::Kind::kAnnuity;
  const bool actual_days = prof.accrual == ConventionProfile::Accrual::kActualDays;
  const int first_amortizing = prof.interest_only_first_period ? 2 : 1;
  const Rate first_rate = m0 >= 1 ? req.initial_rate : req.annual_rate;
  PlainState st;
  st.balance = req.principal_kopecks;
  st.level = annuity ? AnnuityPayment(st.balance, first_rate, n - (first_amortizing - 1), prof.payment_rounding)
                     : Divide(st.balance, n - (first_amortizing - 1), prof.payment_rounding);
  const int64_t first_level = st.level;
  s.rows.reserve(n);
  auto rate_of = [&](int k) { return (k <= m0 ? req.initial_rate : req.annual_rate).e8; };
  auto is_special = [&](int k) { return k < first_amortizing || k == n || (m0 > 0 && k == m0 + 1); };
  for (int k = 1; k <= n && st.balance > 0;) {
    if (!is_special(k)) {
      int to = k;
      while (to + 1 <= n && !is_special(to + 1)) ++to;
      const int64_t rate = rate_of(k);
      if (actual_days) {
        annuity ? PlainRun<true, true>(k, to, rate, prof.interest_rounding, nominal, st, s.rows)
                : PlainRun<true, false>(k, to, rate, prof.interest_rounding, nominal, st, s.rows);
      } else {
        annuity ? PlainRun<false, true>(k, to, rate, prof.interest_rounding, nominal, st, s.rows)
                : PlainRun<false, false>(k, to, rate, prof.interest_rounding, nominal, st, s.rows);
      }
      k = to + 1;
      continue;
    }
    const NominalDates::Entry& when = nominal.entries[k - 1];
    if (annuity && m0 > 0 && k == m0 + 1) {
      st.level = AnnuityPayment(st.balance, req.annual_rate, n - std::max(m0, first_amortizing - 1),
                                prof.payment_rounding);
    }
    Row& row = s.rows.emplace_back();
    row.n = k;
    row.date = when.date;
    row.interest =
        Interest(st.balance, rate_of(k), prof.accrual, actual_days ? when.weight : 0, prof.interest_rounding);
    if (k < first_amortizing) {
      row.principal = 0;
    } else if (k == n) {
      row.principal = st.balance;
    } else if (annuity) {
      row.principal = std::clamp<int64_t>(st.level - row.interest, 0, st.balance);
    } else {
      row.principal = std::min(st.level, st.balance);
    }
    row.payment = row.interest + row.principal;
    st.balance -= row.principal;
    row.balance_after = st.balance;
    st.total_interest += row.interest;
    st.total_principal += row.principal;
    st.total_paid += row.payment;
    ++k;
  }
  s.total_interest = st.total_interest;
  s.total_principal = st.total_principal;
  s.total_paid = st.total_paid;
  // The regular payment: A as computed for an annuity; for a differentiated loan the first amortising
  // row's payment.
  if (s.rows.size() >= static_cast<size_t>(first_amortizing)) {
    s.regular_payment = annuity ? first_level : s.rows[first_amortizing - 1].payment;
  }
}

}  // namespace

absl::StatusOr<Schedule> BuildSchedule(const LoanRequest& req,
                                       const calendar::WorkingCalendar* cal) {
  CRM_RETURN_IF_ERROR(Validate(req, cal));
  const ConventionProfile& prof = req.profile;
  const int n = req.term_months;
  const int m0 = req.initial_rate_months;
  const size_t n_early = req.early_repayments.size();
  Schedule s;
  if (n_early == 0 && !prof.shift_payment_dates) {
    BuildPlainRows(req, s);
    CRM_RETURN_IF_ERROR(FinishSchedule(req, s));
    return s;
  }
  s.rows.reserve(n);
  // Per early repayment: the next occurrence and how many occurred (cursor, one allocation).
  struct Cursor {
    absl::CivilDay next;
    int64_t count;
    bool done;
  };
  std::vector<Cursor> cursors(n_early);
  for (size_t k = 0; k < n_early; ++k) cursors[k] = {req.early_repayments[k].date, 0, false};

  const bool annuity = req.kind == LoanRequest::Kind::kAnnuity;
  const bool actual_days = prof.accrual == ConventionProfile::Accrual::kActualDays;
  const int first_amortizing = prof.interest_only_first_period ? 2 : 1;
  const int amortizing_months = n - (first_amortizing - 1);
  // The rate of payment k (1-based) and the date of payment k.
  auto rate_of = [&](int k) { return k <= m0 ? req.initial_rate : req.annual_rate; };
  const NominalDates& nominal = DatesFor(req.issue_date, n);
  auto date_of = [&](int k) {
    const absl::CivilDay d = nominal.entries[k - 1].date;
    return prof.shift_payment_dates ? ShiftToWorkingDay(d, *cal) : d;
  };
  // The level for `balance` over `months` at `rate`: the annuity payment A, or for differentiated
  // loans the principal part P.
  auto level_for = [&](int64_t balance, Rate rate, int months) {
    return annuity ? AnnuityPayment(balance, rate, months, prof.payment_rounding)
                   : Divide(balance, months, prof.payment_rounding);
  };
  // The principal part of regular payment k.
  auto principal_of = [&](int k, int64_t balance, int64_t interest, int64_t level) -> int64_t {
    if (k < first_amortizing) return 0;
    if (k == n) return balance;
    if (annuity) return std::clamp<int64_t>(level - interest, 0, balance);
    return std::min(level, balance);
  };
  // The months remaining after payment k over which a level is spread.
  auto remaining_after = [&](int k) { return n - std::max(k, first_amortizing - 1); };
  int64_t balance = req.principal_kopecks;
  int64_t level = level_for(balance, rate_of(1), amortizing_months);
  const int64_t first_level = level;
  absl::CivilDay prev = req.issue_date;
  int64_t prev_day = DayNumber(prev);
  for (int k = 1; k <= n && balance > 0; ++k) {
    const absl::CivilDay date = date_of(k);
    if (annuity && m0 > 0 && k == m0 + 1) {
      // The initial-rate period is over: the annuity at the contract rate over the remaining months.
      // (A differentiated loan keeps its principal part; its payment follows the rate by itself.)
      level = level_for(balance, req.annual_rate, remaining_after(m0));
    }
    Row& row = s.rows.emplace_back();  // in place: no 64-byte copy per row
    row.n = k;
    row.date = date;
    int64_t weight = 0;
    if (actual_days) {
      if (prof.shift_payment_dates) {
        const int64_t day = DayNumber(date);
        weight = DayWeight(prev.year(), prev_day, date.year(), day);
        prev_day = day;
      } else {
        weight = nominal.entries[k - 1].weight;
      }
    }
    row.interest = Interest(balance, rate_of(k).e8, prof.accrual, weight, prof.interest_rounding);
    row.principal = principal_of(k, balance, row.interest, level);
    row.payment = row.interest + row.principal;
    balance -= row.principal;
    const int64_t balance_before_early = balance;
    // Early repayments falling in (prev, date] are made today, after the regular payment.
    bool reduce_payment = false;
    for (size_t e = 0; e < n_early; ++e) {
      Cursor& c = cursors[e];
      const EarlyRepayment& er = req.early_repayments[e];
      while (!c.done && c.next <= date) {
        int64_t amount = er.amount_kopecks;
        if (amount > balance) {
          if (er.repeat_every_months == 0) {
            return Invalid(absl::StrCat("early_repayments[", e, "].amount"),
                           absl::StrCat("exceeds the remaining balance ", balance, " kopecks on ",
                                        absl::FormatCivilTime(date)));
          }
          amount = balance;
        }
        row.early += amount;
        balance -= amount;
        reduce_payment |= er.mode == EarlyRepayment::Mode::kReducePayment;
        if (er.repeat_every_months == 0) {
          c.done = true;
        } else {
          ++c.count;
          c.next = AddMonths(er.date, c.count * er.repeat_every_months);
        }
      }
    }
    row.balance_after = balance;
    if (row.early > 0 && reduce_payment && balance > 0 && k < n) {
      const int64_t respread = level_for(balance, rate_of(k + 1), remaining_after(k));
      // The level (annuity payment or principal part) does not fall by more than the balance does:
      // at least level * new balance / old balance, rounded like the payment. Re-spreading the
      // balance by the annuity formula is linear in the balance, so on a schedule at or behind its
      // exact path the re-spread level is already at least that (the bank's formula is kept). A
      // schedule ahead of its path - under actual-day accrual a long period's interest above the
      // payment makes that payment the interest alone and the short periods repay extra, so it
      // would close early or end with a short last payment - would be lengthened by re-spreading
      // over the contractual remaining months, costing more interest than not repaying early at
      // all; the proportional level keeps its balance path at or below the current one and its end.
      const int64_t proportional =
          Divide(absl::int128(level) * balance, balance_before_early, prof.payment_rounding);
      level = std::max(respread, proportional);
    }
    s.total_interest += row.interest;
    s.total_principal += row.principal + row.early;
    s.total_paid += row.payment + row.early;
    if (k == first_amortizing) s.regular_payment = row.payment;
    prev = date;
  }
  // One-off repayments not made (the loan closed before their date) are errors.
  for (size_t e = 0; e < n_early; ++e) {
    if (req.early_repayments[e].repeat_every_months == 0 && !cursors[e].done) {
      return Invalid(absl::StrCat("early_repayments[", e, "].date"), "after the loan is repaid");
    }
  }
  if (annuity && s.rows.size() >= static_cast<size_t>(first_amortizing)) {
    // The regular payment is A as computed, even if row `first_amortizing` was the (short) last one.
    s.regular_payment = first_level;
  }

  CRM_RETURN_IF_ERROR(FinishSchedule(req, s));
  return s;
}

absl::Status FinishSchedule(const LoanRequest& req, Schedule& s) {
  const ConventionProfile& prof = req.profile;
  auto rate_of = [&](int k) { return k <= req.initial_rate_months ? req.initial_rate : req.annual_rate; };
  // Fees, insurance and ПСК. The ПСК terms are built here directly (the payment dates are the
  // nominal ones, possibly moved forward a few days), in date order.
  // The payments are appended as runs (a level annuity is one or two); the yearly insurance is one
  // run of its own (12, 24, ... before the last payment), placed among them by its first q.
  std::vector<PskTerm> terms;
  terms.push_back(
      MakePskTerm(-req.principal_kopecks + req.one_time_fees_kopecks + req.yearly_insurance_kopecks, 0, 0));
  s.total_fees = req.one_time_fees_kopecks + req.yearly_insurance_kopecks;
  if (prof.shift_payment_dates) {
    for (const Row& r : s.rows) AppendTerm(terms, TermAt(req.issue_date, r.date, r.payment + r.early));
  } else {
    // On the nominal dates row k is paid k whole months after the issue: equal consecutive payments
    // make one run.
    const std::vector<Row>& rows = s.rows;
    for (size_t r = 0; r < rows.size();) {
      const int64_t amount = rows[r].payment + rows[r].early;
      size_t e = r + 1;
      while (e < rows.size() && rows[e].payment + rows[e].early == amount) ++e;
      PskTerm run = MakePskTerm(amount, rows[r].n, 0);
      run.count = static_cast<int64_t>(e - r);
      terms.push_back(run);
      r = e;
    }
  }
  if (req.yearly_insurance_kopecks > 0) {
    const absl::CivilDay end = s.rows.back().date;
    int64_t count = 0;
    while (AddMonths(req.issue_date, 12 * (count + 1)) < end) ++count;
    if (count > 0) {
      s.total_fees += req.yearly_insurance_kopecks * count;
      PskTerm insurance = MakePskTerm(req.yearly_insurance_kopecks, 12, 0);
      insurance.count = count;
      insurance.step = 12;
      auto at = std::upper_bound(terms.begin(), terms.end(), int64_t{12},
                                 [](int64_t q, const PskTerm& t) { return q < t.q; });
      terms.insert(at, insurance);
    }
  }
  s.overpayment = s.total_interest + s.total_fees;
  if (s.overpayment == 0) {
    s.psk_percent = "0.000";
  } else {
    // Newton from the nominal monthly rate (of the first period): a few steps.
    auto psk = SolvePsk(terms, static_cast<double>(rate_of(1).e8) / (12.0 * kRateScale));
    if (!psk.ok()) {
      // The flows come from fields the caller gave; a ПСК with no root (the fees leave next to nothing
      // of the loan) is about those fields, named as the caller knows them.
      return Invalid("one_time_fees", "leave too little of the loan for its ПСК to be computed; lower them");
    }
    s.psk_percent = *std::move(psk);
  }
  return absl::OkStatus();
}

absl::CivilDay PaymentDate(absl::CivilDay issue, int k) { return AddMonths(issue, k); }

}  // namespace crm::mortgage
