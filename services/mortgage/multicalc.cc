#include "services/mortgage/multicalc.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "libs/base/status.h"
#include "services/mortgage/calculators.h"
#include "services/mortgage/schedule.h"
#include "services/mortgage/violations.h"

// How the summary figures are computed (no schedule, no 360-flow ПСК per program):
//   * payment: AnnuityPayment under the bank's payment rounding, over n-1 months after an
//     interest-only first period (exactly BuildSchedule's regular payment); differentiated: the first
//     payment P + interest of the first period (PeriodInterest; exact without date shifting).
//   * the last annuity payment: the closed-form balance after n-1 payments of the rounded A, times
//     (1 + r/12) (exact up to the kopeck rounding of each month's interest: a few kopecks).
//   * insurance: yearly_insurance_rate x the LOAN (not the balance), paid at issue and on each
//     anniversary before the last payment: the same fixed amount BuildSchedule is given, so the full
//     schedule and the summary count the same insurance.
//   * overpayment: the payments' sum (segments x counts, the last payment as above) - loan + fees +
//     insurance.
//   * ПСК: Newton on the closed-form geometric sums of the payments, the insurance and the fees (all
//     flows on whole months from the issue, e_k = 0), to ~1e-9 a month; equal to the schedule's (to
//     its 3 decimals) in the tests for 1/12 accrual. Actual-day accrual is summarised as 1/12: the
//     payment is the same, but where a 31-day month's interest exceeds the annuity (high rates, long
//     terms) BuildSchedule charges that interest and the loan closes months early, which the summary
//     does not follow (up to ~0.13 p.p. of ПСК at 22 % over 30 years in the tests). The exact figures
//     come with the full schedule.
//   * subsidised: the subsidised annuity under the bank's profile, the closed-form balance after the
//     subsidised months re-amortised at the rate after; the developer's cost from Subsidy()
//     (calculators.h); family: the two tranches' AnnuityPayment (what FamilySplit() sums), the market
//     tranche at the program's market rate. Both are modelled for annuities; a differentiated loan is
//     summarised (and scheduled) at the offer's rate over the whole loan.
//   * differentiated: the payments row by row (r/12 after the first period), the ПСК by Newton over them.

namespace crm::mortgage {
namespace {

constexpr int kParams = static_cast<int>(Param::kCount);
constexpr int64_t kRateScale = 100'000'000;
constexpr int64_t kMaxPrincipal = 10'000'000'000'000;

// The client's parameter values (Param-indexed); `has` false = absent (fails every predicate).
struct Values {
  int64_t v[kParams] = {};
  bool has[kParams] = {};
  void Set(Param p, int64_t value) {
    v[static_cast<int>(p)] = value;
    has[static_cast<int>(p)] = true;
  }
  int64_t Get(Param p) const { return v[static_cast<int>(p)]; }
  bool Has(Param p) const { return has[static_cast<int>(p)]; }
};

bool Holds(const Predicate& p, const Values& x) {
  if (!x.Has(p.param)) return false;
  const int64_t v = x.Get(p.param);
  if (p.min && v < *p.min) return false;
  if (p.max && v > *p.max) return false;
  if (!p.one_of.empty() && std::find(p.one_of.begin(), p.one_of.end(), v) == p.one_of.end()) return false;
  return true;
}

bool AllHold(const std::vector<Predicate>& ps, const Values& x) {
  for (const Predicate& p : ps) {
    if (!Holds(p, x)) return false;
  }
  return true;
}


int64_t DivRound(absl::int128 num, absl::int128 den, ConventionProfile::Rounding r) {
  absl::int128 q = num / den;
  if (r == ConventionProfile::Rounding::kHalfUp && (num % den) * 2 >= den) q += 1;
  return static_cast<int64_t>(q);
}

int64_t CeilDiv(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

// Kopecks rounded up to whole rubles, still in kopecks.
int64_t UpToRuble(int64_t kopecks) { return CeilDiv(kopecks, 100) * 100; }

// "312 000 ₽" (whole rubles, rounded up).
// Written right to left into a buffer: one string, short enough for the small-string buffer up to
// 99 999 999 ₽.
std::string Rub(int64_t kopecks) {
  const bool negative = kopecks < 0;
  int64_t rubles = negative ? -kopecks / 100 : CeilDiv(kopecks, 100);
  static constexpr std::string_view kSign = " ₽";
  char buf[48];
  char* const end = buf + sizeof(buf);
  char* p = end - kSign.size();
  std::memcpy(p, kSign.data(), kSign.size());
  int written = 0;
  do {
    if (written > 0 && written % 3 == 0) *--p = ' ';
    *--p = static_cast<char>('0' + rubles % 10);
    rubles /= 10;
    ++written;
  } while (rubles > 0);
  if (negative) *--p = '-';
  return std::string(p, static_cast<size_t>(end - p));
}

// 2010 -> "20.1 %".
std::string Percent(int64_t bp) {
  std::string s = absl::StrCat(bp / 100);
  int64_t frac = bp % 100;
  if (frac != 0) {
    absl::StrAppend(&s, ".", frac / 10);
    if (frac % 10 != 0) absl::StrAppend(&s, frac % 10);
  }
  s += " %";
  return s;
}

std::string YearsWord(int64_t n) {
  const int64_t m100 = n % 100, m10 = n % 10;
  if (m100 >= 11 && m100 <= 14) return "лет";
  if (m10 == 1) return "год";
  if (m10 >= 2 && m10 <= 4) return "года";
  return "лет";
}

// "24 лет" / "24 года" / "290 мес.".
std::string Term(int64_t months) {
  if (months % 12 == 0) return absl::StrCat(months / 12, " ", YearsWord(months / 12));
  return absl::StrCat(months, " мес.");
}

// `out` = "12.683" for 12683 (milli >= 0).
void AssignMilli(int64_t milli, std::string& out) {
  char buf[24];
  char* end = buf + sizeof(buf);
  char* p = end;
  int64_t v = milli;
  for (int k = 0; k < 3; ++k, v /= 10) *--p = static_cast<char>('0' + v % 10);
  *--p = '.';
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0);
  out.assign(p, static_cast<size_t>(end - p));
}

// The monthly payment stream of a summary: `amount` on months from..to (1-based).
struct Segment {
  double amount = 0;
  int from = 0;
  int to = 0;
};

// v^k for k >= 0 by squaring (k <= 600: at most ~20 multiplications; relative error ~k * 1e-16).
double PowInt(double v, int k) {
  double r = 1;
  while (k > 0) {
    if (k & 1) r *= v;
    v *= v;
    k >>= 1;
  }
  return r;
}

// The ПСК monthly rate i: the root of -net0 + sum segments + insurance * sum_{j=1..m} v^{12j} = 0,
// v = 1/(1+i), by Newton from `guess` (no transcendental function: powers by squaring). *solved gets
// i. Returns the ПСК in thousandths of a percent, or -1 when there is no positive root.
int64_t SummaryPskMilli(double net0, const Segment* segs, int nsegs, double insurance, int insurance_count,
                        double guess, double* solved) {
  double total = -net0 + insurance * insurance_count;
  for (int s = 0; s < nsegs; ++s) total += segs[s].amount * (segs[s].to - segs[s].from + 1);
  if (total <= 0) return total == 0 ? 0 : -1;
  double x = guess > 1e-7 ? guess : 1e-4;
  for (int iter = 0; iter < 60; ++iter) {
    const double v = 1 / (1 + x);
    double f = -net0, df = 0;
    // Segments are contiguous and in order: v^{from-1} of one is v^{to} of the one before.
    double prev_to = 0;
    int prev_to_k = -1;
    for (int s = 0; s < nsegs; ++s) {
      const Segment& g = segs[s];
      // sum_{k=f}^{t} v^k = (v^{f-1} - v^t) / x; d/dx v^k = -k v^{k+1}.
      const double vf1 = prev_to_k == g.from - 1 ? prev_to : PowInt(v, g.from - 1);
      const double vt = g.to == g.from ? vf1 * v : PowInt(v, g.to);
      prev_to = vt;
      prev_to_k = g.to;
      const double num = vf1 - vt;
      const double dnum = -(g.from - 1) * vf1 * v + g.to * vt * v;
      f += g.amount * num / x;
      df += g.amount * (dnum * x - num) / (x * x);
    }
    if (insurance_count > 0 && insurance != 0) {
      const double w = PowInt(v, 12);
      const double wm = PowInt(w, insurance_count);
      const double one_w = 1 - w;
      const double W = w * (1 - wm) / one_w;
      const double dWdw = (1 - (insurance_count + 1) * wm + insurance_count * wm * w) / (one_w * one_w);
      f += insurance * W;
      df += insurance * dWdw * (-12 * w * v);
    }
    if (!(df < 0)) break;  // cannot happen for positive flows
    double nx = x - f / df;
    if (nx <= 0) nx = x / 2;
    // Quadratic convergence: after a step d the error is ~K d^2 with K = |f''/2f'| < ~n (<= 600), so
    // a step below 1e-6 leaves < 6e-10 a month (ПСК to < 1e-6 %, far below its 3 decimals).
    const bool done = std::fabs(nx - x) < 1e-6;
    x = nx;
    if (done) break;
  }
  *solved = x;
  return static_cast<int64_t>(std::floor(x * 1200 * 1000 + 0.5));
}

// The generic (row-by-row) ПСК for payment streams that are not level (differentiated).
int64_t LoopPskMilli(double net0, const std::vector<double>& payments, double insurance, int insurance_count,
                     double guess) {
  double total = -net0 + insurance * insurance_count;
  for (double p : payments) total += p;
  if (total <= 0) return total == 0 ? 0 : -1;
  double x = guess > 1e-7 ? guess : 1e-4;
  const int n = static_cast<int>(payments.size());
  for (int iter = 0; iter < 50; ++iter) {
    const double v = 1 / (1 + x);
    double f = -net0, df = 0, disc = 1;
    for (int k = 1; k <= n; ++k) {
      disc *= v;
      double a = payments[k - 1] + (k % 12 == 0 && k / 12 <= insurance_count ? insurance : 0);
      f += a * disc;
      df -= k * a * disc * v;
    }
    double nx = x - f / df;
    if (nx <= 0) nx = x / 2;
    if (std::fabs(nx - x) < 1e-13) {
      x = nx;
      break;
    }
    x = nx;
  }
  return static_cast<int64_t>(std::floor(x * 1200 * 1000 + 0.5));
}

int64_t ParseMilli(const std::string& psk) {
  int64_t whole = 0, frac = 0;
  size_t k = 0;
  for (; k < psk.size() && psk[k] != '.'; ++k) whole = whole * 10 + (psk[k] - '0');
  for (++k; k < psk.size(); ++k) frac = frac * 10 + (psk[k] - '0');
  return whole * 1000 + frac;
}


// Per-call memo of the costly pure functions: many programs share a loan and a rate (all family
// programs at 6 %, the banks' classic levels, ...). Fixed capacity on the stack: when full, values are
// computed and not kept.
// Mixes the fields of a memo key into a hash (splitmix64's finaliser over a running combination).
inline uint64_t MixHash(std::initializer_list<int64_t> fields) {
  uint64_t h = 0x9E3779B97F4A7C15ull;
  for (int64_t f : fields) {
    h ^= static_cast<uint64_t>(f) + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  }
  h ^= h >> 31;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 29;
  return h;
}

// A per-call memo of a pure function: a fixed open-addressing table on the stack (kSlots a power of
// two), filled to 3/4 at most; when full, values are computed and not kept. A miss costs one or two
// probes, not a scan; the hash is computed once per look-up and compared before the key.
template <typename Key, typename Value, int kSlots>
class Memo {
  static_assert((kSlots & (kSlots - 1)) == 0, "kSlots must be a power of two");

