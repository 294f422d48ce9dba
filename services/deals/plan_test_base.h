// File: services/deals/plan_test_base.h
// -----------------------------------------------------------------------------
// What deals' plan tests share (lists_plan_test.cc, realty/, interactions/ and erp/plan_test.cc): one
// database per suite, loaded once by the suite's SetUpTestSuite into `db_` and dropped after it; a pool
// per test; bulk loads as pg_restore does them; plain reads to compare a list's answer with.
//
// Example:
//   class ErpPlanTest : public PlanTestBase<ErpPlanTest> {
//    protected:
//     static void SetUpTestSuite() { ... db_ = db->release(); BulkLoad(tx, "erp_documents", "INSERT ..."); }
//   };
#ifndef CRM_SERVICES_DEALS_PLAN_TEST_BASE_H_
#define CRM_SERVICES_DEALS_PLAN_TEST_BASE_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <iostream>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"

namespace crm::deals {

// The generated rows' ids: row n of a table is a UUID whose fourth group (`rows`, e.g. "8100") names the
// table — RowId in C++, RowIdSql of the bigint SQL expression `n`.
inline std::string RowId(const std::string& rows, int64_t n) {
  return absl::StrCat("01900000-0000-7000-", rows, "-", absl::StrFormat("%012x", n));
}
inline std::string RowIdSql(const std::string& rows, const std::string& n) {
  return absl::StrCat("('01900000-0000-7000-", rows, "-' || lpad(to_hex(", n, "), 12, '0'))::uuid");
}

// `Suite` is the test class itself (each suite its own database).
template <typename Suite>
class PlanTestBase : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    delete db_;
    db_ = nullptr;
  }

  // Runs `insert` into `table` as pg_restore would: without the table's indexes (but its constraints'),
  // which are then built again from their definitions — one sorted build each instead of a million
  // inserts into each. The schema afterwards is the migrations' exactly.
  static void BulkLoad(pqxx::work& tx, const std::string& table, const std::string& insert) {
    const absl::Time start = absl::Now();
    pg::testing::BulkLoad(
        tx, {table}, [&](pqxx::transaction_base& w) { w.exec0(insert); }, /*drop_constraints=*/false);
    std::cerr << ::testing::UnitTest::GetInstance()->current_test_suite()->name() << ": " << table
              << " loaded in " << absl::Now() - start << "\n";
  }

  void SetUp() override {
    ASSERT_NE(db_, nullptr);
    auto pool = pg::Pool::Create({.dsn = db_->dsn(), .size = 2});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
  }

  // The first column of `sql`'s rows, read plainly.
  std::vector<std::string> Column(const std::string& sql) {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    std::vector<std::string> out;
    for (const pqxx::row& r : tx.exec(sql)) out.push_back(r[0].as<std::string>());
    return out;
  }

  static inline pg::testing::TempDatabase* db_ = nullptr;
  std::unique_ptr<pg::Pool> pool_;
};

}  // namespace crm::deals

#endif  // CRM_SERVICES_DEALS_PLAN_TEST_BASE_H_
