// File: services/deals/applications/wiring.h
// -----------------------------------------------------------------------------
// How the deals service hosts deal applications (D15 second half; services/deals/wiring.cc calls it):
// the migration component "applications" (after deals', realty's and requests': it references clients,
// realty_units, realty_bookings and client_requests) and DealApplicationService on the deals server.
// Settings (CRM_DEALS_<NAME>): TIME_ZONE — the company's zone (the application's date, НЛ), default
// Europe/Moscow as payments and interactions.
#ifndef CRM_SERVICES_DEALS_APPLICATIONS_WIRING_H_
#define CRM_SERVICES_DEALS_APPLICATIONS_WIRING_H_

#include <vector>

#include "absl/status/status.h"
#include "libs/config/config.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/rpc/server.h"

namespace crm {
// migrations/*.sql, component "applications".
const std::vector<crm::pg::Migration>& ApplicationsMigrations();
}  // namespace crm

namespace crm::deals::applications {

// Adds DealApplicationService over `pool` (which must outlive the server) to `server`.
absl::Status WireApplications(crm::config::Env& env, crm::rpc::Server& server, crm::pg::Pool& pool);

}  // namespace crm::deals::applications

#endif  // CRM_SERVICES_DEALS_APPLICATIONS_WIRING_H_
