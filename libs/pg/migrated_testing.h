// File: libs/pg/migrated_testing.h
// -----------------------------------------------------------------------------
// Tests only: a throwaway database migrated by a service's migrations and a pool on it — what a plan test
// or a store test starts from. Part of crm::pg_testing.
//
//   std::unique_ptr<TempDatabase> db;
//   std::unique_ptr<Pool> pool;
//   MakeMigratedDatabase("calls_plan", crm::telephony::AllMigrations(), 2, db, pool);  // in SetUp
#ifndef CRM_LIBS_PG_MIGRATED_TESTING_H_
#define CRM_LIBS_PG_MIGRATED_TESTING_H_

#include <memory>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"

namespace crm::pg::testing {

// Creates the database (named from `prefix`), applies `migrations` and opens a pool of `pool_size` on it. A
// failure is a test failure (ASSERT: the caller's SetUp stops there).
inline void MakeMigratedDatabase(std::string_view prefix, const std::vector<Migration>& migrations, int pool_size,
                                 std::unique_ptr<TempDatabase>& db, std::unique_ptr<Pool>& pool) {
  auto made = TempDatabase::Create(prefix);
  ASSERT_TRUE(made.ok()) << made.status();
  db = std::move(*made);
  auto migrated = Migrate(db->dsn(), migrations);
  ASSERT_TRUE(migrated.ok()) << migrated.status();
  auto opened = Pool::Create({.dsn = db->dsn(), .size = pool_size});
  ASSERT_TRUE(opened.ok()) << opened.status();
  pool = std::move(*opened);
}

}  // namespace crm::pg::testing

#endif  // CRM_LIBS_PG_MIGRATED_TESTING_H_
