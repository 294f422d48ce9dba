// File: services/deals/interactions/wiring.h
// -----------------------------------------------------------------------------
// How the deals service hosts D15/D16 (services/deals/wiring.cc calls both): the migration components
// "requests" and "interactions" (in that order, after deals' own: they reference clients and deals),
// and the stores and gRPC services on the deals server. Settings (CRM_DEALS_<NAME>): TIME_ZONE — the
// company's zone for «Задачи на сегодня» and the slot calendars (default Europe/Moscow, as payments).
//
// Example (services/deals/wiring.cc):
//   all.insert(all.end(), InteractionsMigrations().begin(), InteractionsMigrations().end());
//   CRM_RETURN_IF_ERROR(crm::deals::interactions::WireInteractions(env, server, *pool));
#ifndef CRM_SERVICES_DEALS_INTERACTIONS_WIRING_H_
#define CRM_SERVICES_DEALS_INTERACTIONS_WIRING_H_

#include <vector>

#include "absl/status/status.h"
#include "libs/config/config.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/rpc/server.h"

namespace crm::deals::interactions {

// The "requests" then the "interactions" component.
const std::vector<crm::pg::Migration>& InteractionsMigrations();

// Adds InteractionService and ClientRequestService over `pool` (which must outlive the server) to `server`.
absl::Status WireInteractions(crm::config::Env& env, crm::rpc::Server& server, crm::pg::Pool& pool);

}  // namespace crm::deals::interactions

#endif  // CRM_SERVICES_DEALS_INTERACTIONS_WIRING_H_
