// File: services/deals/realty/wiring.h
// -----------------------------------------------------------------------------
// The real-estate side's wiring into the deals service (D14): its migration component "realty" and
// WireRealty, which services/deals/wiring.cc calls once the deals pool is open. Settings (CRM_DEALS_<NAME>,
// README.md): TIME_ZONE and HOLIDAYS (the company's working calendar: a booking's 15 working days),
// BOOKING_SWEEP_INTERVAL_MS (how often expired bookings are swept; 0 = not on this replica).
#ifndef CRM_SERVICES_DEALS_REALTY_WIRING_H_
#define CRM_SERVICES_DEALS_REALTY_WIRING_H_

#include <vector>

#include "absl/status/status.h"
#include "libs/config/config.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/rpc/server.h"

namespace crm {
// migrations/*.sql, component "realty" (crm_sql_migrations in CMakeLists.txt).
const std::vector<crm::pg::Migration>& RealtyMigrations();
}  // namespace crm

namespace crm::deals::realty {

// Adds RealtyService and BookingService to `server` over `pool` (migrated with RealtyMigrations()), and
// the booking sweeper. A bad setting is rejected in `env` (RunService reports it); OK otherwise.
absl::Status WireRealty(crm::config::Env& env, crm::rpc::Server& server, crm::pg::Pool& pool);

}  // namespace crm::deals::realty

#endif  // CRM_SERVICES_DEALS_REALTY_WIRING_H_
