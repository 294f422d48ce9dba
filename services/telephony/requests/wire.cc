// File: services/telephony/requests/wire.cc
#include "services/telephony/requests/wire.h"

#include <memory>
#include <pqxx/pqxx>

#include "libs/base/clock.h"
#include "libs/base/periodic.h"
#include "libs/base/status.h"
#include "libs/config/config.h"
#include "libs/log/log.h"
#include "libs/rpc/server.h"
#include "libs/timers/timers.h"
#include "services/telephony/requests/api.h"
#include "services/telephony/requests/queue.h"
#include "services/telephony/requests/service.h"

namespace crm::telephony::requests {

absl::Status WireRequests(Context& ctx, calls::CallsPart&) {
  // The offer's accept timer (seed: 35 s), the matcher's batch and the sweep that heals missed matches.
  QueueOptions options;
  options.offer_timeout = ctx.env.Duration("REQUESTS_OFFER_TIMEOUT", kDefaultOfferTimeout);
  options.match_batch = static_cast<int>(ctx.env.Int("REQUESTS_MATCH_BATCH", 50, 1, 1000));
  const absl::Duration sweep = ctx.env.Duration("REQUESTS_SWEEP_INTERVAL", absl::Seconds(5));
  if (!ctx.env.status().ok()) return absl::OkStatus();
  crm::rpc::Server& server = ctx.server;
  auto* queue = server.Own(std::make_unique<Queue>(ctx.outbox, options));
  const crm::Clock* clock = &ctx.clock;
  CRM_RETURN_IF_ERROR(ctx.timer_kinds.Register(
      kOfferExpiryKind, [queue, clock](pqxx::transaction_base& tx, const crm::timers::Timer& t) {
        return queue->OnOfferExpiry(tx, t, clock->Now());
      }));
  CRM_RETURN_IF_ERROR(ctx.timer_kinds.Register(
      kDueKind, [queue, clock](pqxx::transaction_base& tx, const crm::timers::Timer& t) {
        return queue->OnDue(tx, t, clock->Now());
      }));
  auto* api = server.Own(std::make_unique<CallRequests>(ctx.pool, ctx.clock, *queue, ctx.zone));
  server.AddService(server.Own(std::make_unique<CallRequestServiceImpl>(*api)));
  server.Own(std::make_unique<crm::Periodic>(sweep, [api] {
    absl::StatusOr<int> made = api->MatchNow();
    if (!made.ok()) crm::log::Warn("call requests: the sweep failed", {{"error", std::string(made.status().message())}});
  }));
  return absl::OkStatus();
}

}  // namespace crm::telephony::requests
