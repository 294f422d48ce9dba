// File: services/dialogs/dialogs_testing.h
// -----------------------------------------------------------------------------
// Tests only: a throwaway dialogs database migrated by crm::dialogs::AllMigrations() (migrations.h) and a
// pool on it — what every part's plan test starts from. Links crm::dialogs_migrations and crm::pg_testing.
#ifndef CRM_SERVICES_DIALOGS_DIALOGS_TESTING_H_
#define CRM_SERVICES_DIALOGS_DIALOGS_TESTING_H_

#include <memory>
#include <string_view>

#include "gtest/gtest.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "services/dialogs/migrations.h"

namespace crm::dialogs::testing {

// Creates the database (named from `prefix`), migrates it and opens a pool of `pool_size` on it. A failure
// is a test failure (ASSERT: the caller's SetUp stops).
inline void MakeDatabase(std::string_view prefix, int pool_size,
                         std::unique_ptr<crm::pg::testing::TempDatabase>& db, std::unique_ptr<crm::pg::Pool>& pool) {
  auto made = crm::pg::testing::TempDatabase::Create(prefix);
  ASSERT_TRUE(made.ok()) << made.status();
  db = std::move(*made);
  auto migrated = crm::pg::Migrate(db->dsn(), AllMigrations());
  ASSERT_TRUE(migrated.ok()) << migrated.status();
  auto opened = crm::pg::Pool::Create({.dsn = db->dsn(), .size = pool_size});
  ASSERT_TRUE(opened.ok()) << opened.status();
  pool = std::move(*opened);
}

}  // namespace crm::dialogs::testing

#endif  // CRM_SERVICES_DIALOGS_DIALOGS_TESTING_H_
