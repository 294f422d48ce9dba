// File: libs/pg/pool.h
// -----------------------------------------------------------------------------
// PostgreSQL access for services: a bounded connection pool, a transaction runner that retries what is
// safe to retry, and the one mapping from libpqxx/PostgreSQL errors to canonical absl::Status codes.
//
// A libpqxx connection runs one transaction at a time and is not thread-safe, so each service keeps one
// Pool and every request borrows a connection for the length of one transaction. Prefer InTransaction():
// it commits only when your function returns OK, retries serialization failures, deadlocks and connections
// lost before COMMIT, and turns every exception into a Status. Your function may therefore run more than
// once: keep side effects outside the database (RPCs, Kafka, counters) out of it (use the outbox instead).
//
// libpqxx 6 notes: connections from the pool never reconnect behind your back (a broken connection raises
// pqxx::broken_connection and is dropped from the pool); prepared statements registered with
// conn().prepare() are sent to the server lazily, so a typo in their SQL surfaces at the first exec.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(std::unique_ptr<crm::pg::Pool> pool,
//                        crm::pg::Pool::Create({.dsn = dsn, .size = 8, .application_name = "deals"}));
//   absl::Status s = crm::pg::InTransaction(*pool, [&](pqxx::work& tx) -> absl::Status {
//     pqxx::row r = tx.exec_params1("SELECT version FROM deals WHERE id = $1 FOR UPDATE", id);
//     if (r[0].as<int64_t>() != expected) return absl::AbortedError("deal was changed");
//     tx.exec_params0("UPDATE deals SET stage = $2, version = version + 1 WHERE id = $1", id, stage);
//     return absl::OkStatus();
//   }, {.isolation = crm::pg::TxOptions::Isolation::kRepeatableRead});
//   // s: OK, or e.g. AlreadyExists / FailedPrecondition from a constraint, Aborted after max_attempts.
#ifndef CRM_LIBS_PG_POOL_H_
#define CRM_LIBS_PG_POOL_H_

#include <exception>
#include <memory>
#include <mutex>
#include <pqxx/connection>
#include <pqxx/transaction>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crm::pg {

namespace internal {
class Notifier;  // notifier.h
}  // namespace internal

// How to reach the database and how big the pool may grow.
struct PoolOptions {
  std::string dsn;                                    // libpq conninfo (key=value pairs or postgresql:// URI)
  int size = 4;                                       // max connections open at once (>= 1)
  absl::Duration acquire_timeout = absl::Seconds(5);  // how long Acquire() waits for a free connection
  std::string application_name;                       // shown in pg_stat_activity
};

// A thread-safe pool of at most `size` connections to one database. Connections are opened on demand (one at
// Create), reused most-recently-returned first, and closed when broken or discarded. Must outlive its leases'
// use, although a Lease that outlives its Pool is still safe to destroy (its connection is then closed).
class Pool {
 public:
  // Opens one connection eagerly so a bad DSN fails at start: Unavailable naming host/port/dbname/user, never
  // the password. InvalidArgument if `size` < 1, the timeout is negative, or the DSN does not parse.
  static absl::StatusOr<std::unique_ptr<Pool>> Create(PoolOptions options);

  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Exclusive use of one connection. Movable, not copyable. On destruction the connection goes back to the
  // pool, unless it was discarded or is no longer open (then it is closed and its slot freed).
  // Do not leave a transaction open on it: destroy the pqxx::work before the lease.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    // The leased connection. Precondition: not moved from, Discard() not called.
    pqxx::connection& conn();
    pqxx::connection* operator->();

    // Says the connection is broken or in an unknown state: it is closed now (not returned to the pool) and
    // its slot is freed. The lease must not be used afterwards.
    void Discard();

   private:
    friend class Pool;
    class Core;
    Lease(std::shared_ptr<Core> core, std::unique_ptr<pqxx::connection> conn);
    void Release(bool discard);

