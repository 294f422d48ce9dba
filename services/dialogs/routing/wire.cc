// File: services/dialogs/routing/wire.cc
#include "services/dialogs/routing/wire.h"

#include <memory>
#include <pqxx/pqxx>
#include <utility>

#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/rpc/server.h"
#include "libs/timers/timers.h"
#include "services/dialogs/inbox/routing.h"
#include "services/dialogs/routing/router.h"
#include "services/dialogs/routing/service.h"

namespace crm::dialogs::routing {

absl::StatusOr<Router*> WireRouting(Context& ctx, BotHoursProvider hours) {
  crm::rpc::Server& server = ctx.server;
  auto* router = server.Own(std::make_unique<Router>(ctx.calendar, std::move(hours), ctx.outbox));
  inbox::SetRouter(router);
  const crm::Clock* clock = &ctx.clock;
  CRM_RETURN_IF_ERROR(ctx.timer_kinds.Register(
      kReplyTimeoutKind, [router, clock](pqxx::transaction_base& tx, const crm::timers::Timer& t) {
        return router->OnReplyTimeout(tx, t, clock->Now());
      }));
  CRM_RETURN_IF_ERROR(ctx.timer_kinds.Register(
      kOfferKind, [router, clock](pqxx::transaction_base& tx, const crm::timers::Timer& t) {
        return router->OnOffer(tx, t, clock->Now());
      }));
  auto* routing = server.Own(std::make_unique<Routing>(ctx.pool, ctx.clock, *router));
  server.AddService(server.Own(std::make_unique<RoutingServiceImpl>(*routing)));
  return router;
}

}  // namespace crm::dialogs::routing
