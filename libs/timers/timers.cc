#include "libs/timers/timers.h"

#include <algorithm>
#include <exception>
#include <pqxx/pqxx>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/uuid.h"
#include "libs/log/log.h"
#include "libs/metrics/metrics.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/pg/sql_time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"

namespace crm::timers {
namespace {

// A bigint of Unix microseconds as timestamptz, exactly (no float rounding), and back.
const std::string kTimeOf1 = pg::TimeOfMicros(1);
const std::string kTimeOf2 = pg::TimeOfMicros(2);
const std::string kTimeOf3 = pg::TimeOfMicros(3);
const std::string kTimeOf4 = pg::TimeOfMicros(4);
using pg::MicrosOf;

constexpr size_t kMaxErrorChars = 2000;

// A savepoint that exists from construction on. libpqxx 6's subtransaction sends SAVEPOINT lazily, on
// its first exec(), and exec_params() does not trigger it: a handler whose first statement is an
// exec_params would then write outside the savepoint, and a rollback would not undo it.
class Savepoint final : public pqxx::subtransaction {
 public:
  // namedclass is a virtual base: the most derived class names it.
  explicit Savepoint(pqxx::dbtransaction& parent)
      : pqxx::internal::namedclass("subtransaction", "crm_timer"), pqxx::subtransaction(parent, "crm_timer") {
    Begin();
  }
};

struct Metrics {
  prometheus::Counter& fired;
  prometheus::Counter& retried;
  prometheus::Histogram& lag;
};

Metrics& GetMetrics() {
  static Metrics* const m = [] {
    auto& registry = crm::metrics::Registry();
    return new Metrics{
        prometheus::BuildCounter()
            .Name("crm_timers_fired_total")
            .Help("Timers whose handler succeeded and whose fired mark committed.")
            .Register(registry)
            .Add({}),
        prometheus::BuildCounter()
            .Name("crm_timers_retried_total")
            .Help("Timer runs that failed and were moved by the backoff.")
            .Register(registry)
            .Add({}),
        prometheus::BuildHistogram()
            .Name("crm_timer_lag_seconds")
            .Help("Firing lag: store clock after the firing commit minus the timer's due time.")
            .Register(registry)
            .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
                                                             60, 300, 900, 3600})};
  }();
  return *m;
}

absl::Duration Backoff(const TimerStoreOptions& o, int attempts_after) {
  absl::Duration d = o.initial_backoff;
  for (int i = 1; i < attempts_after && d < o.max_backoff; ++i) d *= 2;
  return std::min(d, o.max_backoff);
}

// Exceptions after which the transaction itself is gone: they end the batch (nothing commits).
bool EndsTransaction(const std::exception& e) {
  return dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
         dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr;
}

}  // namespace

TimerStore::TimerStore(pg::Pool& pool, const Clock& clock, TimerStoreOptions options)
    : pool_(pool), clock_(clock), options_(std::move(options)) {}

absl::StatusOr<ScheduleOutcome> TimerStore::Schedule(pqxx::transaction_base& tx, std::string_view key,
                                                     std::string_view kind, absl::Time due,
                                                     std::string_view payload) {
  if (key.empty()) return absl::InvalidArgumentError("timer key is empty");
  if (kind.empty())
    return absl::InvalidArgumentError(absl::StrCat("timer ", std::string(key), ": kind is empty"));
  if (due == absl::InfiniteFuture() || due == absl::InfinitePast()) {
    return absl::InvalidArgumentError(absl::StrCat("timer ", std::string(key), ": due time is infinite"));
  }
  try {
    const int64_t due_us = absl::ToUnixMicros(due);
    const pqxx::binarystring bytes(payload.data(), payload.size());
    // Re-arm only a pending timer of the same kind whose due differs; xmax = 0 tells an insert.
    pqxx::result r = pg::ExecPrepared(tx,
        absl::StrCat("INSERT INTO timers (id, key, kind, due_time, payload) VALUES ($1::uuid, $2, $3, ",
                     kTimeOf4,
                     ", $5) ON CONFLICT (key) DO UPDATE SET due_time = EXCLUDED.due_time, payload = "
                     "EXCLUDED.payload, attempts = 0, last_error = NULL, update_time = now() "
                     "WHERE timers.state = 'pending' AND timers.kind = EXCLUDED.kind AND "
                     "timers.due_time <> EXCLUDED.due_time RETURNING (xmax = 0)"),
        NewUuidV7(), std::string(key), std::string(kind), due_us, bytes);
    if (!r.empty()) return r[0][0].as<bool>() ? ScheduleOutcome::kCreated : ScheduleOutcome::kRearmed;
    pqxx::row existing = pg::ExecPrepared1(tx, "SELECT kind FROM timers WHERE key = $1", std::string(key));
    if (existing[0].as<std::string>() != kind) {
      return absl::FailedPreconditionError(absl::StrCat("timer ", std::string(key), " exists with kind ",
                                                        existing[0].as<std::string>(), ", not ",
                                                        std::string(kind)));
    }
    return ScheduleOutcome::kUnchanged;
  } catch (const std::exception& e) {
    if (EndsTransaction(e)) throw;
    return pg::StatusFromException(e);
  }
}

