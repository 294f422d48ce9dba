// File: services/mortgage/sql.h
// -----------------------------------------------------------------------------
// How the applications store (applications.h) writes and runs its SQL: values collected in a Params as
// text parameters ($1, $2, ... in the order added; timestamps exact to the microsecond, bytes as bytea),
// each statement run by Run. While a StatementRecorder lives, Run also keeps every statement with its
// values, so a test can EXPLAIN exactly what the lists, the desk and the reports send (lists_plan_test.cc,
// issue 14).
//
// Example:
//   Params p;
//   const std::string sql = absl::StrCat("SELECT count(*) FROM calculations WHERE created_at >= ", p.Ts(from),
//                                        " AND specialist_id = ", p.Add(specialist));
//   pqxx::result r = Run(tx, sql, p);
#ifndef CRM_SERVICES_MORTGAGE_SQL_H_
#define CRM_SERVICES_MORTGAGE_SQL_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "libs/pg/statement_recorder.h"

namespace pqxx {
class result;
class transaction_base;
}  // namespace pqxx

namespace crm::mortgage {

// Text parameters collected for one statement ($1, $2, ... in the order added).
class Params {
 public:
  // Adds `value` and returns its placeholder ("$3").
  std::string Add(std::string value);
  // An SQL timestamptz equal to `t` to the microsecond.
  std::string Ts(absl::Time t);
  // An SQL bytea of `bytes`.
  std::string Bytes(const std::string& bytes);
  const std::vector<std::string>& values() const { return values_; }

 private:
  std::vector<std::string> values_;
};

// Runs `sql` with the parameters of `p` in `tx`.
pqxx::result Run(pqxx::transaction_base& tx, const std::string& sql, const Params& p);

// Testing seam (libs/pg/statement_recorder.h): while a StatementRecorder lives, every statement Run sends
// (on any thread) is also kept in it with its parameter values. One at a time; test code only.
using StatementRecorder = crm::pg::StatementRecorder;

}  // namespace crm::mortgage

#endif  // CRM_SERVICES_MORTGAGE_SQL_H_
