// File: libs/pg/plan_testing.h
// -----------------------------------------------------------------------------
// Plan guards for tests (target crm::pg_plan_testing; tests only): EXPLAIN (FORMAT JSON) exactly what a
// store sent (recorded by statement_recorder.h) — with its values, and as the generic plan a prepared
// statement may settle on (plan_cache_mode = force_generic_plan, PREPARE, EXPLAIN EXECUTE) — list the
// plan's nodes, and fail the test on a sequential scan of the big tables, on a Sort of more than N rows
// or on a node throwing away more than N rows. And BulkLoad: fill tables without their indexes, then
// rebuild them as the migrations made them.
//
// Example:
//   crm::pg::StatementRecorder recorder;
//   ASSERT_TRUE(store.List(request).ok());
//   EXPECT_GE(crm::pg::testing::ExpectNoSeqScan(
//                 db->dsn(), recorder.Take(),
//                 {.tables = {"deals", "tasks"}, .reading = "tasks", .max_sort_rows = 5000, .what = "ListTasks"}),
//             1);  // at least one statement read tasks, none of them with a Seq Scan
#ifndef CRM_LIBS_PG_PLAN_TESTING_H_
#define CRM_LIBS_PG_PLAN_TESTING_H_

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "libs/pg/statement_recorder.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm::pg::testing {

// Which plan of a statement to EXPLAIN: the one for its parameter values (a one-off exec_params), or the
// generic plan a prepared statement may settle on after five executions.
enum class PlanKind { kForValues, kGeneric };

// The output of EXPLAIN (FORMAT JSON) — or EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) when `analyze` (which runs
// the statement: use a transaction that is not committed) — of `st` in `tx` as `kind` says (the generic plan
// through PREPARE and EXPLAIN EXECUTE with the values as quoted literals, under SET LOCAL plan_cache_mode =
// force_generic_plan, restored afterwards; the prepared statement is deallocated). The JSON array
// PostgreSQL returns: the plan is result[0]["Plan"]. Throws what libpqxx throws.
nlohmann::json ExplainStatement(pqxx::transaction_base& tx, const StatementRecorder::Statement& st, PlanKind kind,
                                bool analyze = false);

// One node of a plan.
struct PlanNode {
  std::string type;      // "Node Type": "Seq Scan", "Index Scan", "Sort", ...
  std::string relation;  // "Relation Name"; "" for a node without one
  double plan_rows = 0;  // "Plan Rows": the rows the planner expects the node to return
  // Rows read and thrown away ("Rows Removed by Filter" + "Rows Removed by Index Recheck") over all loops;
  // 0 unless the plan was EXPLAINed with ANALYZE.
  double removed_rows = 0;
};

// Every node of `plan`, depth first, the root first. `plan` is an EXPLAIN (FORMAT JSON) output (the array
// ExplainStatement returns) or one plan node of it (its "Plan" or any of its "Plans").
std::vector<PlanNode> PlanNodes(const nlohmann::json& plan);

// What ExpectNoSeqScan requires of each statement's plans.
struct PlanExpectations {
  // No "Seq Scan" node on any of these relations.
  std::set<std::string> tables;
  // The relation whose readers ExpectNoSeqScan counts; "" for any of `tables`.
  std::string reading;
  // When set: no Sort node expects more rows than this (a page comes in its order from an index).
  std::optional<double> max_sort_rows;
  // When set: no node on one of `tables` throws away more rows than this (checked in ANALYZEd plans).
  std::optional<double> max_removed_rows;
  // When set (instead of max_removed_rows): no node on one of `tables` throws away more than this share
  // of the relation's rows (pg_class.reltuples).
  std::optional<double> max_removed_share;
  // When set: no ANALYZEd plan touches more shared buffers than this (hit + read over the whole run, as
  // EXPLAIN (ANALYZE, BUFFERS) counts them): what a page of a list costs, whatever the planner guessed.
  std::optional<double> max_buffers;
  // EXPLAIN the plan for the values / the generic plan with ANALYZE (running the statement; rolled back).
  bool analyze = false;
  bool analyze_generic = false;
  // Prefixes each failure message (the list and case being checked).
  std::string what;
};

// EXPLAINs each of `statements` on a connection to `dsn` — the plan for its values and the generic plan,
// in one transaction per statement, rolled back — and adds a test failure (EXPECT, with the statement and
// the plan) for every breach of `expect` in either plan. Returns how many statements have a plan that
// reads expect.reading (or any of expect.tables).
int ExpectNoSeqScan(const std::string& dsn, const std::vector<StatementRecorder::Statement>& statements,
                    const PlanExpectations& expect);

// Runs `fill` in `tx` on `tables` stripped of their indexes, then builds those again from their definitions
// (pg_get_indexdef): one sorted build each instead of a million inserts into each; the index count
// afterwards is checked to be the one before (ASSERT). With `drop_constraints`, the tables' primary-key,
// unique and foreign-key constraints (and the foreign keys of other tables referencing them) are dropped
// too and added again (pg_get_constraintdef) — several times faster still, but the rows' consistency is
// then checked only at the end; without it, indexes backing a constraint stay. The schema afterwards is
// the migrations' exactly.
void BulkLoad(pqxx::transaction_base& tx, const std::vector<std::string>& tables,
              const std::function<void(pqxx::transaction_base&)>& fill, bool drop_constraints = true);

}  // namespace crm::pg::testing

#endif  // CRM_LIBS_PG_PLAN_TESTING_H_