absl::Status TimerStore::CreateAll(pqxx::transaction_base& tx, const std::vector<NewTimer>& timers) {
  if (timers.empty()) return absl::OkStatus();
  std::vector<std::string> params;
  std::string sql = "INSERT INTO timers (id, key, kind, due_time, payload) VALUES ";
  for (size_t i = 0; i < timers.size(); ++i) {
    const NewTimer& t = timers[i];
    if (t.key.empty() || t.kind.empty() || t.due == absl::InfiniteFuture() || t.due == absl::InfinitePast()) {
      return absl::InvalidArgumentError(absl::StrCat("timer ", t.key, ": empty key or kind, or an infinite due"));
    }
    const size_t n = params.size();
    absl::StrAppend(&sql, i == 0 ? "" : ", ", "($", n + 1, "::uuid, $", n + 2, ", $", n + 3,
                    ", timestamptz 'epoch' + $", n + 4, "::bigint * interval '1 microsecond', decode($", n + 5,
                    ", 'hex'))");
    params.push_back(NewUuidV7());
    params.push_back(t.key);
    params.push_back(t.kind);
    params.push_back(absl::StrCat(absl::ToUnixMicros(t.due)));
    params.push_back(absl::BytesToHexString(t.payload));
  }
  sql += " ON CONFLICT (key) DO NOTHING";
  try {
    tx.exec_params(sql, pqxx::prepare::make_dynamic_params(params));
  } catch (const std::exception& e) {
    return pg::StatusFromException(e);
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> TimerStore::Cancel(pqxx::transaction_base& tx, std::string_view key) {
  try {
    pqxx::result r = pg::ExecPrepared(tx,
        "UPDATE timers SET state = 'cancelled', update_time = now() WHERE key = $1 AND state = 'pending'",
        std::string(key));
    return r.affected_rows() > 0;
  } catch (const std::exception& e) {
    if (EndsTransaction(e)) throw;
    return pg::StatusFromException(e);
  }
}

absl::StatusOr<FireResult> TimerStore::FireDue(const TimerHandler& handler, int batch_size) {
  if (batch_size < 1)
    return absl::InvalidArgumentError(absl::StrCat("batch_size must be >= 1, got ", batch_size));
  FireResult result;
  std::vector<absl::Time> fired_due;
  absl::Status s = pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        result = FireResult{};
        fired_due.clear();
        const absl::Time now = clock_.Now();
        const int64_t now_us = absl::ToUnixMicros(now);
        // READ COMMITTED: a row fired by another caller after this statement's snapshot is re-checked in
        // its latest version when locked (state is no longer pending), so it is left out.
        pqxx::result rows =
            pg::ExecPrepared(tx, absl::StrCat("SELECT id::text, key, kind, ", MicrosOf("due_time"),
                                        ", payload, attempts, coalesce(last_error, '') FROM timers "
                                        "WHERE state = 'pending' AND due_time <= ",
                                        kTimeOf1, " ORDER BY due_time, id LIMIT $2 FOR UPDATE SKIP LOCKED"),
                           now_us, batch_size);
        result.claimed = static_cast<int>(rows.size());
        std::vector<std::string> fired_ids;
        for (const pqxx::row& row : rows) {
          Timer t;
          t.id = row[0].as<std::string>();
          t.key = row[1].as<std::string>();
          t.kind = row[2].as<std::string>();
          t.due = absl::FromUnixMicros(row[3].as<int64_t>());
          t.payload = pqxx::binarystring(row[4]).str();
          t.attempts = row[5].as<int>();
          t.last_error = row[6].as<std::string>();

          absl::Status hs;
          {
            // SAVEPOINT now; RELEASE on commit(); ROLLBACK TO SAVEPOINT on abort(), on destruction, and on
            // any failed statement inside (libpqxx aborts a transaction object whose statement fails, so a
            // bare SAVEPOINT on `tx` would not survive a handler's SQL error).
            Savepoint sub(tx);
            try {
              hs = handler(sub, t);
              // Throws if the handler swallowed a failed statement (the savepoint is already rolled back).
              if (hs.ok()) sub.commit();
            } catch (const std::exception& e) {
              if (EndsTransaction(e)) throw;
              hs = pg::StatusFromException(e);
              if (hs.ok()) hs = absl::InternalError("handler threw");
            }
            if (!hs.ok()) {
              try {
                sub.abort();
              } catch (const std::exception& e) {
                if (EndsTransaction(e)) throw;
              }
            }
          }
          if (hs.ok()) {
            ++result.fired;
            fired_ids.push_back(t.id);
            fired_due.push_back(t.due);
            continue;
          }
          std::string error = hs.ToString();
          if (error.size() > kMaxErrorChars) error.resize(kMaxErrorChars);
          const absl::Time retry_at = now + Backoff(options_, t.attempts + 1);
          pg::ExecPrepared(tx,
              absl::StrCat("UPDATE timers SET attempts = attempts + 1, last_error = $2, due_time = ",
                           kTimeOf3, ", update_time = now() WHERE id = $1::uuid"),
              t.id, error, absl::ToUnixMicros(retry_at));
          ++result.retried;
          log::Warn("timer run failed; retrying later", {{"key", t.key},
                                                         {"kind", t.kind},
                                                         {"attempts", t.attempts + 1},
                                                         {"error", hs},
                                                         {"retry_at", retry_at}});
        }
        if (!fired_ids.empty()) {
          pg::ExecPrepared(tx, absl::StrCat("UPDATE timers SET state = 'fired', fired_time = ", kTimeOf2,
                                      ", update_time = now() WHERE id = ANY($1::uuid[])"),
                         absl::StrCat("{", absl::StrJoin(fired_ids, ","), "}"), now_us);
        }
        return absl::OkStatus();
      },
      {.max_attempts = options_.tx_attempts});
  if (!s.ok()) return s;
  const absl::Time after = clock_.Now();
  result.lags.reserve(fired_due.size());
  for (absl::Time due : fired_due) result.lags.push_back(after - due);
  if (options_.export_metrics) {
    Metrics& m = GetMetrics();
    m.fired.Increment(result.fired);
    m.retried.Increment(result.retried);
    for (absl::Duration lag : result.lags) m.lag.Observe(absl::ToDoubleSeconds(lag));
  }
  return result;
}

