// File: services/dialogs/scenarios/wire.h
// -----------------------------------------------------------------------------
// Wires the scenarios part into the dialogs service (services/dialogs/wiring.cc): the ScenarioService,
// the runner and its timer kind "dialogs.scenario". Returns the runner (owned by the server): the inbox
// calls OnInput in its transactions and registers its ActionSink with SetSink for timer-driven actions.
#ifndef CRM_SERVICES_DIALOGS_SCENARIOS_WIRE_H_
#define CRM_SERVICES_DIALOGS_SCENARIOS_WIRE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "services/dialogs/context.h"

namespace crm::pg {
struct Migration;
}  // namespace crm::pg

namespace crm {
// The migrations of component "scenarios" (services/dialogs/scenarios/migrations).
const std::vector<crm::pg::Migration>& DialogsScenariosMigrations();
}  // namespace crm

namespace crm::dialogs::scenarios {
class ScenarioRunner;
}  // namespace crm::dialogs::scenarios

namespace crm::dialogs {

absl::StatusOr<scenarios::ScenarioRunner*> WireScenarios(Context& ctx);

}  // namespace crm::dialogs

#endif  // CRM_SERVICES_DIALOGS_SCENARIOS_WIRE_H_
