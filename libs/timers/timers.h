// File: libs/timers/timers.h
// -----------------------------------------------------------------------------
// Durable timers (R10): "do X at time T" that survives restarts and fires exactly once in effect, across
// replicas. Robots use them for delayed steps, SLA windows and schedule occurrences (schedules.h); any
// service may (a dialog's reply timeout, a call offer's 35 s, a booking hold's expiry): it adds
// TimersMigrations() (below) to its own and runs a TimerLoop with a handler that dispatches on `kind`.
//
// A timer is a row of table `timers` (migrations/0001_timers.sql) with a caller-chosen dedupe key. It is
// created inside the caller's transaction (Schedule), so a rule's decision and its timer commit together.
// FireDue claims due timers with FOR UPDATE SKIP LOCKED and runs the handler INSIDE the claiming
// transaction; the handler's writes (including its outbox events, libs/events/outbox.h) and the timer's
// "fired" mark commit together or not at all. So a crash mid-action leaves the timer pending and the next
// FireDue runs it again from scratch; two replicas never both fire one timer. Effects OUTSIDE the database
// (RPCs, Kafka) must go through the outbox: the handler may run more than once before one run commits.
//
// Example:
//   crm::timers::TimerStore timers(*pool, crm::SystemClock());
//   CRM_RETURN_IF_ERROR(crm::pg::InTransaction(*pool, [&](pqxx::work& tx) -> absl::Status {
//     return crm::timers::TimerStore::Schedule(tx, "rule:r1:deal:d7:event:e9", "robots.sla", due, payload)
//         .status();
//   }));
//   crm::timers::TimerLoop loop(timers, [&](pqxx::transaction_base& tx, const crm::timers::Timer& t) {
//     return RunAction(tx, t.kind, t.payload);   // database effects only; events via the outbox
//   }, {.poll_interval = absl::Seconds(5)});
//   ...                                           // ~TimerLoop stops the thread
#ifndef CRM_LIBS_TIMERS_TIMERS_H_
#define CRM_LIBS_TIMERS_TIMERS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm {
class Clock;
}  // namespace crm
namespace crm::pg {
class Pool;
struct Migration;
}  // namespace crm::pg

namespace crm {
// The migrations of component "timers" (libs/timers/migrations): tables `timers` and `schedules`
// (schedules.h). A service lists them after its own; robots' first migration made the same tables before
// they moved here, so these create them only where they are missing.
const std::vector<crm::pg::Migration>& TimersMigrations();
}  // namespace crm

namespace crm::timers {

// A pending timer as a handler sees it.
struct Timer {
  std::string id;          // uuid
  std::string key;         // the caller's dedupe key
  std::string kind;        // what to do ("robots.sla", ...): the handler dispatches on it
  absl::Time due;          // when it became (or becomes) due
  std::string payload;     // opaque bytes given to Schedule()
  int attempts = 0;        // failed runs so far (0 on the first run)
  std::string last_error;  // the last failure's message, "" if none
};

// What Schedule() did.
enum class ScheduleOutcome {
  kCreated,    // a new pending timer
  kRearmed,    // a pending timer with this key existed with another due: it now has the new due and payload
  kUnchanged,  // a timer with this key existed (pending with the same due, or already fired or cancelled)
};

// Runs one timer's action inside the firing transaction, in a savepoint of its own (tx is a
// pqxx::subtransaction). Returning non-OK, throwing, or leaving a failed statement behind rolls back its
// writes only and retries the timer later; the batch's other timers are not affected. Must not commit or
// abort `tx`. Store functions that take pqxx::transaction_base& (OutboxWriter::Append, Schedule, Cancel)
// can be called with it.
using TimerHandler = std::function<absl::Status(pqxx::transaction_base&, const Timer&)>;

// The result of one FireDue() batch.
struct FireResult {
  int claimed = 0;  // due timers taken in this batch (fired + retried)
  int fired = 0;    // handler succeeded; marked fired in the committed transaction
  int retried = 0;  // handler failed; attempts+1, last_error set, due moved by the backoff
  // now - due of each fired timer, where "now" is the store clock read after the commit: the firing lag.
  std::vector<absl::Duration> lags;
};

// How a TimerStore fires and retries.
struct TimerStoreOptions {
  absl::Duration initial_backoff = absl::Seconds(10);  // delay after the first failure
  absl::Duration max_backoff = absl::Hours(1);         // cap of the doubling delay
  int tx_attempts = 5;         // crm::pg::TxOptions::max_attempts of a batch (conflicts, broken connections)
  bool export_metrics = true;  // record into crm::metrics::Registry() (see FireDue)
};

// Timers in one database. Thread-safe: any number of threads and replicas may call FireDue at once.
class TimerStore {
 public:
  // `pool` and `clock` must outlive the store. "Now" is always clock.Now(), never the database's time.
  TimerStore(pg::Pool& pool, const Clock& clock, TimerStoreOptions options = {});