absl::StatusOr<absl::Time> TimerStore::NextDue() {
  absl::Time next = absl::InfiniteFuture();
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        pqxx::row r = tx.exec1(
            absl::StrCat("SELECT ", MicrosOf("min(due_time)"), " FROM timers WHERE state = 'pending'"));
        next = r[0].is_null() ? absl::InfiniteFuture() : absl::FromUnixMicros(r[0].as<int64_t>());
        return absl::OkStatus();
      },
      {.read_only = true}));
  return next;
}

TimerLoop::TimerLoop(TimerStore& store, TimerHandler handler, TimerLoopOptions options)
    : store_(store), handler_(std::move(handler)), options_(std::move(options)) {
  if (options_.batch_size < 1) options_.batch_size = 1;
  thread_ = std::thread([this] { Run(); });
}

TimerLoop::~TimerLoop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void TimerLoop::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

int64_t TimerLoop::fired() const {
  absl::MutexLock lock(&mu_);
  return fired_;
}

int64_t TimerLoop::passes() const {
  absl::MutexLock lock(&mu_);
  return passes_;
}

void TimerLoop::Run() {
  // Shortest wait when timers are due but held by another replica, so the loop does not spin.
  constexpr absl::Duration kMinWait = absl::Milliseconds(20);
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      woken_ = false;
    }
    if (options_.before_pass) {
      absl::Status s = options_.before_pass();
      if (!s.ok()) log::Warn("timer loop: before_pass failed", {{"error", s}});
    }
    absl::Duration wait = options_.poll_interval;
    for (;;) {
      absl::StatusOr<FireResult> r = store_.FireDue(handler_, options_.batch_size);
      if (!r.ok()) {
        log::Warn("timer loop: FireDue failed", {{"error", r.status()}});
        break;
      }
      absl::MutexLock lock(&mu_);
      fired_ += r->fired;
      if (stop_ || r->claimed < options_.batch_size) break;
    }
    absl::StatusOr<absl::Time> next = store_.NextDue();
    if (next.ok() && *next != absl::InfiniteFuture()) {
      wait = std::min(std::max(*next - store_.clock().Now(), kMinWait), options_.poll_interval);
    }
    absl::MutexLock lock(&mu_);
    ++passes_;
    auto wake = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_ || woken_; };
    mu_.AwaitWithTimeout(absl::Condition(&wake), wait);
  }
}

}  // namespace crm::timers