 public:
  template <typename F>
  Value Get(const Key& key, F compute) {
    const uint64_t h = Hash(key);
    int slot = static_cast<int>(h & (kSlots - 1));
    for (; used_[slot]; slot = (slot + 1) & (kSlots - 1)) {
      if (hashes_[slot] == h && keys_[slot] == key) return values_[slot];
    }
    Value v = compute();  // `slot` is the free slot ending the probe: compute() does not use this memo
    if (size_ < kSlots * 3 / 4) {
      used_[slot] = true;
      hashes_[slot] = h;
      keys_[slot] = key;
      values_[slot] = v;
      ++size_;
    }
    return v;
  }
  // The value kept for `key`, if any.
  const Value* Find(const Key& key) const {
    const uint64_t h = Hash(key);
    for (int slot = static_cast<int>(h & (kSlots - 1)); used_[slot]; slot = (slot + 1) & (kSlots - 1)) {
      if (hashes_[slot] == h && keys_[slot] == key) return &values_[slot];
    }
    return nullptr;
  }

 private:
  bool used_[kSlots] = {};
  uint64_t hashes_[kSlots];  // of the used slots
  Key keys_[kSlots];
  Value values_[kSlots];
  int size_ = 0;
};

struct AnnuityKey {
  int64_t principal = 0, e8 = 0;
  int months = 0, rounding = 0;
  friend bool operator==(const AnnuityKey&, const AnnuityKey&) = default;
};
uint64_t Hash(const AnnuityKey& k) { return MixHash({k.principal, k.e8, k.months, k.rounding}); }
struct SubsidyKey {
  int64_t loan = 0, e8 = 0, after_e8 = 0;
  int months = 0, term = 0;
  friend bool operator==(const SubsidyKey&, const SubsidyKey&) = default;
};
uint64_t Hash(const SubsidyKey& k) { return MixHash({k.loan, k.e8, k.after_e8, k.months, k.term}); }
struct RateKey {
  int64_t e8 = 0;
  friend bool operator==(const RateKey&, const RateKey&) = default;
};
uint64_t Hash(const RateKey& k) { return MixHash({k.e8}); }
struct SubsidyValue {
  bool ok = false;
  SubsidyResult result;
};
struct PskKey {  // the last solution per rate and term: the next solve's starting point
  int64_t e8 = 0;
  int n = 0;
  friend bool operator==(const PskKey&, const PskKey&) = default;
};
uint64_t Hash(const PskKey& k) { return MixHash({k.e8, k.n}); }
// A limit reason's kind (1..7, see CheckLimits) and the numbers its texts depend on.
struct LimitTextKey {
  int kind = 0;
  int64_t a = 0, b = 0, c = 0;
  friend bool operator==(const LimitTextKey&, const LimitTextKey&) = default;
};
uint64_t Hash(const LimitTextKey& k) { return MixHash({k.kind, k.a, k.b, k.c}); }
struct LimitTexts {
  std::string_view text, fix;  // in the result's arena
};

struct Context {
  const Client& client;
  const Purchase& purchase;
  const MultiCalcOptions& options;
  absl::CivilDay issue;
  int64_t dp_bp = 0;
  int age_at_maturity = 0;
  Memo<AnnuityKey, int64_t, 256> annuity;
  Memo<SubsidyKey, SubsidyValue, 64> subsidy;
  Memo<RateKey, int64_t, 32> military_max_loan;  // by rate e8 (-1: not computable)
  // Military() at the first rate asked (nullopt inside: not computable at any rate, see below).
  std::optional<std::optional<MilitaryResult>> military_base;
  Memo<PskKey, double, 128> psk_start;
  Memo<LimitTextKey, LimitTexts, 64> limit_texts;
  TextArena* texts = nullptr;  // the result's: where reason texts are kept
  // The result's reason storage: the offer being evaluated owns the reasons from its first index on.
  std::vector<Reason>* reasons = nullptr;
  std::string scratch;         // reused for formatting (no allocation once grown)

