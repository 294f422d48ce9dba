// crm-mortgage-bench: the multi-calculation (services/mortgage/multicalc.h, issue 7) over the demo
// catalogue (25 banks x 10 programs = 250 programs), next to a bare schedule loop measured in the same run.
//
//   tools/crm bench mortgage [--iterations N] [--term MONTHS] [--summaries-only]   (no database needed)
//
// Input: DemoCatalog() resolved as of 2026-07-01; DemoClient() buying a new-build flat in Moscow for
// 12 000 000 ₽ with 6 000 000 ₽ down over --term months (default 360). The 50 % down payment gives
// every program a rate except the consumer loans (their grid stops at 84 months), so "all schedules"
// is every program with a rate.
//
// Measured, one thread, --iterations calls each (default 2000) after 50 warm-up calls, p50 / p99 of the
// wall time per call:
//   summaries  MultiCalculate with no schedules: eligibility, rate, payment, overpayment, ПСК, required
//              income and ranking of all 250 programs. Target: p99 <= 100 us.
//   schedules  MultiCalculate with schedules_for = {"*"}: the same plus every full schedule (BuildSchedule
//              under each bank's profile, insurance and fees, the exact ПСК over all flows). Target:
//              p99 <= 2 ms and <= 2x the bare loop.
//   bare       The arithmetic of the same schedules and nothing else: per schedule the annuity payment,
//              then per row int64 balance, interest as one int128 product and division under the bank's
//              accrual (1/12, or actual days with the day weights of the common issue date precomputed
//              once outside the loop) and rounding, the principal and the last payment closing the
//              balance. No eligibility, no profile branches beyond accrual and rounding, no dates, no
//              ПСК, no allocation.
// The process keeps freed memory as crm-mortgage does (mallopt in services/mortgage/main.cc): without
// it glibc returns the schedules' rows to the kernel after every call and each call faults them in
// again (about 1.5 ms more per call with all schedules).
// The schedules / bare ratio is judged on medians (p50 / p50): a ratio of two tails measures the
// machine's noise more than the code. Both are printed.
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/time/civil_time.h"
#include "services/mortgage/convert.h"
#include "services/mortgage/demo.h"
#include "services/mortgage/multicalc.h"
#include "services/mortgage/schedule.h"

namespace {

using SteadyClock = std::chrono::steady_clock;
namespace mg = crm::mortgage;

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "crm-mortgage-bench: %s\n", msg.c_str());
  std::exit(1);
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t k = static_cast<size_t>(p * (v.size() - 1) + 0.5);
  return v[std::min(k, v.size() - 1)];
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// One schedule of the bare loop.
struct Bare {
  int64_t principal;
  int64_t rate_e8;
  int months;
  bool actual_days;
  bool truncate;
};

int64_t Div(absl::int128 num, absl::int128 den, bool truncate) {
  absl::int128 q = num / den;
  if (!truncate && (num % den) * 2 >= den) q += 1;
  return static_cast<int64_t>(q);
}

}  // namespace

