// File: libs/pg/prepared.h
// -----------------------------------------------------------------------------
// Statements a service runs often, parsed once per connection. `tx.exec_params(sql, ...)` makes
// PostgreSQL parse, analyse and plan the text at every call; on robots' SLA steps that was more of the
// database's time than running the statements (issue 14's profile). ExecPrepared runs the same text
// with the same arguments as a statement prepared on the transaction's connection the first time that
// connection sees the text: it is parsed once, and after five runs PostgreSQL keeps one generic plan
// when it costs no more than a custom one (plan_cache_mode = auto).
//
// For statements whose text is fixed (a named constant) or one of a few variants: every distinct text
// stays prepared for the connection's life, so text built from input would grow without bound. A
// statement whose best plan depends on its values (a list with optional filters) keeps getting custom
// plans; plan_testing.h checks the generic plan of the lists too.
//
// Example:
//   constexpr char kClaim[] = "SELECT id FROM timers WHERE state = 'pending' AND due_time <= $1 LIMIT $2";
//   pqxx::result r = crm::pg::ExecPrepared(tx, kClaim, now, 20);
//   pqxx::row one = crm::pg::ExecPrepared1(tx, "SELECT body FROM rules WHERE id = $1::uuid", id);
#ifndef CRM_LIBS_PG_PREPARED_H_
#define CRM_LIBS_PG_PREPARED_H_

#include <pqxx/result>
#include <pqxx/row>
#include <pqxx/transaction_base>
#include <string>
#include <utility>

namespace crm::pg {

// Makes sure `sql` is prepared (lazily, at its first run) on `tx`'s connection and returns the name it
// is prepared under: "crm_" and a 64-bit hash of the text, so one text has one name on every connection.
std::string Prepare(pqxx::transaction_base& tx, const std::string& sql);

// tx.exec_params(sql, args...), run as a statement prepared on tx's connection (see above).
template <typename... Args>
pqxx::result ExecPrepared(pqxx::transaction_base& tx, const std::string& sql, Args&&... args) {
  return tx.exec_prepared(Prepare(tx, sql), std::forward<Args>(args)...);
}

// ExecPrepared for a statement that yields exactly one row (pqxx::unexpected_rows otherwise).
template <typename... Args>
pqxx::row ExecPrepared1(pqxx::transaction_base& tx, const std::string& sql, Args&&... args) {
  return tx.exec_prepared1(Prepare(tx, sql), std::forward<Args>(args)...);
}

}  // namespace crm::pg

#endif  // CRM_LIBS_PG_PREPARED_H_