  // The concatenation of `args` (absl::StrAppend's), kept in the result's arena.
  template <typename... Args>
  std::string_view Fmt(const Args&... args) {
    scratch.clear();
    absl::StrAppend(&scratch, args...);
    return texts->Store(scratch);
  }

  // Military()'s max_loan at `rate` when `loan` exceeds it; -1 when it does not or is not computable.
  // The НИС contribution and its term do not depend on the rate (nor do Military()'s errors: the
  // rate is valid), and MaxLoanForPayment promises AnnuityPayment(max_loan) <= contribution <
  // AnnuityPayment(max_loan + 1), the payment non-decreasing in the loan: so loan > max_loan exactly
  // when the loan's payment exceeds the contribution. One Military() call per call, plus one per rate
  // whose limit is exceeded (for the reason's text), instead of one per rate.
  int64_t MilitaryMaxLoanIfExceeded(Rate rate, int64_t loan) {
    auto max_loan_at = [&](Rate r) {
      MilitaryRequest mr;
      mr.rate = r;
      mr.age = client.age;
      mr.own_funds = purchase.down_payment;
      mr.price = purchase.price;
      mr.issue_date = issue;
      return Military(mr);
    };
    if (!military_base) {
      auto m = max_loan_at(rate);
      military_base.emplace(m.ok() ? std::optional<MilitaryResult>(*m) : std::nullopt);
      if (m.ok()) military_max_loan.Get(RateKey{rate.e8}, [&] { return m->max_loan; });
    }
    const std::optional<MilitaryResult>& base = *military_base;
    if (!base) return -1;
    if (AnnuityPayment(loan, rate, base->term_months, ConventionProfile::Rounding::kHalfUp) <=
        base->monthly_contribution) {
      return -1;
    }
    return military_max_loan.Get(RateKey{rate.e8}, [&]() -> int64_t {
      auto m = max_loan_at(rate);
      return m.ok() ? m->max_loan : -1;
    });
  }

