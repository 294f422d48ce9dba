// File: services/deals/plan_test_base.h
// -----------------------------------------------------------------------------
// What deals' plan tests share (lists_plan_test.cc, realty/, interactions/ and erp/plan_test.cc): one
// database per suite, loaded once by the suite's SetUpTestSuite into `db_` and dropped after it; a pool
// per test; bulk loads as pg_restore does them; plain reads to compare a list's answer with; the generated
// staff (users in teams) and the callers of each access scope.
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
#include "absl/strings/str_join.h"
#include "crm/common/v1/common.pb.h"
#include "absl/time/clock.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "libs/rpc/testing/principals.h"

namespace crm::deals {

// The generated rows' ids: row n of a table is a UUID whose fourth group (`rows`, e.g. "8100") names the
// table — RowId in C++, RowIdSql of the bigint SQL expression `n`.
inline std::string RowId(const std::string& rows, int64_t n) {
  return absl::StrCat("01900000-0000-7000-", rows, "-", absl::StrFormat("%012x", n));
}
inline std::string RowIdSql(const std::string& rows, const std::string& n) {
  return absl::StrCat("('01900000-0000-7000-", rows, "-' || lpad(to_hex(", n, "), 12, '0'))::uuid");
}

// The staff: users 1..kPlanUsers, user n in team n % kPlanTeams. User n's id is
// 01900000-0000-7000-8000-00000000a<n in hex> (UserId; UserSql of the SQL expression `n`), team t's
// 01900000-0000-7000-8000-00000000e<t in hex>; InsertPlanStaff writes them into deals' user_directory.
inline constexpr int kPlanUsers = 100;
inline constexpr int kPlanTeams = 10;
inline std::string UserId(int n) { return absl::StrCat("01900000-0000-7000-8000-00000000", absl::Hex(0xa000 + n)); }
inline std::string TeamId(int n) { return absl::StrCat("01900000-0000-7000-8000-00000000", absl::Hex(0xe000 + n)); }
inline std::string UserSql(const std::string& n) {
  return absl::StrCat("('01900000-0000-7000-8000-00000000' || to_hex(", 0xa000, " + (", n, ")))::uuid");
}
inline std::string TeamSql(const std::string& n) {
  return absl::StrCat("('01900000-0000-7000-8000-00000000' || to_hex(", 0xe000, " + (", n, ")))::uuid");
}
inline void InsertPlanStaff(pqxx::transaction_base& tx) {
  tx.exec0(absl::StrCat("INSERT INTO user_directory (user_id, team_ids, version) SELECT ", UserSql("u"),
                        ", ARRAY[", TeamSql(absl::StrCat("u % ", kPlanTeams)), "], 1 FROM generate_series(1, ",
                        kPlanUsers, ") u"));
}
// User n with `permissions`, in its team.
inline crm::common::v1::Principal User(int n, std::vector<std::string> permissions) {
  return crm::rpc::testing::UserPrincipal(UserId(n), std::move(permissions), {TeamId(n % kPlanTeams)});
}

// The callers of an area's scopes ("interactions": interactions.read.own / .team / .all, and one with none
// of them) and what each sees, as SQL over the responsible column written "R" (Sees fills it in).
struct ScopeCaller {
  std::string name;
  crm::common::v1::Principal principal;
  std::string sees;
};
inline std::vector<ScopeCaller> ScopeCallers(const std::string& area) {
  std::vector<std::string> team;  // user 2's colleagues, user 2 too
  for (int n = 2; n <= kPlanUsers; n += kPlanTeams) team.push_back(absl::StrCat("'", UserId(n), "'"));
  return {
      {"own", User(1, {area + ".read.own", area + ".write.own"}), absl::StrCat("R = '", UserId(1), "'")},
      {"team", User(2, {area + ".read.team", area + ".write.own"}),
       absl::StrCat("R IN (", absl::StrJoin(team, ", "), ")")},
      {"all", User(3, {area + ".read.all"}), "TRUE"},
      {"none", User(4, {"deals.read.all"}), "FALSE"},
  };
}
inline std::string Sees(const ScopeCaller& c, const std::string& column) {
  std::string s = c.sees;
  if (!s.empty() && s[0] == 'R') s.replace(0, 1, column);  // "R = …", "R IN (…)"
  return s;
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
