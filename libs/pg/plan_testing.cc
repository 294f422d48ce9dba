#include "libs/pg/plan_testing.h"

#include <algorithm>
#include <cstdint>
#include <pqxx/pqxx>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace crm::pg::testing {
namespace {

constexpr char kProbe[] = "crm_plan_probe";

void AddNodes(const nlohmann::json& plan, std::vector<PlanNode>& out) {
  const double loops = plan.value("Actual Loops", 1.0);
  out.push_back({plan.value("Node Type", ""), plan.value("Relation Name", ""), plan.value("Plan Rows", 0.0),
                 (plan.value("Rows Removed by Filter", 0.0) + plan.value("Rows Removed by Index Recheck", 0.0)) *
                     loops});
  if (plan.contains("Plans")) {
    for (const auto& child : plan["Plans"]) AddNodes(child, out);
  }
}

}  // namespace

nlohmann::json ExplainStatement(pqxx::transaction_base& tx, const StatementRecorder::Statement& st, PlanKind kind,
                                bool analyze) {
  const std::string explain = analyze ? "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " : "EXPLAIN (FORMAT JSON) ";
  if (kind == PlanKind::kForValues) {
    return nlohmann::json::parse(
        tx.exec_params(explain + st.sql, pqxx::prepare::make_dynamic_params(st.params))[0][0].as<std::string>());
  }
  std::vector<std::string> args;
  for (const std::string& v : st.params) args.push_back(tx.quote(v));
  const std::string previous = tx.exec1("SELECT current_setting('plan_cache_mode')")[0].as<std::string>();
  tx.exec0("SET LOCAL plan_cache_mode = force_generic_plan");
  tx.exec0(absl::StrCat("PREPARE ", kProbe, " AS ", st.sql));
  nlohmann::json plan = nlohmann::json::parse(
      tx.exec1(absl::StrCat(explain, "EXECUTE ", kProbe,
                            args.empty() ? "" : absl::StrCat("(", absl::StrJoin(args, ", "), ")")))[0]
          .as<std::string>());
  tx.exec0(absl::StrCat("DEALLOCATE ", kProbe));
  tx.exec0(absl::StrCat("SET LOCAL plan_cache_mode = ", tx.quote(previous)));
  return plan;
}

std::vector<PlanNode> PlanNodes(const nlohmann::json& plan) {
  std::vector<PlanNode> out;
  if (plan.is_array()) {
    for (const auto& explained : plan) AddNodes(explained.at("Plan"), out);
  } else if (plan.contains("Plan")) {
    AddNodes(plan["Plan"], out);
  } else {
    AddNodes(plan, out);
  }
  return out;
}

int ExpectNoSeqScan(const std::string& dsn, const std::vector<StatementRecorder::Statement>& statements,
                    const PlanExpectations& expect) {
  pqxx::connection c(dsn);
  int reading = 0;
  for (const StatementRecorder::Statement& st : statements) {
    pqxx::work tx(c);
    const std::pair<PlanKind, bool> kinds[] = {{PlanKind::kForValues, expect.analyze},
                                              {PlanKind::kGeneric, expect.analyze_generic}};
    bool reads = false;
    for (const auto& [kind, analyze] : kinds) {
      const nlohmann::json explained = ExplainStatement(tx, st, kind, analyze);
      const std::string where = absl::StrCat(expect.what, kind == PlanKind::kForValues ? " (plan for its values)"
                                                                                        : " (generic plan)");
      if (analyze && expect.max_buffers) {
        const nlohmann::json& root = explained.at(0).at("Plan");
        const double buffers = root.value("Shared Hit Blocks", 0.0) + root.value("Shared Read Blocks", 0.0);
        EXPECT_LE(buffers, *expect.max_buffers) << where << ": shared buffers\n" << st.sql << "\nplan: "
                                                << explained.dump(1);
      }
      for (const PlanNode& n : PlanNodes(explained)) {
        if (expect.reading.empty() ? expect.tables.contains(n.relation) : n.relation == expect.reading) {
          reads = true;
        }
        if (expect.max_sort_rows && n.type == "Sort") {
          EXPECT_LE(n.plan_rows, *expect.max_sort_rows)
              << where << ": Sort\n" << st.sql << "\nplan: " << explained.dump(1);
        }
        if (!expect.tables.contains(n.relation)) continue;
        EXPECT_NE(n.type, "Seq Scan") << where << ": " << n.relation << "\n" << st.sql << "\nplan: "
                                      << explained.dump(1);
        std::optional<double> bound = expect.max_removed_rows;
        if (expect.max_removed_share) {
          bound = *expect.max_removed_share *
                  tx.exec_params1("SELECT reltuples FROM pg_class WHERE oid = $1::regclass", n.relation)[0]
                      .as<double>();
        }
        if (bound) {
          EXPECT_LE(n.removed_rows, *bound) << where << ": " << n.type << " on " << n.relation << "\n"
                                            << st.sql << "\nplan: " << explained.dump(1);
        }
      }
    }
    reading += reads ? 1 : 0;
  }
  return reading;
}

void BulkLoad(pqxx::transaction_base& tx, const std::vector<std::string>& tables,
              const std::function<void(pqxx::transaction_base&)>& fill, bool drop_constraints) {
  const std::string rels = tx.quote(absl::StrCat("{", absl::StrJoin(tables, ","), "}"));
  const std::string count_sql =
      absl::StrCat("SELECT count(*) FROM pg_index WHERE indrelid = ANY(", rels, "::regclass[])");
  const int64_t indexes = tx.exec1(count_sql)[0].as<int64_t>();
  std::vector<std::string> drops, restores, fk_drops, fk_restores;
  if (drop_constraints) {
    for (const pqxx::row& r : tx.exec(absl::StrCat(
             "SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname), "
             "format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid)), "
             "contype = 'f' FROM pg_constraint WHERE contype IN ('p', 'u', 'f') AND (conrelid = ANY(",
             rels, "::regclass[]) OR (contype = 'f' AND confrelid = ANY(", rels, "::regclass[])))"))) {
      (r[2].as<bool>() ? fk_drops : drops).push_back(r[0].as<std::string>());
      (r[2].as<bool>() ? fk_restores : restores).push_back(r[1].as<std::string>());
    }
  }
  // Without drop_constraints, every index backing a constraint stays; with it, those of the constraints
  // dropped above go with them (exclusion constraints' stay).
  for (const pqxx::row& r : tx.exec(absl::StrCat(
           "SELECT format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid) FROM pg_index i "
           "WHERE i.indrelid = ANY(",
           rels, "::regclass[]) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid",
           drop_constraints ? " AND c.contype IN ('p', 'u', 'x'))" : ")"))) {
    drops.push_back(r[0].as<std::string>());
    restores.push_back(r[1].as<std::string>());
  }
  for (const std::string& s : fk_drops) tx.exec0(s);
  for (const std::string& s : drops) tx.exec0(s);
  fill(tx);
  for (const std::string& s : restores) tx.exec0(s);
  for (const std::string& s : fk_restores) tx.exec0(s);
  ASSERT_EQ(tx.exec1(count_sql)[0].as<int64_t>(), indexes);
}

}  // namespace crm::pg::testing
