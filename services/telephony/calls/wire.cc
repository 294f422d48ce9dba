// File: services/telephony/calls/wire.cc
#include "services/telephony/calls/wire.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "libs/base/periodic.h"
#include "libs/base/status.h"
#include "libs/config/config.h"
#include "libs/events/consumer.h"
#include "libs/log/log.h"
#include "libs/rpc/server.h"
#include "services/telephony/calls/deals_sync.h"
#include "services/telephony/calls/intake.h"
#include "proto/crm/identity/v1/event_types.h"
#include "services/telephony/calls/service.h"
#include "services/telephony/calls/users.h"

namespace crm::telephony::calls {

absl::StatusOr<CallsPart*> WireCalls(Context& ctx) {
  crm::config::Env& env = ctx.env;
  // The PBX click-to-call (Originate) goes through: the provider of its adapter (ami/ registers "asterisk").
  const std::string provider = env.String("PROVIDER", "asterisk");
  // Caller identification and interactions through deals (deals_sync.h).
  const bool deals_sync = env.Bool("DEALS_SYNC", true);
  const absl::Duration sync_every = env.Duration("DEALS_SYNC_INTERVAL", absl::Seconds(1));
  const absl::Duration deals_timeout = env.Duration("DEALS_TIMEOUT", absl::Seconds(5));
  // identity's users (extensions planned by login, users.h): KAFKA_BROKERS and CONSUMER_GROUP as the
  // services share them.
  const std::string brokers = env.String("KAFKA_BROKERS", "localhost:9092");
  const std::string consumer_group = env.String("CONSUMER_GROUP", "telephony");
  if (!env.status().ok()) return nullptr;

  crm::rpc::Server& server = ctx.server;
  auto* pbx = server.Own(std::make_unique<PbxRegistry>());
  auto* intake = server.Own(std::make_unique<Intake>(ctx.pool, ctx.clock, ctx.outbox));
  auto* calls = server.Own(std::make_unique<Calls>(ctx.pool, ctx.clock, *pbx, provider));
  server.AddService(server.Own(std::make_unique<CallServiceImpl>(*calls)));
  if (deals_sync) {
    auto* sync = server.Own(
        std::make_unique<DealsSync>(ctx.pool, ctx.clock, ctx.outbox, ctx.deals, ctx.service_key, deals_timeout));
    server.Own(std::make_unique<crm::Periodic>(sync_every, [sync] {
      absl::StatusOr<int> n = sync->DrainOnce();
      if (!n.ok()) crm::log::Warn(absl::StrCat("calls: the deals queue failed: ", n.status().ToString()));
    }));
  }
  CRM_ASSIGN_OR_RETURN(std::unique_ptr<crm::events::Consumer> users,
                       crm::events::Consumer::Create({.brokers = brokers,
                                                      .group_id = consumer_group + ".calls",
                                                      .topics = {crm::identity::v1::kUserTopic}},
                                                     ctx.pool, &ApplyUserEvent));
  server.Own(std::make_unique<crm::events::ConsumerThread>(std::move(users)));
  return server.Own(std::make_unique<CallsPart>(CallsPart{.intake = intake->Api(), .pbx = pbx}));
}

}  // namespace crm::telephony::calls
