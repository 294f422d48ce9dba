// File: services/dialogs/routing/wire.h
// -----------------------------------------------------------------------------
// Wires routing (T6, T8) into the dialogs service (services/dialogs/wiring.cc), BEFORE the inbox starts
// its workers: its migrations (component "routing"), the Router set as the inbox's seam (inbox/routing.h),
// the timer kinds (answer timeouts, out-of-hours offers) and the RoutingService.
#ifndef CRM_SERVICES_DIALOGS_ROUTING_WIRE_H_
#define CRM_SERVICES_DIALOGS_ROUTING_WIRE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "libs/pg/migrations.h"
#include "services/dialogs/context.h"
#include "services/dialogs/hours.h"

namespace crm {
// Generated from routing/migrations (component "routing").
const std::vector<crm::pg::Migration>& DialogsRoutingMigrations();
}  // namespace crm

namespace crm::dialogs::routing {

class Router;

// See the file comment. `hours`: the bots' working hours (telegram's BotStore::Hours). Owned by ctx.server.
absl::StatusOr<Router*> WireRouting(Context& ctx, BotHoursProvider hours);

}  // namespace crm::dialogs::routing

#endif  // CRM_SERVICES_DIALOGS_ROUTING_WIRE_H_
