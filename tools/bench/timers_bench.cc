// crm-timers-bench: firing durable timers (libs/timers/timers.h, issue 6) at 1 000 000 pending timers,
// next to a bare SQL baseline measured in the same run.
//
//   tools/crm bench timers [--timers N] [--batch N] [--workers N]   (a throwaway PostgreSQL comes from
//                                                                     tools/crm: CRM_TEST_PG_DSN)
//
// Load: N pending timers (default 1 000 000) written with COPY (pqxx::stream_to), due times uniformly
// spread over the hour after T0 of an injected clock, then ANALYZE. About N/60 fall in the first minute.
//
// Measured, each with --workers concurrent callers (default 2), each on its own connection:
//   burst  The clock the firers use (a ManualClock) jumps from T0 to T0 + 60 s at wall instant J: the first
//          minute's timers all become due at J in that clock. Workers call FireDue(no-op handler, --batch)
//          until nothing is due. Throughput = timers fired / (wall time from J to the last commit). Lag of
//          a timer = wall time of the commit of its batch (taken when FireDue returns) - J: how long a
//          minute of backlog waits. p50 / p99 over all timers.
//   raw    The same first minute (reset to pending and VACUUMed first), same jump and lag measure, fired
//          by a bare `WITH c AS (SELECT id ... FOR UPDATE SKIP LOCKED LIMIT n) UPDATE ... SET state =
//          'fired'` loop: the floor (no handler, no savepoint per timer, no retry bookkeeping).
//   paced  The second minute fired as it becomes due: the clock runs at S times wall speed from T0 + 60 s
//          (S chosen so timers arrive at half the burst throughput), workers FireDue in a loop. A timer due
//          at d becomes due at wall time w0 + (d - clock0) / S; FireDue reports lag = clock after commit - d,
//          which divided by S is the wall lag from "became due" to "committed". This is the lag a loop that
//          keeps up shows; the burst lag is the worst case after a minute of backlog. The clock stops
//          at T0 + 120 s, so a timer committed after that instant shows a lag too small (with workers
//          keeping up, the last batch or so).
// The no-op handler makes the FireDue figures the machinery's own cost: a real action adds its queries.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <pqxx/pqxx>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/base/uuid.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "libs/timers/timers.h"

namespace {

using SteadyClock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "crm-timers-bench: %s\n", msg.c_str());
  std::exit(1);
}

// Runs at `speed` times wall speed from `start` (taken at construction) and stops at `stop`.
class ScaledClock final : public crm::Clock {
 public:
  ScaledClock(absl::Time start, absl::Time stop, double speed)
      : start_(start), stop_(stop), wall0_(absl::Now()), speed_(speed) {}
  absl::Time Now() const override { return std::min(stop_, start_ + (absl::Now() - wall0_) * speed_); }

 private:
  absl::Time start_;
  absl::Time stop_;
  absl::Time wall0_;
  double speed_;
};

// Lags in seconds, gathered from several threads.
class Lags {
 public:
  void Add(double seconds, int64_t count = 1) {
    absl::MutexLock lock(&mu_);
    for (int64_t i = 0; i < count; ++i) values_.push_back(seconds);
  }
  double Percentile(double p) {
    absl::MutexLock lock(&mu_);
    if (values_.empty()) return 0;
    std::sort(values_.begin(), values_.end());
    return values_[std::min(values_.size() - 1,
                            static_cast<size_t>(p * static_cast<double>(values_.size())))];
  }
  size_t size() {
    absl::MutexLock lock(&mu_);
    return values_.size();
  }

 private:
  absl::Mutex mu_;
  std::vector<double> values_;
};