  int64_t Annuity(int64_t principal, Rate r, int months, ConventionProfile::Rounding rounding) {
    return annuity.Get(AnnuityKey{principal, r.e8, months, static_cast<int>(rounding)},
                       [&] { return AnnuityPayment(principal, r, months, rounding); });
  }
};

// Appends a reason of the offer being evaluated (its views already point to literals, the Reference
// or the result's arena).
void Push(Context& cx, const Reason& r) { cx.reasons->push_back(r); }

void AddReason(Context& cx, std::string_view code, std::string_view text, std::string_view fix,
               std::string_view source) {
  Reason r;
  r.code = code;
  r.text = text;
  r.fix = fix;
  r.source = source;
  Push(cx, r);
}

// The loan after raising the down payment to `dp`, with the bank's step.
int64_t LoanFor(int64_t price, int64_t dp, int64_t step) {
  int64_t loan = price - dp;
  if (step > 0) loan = loan / step * step;
  return loan;
}

// Fixes for a stop factor that fired (value in [min, max]).
Reason StopFactorReason(Context& cx, const BankTerms& bank, const StopFactor& f, const Values& x) {
  Reason r;
  r.code = f.code;
  r.source = "stop_factor";
  const int64_t v = x.Get(f.param);
  const int64_t price = cx.purchase.price, dp = cx.purchase.down_payment;
  switch (f.param) {
    case Param::kAge:
      r.text = cx.Fmt("Стоп-фактор банка: ", f.text, " (возраст ", v, ")");
      break;
    case Param::kAgeAtMaturity:
      r.text = cx.Fmt("Стоп-фактор банка: ", f.text, " (возраст на момент погашения ", v, ")");
      if (f.min && *f.min - 1 > cx.client.age) {
        r.fix_term_months = static_cast<int>((*f.min - 1 - cx.client.age) * 12);
        r.fix = cx.Fmt("Срок не более ", Term(r.fix_term_months));
      }
      break;
    case Param::kTermMonths:
      r.text = cx.Fmt("Стоп-фактор банка: ", f.text, " (срок ", Term(v), ")");
      if (f.min && *f.min > 1 && v >= *f.min) {
        r.fix_term_months = static_cast<int>(*f.min - 1);
        r.fix = cx.Fmt("Срок не более ", Term(r.fix_term_months));
      } else if (f.max && *f.max < 600) {
        r.fix_term_months = static_cast<int>(*f.max + 1);
        r.fix = cx.Fmt("Срок не менее ", Term(r.fix_term_months));
      }
      break;
    case Param::kLoanAmount:
      r.text = cx.Fmt("Стоп-фактор банка: ", f.text, " (сумма кредита ", Rub(v), ")");
      if (f.max && !f.min) {  // too small: lower the down payment
        int64_t need = *f.max + 1;
        if (bank.calculation_step > 0) need = CeilDiv(need, bank.calculation_step) * bank.calculation_step;
        int64_t new_dp = (price - need) / 100 * 100;
        if (new_dp >= 0 && new_dp < dp) {
          r.fix_down_payment_add = new_dp - dp;
          r.fix = cx.Fmt("Уменьшите первоначальный взнос до ", Rub(new_dp));
        }
      } else if (f.min && !f.max) {  // too large: raise it
        r.fix_down_payment_add = UpToRuble(price - dp - (*f.min - 1));
        r.fix = cx.Fmt("Добавьте ", Rub(r.fix_down_payment_add), " к первоначальному взносу");
      }
      break;
    case Param::kTotalExperienceMonths:
    case Param::kCurrentJobMonths:
      r.text = cx.Fmt("Стоп-фактор банка: ", f.text, " (стаж ", v, " мес.)");
      if (f.max) r.fix = cx.Fmt("Стаж не менее ", *f.max + 1, " мес.");
      break;
    default:
      r.text = cx.Fmt("Стоп-фактор банка: ", f.text);
      break;
  }
  return r;
}

// The NO_RATE reason with, where the grid allows, the down payment or term that would give a rate.
void NoRateReason(Context& cx, const ProgramTerms& p, const Values& x) {
  Reason r;
  r.code = "NO_RATE";
  r.source = "rate";
  if (p.cells.empty()) {
    r.text = "Ставка по программе на дату расчёта не установлена";
    Push(cx, r);
    return;
  }
  r.text = "Нет ставки для этих условий (взнос, срок, тип объекта, подтверждение дохода)";
  const int64_t price = cx.purchase.price, dp = cx.purchase.down_payment;
  // The smallest down payment share a cell accepts when that is all it lacks.
  int64_t best_bp = -1;
  int best_term = -1;
  for (const RateCell& c : p.cells) {
    bool other_ok = true, dp_fixable = false, term_fixable = false;
    int64_t need_bp = -1;
    int need_term = -1;
    for (const Predicate& q : c.when) {
      if (Holds(q, x)) continue;
      if (q.param == Param::kDownPaymentShare && q.min && cx.dp_bp < *q.min && q.one_of.empty() &&
          (!q.max || *q.max >= *q.min)) {
        dp_fixable = true;
        need_bp = std::max(need_bp, *q.min);
      } else if (q.param == Param::kTermMonths && q.one_of.empty()) {
        term_fixable = true;
        need_term = static_cast<int>(q.max && cx.purchase.term_months > *q.max ? *q.max : q.min.value_or(1));
      } else {
        other_ok = false;
      }
    }
    if (!other_ok) continue;
    if (dp_fixable && !term_fixable && (best_bp < 0 || need_bp < best_bp)) best_bp = need_bp;
    if (term_fixable && !dp_fixable && best_term < 0) best_term = need_term;
  }
  if (best_bp >= 0) {
    const int64_t need_dp = static_cast<int64_t>((absl::int128(price) * best_bp + 9999) / 10000);
    r.fix_down_payment_add = UpToRuble(need_dp - dp);
    r.fix = cx.Fmt("Первоначальный взнос от ", Percent(best_bp), ": добавьте ", Rub(r.fix_down_payment_add),
                         " к первоначальному взносу");
  } else if (best_term > 0) {
    r.fix_term_months = best_term;
    r.fix = cx.Fmt("Срок ", best_term < cx.purchase.term_months ? "не более " : "не менее ", Term(best_term));
  }
  Push(cx, r);
}

void CheckLimits(Context& cx, const BankTerms& bank, const ProgramTerms& p, Offer& o) {
  const ProgramLimits& l = p.limits;
  const int64_t price = cx.purchase.price, dp = cx.purchase.down_payment;
  const int term = cx.purchase.term_months;
  // A limit reason's text and fix depend only on the call's input and the key's numbers: programs
  // with the same limit share one formatted copy.
  auto texts = [&](LimitTextKey key, auto format) { return cx.limit_texts.Get(key, format); };
  if (!p.object_types.empty() &&
      std::find(p.object_types.begin(), p.object_types.end(), cx.purchase.type) == p.object_types.end()) {
    AddReason(cx, "OBJECT_TYPE", "Тип объекта не подходит для программы", {}, "limit");
  }
  if (l.min_down_payment_bp > 0 && cx.dp_bp < l.min_down_payment_bp) {
    const int64_t need_dp = static_cast<int64_t>((absl::int128(price) * l.min_down_payment_bp + 9999) / 10000);
    Reason r;
    r.code = "DOWN_PAYMENT_TOO_LOW";
    r.source = "limit";
    r.fix_down_payment_add = UpToRuble(need_dp - dp);
    const LimitTexts t = texts({1, l.min_down_payment_bp}, [&] {
      return LimitTexts{cx.Fmt("Первоначальный взнос ", Percent(cx.dp_bp), " < ", Percent(l.min_down_payment_bp)),
                        cx.Fmt("Добавьте ", Rub(r.fix_down_payment_add), " к первоначальному взносу")};
    });
    r.text = t.text;
    r.fix = t.fix;
    Push(cx, r);
  }
  if (l.max_down_payment_bp > 0 && cx.dp_bp > l.max_down_payment_bp) {
    const int64_t max_dp = static_cast<int64_t>(absl::int128(price) * l.max_down_payment_bp / 10000) / 100 * 100;
    Reason r;
    r.code = "DOWN_PAYMENT_TOO_HIGH";
    r.source = "limit";
    r.fix_down_payment_add = max_dp - dp;
    const LimitTexts t = texts({2, l.max_down_payment_bp}, [&] {
      return LimitTexts{cx.Fmt("Первоначальный взнос ", Percent(cx.dp_bp), " > ", Percent(l.max_down_payment_bp)),
                        cx.Fmt("Первоначальный взнос не более ", Rub(max_dp))};
    });
    r.text = t.text;
    r.fix = t.fix;
    Push(cx, r);
  }
  if (l.max_loan > 0 && o.loan > l.max_loan) {
    Reason r;
    r.code = "LOAN_TOO_LARGE";
    r.source = "limit";
    r.fix_down_payment_add = UpToRuble(price - dp - l.max_loan);
    const LimitTexts t = texts({3, o.loan, l.max_loan}, [&] {
      return LimitTexts{cx.Fmt("Сумма кредита ", Rub(o.loan), " > ", Rub(l.max_loan)),
                        cx.Fmt("Добавьте ", Rub(r.fix_down_payment_add), " к первоначальному взносу")};
    });
    r.text = t.text;
    r.fix = t.fix;
    Push(cx, r);
  }
  if (l.min_loan > 0 && o.loan < l.min_loan) {
    Reason r;
    r.code = "LOAN_TOO_SMALL";
    r.source = "limit";
    int64_t need = l.min_loan;
    if (bank.calculation_step > 0) need = CeilDiv(need, bank.calculation_step) * bank.calculation_step;
    const int64_t new_dp = (price - need) / 100 * 100;
    if (new_dp >= 0) r.fix_down_payment_add = new_dp - dp;
    const LimitTexts t = texts({4, o.loan, l.min_loan, need}, [&] {
      return LimitTexts{cx.Fmt("Сумма кредита ", Rub(o.loan), " < ", Rub(l.min_loan)),
                        new_dp >= 0 ? cx.Fmt("Уменьшите первоначальный взнос до ", Rub(new_dp)) : std::string_view()};
    });
    r.text = t.text;
    r.fix = t.fix;
    Push(cx, r);
  }
  if (l.max_term_months > 0 && term > l.max_term_months) {
    Reason r;
    r.code = "TERM_TOO_LONG";
    r.source = "limit";
    r.fix_term_months = l.max_term_months;
    const LimitTexts t = texts({5, l.max_term_months}, [&] {
      return LimitTexts{cx.Fmt("Срок ", Term(term), " > ", Term(l.max_term_months)),
                        cx.Fmt("Срок не более ", Term(l.max_term_months))};
    });
    r.text = t.text;
    r.fix = t.fix;
    Push(cx, r);
  }
  if (l.min_term_months > 0 && term < l.min_term_months) {
    Reason r;
    r.code = "TERM_TOO_SHORT";
    r.source = "limit";
    r.fix_term_months = l.min_term_months;
    const LimitTexts t = texts({6, l.min_term_months}, [&] {
      return LimitTexts{cx.Fmt("Срок ", Term(term), " < ", Term(l.min_term_months)),
                        cx.Fmt("Срок не менее ", Term(l.min_term_months))};
    });
    r.text = t.text;
    r.fix = t.fix;
    Push(cx, r);
  }
  if (l.max_age_at_maturity > 0 && cx.age_at_maturity > l.max_age_at_maturity) {
    Reason r;
    r.code = "AGE_AT_MATURITY";
    r.source = "limit";
    const int years = l.max_age_at_maturity - cx.client.age;
    if (years > 0) r.fix_term_months = years * 12;
    const LimitTexts t = texts({7, l.max_age_at_maturity}, [&] {
      return LimitTexts{cx.Fmt("Возраст на момент погашения ", cx.age_at_maturity, " > ", l.max_age_at_maturity),
                        years > 0 ? cx.Fmt("Срок не более ", Term(r.fix_term_months)) : std::string_view()};
    });
    r.text = t.text;
    r.fix = t.fix;
    Push(cx, r);
  }
}

// The summary figures of an offer with a rate (see the comment at the top of the file).
// Returns the ПСК in thousandths of a percent (what o.psk spells), -1 when there is none.
int64_t Summarise(Context& cx, const BankTerms& bank, const ProgramTerms& p, Offer& o) {
  const ConventionProfile& prof = bank.profile;
  const Rate rate = *o.rate;
  const int n = cx.purchase.term_months;
  const int64_t loan = o.loan;
  const bool io = prof.interest_only_first_period && n >= 2;
  const int amort = n - (io ? 1 : 0);
  const int64_t fees = p.one_time_fees;
  const int64_t insurance =
      cx.client.insurance && p.yearly_insurance_rate.e8 > 0
          ? DivRound(absl::int128(loan) * p.yearly_insurance_rate.e8, kRateScale, ConventionProfile::Rounding::kHalfUp)
          : 0;
  const int insurance_count = (n + 11) / 12;  // at issue and each anniversary before the last payment
  const double net0 = static_cast<double>(loan - fees - insurance);
  const double i = static_cast<double>(rate.e8) / (12.0 * kRateScale);
  const double guess = i + (static_cast<double>(fees) / n * 2 + static_cast<double>(insurance) / 12) / loan;
  int64_t psk_milli = -1;
  int64_t paid = 0;  // what the payments sum to
  const absl::CivilDay first_date = PaymentDate(cx.issue, 1);

  if (cx.options.kind == LoanRequest::Kind::kDifferentiated) {
    const int64_t principal_part = DivRound(loan, amort, prof.payment_rounding);
    std::vector<double> payments(n);
    int64_t balance = loan;
    for (int k = 1; k <= n; ++k) {
      // r/12 interest per month (the first exactly per the profile), the last closing the balance.
      int64_t interest = k == 1 ? PeriodInterest(balance, rate, cx.issue, first_date, prof)
                                : DivRound(absl::int128(balance) * rate.e8, kRateScale * 12, prof.interest_rounding);
      int64_t principal = (io && k == 1) ? 0 : (k == n ? balance : std::min(principal_part, balance));
      balance -= principal;
      payments[k - 1] = static_cast<double>(interest + principal);
      paid += interest + principal;
      if (k == (io ? 2 : 1)) o.payment = interest + principal;
    }
    psk_milli = LoopPskMilli(net0, payments, static_cast<double>(insurance), insurance_count - 1, guess);
  } else {
    Segment segs[4];
    int nsegs = 0;
    // The last payment of a level stream of `a` over m months: the closed-form balance before it,
    // B = S(1+i)^{m-1} - A((1+i)^{m-1} - 1)/i, plus one month's interest.
    auto last_of = [](int64_t principal, Rate r, int m, int64_t a) -> double {
      const double ir = static_cast<double>(r.e8) / (12.0 * kRateScale);
      if (ir == 0) return static_cast<double>(principal - a * (m - 1));
      const double g = PowInt(1 + ir, m - 1);
      return (principal * g - a * (g - 1) / ir) * (1 + ir);
    };
    auto push_level = [&](int64_t a, double last, int from, int to) {
      if (to > from) segs[nsegs++] = {static_cast<double>(a), from, to - 1};
      segs[nsegs++] = {last, to, to};
      paid += a * (to - from) + std::llround(last);
    };
    const int from = io ? 2 : 1;
    auto push_interest_only = [&](int64_t i1) {
      segs[nsegs++] = {static_cast<double>(i1), 1, 1};
      paid += i1;
    };
    if (p.kind == ProgramKind::kSubsidised && p.subsidy.months > (io ? 1 : 0) && p.subsidy.months < n &&
        p.subsidy.rate_after.e8 >= rate.e8) {
      // The subsidised rate's annuity over the whole term (as BuildSchedule's first rows), then the
      // closed-form balance after `months` rows re-amortised at the rate after over the rest.
      // The developer's cost is Subsidy()'s (issue 7's default profile).
      const int m = p.subsidy.months;
      const int64_t a = cx.Annuity(loan, rate, amort, prof.payment_rounding);
      if (io) push_interest_only(PeriodInterest(loan, rate, cx.issue, first_date, prof));
      const int amortised = m - (io ? 1 : 0);
      const double g = PowInt(1 + i, amortised);
      const int64_t balance_m =
          std::llround(i == 0 ? static_cast<double>(loan - a * amortised) : loan * g - a * (g - 1) / i);
      segs[nsegs++] = {static_cast<double>(a), from, m};
      paid += a * amortised;
      o.payment = a;
      o.payment_after = cx.Annuity(balance_m, p.subsidy.rate_after, n - m, prof.payment_rounding);
      push_level(o.payment_after, last_of(balance_m, p.subsidy.rate_after, n - m, o.payment_after), m + 1, n);
      const SubsidyValue sv = cx.subsidy.Get(SubsidyKey{loan, rate.e8, p.subsidy.rate_after.e8, m, n}, [&] {
        auto r = Subsidy(loan, rate, p.subsidy.rate_after, m, n);
        return r.ok() ? SubsidyValue{true, *r} : SubsidyValue{};
      });
      if (sv.ok) o.subsidy_cost = sv.result.developer_cost;
    }
    if (nsegs == 0 && p.kind == ProgramKind::kFamily && p.family.market_rate.e8 > 0) {
      const bool capital = std::find(p.family.capital_regions.begin(), p.family.capital_regions.end(),
                                     cx.purchase.region) != p.family.capital_regions.end();
      const int64_t limit = capital && p.family.capital_regions_limit > 0 ? p.family.capital_regions_limit
                                                                            : p.family.limit;
      if (limit > 0 && loan > limit) {
        // Two tranches with the same dates: the payments add month by month.
        const int64_t market = loan - limit;
        const int64_t a1 = cx.Annuity(limit, rate, amort, prof.payment_rounding);
        const int64_t a2 = cx.Annuity(market, p.family.market_rate, amort, prof.payment_rounding);
        if (io) {
          push_interest_only(PeriodInterest(limit, rate, cx.issue, first_date, prof) +
                             PeriodInterest(market, p.family.market_rate, cx.issue, first_date, prof));
        }
        o.payment = a1 + a2;
        push_level(a1 + a2, last_of(limit, rate, amort, a1) + last_of(market, p.family.market_rate, amort, a2), from,
                   n);
      }
    }
    if (nsegs == 0) {
      const int64_t a = cx.Annuity(loan, rate, amort, prof.payment_rounding);
      o.payment = a;
      if (io) push_interest_only(PeriodInterest(loan, rate, cx.issue, first_date, prof));
      push_level(a, last_of(loan, rate, amort, a), from, n);
    }
    const PskKey key{rate.e8, n};
    const double* start = cx.psk_start.Find(key);
    double solved = 0;
    psk_milli = SummaryPskMilli(net0, segs, nsegs, static_cast<double>(insurance), insurance_count - 1,
                                start != nullptr ? *start : guess, &solved);
    if (psk_milli > 0 && start == nullptr) cx.psk_start.Get(key, [&] { return solved; });
  }
  o.overpayment = paid - loan + fees + insurance * insurance_count;
  if (psk_milli >= 0) AssignMilli(psk_milli, o.psk);
  return psk_milli;
}

bool WantSchedule(const MultiCalcOptions& options, const std::string& id) {
  for (const std::string& s : options.schedules_for) {
    if (s == "*" || s == id) return true;
  }
  return false;
}

// The full schedule of an offer with a rate; its figures replace the summary's.
// The request of the offer's full schedule under the bank's profile; or, for a
// family loan split in two tranches, the schedule attached at once (nullopt).
absl::StatusOr<std::optional<LoanRequest>> ScheduleRequest(const Context& cx, const BankTerms& bank,
                                                           const ProgramTerms& p, Offer& o) {
  LoanRequest req;
  req.principal_kopecks = o.loan;
  req.annual_rate = *o.rate;
  req.term_months = cx.purchase.term_months;
  req.kind = cx.options.kind;
  req.issue_date = cx.issue;
  req.profile = bank.profile;
  if (req.profile.shift_payment_dates && cx.options.calendar == nullptr) req.profile.shift_payment_dates = false;
  if (req.profile.interest_only_first_period && req.term_months < 2) req.profile.interest_only_first_period = false;
  req.one_time_fees_kopecks = p.one_time_fees;
  req.yearly_insurance_kopecks =
      cx.client.insurance && p.yearly_insurance_rate.e8 > 0
          ? DivRound(absl::int128(o.loan) * p.yearly_insurance_rate.e8, kRateScale, ConventionProfile::Rounding::kHalfUp)
          : 0;
  const int n = req.term_months;
  const bool annuity = req.kind == LoanRequest::Kind::kAnnuity;
  if (annuity && p.kind == ProgramKind::kSubsidised && o.payment_after > 0 && p.subsidy.months < n) {
    // The subsidised rate for the first `months` payments, then the rate after (BuildSchedule's
    // initial-rate period: the payment is re-computed over the remaining months).
    req.initial_rate_months = p.subsidy.months;
    req.initial_rate = *o.rate;
    req.annual_rate = p.subsidy.rate_after;
    return std::optional<LoanRequest>(std::move(req));
  }
  if (annuity && p.kind == ProgramKind::kFamily && o.loan > 0 && p.family.market_rate.e8 > 0) {
    const bool capital = std::find(p.family.capital_regions.begin(), p.family.capital_regions.end(),
                                   cx.purchase.region) != p.family.capital_regions.end();
    const int64_t limit =
        capital && p.family.capital_regions_limit > 0 ? p.family.capital_regions_limit : p.family.limit;
    if (limit > 0 && o.loan > limit) {
      LoanRequest a = req, b = req;
      a.principal_kopecks = limit;
      a.one_time_fees_kopecks = a.yearly_insurance_kopecks = 0;
      b.principal_kopecks = o.loan - limit;
      b.annual_rate = p.family.market_rate;
      b.one_time_fees_kopecks = b.yearly_insurance_kopecks = 0;
      CRM_ASSIGN_OR_RETURN(Schedule sa, BuildSchedule(a, cx.options.calendar));
      CRM_ASSIGN_OR_RETURN(Schedule sb, BuildSchedule(b, cx.options.calendar));
      // The tranches share their dates: rows add up month by month (the longer one's tail as it is).
      if (sa.rows.size() < sb.rows.size()) std::swap(sa, sb);
      Schedule s = std::move(sa);
      const Schedule& t = sb;
      for (size_t k = 0; k < t.rows.size(); ++k) {
        Row& r = s.rows[k];
        const Row& q = t.rows[k];
        r.payment += q.payment;
        r.interest += q.interest;
        r.principal += q.principal;
        r.early += q.early;
        r.balance_after += q.balance_after;
      }
      s.regular_payment += t.regular_payment;
      s.total_interest += t.total_interest;
      s.total_principal += t.total_principal;
      s.total_paid += t.total_paid;
      CRM_RETURN_IF_ERROR(FinishSchedule(req, s));
      o.schedule = std::move(s);
      return std::optional<LoanRequest>();
    }
  }
  return std::optional<LoanRequest>(std::move(req));
}

// The offer's figures from its full schedule (exact where the summary is a closed form).
void TakeScheduleFigures(const ProgramTerms& p, Offer& o) {
  const Schedule& s = *o.schedule;
  o.payment = s.regular_payment;
  o.overpayment = s.overpayment;
  o.psk = s.psk_percent;
  const size_t m = static_cast<size_t>(p.subsidy.months);
  if (p.kind == ProgramKind::kSubsidised && o.payment_after > 0 && m > 0 && m + 1 < s.rows.size()) {
    o.payment_after = s.rows[m].payment;
  }
}

}  // namespace

// Blocks of kTextBlock chars (a longer text gets a block of its own): a call's texts fit in a few.
constexpr size_t kTextBlock = 16 * 1024;

TextArena::TextArena(TextArena&& other) noexcept
    : blocks_(std::move(other.blocks_)),
      next_(std::exchange(other.next_, nullptr)),
      left_(std::exchange(other.left_, 0)) {
  other.blocks_.clear();
}

TextArena& TextArena::operator=(TextArena&& other) noexcept {
  if (this != &other) {
    blocks_ = std::move(other.blocks_);
    other.blocks_.clear();
    next_ = std::exchange(other.next_, nullptr);
    left_ = std::exchange(other.left_, 0);
  }
  return *this;
}

std::string_view TextArena::Store(std::string_view text) {
  if (text.empty()) return {};
  if (text.size() > left_) {
    const size_t size = std::max(kTextBlock, text.size());
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(size));
    next_ = blocks_.back().get();
    left_ = size;
  }
  std::memcpy(next_, text.data(), text.size());
  const std::string_view stored(next_, text.size());
  next_ += text.size();
  left_ -= text.size();
  return stored;
}