int main(int argc, char** argv) {
  mallopt(M_TRIM_THRESHOLD, 64 << 20);  // as services/mortgage/main.cc
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  int iterations = 2000;
  int term = 360;
  bool summaries_only = false;  // for profiling
  for (int k = 1; k < argc; ++k) {
    if (std::strcmp(argv[k], "--iterations") == 0 && k + 1 < argc) {
      iterations = std::atoi(argv[++k]);
    } else if (std::strcmp(argv[k], "--term") == 0 && k + 1 < argc) {
      term = std::atoi(argv[++k]);
    } else if (std::strcmp(argv[k], "--summaries-only") == 0) {
      summaries_only = true;
    } else {
      Die(std::string("unknown argument ") + argv[k] + " (--iterations N, --term MONTHS)");
    }
  }
  if (iterations < 10 || term < 12 || term > 360) Die("--iterations >= 10, --term 12..360");

  const absl::CivilDay as_of(2026, 7, 1);
  auto ref = mg::ResolveReference(as_of, mg::DemoCatalog());
  if (!ref.ok()) Die(std::string(ref.status().message()));
  const mg::Client client = mg::DemoClient();
  mg::Purchase purchase = mg::DemoPurchase();
  purchase.down_payment = 6'000'000 * 100;
  purchase.term_months = term;
  size_t programs = 0;
  for (const auto& b : ref->banks) programs += b.programs.size();

  auto run = [&](const mg::MultiCalcOptions& options, mg::MultiCalcResult* last) {
    std::vector<double> us;
    us.reserve(iterations);
    for (int k = 0; k < 50 + iterations; ++k) {
      auto t0 = SteadyClock::now();
      auto r = mg::MultiCalculate(*ref, client, purchase, options);
      auto t1 = SteadyClock::now();
      if (!r.ok()) Die(std::string(r.status().message()));
      if (k >= 50) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      if (k == 50 + iterations - 1) *last = *std::move(r);
    }
    return us;
  };

  mg::MultiCalcResult summaries_result, schedules_result;
  std::vector<double> summaries = run(mg::MultiCalcOptions{}, &summaries_result);
  if (summaries_only) {
    std::printf("summaries p50 %.1f us, p99 %.1f us\n", Percentile(summaries, 0.5), Percentile(summaries, 0.99));
    return 0;
  }
  mg::MultiCalcOptions all;
  all.schedules_for = {"*"};
  std::vector<double> schedules = run(all, &schedules_result);

  // The bare loop over the same schedules (family and subsidised offers count as the one loan at their
  // rate: the same number of rows of the same arithmetic).
  std::vector<Bare> bare;
  size_t rows = 0;
  for (const mg::Offer& o : schedules_result.offers) {
    if (!o.schedule) continue;
    const mg::ConventionProfile& p = o.bank->profile;
    bare.push_back({o.loan, o.rate->e8, term, p.accrual == mg::ConventionProfile::Accrual::kActualDays,
                    p.interest_rounding == mg::ConventionProfile::Rounding::kTruncate});
    rows += o.schedule->rows.size();
  }
  // Day weights (d365 * 366 + d366 * 365) of each period from the common issue date.
  std::vector<int64_t> weight(term);
  {
    absl::CivilDay prev = as_of;
    for (int k = 0; k < term; ++k) {
      absl::CivilDay next = absl::CivilDay(absl::CivilMonth(as_of) + k + 1);  // day 1 = issue day here
      int64_t d365 = 0, d366 = 0;
      for (absl::CivilDay d = prev + 1; d <= next; ++d) (IsLeap(d.year()) ? d366 : d365) += 1;
      weight[k] = d365 * 366 + d366 * 365;
      prev = next;
    }
  }
  std::vector<double> bare_us;
  bare_us.reserve(iterations);
  int64_t sink = 0;
  for (int it = 0; it < 50 + iterations; ++it) {
    auto t0 = SteadyClock::now();
    for (const Bare& b : bare) {
      const int64_t a = mg::AnnuityPayment(b.principal, mg::Rate{b.rate_e8}, b.months,
                                           b.truncate ? mg::ConventionProfile::Rounding::kTruncate
                                                      : mg::ConventionProfile::Rounding::kHalfUp);
      int64_t balance = b.principal;
      int64_t total_interest = 0;
      const absl::int128 den_monthly = absl::int128(100'000'000) * 12;
      const absl::int128 den_days = absl::int128(100'000'000) * (365 * 366);
      for (int k = 0; k < b.months; ++k) {
        const int64_t interest =
            b.actual_days ? Div(absl::int128(balance) * b.rate_e8 * weight[k], den_days, b.truncate)
                          : Div(absl::int128(balance) * b.rate_e8, den_monthly, b.truncate);
        int64_t principal = k + 1 == b.months ? balance : std::clamp<int64_t>(a - interest, 0, balance);
        balance -= principal;
        total_interest += interest;
      }
      sink += total_interest + balance;
    }
    auto t1 = SteadyClock::now();
    if (it >= 50) bare_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }

  const double s50 = Percentile(summaries, 0.5), s99 = Percentile(summaries, 0.99);
  const double f50 = Percentile(schedules, 0.5), f99 = Percentile(schedules, 0.99);
  const double b50 = Percentile(bare_us, 0.5), b99 = Percentile(bare_us, 0.99);
  std::printf("crm-mortgage-bench: %zu banks x programs = %zu programs, %d eligible, term %d months, %d calls each\n",
              ref->banks.size(), programs, summaries_result.eligible_count, term, iterations);
  std::printf("  %-10s %10s %10s\n", "", "p50 us", "p99 us");
  std::printf("  %-10s %10.1f %10.1f   all %zu programs, no schedules\n", "summaries", s50, s99, programs);
  std::printf("  %-10s %10.1f %10.1f   + %zu full schedules (%zu rows)\n", "schedules", f50, f99, bare.size(), rows);
  std::printf("  %-10s %10.1f %10.1f   the same %zu schedules' bare arithmetic (sink %lld)\n", "bare", b50, b99,
              bare.size(), static_cast<long long>(sink % 1000));
  const double ratio50 = f50 / b50, ratio99 = f99 / b99;
  std::printf("  schedules / bare: p50 %.2fx, p99 %.2fx\n", ratio50, ratio99);
  const bool ok_summary = s99 <= 100;
  const bool ok_sched = f99 <= 2000;
  const bool ok_ratio = ratio50 <= 2.0;
  std::printf("  %s summaries p99 <= 100 us\n", ok_summary ? "PASS" : "FAIL");
  std::printf("  %s schedules p99 <= 2 ms\n", ok_sched ? "PASS" : "FAIL");
  std::printf("  %s schedules <= 2x bare (p50)\n", ok_ratio ? "PASS" : "FAIL");
  return ok_summary && ok_sched && ok_ratio ? 0 : 2;
}
