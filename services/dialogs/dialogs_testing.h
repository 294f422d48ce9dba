// File: services/dialogs/dialogs_testing.h
// -----------------------------------------------------------------------------
// Tests only: a throwaway dialogs database migrated by crm::dialogs::AllMigrations() (migrations.h) and a
// pool on it — what every part's plan test starts from. Links crm::dialogs_migrations and crm::pg_testing.
#ifndef CRM_SERVICES_DIALOGS_DIALOGS_TESTING_H_
#define CRM_SERVICES_DIALOGS_DIALOGS_TESTING_H_

#include <memory>
#include <string_view>

#include "libs/pg/migrated_testing.h"
#include "services/dialogs/migrations.h"

namespace crm::dialogs::testing {

// libs/pg/migrated_testing.h's MakeMigratedDatabase with the dialogs database's migrations.
inline void MakeDatabase(std::string_view prefix, int pool_size,
                         std::unique_ptr<crm::pg::testing::TempDatabase>& db, std::unique_ptr<crm::pg::Pool>& pool) {
  crm::pg::testing::MakeMigratedDatabase(prefix, AllMigrations(), pool_size, db, pool);
}

}  // namespace crm::dialogs::testing

#endif  // CRM_SERVICES_DIALOGS_DIALOGS_TESTING_H_
