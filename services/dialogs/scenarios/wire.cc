// File: services/dialogs/scenarios/wire.cc
#include "services/dialogs/scenarios/wire.h"

#include <memory>

#include "libs/base/status.h"
#include "libs/rpc/server.h"
#include "libs/timers/timers.h"
#include "services/dialogs/scenarios/runner.h"
#include "services/dialogs/scenarios/service.h"
#include "services/dialogs/scenarios/spam.h"
#include "services/dialogs/scenarios/store.h"

namespace crm::dialogs {

absl::StatusOr<scenarios::ScenarioRunner*> WireScenarios(Context& ctx) {
  auto* store = ctx.server.Own(std::make_unique<scenarios::ScenarioStore>(ctx.pool, ctx.clock, ctx.outbox));
  auto* spam = ctx.server.Own(std::make_unique<scenarios::SpamList>(ctx.pool));
  auto* runner = ctx.server.Own(std::make_unique<scenarios::ScenarioRunner>(ctx.clock, ctx.calendar));
  ctx.server.AddService(ctx.server.Own(
      std::make_unique<scenarios::ScenarioServiceImpl>(*store, *spam, *runner, ctx.pool, ctx.clock)));
  CRM_RETURN_IF_ERROR(ctx.timer_kinds.Register(
      scenarios::kTimerKind, [runner](pqxx::transaction_base& tx, const crm::timers::Timer& t) {
        return runner->OnTimer(tx, t);
      }));
  return runner;
}

}  // namespace crm::dialogs
