// File: services/dialogs/inbox/wire.cc
#include "services/dialogs/inbox/wire.h"

#include <memory>
#include <pqxx/pqxx>
#include <utility>

#include "libs/base/periodic.h"
#include "libs/events/consumer.h"
#include "proto/crm/identity/v1/event_types.h"
#include "libs/config/config.h"
#include "libs/log/log.h"
#include "libs/pg/prepared.h"
#include "libs/rpc/server.h"
#include "services/dialogs/inbox/deals_sync.h"
#include "services/dialogs/inbox/processor.h"
#include "services/dialogs/inbox/service.h"
#include "services/dialogs/inbox/sql.h"
#include "services/dialogs/inbox/users.h"
#include "services/dialogs/scenarios/runner.h"
#include "services/dialogs/telegram/intake.h"
#include "services/dialogs/telegram/outgoing.h"
#include "services/dialogs/telegram/wire.h"

namespace crm::dialogs::inbox {

absl::StatusOr<InboxPart*> WireInbox(Context& ctx, telegram::TelegramPart& tg, scenarios::ScenarioRunner& runner) {
  crm::config::Env& env = ctx.env;
  ProcessorOptions options;
  options.workers = static_cast<int>(env.Int("INBOX_WORKERS", options.workers, 0, 64));
  options.poll = env.Duration("INBOX_POLL_INTERVAL", options.poll);
  options.intake_first = env.Duration("INBOX_INTAKE_FIRST", options.intake_first);
  const bool deals_sync = env.Bool("DEALS_SYNC", true);
  const absl::Duration sync_every = env.Duration("DEALS_SYNC_INTERVAL", absl::Seconds(1));
  const absl::Duration deals_timeout = env.Duration("DEALS_TIMEOUT", absl::Seconds(5));
  // identity's users (names beside ids): KAFKA_BROKERS and CONSUMER_GROUP as the services share them.
  const std::string brokers = env.String("KAFKA_BROKERS", "localhost:9092");
  const std::string consumer_group = env.String("CONSUMER_GROUP", "dialogs");
  if (!env.status().ok()) return nullptr;

  crm::rpc::Server& server = ctx.server;
  auto* inbox = server.Own(std::make_unique<Inbox>(ctx.pool, ctx.clock, ctx.outbox, *tg.outgoing));
  server.AddService(server.Own(std::make_unique<DialogServiceImpl>(*inbox)));
  // An operator's (or the bot's) message shows its outgoing state: telegram calls this in the
  // transaction of each change (telegram/outgoing.h).
  tg.outgoing->SetHook(&ApplyOutgoingChange);
  auto* processor = server.Own(std::make_unique<Processor>(ctx.pool, ctx.clock, ctx.outbox, *tg.outgoing, runner,
                                                           options));
  runner.SetSink([processor](pqxx::transaction_base& tx, const scenarios::DialogRef& d,
                             const std::vector<v1::Action>& actions) {
    return processor->ApplyTimerActions(tx, d, actions);
  });
  if (tg.intake != nullptr) processor->SetLastDelivery([intake = tg.intake] { return intake->last_delivery(); });
  processor->Start();
  DealsSync* sync = nullptr;
  if (deals_sync) {
    sync = server.Own(std::make_unique<DealsSync>(ctx.pool, ctx.clock, ctx.deals, ctx.service_key, deals_timeout));
    server.Own(std::make_unique<crm::Periodic>(sync_every, [sync] {
      absl::StatusOr<int> n = sync->DrainOnce();
      if (!n.ok()) crm::log::Warn(absl::StrCat("inbox: the deals queue failed: ", n.status().ToString()));
    }));
  }
  CRM_ASSIGN_OR_RETURN(std::unique_ptr<crm::events::Consumer> users,
                       crm::events::Consumer::Create({.brokers = brokers,
                                                      .group_id = consumer_group,
                                                      .topics = {crm::identity::v1::kUserTopic}},
                                                     ctx.pool, &ApplyUserEvent));
  server.Own(std::make_unique<crm::events::ConsumerThread>(std::move(users)));
  return server.Own(std::make_unique<InboxPart>(InboxPart{.processor = processor, .deals_sync = sync, .inbox = inbox}));
}

}  // namespace crm::dialogs::inbox
