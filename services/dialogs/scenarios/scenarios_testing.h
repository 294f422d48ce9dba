// File: services/dialogs/scenarios/scenarios_testing.h
// A throwaway database migrated as crm-dialogs migrates it (migrations.h AllMigrations), for the pg tests.
#ifndef CRM_SERVICES_DIALOGS_SCENARIOS_SCENARIOS_TESTING_H_
#define CRM_SERVICES_DIALOGS_SCENARIOS_SCENARIOS_TESTING_H_

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "services/dialogs/migrations.h"
#include "services/dialogs/scenarios/wire.h"

namespace crm::dialogs::scenarios {

class ScenariosDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = crm::pg::testing::TempDatabase::Create("dialogs_scenarios");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    auto migrated = crm::pg::Migrate(db_->dsn(), crm::dialogs::AllMigrations());
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    auto pool = crm::pg::Pool::Create({.dsn = db_->dsn(), .size = 4});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
  }

  std::unique_ptr<crm::pg::testing::TempDatabase> db_;
  std::unique_ptr<crm::pg::Pool> pool_;
};

}  // namespace crm::dialogs::scenarios

#endif  // CRM_SERVICES_DIALOGS_SCENARIOS_SCENARIOS_TESTING_H_