absl::Status ValidateInput(const Client& c, const Purchase& p) {
  Violations v;  // issue 16: every bad field at once
  if (c.age < 18 || c.age > 90) v.Add("profile.age", "must be in 18..90");
  if (c.monthly_income < 0 || c.monthly_income > kMaxPrincipal) {
    v.Add("profile.monthly_income", "must be in 0..10^13 kopecks");
  }
  if (c.other_debt_payments < 0 || c.other_debt_payments > kMaxPrincipal) {
    v.Add("profile.other_debt_payments", "must be in 0..10^13 kopecks");
  }
  if (c.total_experience_months < 0 || c.total_experience_months > 1000) {
    v.Add("profile.total_experience_months", "must be in 0..1000");
  }
  if (c.current_job_months < 0 || c.current_job_months > 1000) {
    v.Add("profile.current_job_months", "must be in 0..1000");
  }
  for (size_t k = 0; k < c.children_ages.size(); ++k) {
    if (c.children_ages[k] < 0 || c.children_ages[k] > 60) {
      v.Add(absl::StrCat("profile.children_ages[", k, "]"), "must be in 0..60");
    }
  }
  if (c.maternity_capital < 0) v.Add("profile.maternity_capital", "must not be negative");
  if (c.nis_years < 0 || c.nis_years > 60) v.Add("profile.nis_years", "must be in 0..60");
  const int type = static_cast<int>(p.type);
  if (type < 1 || type > 5) v.Add("property.type", "must be one of the object types");
  if (p.price <= 0 || p.price > kMaxPrincipal) v.Add("property.price", "must be in 1..10^13 kopecks");
  if (p.down_payment < 0 || (p.price > 0 && p.down_payment >= p.price)) {
    v.Add("property.down_payment", "must be at least 0 and below the price");
  }
  if (p.term_months < 1 || p.term_months > 600) v.Add("property.term_months", "must be in 1..600");
  if (p.region < 0 || p.region > 999) v.Add("property.region", "must be in 0..999");
  return v.Status();
}