  // Makes sure one timer with `key` exists, in the caller's transaction (it exists iff tx commits).
  // Idempotent by key: a second call with the same key never makes a second timer. If a PENDING timer
  // with the key has another due, it is re-armed: its due and payload become the new ones and its
  // attempts and last_error are reset (kRearmed) — a delayed step anchored on a date re-arms when the
  // date changes. A fired or cancelled timer is left as it is (kUnchanged): keys are single-use, so a
  // caller that wants a new run uses a new key (e.g. with the event id in it).
  // InvalidArgument if key or kind is empty or `due` is infinite; FailedPrecondition if a timer with
  // the key exists with another kind.
  static absl::StatusOr<ScheduleOutcome> Schedule(pqxx::transaction_base& tx, std::string_view key,
                                                  std::string_view kind, absl::Time due,
                                                  std::string_view payload);

  // Cancels the pending timer with `key` in the caller's transaction (a moot timer: "the deal got its
  // first contact"). Returns true if this call cancelled it; false if there is none, or it already fired
  // or was cancelled (idempotent). A timer being fired right now by FireDue is waited for, then not
  // cancelled (it fired).
  static absl::StatusOr<bool> Cancel(pqxx::transaction_base& tx, std::string_view key);

  // A timer for CreateAll.
  struct NewTimer {
    std::string key;
    std::string kind;
    absl::Time due;
    std::string payload;
  };
  // Creates `timers` in the caller's transaction in one statement: for a caller whose keys are new (made
  // from an id it just created), so the re-arm rules of Schedule do not apply — a key that exists is left
  // as it is. InvalidArgument as Schedule for an empty key or kind or an infinite due.
  static absl::Status CreateAll(pqxx::transaction_base& tx, const std::vector<NewTimer>& timers);

  // Fires one batch: in ONE transaction, claims up to `batch_size` pending timers with due <= clock.Now()
  // (oldest due first; rows another caller holds are skipped), runs `handler` for each in a savepoint,
  // and marks the successful ones fired (fired_time = now) in the same transaction; a failed one gets
  // attempts+1, last_error and due = now + min(initial_backoff * 2^(attempts), max_backoff). Commits once.
  // Each timer is therefore fired exactly once in effect, even with many callers. On a transaction
  // failure (connection lost, commit failed) nothing of the batch is kept and the error is returned;
  // the timers stay pending for a later call. Also records metrics crm_timers_fired_total,
  // crm_timers_retried_total and histogram crm_timer_lag_seconds when export_metrics.
  // InvalidArgument if batch_size < 1.
  absl::StatusOr<FireResult> FireDue(const TimerHandler& handler, int batch_size = 100);

  // The earliest due time of a pending timer, or absl::InfiniteFuture() if there is none.
  absl::StatusOr<absl::Time> NextDue();

  // The clock FireDue reads "now" from (TimerLoop converts its waits with it).
  const Clock& clock() const { return clock_; }
  // The pool FireDue and NextDue take connections from.
  pg::Pool& pool() { return pool_; }

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  TimerStoreOptions options_;
};

// How a TimerLoop runs.
struct TimerLoopOptions {
  absl::Duration poll_interval = absl::Seconds(5);  // longest real-time sleep between passes
  int batch_size = 100;
  // Called before each pass (e.g. ScheduleStore::Materialize); its error is logged, the pass goes on.
  std::function<absl::Status()> before_pass;
};

// A background thread that fires due timers: each pass calls FireDue until a batch comes back short,
// then sleeps until the earliest pending due (per the store clock, converted to a real-time wait),
// poll_interval, or Wake(), whichever comes first. Errors are logged and retried on the next pass.
class TimerLoop {
 public:
  // Starts the thread. `store` must outlive the loop; `handler` as for FireDue.
  TimerLoop(TimerStore& store, TimerHandler handler, TimerLoopOptions options = {});
  // Stops the thread: a pass in progress finishes its current batch first.
  ~TimerLoop();
  TimerLoop(const TimerLoop&) = delete;
  TimerLoop& operator=(const TimerLoop&) = delete;

  // Starts a pass now (e.g. after committing a timer due soon, or after moving a test clock).
  void Wake();

  // Timers fired by this loop so far.
  int64_t fired() const;
  // Completed passes so far (a test can wait for one after Wake()).
  int64_t passes() const;

 private:
  void Run();

  TimerStore& store_;
  TimerHandler handler_;
  TimerLoopOptions options_;
  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  int64_t fired_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t passes_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace crm::timers

#endif  // CRM_LIBS_TIMERS_TIMERS_H_
