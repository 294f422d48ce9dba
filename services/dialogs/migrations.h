// File: services/dialogs/migrations.h
// -----------------------------------------------------------------------------
// Every migration of the dialogs database, in the order crm-dialogs applies them (target
// crm::dialogs_migrations: it links the migration components alone, not the parts). The service's wiring
// and every test that migrates a dialogs database use this one list, so a new part or migration reaches
// them all.
//
// Example (a test):
//   auto db = crm::pg::testing::TempDatabase::Create("dialogs");
//   ASSERT_TRUE(crm::pg::Migrate((*db)->dsn(), crm::dialogs::AllMigrations()).ok());
#ifndef CRM_SERVICES_DIALOGS_MIGRATIONS_H_
#define CRM_SERVICES_DIALOGS_MIGRATIONS_H_

#include <vector>

#include "libs/pg/migrations.h"

namespace crm::dialogs {

// The outbox's migrations, the durable timers', then each part's component (telegram, inbox, scenarios,
// routing, outreach) in the order they depend on each other.
std::vector<crm::pg::Migration> AllMigrations();

}  // namespace crm::dialogs

#endif  // CRM_SERVICES_DIALOGS_MIGRATIONS_H_