absl::StatusOr<MultiCalcResult> MultiCalculate(const Reference& reference, const Client& client,
                                               const Purchase& purchase, const MultiCalcOptions& options) {
  CRM_RETURN_IF_ERROR(ValidateInput(client, purchase));
  Context cx{client, purchase, options, options.issue_date == absl::CivilDay() ? reference.as_of : options.issue_date};
  cx.dp_bp = static_cast<int64_t>(absl::int128(purchase.down_payment) * 10000 / purchase.price);
  cx.age_at_maturity = client.age + (purchase.term_months + 11) / 12;

  // The per-call parameter values; the loan and the salary flag are set per bank.
  Values base;
  base.Set(Param::kAge, client.age);
  base.Set(Param::kAgeAtMaturity, cx.age_at_maturity);
  base.Set(Param::kCitizenshipRu, client.citizen_ru ? 1 : 0);
  base.Set(Param::kEmployment, static_cast<int>(client.employment));
  base.Set(Param::kTotalExperienceMonths, client.total_experience_months);
  base.Set(Param::kCurrentJobMonths, client.current_job_months);
  int children = 0, youngest = 1000;
  for (int a : client.children_ages) {
    if (a < 18) ++children;
    youngest = std::min(youngest, a);
  }
  base.Set(Param::kChildrenUnder18, children);
  if (!client.children_ages.empty()) base.Set(Param::kYoungestChildAge, youngest);
  base.Set(Param::kDisabledChild, client.disabled_child ? 1 : 0);
  base.Set(Param::kMaternityCapital, client.maternity_capital > 0 ? 1 : 0);
  base.Set(Param::kDownPaymentShare, cx.dp_bp);
  base.Set(Param::kTermMonths, purchase.term_months);
  base.Set(Param::kPrice, purchase.price);
  base.Set(Param::kObjectType, static_cast<int>(purchase.type));
  base.Set(Param::kIncomeProof, static_cast<int>(client.income_proof));
  base.Set(Param::kInsurance, client.insurance ? 1 : 0);
  base.Set(Param::kRegion, purchase.region);
  base.Set(Param::kMonthlyIncome, client.monthly_income);
  base.Set(Param::kItAccredited, client.it_accredited ? 1 : 0);
  base.Set(Param::kNisYears, client.nis_years);
  base.Set(Param::kMarried, client.married ? 1 : 0);

  size_t total = 0;
  for (const BankTerms& b : reference.banks) total += b.programs.size();
  MultiCalcResult result;
  result.offers.reserve(total);
  cx.texts = &result.texts;
  cx.reasons = &result.reason_storage;
  result.reason_storage.reserve(total * 2);
  std::vector<size_t> first_reason;  // per offer: its first index in reason_storage
  first_reason.reserve(total);
  cx.scratch.reserve(256);
  // The reasons of a bank's stop factors: the same for each of its programs, formatted once per bank.
  std::vector<Reason> bank_reasons;
  std::vector<int64_t> psk_key;
  psk_key.reserve(total);
  std::vector<size_t> pending;  // offers whose full schedule is requests[k]
  std::vector<LoanRequest> requests;

  for (const BankTerms& bank : reference.banks) {
    Values x = base;
    const int64_t loan = LoanFor(purchase.price, purchase.down_payment, bank.calculation_step);
    x.Set(Param::kLoanAmount, loan);
    x.Set(Param::kSalaryClient,
          std::find(client.salary_bank_ids.begin(), client.salary_bank_ids.end(), bank.id) !=
                  client.salary_bank_ids.end()
              ? 1
              : 0);
    bank_reasons.clear();
    for (const StopFactor& f : bank.stop_factors) {
      if (!x.Has(f.param)) continue;
      const int64_t v = x.Get(f.param);
      if ((!f.min || v >= *f.min) && (!f.max || v <= *f.max)) bank_reasons.push_back(StopFactorReason(cx, bank, f, x));
    }
    for (const ProgramTerms& p : bank.programs) {
      Offer& o = result.offers.emplace_back();
      bool want_schedule = false;
      o.bank = &bank;
      o.program = &p;
      o.loan = loan;
      const size_t first = result.reason_storage.size();
      first_reason.push_back(first);
      result.reason_storage.insert(result.reason_storage.end(), bank_reasons.begin(), bank_reasons.end());
      for (const Requirement& r : p.requirements) {
        bool met = r.any_of.empty();
        for (const auto& alt : r.any_of) {
          if (AllHold(alt, x)) {
            met = true;
            break;
          }
        }
        if (!met) AddReason(cx, r.code, cx.Fmt("Не выполнено условие программы: ", r.text), {}, "requirement");
      }
      CheckLimits(cx, bank, p, o);
      if (loan <= 0) {
        AddReason(cx, "LOAN_TOO_SMALL",
                  cx.Fmt("Сумма кредита после округления до шага банка (", Rub(bank.calculation_step), ") равна 0"), {},
                  "limit");
      }
      // The rate: the lowest matching cell plus the matching adjustments.
      const RateCell* cell = nullptr;
      for (const RateCell& c : p.cells) {  // lowest rate first
        if (AllHold(c.when, x)) {
          cell = &c;
          break;
        }
      }
      if (cell == nullptr) {
        NoRateReason(cx, p, x);
      } else {
        int64_t e8 = cell->rate.e8;
        for (const RateAdjustment& a : p.adjustments) {
          if (AllHold(a.when, x)) {
            e8 += a.delta_e8;
            o.applied_adjustments.push_back(a.code);
          }
        }
        o.rate = Rate{std::clamp<int64_t>(e8, 0, kRateScale - 1)};
      }
      int64_t psk_milli = -1;
      if (o.rate && loan > 0) {
        psk_milli = Summarise(cx, bank, p, o);
        const bool military = p.kind == ProgramKind::kMilitary;
        if (military) {
          // The state repays the loan from the НИС contribution until 45: the loan must fit it.
          if (client.age >= 45) {
            AddReason(cx, "MILITARY_AGE", cx.Fmt("Возраст ", client.age, ": взносы НИС выплачиваются до 45 лет"), {},
                      "limit");
          } else {
            const int64_t max_loan = cx.MilitaryMaxLoanIfExceeded(*o.rate, loan);
            if (max_loan >= 0) {
              Reason r;
              r.code = "MILITARY_LOAN_LIMIT";
              r.source = "limit";
              r.text = cx.Fmt("Сумма кредита ", Rub(loan), " больше, чем покрывают взносы НИС: ", Rub(max_loan));
              r.fix_down_payment_add = UpToRuble(purchase.price - purchase.down_payment - max_loan);
              r.fix = cx.Fmt("Добавьте ", Rub(r.fix_down_payment_add), " к первоначальному взносу");
              Push(cx, r);
            }
          }
        }
        const int64_t burden = std::max(o.payment, o.payment_after);
        if (bank.pti_coefficient && !military) {
          auto need = RequiredIncome(burden, client.other_debt_payments, *bank.pti_coefficient);
          if (need.ok()) {
            o.required_income = *need;
            if (client.monthly_income < o.required_income) {
              Reason r;
              r.code = "INCOME_TOO_LOW";
              r.source = "income";
              r.text = cx.Fmt("Доход ", Rub(client.monthly_income), " ниже требуемого ", Rub(o.required_income),
                                    " (платёж/доход не более ", FormatRate(*bank.pti_coefficient), ")");
              r.fix_income = UpToRuble(o.required_income);
              r.fix = cx.Fmt("Доход не ниже ", Rub(r.fix_income), " или созаёмщик с доходом ",
                                   Rub(r.fix_income - client.monthly_income));
              Push(cx, r);
            }
          }
        }
        // МПЛ: PTI > 50 % with a down payment under 20 %, or PTI > 80 % (not military).
        if (!military && client.monthly_income > 0) {
          const int64_t pti_bp = static_cast<int64_t>(
              absl::int128(burden + client.other_debt_payments) * 10000 / client.monthly_income);
          if ((pti_bp > 5000 && cx.dp_bp < 2000) || pti_bp > 8000) {
            o.pti_risk = true;
            o.pti_risk_text = cx.Fmt("МПЛ Банка России: платёж/доход ", Percent(pti_bp),
                                           pti_bp > 8000 ? " > 80 %" : " > 50 % при взносе менее 20 %",
                                           ": вероятен отказ или повышенная ставка");
          }
        }
        want_schedule = WantSchedule(options, p.id);
      }
      o.eligible = result.reason_storage.size() == first && o.rate.has_value();
      if (options.eligible_only && !o.eligible) {
        result.reason_storage.resize(first);
        first_reason.pop_back();
        result.offers.pop_back();
        continue;
      }
      if (want_schedule) {
        CRM_ASSIGN_OR_RETURN(std::optional<LoanRequest> request, ScheduleRequest(cx, bank, p, o));
        if (request) {
          pending.push_back(result.offers.size() - 1);
          requests.push_back(*std::move(request));
        } else {
          TakeScheduleFigures(p, o);
          psk_milli = o.psk.empty() ? -1 : ParseMilli(o.psk);
        }
      }
      psk_key.push_back(o.psk.empty() ? INT64_MAX : psk_milli);
    }
  }
  // The full schedules asked for, built after the summaries (one tight loop of the same code, and
  // the dates of the common issue date and term computed once).
  for (size_t k = 0; k < pending.size(); ++k) {
    Offer& o = result.offers[pending[k]];
    CRM_ASSIGN_OR_RETURN(o.schedule, BuildSchedule(requests[k], options.calendar));
    TakeScheduleFigures(*o.program, o);
    psk_key[pending[k]] = o.psk.empty() ? INT64_MAX : ParseMilli(o.psk);
  }

  // The reason storage is complete (it no longer grows): each offer views its own run of it.
  for (size_t k = 0; k < result.offers.size(); ++k) {
    const size_t end = k + 1 < first_reason.size() ? first_reason[k + 1] : result.reason_storage.size();
    result.offers[k].reasons =
        std::span<const Reason>(result.reason_storage.data() + first_reason[k], end - first_reason[k]);
  }

  // Rank: eligible by ПСК, payment, bank name, then the program's place in its bank; then the rest by
  // the number of reasons, bank name and place. Integer keys (bank names ranked once per call).
  std::vector<int> bank_rank(reference.banks.size());
  {
    std::vector<int> by_name(reference.banks.size());
    std::iota(by_name.begin(), by_name.end(), 0);
    std::sort(by_name.begin(), by_name.end(),
              [&](int a, int b) { return reference.banks[a].name < reference.banks[b].name; });
    for (size_t k = 0; k < by_name.size(); ++k) bank_rank[by_name[k]] = static_cast<int>(k);
  }
  struct Key {
    int64_t group;  // 0 eligible, 1 + reasons otherwise
    int64_t psk;
    int64_t payment;
    int64_t place;  // bank rank * 2^20 + program index
    int index;
  };
  std::vector<Key> keys(result.offers.size());
  for (size_t k = 0; k < result.offers.size(); ++k) {
    const Offer& o = result.offers[k];
    const BankTerms* b = o.bank;
    const int64_t bank_index = b - reference.banks.data();
    const int64_t program_index = o.program - b->programs.data();
    keys[k] = Key{o.eligible ? 0 : 1 + static_cast<int64_t>(o.reasons.size()), o.eligible ? psk_key[k] : 0,
                  o.eligible ? o.payment : 0, bank_rank[bank_index] * (int64_t{1} << 20) + program_index,
                  static_cast<int>(k)};
  }
  std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
    if (a.group != b.group) return a.group < b.group;
    if (a.psk != b.psk) return a.psk < b.psk;
    if (a.payment != b.payment) return a.payment < b.payment;
    if (a.place != b.place) return a.place < b.place;
    return a.index < b.index;
  });
  // Apply the permutation in place by following its cycles: each offer moved once (plus one
  // temporary per cycle), no second vector of offers to fill and destroy.
  std::vector<bool> placed(keys.size());
  for (size_t k = 0; k < keys.size(); ++k) {
    if (placed[k] || keys[k].index == static_cast<int>(k)) continue;
    Offer held = std::move(result.offers[k]);
    size_t j = k;
    while (static_cast<size_t>(keys[j].index) != k) {
      result.offers[j] = std::move(result.offers[keys[j].index]);
      placed[j] = true;
      j = keys[j].index;
    }
    result.offers[j] = std::move(held);
    placed[j] = true;
  }
  for (Offer& o : result.offers) {
    if (!o.eligible) break;
    o.rank = ++result.eligible_count;
  }
  return result;
}

}  // namespace crm::mortgage