    std::shared_ptr<Core> core_;
    std::unique_ptr<pqxx::connection> conn_;
  };

  // Returns a healthy connection: an idle one (one found dead is dropped silently) or a newly opened one
  // while fewer than `size` are open. Waits up to acquire_timeout for one to come back; then DeadlineExceeded
  // saying the pool is exhausted. Unavailable if a new connection cannot be opened.
  absl::StatusOr<Lease> Acquire();

  // The options the pool was created with.
  const PoolOptions& options() const;

  // The NOTIFYs of this pool's committed transactions go through it (notify.h, notifier.h): InTransaction
  // posts them and returns; the notifier's thread, on a connection of its own, sends them. Started on
  // first use.
  internal::Notifier& notifier();

 private:
  explicit Pool(PoolOptions options);

  PoolOptions options_;
  std::shared_ptr<Lease::Core> core_;
  std::once_flag notifier_once_;
  std::unique_ptr<internal::Notifier> notifier_;
};

// How InTransaction() runs a transaction.
struct TxOptions {
  enum class Isolation { kReadCommitted, kRepeatableRead, kSerializable };
  Isolation isolation = Isolation::kReadCommitted;
  int max_attempts = 5;    // total tries, including the first (values < 1 mean 1)
  bool read_only = false;  // SET TRANSACTION READ ONLY: writes fail with an error
};

// Runs fn in one transaction on a pooled connection; commits iff fn returns OK (else rolls back and returns
// fn's status). Retries the whole transaction (fresh pqxx::work, jittered backoff, up to max_attempts) on
// serialization_failure (40001) and deadlock_detected (40P01), whether thrown or returned by fn as a status
// carrying that sqlstate payload, and when the connection broke before COMMIT was sent (the broken connection
// is discarded). Never retries an in-doubt commit: returns Unavailable saying the outcome is unknown. Any
// exception from fn or libpqxx becomes a Status via StatusFromException. When attempts run out it returns the
// last failure (Aborted for conflicts). Acquire() errors are returned as they are.
absl::Status InTransaction(Pool& pool, absl::FunctionRef<absl::Status(pqxx::work&)> fn,
                           const TxOptions& options = {});

// Same, on a connection the caller holds: retries conflicts (40001, 40P01) but not a broken connection,
// which is returned as Unavailable (the caller owns the connection and decides what to do with it).
absl::Status InTransaction(pqxx::connection& conn, absl::FunctionRef<absl::Status(pqxx::work&)> fn,
                           const TxOptions& options = {});

// Runs fn, a read of ONE statement, on a pooled connection outside a transaction block (autocommit): one
// round trip, where InTransaction with read_only adds BEGIN, SET TRANSACTION and COMMIT around it. Each
// statement fn runs sees its own snapshot, so statements that must agree belong in InTransaction; fn must
// not write. Tried once more on a fresh connection when the first broke (it is discarded): a read is safe
// to repeat. Exceptions become a Status as in InTransaction.
absl::Status ReadOnce(Pool& pool, absl::FunctionRef<absl::Status(pqxx::transaction_base&)> fn);

// The type URL of the payload StatusFromException() attaches; its value is the five-character SQLSTATE.
inline constexpr char kSqlStatePayload[] = "sqlstate";

// Canonical status for a libpqxx/PostgreSQL error, by SQLSTATE:
//   23505 unique → AlreadyExists; other class 23 (23503 FK, 23514 check, 23502 not null, 23P01 exclusion,
//   23001 restrict) → FailedPrecondition; 22xxx data exceptions → InvalidArgument; 40001 / 40P01 / 40000
//   and 55P03 lock_not_available → Aborted; pqxx::broken_connection, 08xxx and 57P01..57P03 (server
//   shutting down) → Unavailable; pqxx::in_doubt_error and 40003 → Unavailable saying the outcome is
//   unknown; 57014 query_canceled (statement_timeout) → DeadlineExceeded; 53xxx → ResourceExhausted;
//   anything else (including non-libpqxx exceptions) → Internal.
// The message keeps PostgreSQL's text (which names the constraint), on one line, without the query text.
// When the SQLSTATE is known it is attached as payload kSqlStatePayload (see SqlState()).
absl::Status StatusFromException(const std::exception& e);

// The SQLSTATE a status from StatusFromException() carries, or "" if none.
std::string SqlState(const absl::Status& status);

}  // namespace crm::pg

#endif  // CRM_LIBS_PG_POOL_H_