double Since(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

std::string Iso(absl::Time t) { return absl::FormatTime("%Y-%m-%d %H:%M:%E6S+00", t, absl::UTCTimeZone()); }

int64_t Count(const std::string& dsn, const std::string& sql) {
  pqxx::connection c(dsn);
  pqxx::nontransaction tx(c);
  return tx.exec1(sql)[0].as<int64_t>();
}

void Report(const char* name, int64_t fired, double seconds, Lags& lags) {
  std::printf("  %-8s %9lld timers in %7.3f s = %9.0f timers/s   lag p50 %8.1f ms   p99 %8.1f ms\n", name,
              static_cast<long long>(fired), seconds, static_cast<double>(fired) / seconds,
              lags.Percentile(0.50) * 1000, lags.Percentile(0.99) * 1000);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n = 1'000'000;
  int batch = 200;
  int workers = 2;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> int64_t {
      if (i + 1 >= argc) Die(absl::StrCat(a, " needs a value"));
      return std::atoll(argv[++i]);
    };
    if (a == "--timers")
      n = next();
    else if (a == "--batch")
      batch = static_cast<int>(next());
    else if (a == "--workers")
      workers = static_cast<int>(next());
    else
      Die(absl::StrCat("unknown argument ", a, " (--timers N --batch N --workers N)"));
  }
  if (n < 1 || batch < 1 || workers < 1) Die("--timers, --batch and --workers must be >= 1");
  if (std::getenv("CRM_TEST_PG_DSN") == nullptr)
    Die("CRM_TEST_PG_DSN is not set: run through `tools/crm bench`");

  auto db = crm::pg::testing::TempDatabase::Create("timers_bench");
  if (!db.ok()) Die(db.status().ToString());
  const std::string dsn = (*db)->dsn();
  if (auto m = crm::pg::Migrate(dsn, crm::TimersMigrations()); !m.ok()) Die(m.status().ToString());
  auto pool = crm::pg::Pool::Create({.dsn = dsn, .size = workers + 1, .application_name = "timers_bench"});
  if (!pool.ok()) Die(pool.status().ToString());

  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  {
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<int64_t> offset_us(0, 3'600'000'000LL - 1);
    const auto start = SteadyClock::now();
    pqxx::connection c(dsn);
    pqxx::work tx(c);
    pqxx::stream_to copy(tx, "timers", std::vector<std::string>{"id", "key", "kind", "due_time"});
    for (int64_t i = 0; i < n; ++i) {
      copy << std::make_tuple(crm::NewUuidV7(), absl::StrCat("bench:", i), std::string("bench"),
                              Iso(t0 + absl::Microseconds(offset_us(rng))));
    }
    copy.complete();
    tx.commit();
    pqxx::nontransaction(c).exec("ANALYZE timers");
    std::printf(
        "crm-timers-bench: %lld pending timers due over one hour loaded with COPY in %.1f s; "
        "%d workers, batch %d\n",
        static_cast<long long>(n), Since(start), workers, batch);
  }
  const std::string first_minute = absl::StrCat("due_time <= '", Iso(t0 + absl::Seconds(60)), "'");
  const int64_t n1 = Count(dsn, absl::StrCat("SELECT count(*) FROM timers WHERE ", first_minute));
  std::printf("  first minute: %lld timers\n", static_cast<long long>(n1));

  // --- raw: the bare UPDATE ... SKIP LOCKED loop ---------------------------------------------------------
  double raw_s = 0;
  {
    Lags lags;
    std::atomic<int64_t> fired{0};
    const std::string now_text = Iso(t0 + absl::Seconds(60));
    const auto jump = SteadyClock::now();
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&] {
        pqxx::connection c(dsn);
        for (;;) {
          pqxx::work tx(c);
          pqxx::result r = tx.exec_params(
              "WITH c AS (SELECT id FROM timers WHERE state = 'pending' AND due_time <= $1::timestamptz "
              "ORDER BY due_time, id LIMIT $2 FOR UPDATE SKIP LOCKED) "
              "UPDATE timers t SET state = 'fired', fired_time = $1::timestamptz, update_time = now() "
              "FROM c WHERE t.id = c.id",
              now_text, batch);
          tx.commit();
          if (r.affected_rows() == 0) return;
          lags.Add(Since(jump), static_cast<int64_t>(r.affected_rows()));
          fired += static_cast<int64_t>(r.affected_rows());
        }
      });
    }
    for (auto& t : threads) t.join();
    raw_s = Since(jump);
    std::printf("burst (the first minute due at once), %d workers:\n", workers);
    Report("raw", fired.load(), raw_s, lags);
    if (fired.load() != n1) Die(absl::StrCat("raw fired ", fired.load(), " of ", n1));
  }
  {
    pqxx::connection c(dsn);
    pqxx::nontransaction(c).exec(
        absl::StrCat("UPDATE timers SET state = 'pending', fired_time = NULL WHERE state = 'fired'"));
    pqxx::nontransaction(c).exec("VACUUM ANALYZE timers");
  }

  // --- burst: FireDue -----------------------------------------------------------------------------------
  double burst_rate = 0;
  {
    crm::ManualClock clock(t0);
    crm::timers::TimerStore store(**pool, clock, {.export_metrics = false});
    const crm::timers::TimerHandler noop = [](pqxx::transaction_base&, const crm::timers::Timer&) {
      return absl::OkStatus();
    };
    Lags lags;
    std::atomic<int64_t> fired{0};
    clock.Set(t0 + absl::Seconds(60));
    const auto jump = SteadyClock::now();
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&] {
        for (;;) {
          absl::StatusOr<crm::timers::FireResult> r = store.FireDue(noop, batch);
          if (!r.ok()) Die(r.status().ToString());
          if (r->claimed == 0) return;
          lags.Add(Since(jump), r->fired);
          fired += r->fired;
        }
      });
    }
    for (auto& t : threads) t.join();
    const double s = Since(jump);
    Report("FireDue", fired.load(), s, lags);
    if (fired.load() != n1) Die(absl::StrCat("FireDue fired ", fired.load(), " of ", n1));
    burst_rate = static_cast<double>(fired.load()) / s;
    std::printf("  FireDue / raw throughput: %.0f%%\n", 100.0 * raw_s / s);
  }

  // --- paced: the second minute as it becomes due ---------------------------------------------------------
  {
    const int64_t n2 =
        Count(dsn, absl::StrCat("SELECT count(*) FROM timers WHERE state = 'pending' AND due_time "
                                "<= '",
                                Iso(t0 + absl::Seconds(120)), "'"));
    // Arrivals at half the burst throughput: n2 timers over 60 s of clock time.
    const double speed = std::max(1.0, burst_rate * 0.5 * 60.0 / static_cast<double>(n2));
    const absl::Time end = t0 + absl::Seconds(120);
    ScaledClock clock(t0 + absl::Seconds(60), end, speed);
    crm::timers::TimerStore store(**pool, clock, {.export_metrics = false});
    const crm::timers::TimerHandler noop = [](pqxx::transaction_base&, const crm::timers::Timer&) {
      return absl::OkStatus();
    };
    Lags lags;
    std::atomic<int64_t> fired{0};
    const auto start = SteadyClock::now();
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&] {
        for (;;) {
          const bool past_end = clock.Now() >= end;
          absl::StatusOr<crm::timers::FireResult> r = store.FireDue(noop, batch);
          if (!r.ok()) Die(r.status().ToString());
          for (absl::Duration lag : r->lags) lags.Add(absl::ToDoubleSeconds(lag) / speed);
          fired += r->fired;
          if (past_end && r->claimed == 0) return;
          if (r->claimed == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a loop's poll
        }
      });
    }
    for (auto& t : threads) t.join();
    std::printf("paced (the second minute at %.0fx speed = %.0f timers/s arriving, 1 ms idle poll):\n", speed,
                static_cast<double>(n2) / (60.0 / speed));
    Report("FireDue", fired.load(), Since(start), lags);
  }
  return 0;
}
