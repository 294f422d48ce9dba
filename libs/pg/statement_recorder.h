// File: libs/pg/statement_recorder.h
// -----------------------------------------------------------------------------
// A testing seam (target crm::pg_statement_recorder) for the services' SQL helpers: while a
// StatementRecorder lives, every statement a helper that calls RecordStatement runs (on any thread) is
// also kept in it with its parameter values, so a test can EXPLAIN exactly what a store sends
// (plan_testing.h). One recorder at a time; test code only. Without one, RecordStatement is one atomic
// load.
//
// Example:
//   // In a service's Exec helper:
//   pqxx::result Exec(pqxx::transaction_base& tx, const std::string& sql, const std::vector<std::string>& v) {
//     crm::pg::RecordStatement(sql, v);
//     return tx.exec_params(sql, pqxx::prepare::make_dynamic_params(v));
//   }
//   // In a test:
//   crm::pg::StatementRecorder recorder;
//   ASSERT_TRUE(store.List(request).ok());
//   for (const crm::pg::StatementRecorder::Statement& st : recorder.Take()) { ... st.sql, st.params ... }
#ifndef CRM_LIBS_PG_STATEMENT_RECORDER_H_
#define CRM_LIBS_PG_STATEMENT_RECORDER_H_

#include <memory>
#include <string>
#include <vector>

namespace crm::pg {

// Keeps every statement RecordStatement is given while it lives (the newest recorder made, until it is
// destroyed: one at a time).
class StatementRecorder {
 public:
  // One statement as sent: its text and its parameter values ($1, $2, ... in order).
  struct Statement {
    std::string sql;
    std::vector<std::string> params;
  };
  StatementRecorder();
  ~StatementRecorder();
  StatementRecorder(const StatementRecorder&) = delete;
  StatementRecorder& operator=(const StatementRecorder&) = delete;

  // The statements recorded since the last Take(), oldest first.
  std::vector<Statement> Take();
  // Keeps `sql` with `params` (what RecordStatement calls).
  void Add(const std::string& sql, const std::vector<std::string>& params);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Called by a service's SQL helpers with each statement they run: adds it to the living
// StatementRecorder, if any; does nothing otherwise.
void RecordStatement(const std::string& sql, const std::vector<std::string>& params);

}  // namespace crm::pg

#endif  // CRM_LIBS_PG_STATEMENT_RECORDER_H_
