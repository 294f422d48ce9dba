// File: services/telephony/migrations.h
// -----------------------------------------------------------------------------
// Every migration of the telephony database, in the order crm-telephony applies them (target
// crm::telephony_migrations: it links the migration components alone, not the parts). The service's
// wiring and every test that migrates a telephony database use this one list, so a new part or migration
// reaches them all.
//
// Example (a test):
//   auto db = crm::pg::testing::TempDatabase::Create("telephony");
//   ASSERT_TRUE(crm::pg::Migrate((*db)->dsn(), crm::telephony::AllMigrations()).ok());
#ifndef CRM_SERVICES_TELEPHONY_MIGRATIONS_H_
#define CRM_SERVICES_TELEPHONY_MIGRATIONS_H_

#include <vector>

#include "libs/pg/migrations.h"

namespace crm::telephony {

// The outbox's migrations, the durable timers', then each part's component (calls, requests) in the order
// they depend on each other.
std::vector<crm::pg::Migration> AllMigrations();

}  // namespace crm::telephony

#endif  // CRM_SERVICES_TELEPHONY_MIGRATIONS_H_
