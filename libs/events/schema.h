// File: libs/events/schema.h
// -----------------------------------------------------------------------------
// The tables libs/events needs in every service database that publishes or consumes events: `outbox`
// (migrations/0001_outbox.sql) and `inbox` (migrations/0002_inbox.sql), as pg::Migration component
// "events". A service applies them together with its own:
//
// Example:
//   std::vector<crm::pg::Migration> all = crm::EventsMigrations();
//   all.insert(all.end(), crm::DealsMigrations().begin(), crm::DealsMigrations().end());
//   CRM_RETURN_IF_ERROR(crm::pg::Migrate(dsn, all).status());
#ifndef CRM_LIBS_EVENTS_SCHEMA_H_
#define CRM_LIBS_EVENTS_SCHEMA_H_

#include <vector>

#include "libs/pg/migrations.h"

namespace crm {

// The "events" component's migrations, in version order.
const std::vector<crm::pg::Migration>& EventsMigrations();

}  // namespace crm

#endif  // CRM_LIBS_EVENTS_SCHEMA_H_
