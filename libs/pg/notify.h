// File: libs/pg/notify.h
// -----------------------------------------------------------------------------
// NOTIFY without serializing commits.
//
// PostgreSQL's NOTIFY inside a transaction takes one lock for the whole cluster (every database) at
// PreCommit and holds it until the commit record is flushed: every notifying transaction then commits
// one after another, each waiting for its own fsync, and concurrent commits no longer share a WAL flush.
// Measured on this machine with pgbench, 8 clients, durable commits: an INSERT alone 2 979 tx/s, the same
// INSERT with a statement trigger calling pg_notify 366 tx/s.
//
// Contract of NotifyAfterCommit(tx, channel):
//   * inside InTransaction(pool, …) (pool.h): once COMMIT succeeded the channel is posted to the pool's
//     notifier (notifier.h), whose thread sends the NOTIFY on a connection of its own, outside any
//     transaction (it writes no WAL, so the lock is held for microseconds): the committing thread does
//     not wait for it, a listener woken by it sees the transaction's rows, and the commits posted while a
//     send is in flight share the next one (a burst of commits wakes a listener a few times, not once per
//     commit). Once per channel per transaction however often asked (a subtransaction of it counts as
//     it); not sent when the transaction rolls back or an attempt is retried (the retry asks again).
//     InTransaction(conn, …) sends it on `conn` right after COMMIT instead. A failure to send is logged,
//     never returned: the commit stands, and listeners must poll as a fallback anyway (a notification can
//     also be lost when the listener's connection drops, or the process ends before it was sent).
//   * any other transaction (a test's pqxx::work, a connection the caller drives): pg_notify inside `tx`,
//     delivered at its commit — correct, just serialized as above.
#ifndef CRM_LIBS_PG_NOTIFY_H_
#define CRM_LIBS_PG_NOTIFY_H_

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm::pg {

// Wakes the listeners of `channel` (an identifier: [a-z_][a-z0-9_]*) once `tx` committed. Defined in
// transaction.cc, beside the InTransaction that keeps the promise.
void NotifyAfterCommit(pqxx::transaction_base& tx, const char* channel);

}  // namespace crm::pg

#endif  // CRM_LIBS_PG_NOTIFY_H_
