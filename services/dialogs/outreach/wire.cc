// File: services/dialogs/outreach/wire.cc
#include "services/dialogs/outreach/wire.h"

#include <fstream>
#include <memory>
#include <pqxx/pqxx>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/base/periodic.h"
#include "libs/base/status.h"
#include "libs/config/config.h"
#include "libs/events/consumer.h"
#include "libs/log/log.h"
#include "libs/rpc/server.h"
#include "proto/crm/robots/v1/event_types.h"
#include "services/dialogs/inbox/store.h"
#include "services/dialogs/outreach/robots.h"
#include "services/dialogs/outreach/service.h"
#include "services/dialogs/outreach/start_hook.h"
#include "services/dialogs/telegram/outgoing.h"
#include "services/dialogs/telegram/wire.h"

namespace crm::dialogs::outreach {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

absl::StatusOr<OutreachPart*> WireOutreach(Context& ctx, telegram::TelegramPart& tg) {
  crm::config::Env& env = ctx.env;
  const absl::Duration interval = env.Duration("MAILING_INTERVAL", absl::Seconds(1));
  MailingOptions options;
  options.window = static_cast<int>(env.Int("MAILING_WINDOW", options.window, 1, 100000));
  const bool robots = env.Bool("ROBOTS_NOTIFICATIONS", true);
  const std::string brokers = env.String("KAFKA_BROKERS", "127.0.0.1:9092");
  // The group is the service's (CONSUMER_GROUP, as the inbox's) with ".outreach": two stacks on one broker
  // (e2e tests side by side, a staging beside production) never take each other's partitions.
  const std::string consumer_group = absl::StrCat(env.String("CONSUMER_GROUP", "dialogs"), ".outreach");
  const std::string qr_file = env.String("QR_KEY_FILE", "");
  const std::string secrets_file = env.String("SECRETS_KEY_FILE", "");
  const std::string service_file = env.String("SERVICE_KEY_FILE", "");
  if (!env.status().ok()) return nullptr;
  const std::string& file = !qr_file.empty() ? qr_file : !secrets_file.empty() ? secrets_file : service_file;
  std::string key = file.empty() ? std::string() : ReadFile(file);
  if (!qr_file.empty() && key.empty()) {
    env.Reject("QR_KEY_FILE", "unreadable or empty");
    return nullptr;
  }
  if (key.empty()) {
    crm::log::Warn("no QR_KEY_FILE, SECRETS_KEY_FILE nor SERVICE_KEY_FILE: QR payloads are signed with a "
                   "development key");
    key = "crm-dialogs-development-qr-key";
  }

  crm::rpc::Server& server = ctx.server;
  auto* templates = server.Own(std::make_unique<Templates>(ctx.pool, ctx.clock, ctx.outbox, *tg.outgoing));
  auto* qr = server.Own(std::make_unique<QrCodes>(ctx.pool, ctx.clock, key));
  auto* mailings = server.Own(std::make_unique<Mailings>(ctx.pool, ctx.clock, ctx.outbox, *tg.outgoing, options));
  auto* registers = server.Own(std::make_unique<Registers>(ctx.pool));
  auto* robot_messages = server.Own(std::make_unique<RobotMessages>(ctx.clock, *tg.outgoing));
  server.AddService(server.Own(std::make_unique<TemplateServiceImpl>(*templates)));
  server.AddService(server.Own(std::make_unique<QrCodeServiceImpl>(*qr)));
  server.AddService(server.Own(std::make_unique<MailingServiceImpl>(*mailings)));
  server.AddService(server.Own(std::make_unique<RegisterServiceImpl>(*registers)));

  // The processor's one call into the outreach: a /start payload or a typed code (start_hook.h).
  auto* hook = server.Own(std::make_unique<ClientInputHook>(
      [qr](pqxx::transaction_base& tx, const v1::Dialog& d, const v1::Input& in, absl::Time now) {
        return qr->OnClientInput(tx, d, in, now);
      }));
  SetClientInputHook(hook);
  // telegram has one state hook: the inbox's message rows, then mailings' recipients and robots' deliveries.
  tg.outgoing->SetHook([mailings](pqxx::transaction_base& tx, const telegram::OutgoingChange& c) -> absl::Status {
    CRM_RETURN_IF_ERROR(inbox::ApplyOutgoingChange(tx, c));
    CRM_RETURN_IF_ERROR(mailings->ApplyOutgoingChange(tx, c));
    return RobotMessages::ApplyOutgoingChange(tx, c);
  });
  server.Own(std::make_unique<crm::Periodic>(interval, [mailings] {
    absl::StatusOr<int> n = mailings->DrainOnce();
    if (!n.ok()) crm::log::Warn(absl::StrCat("outreach: the mailing pass failed: ", n.status().ToString()));
  }));
  if (robots) {
    CRM_ASSIGN_OR_RETURN(
        std::unique_ptr<crm::events::Consumer> consumer,
        crm::events::Consumer::Create(
            {.brokers = brokers, .group_id = consumer_group, .topics = {crm::robots::v1::kNotificationTopic}},
            ctx.pool, [robot_messages](pqxx::transaction_base& tx, const crm::events::ConsumedEvent& e) {
              return robot_messages->Handle(tx, e.envelope);
            }));
    server.Own(std::make_unique<crm::events::ConsumerThread>(std::move(consumer)));
  }
  return server.Own(std::make_unique<OutreachPart>(OutreachPart{.templates = templates, .qr_codes = qr,
                                                                .mailings = mailings}));
}

}  // namespace crm::dialogs::outreach
