#include "services/dialogs/telegram/wire.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "libs/base/clock.h"
#include "libs/config/config.h"
#include "libs/events/outbox.h"
#include "libs/log/log.h"
#include "libs/pg/pool.h"
#include "libs/rpc/server.h"
#include "services/dialogs/telegram/bot_api.h"
#include "services/dialogs/telegram/bots.h"
#include "services/dialogs/telegram/intake.h"
#include "services/dialogs/telegram/outgoing.h"
#include "services/dialogs/telegram/poller.h"
#include "services/dialogs/telegram/secrets.h"
#include "services/dialogs/telegram/sender.h"
#include "services/dialogs/telegram/service.h"
#include "services/dialogs/telegram/workers.h"

namespace crm::dialogs::telegram {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The key bots' secrets are sealed with: SECRETS_KEY_FILE's, else SERVICE_KEY_FILE's, else a development key.
std::string SecretsKey(crm::config::Env& env, const std::string& secrets_file, const std::string& service_key_file) {
  std::string key = !secrets_file.empty() ? ReadFile(secrets_file)
                    : !service_key_file.empty() ? ReadFile(service_key_file) : std::string();
  if (!secrets_file.empty() && key.empty()) env.Reject("SECRETS_KEY_FILE", "unreadable or empty");
  if (env.status().ok() && key.empty()) {
    crm::log::Warn("no CRM_DIALOGS_SECRETS_KEY_FILE nor SERVICE_KEY_FILE: bots' tokens are sealed with a "
                   "development key");
    key = "crm-dialogs-development-secrets-key";
  }
  return key;
}

// The demo bot (T1, T4): the fake Bot API's token, the company's hours Mon–Fri 9:00–20:00, Sat 10:00–17:00
// and the out-of-hours text the scenario runner sends (data, Russian).
constexpr char kDemoToken[] = "7000000:crm-demo-bot";

crm::dialogs::v1::Bot DemoBot(std::string_view id) {
  crm::dialogs::v1::Bot bot;
  bot.set_id(std::string(id));
  bot.set_name("Демо-бот отдела продаж");
  bot.set_intake_mode(crm::dialogs::v1::INTAKE_MODE_WEBHOOK);
  auto add = [&](int weekday, int start, int end) {
    auto* h = bot.add_working_hours();
    h->set_weekday(weekday), h->set_start_minute(start), h->set_end_minute(end);
  };
  for (int d = 1; d <= 5; ++d) add(d, 9 * 60, 20 * 60);
  add(6, 10 * 60, 17 * 60);
  bot.set_out_of_hours_text(
      "Сейчас нерабочее время. Мы ответим вам в рабочие часы: пн–пт 9:00–20:00, сб 10:00–17:00.");
  return bot;
}

}  // namespace

absl::Status InstallDemoBot(crm::config::Env& env, crm::pg::Pool& pool, std::string_view bot_id) {
  const std::string api_url = env.String("TELEGRAM_API_URL", "https://api.telegram.org");
  const std::string key =
      SecretsKey(env, env.String("SECRETS_KEY_FILE", ""), env.String("SERVICE_KEY_FILE", ""));
  const std::string public_url = env.String("PUBLIC_URL", "http://127.0.0.1:8080");
  if (!env.status().ok()) return env.status();
  BotApi api(BotApiOptions{.base_url = api_url});
  SecretBox box(key);
  BotStore store(pool, api, box, crm::SystemClock(), BotStoreOptions{.public_url = public_url});
  return store.InstallDemo(DemoBot(bot_id), kDemoToken);
}

absl::StatusOr<TelegramPart*> WireTelegram(Context& ctx) {
  crm::config::Env& env = ctx.env;
  const std::string api_url = env.String("TELEGRAM_API_URL", "https://api.telegram.org");
  const std::string secrets_file = env.String("SECRETS_KEY_FILE", "");
  const std::string service_key_file = env.String("SERVICE_KEY_FILE", "");
  const absl::Duration poll_timeout = env.Duration("TELEGRAM_POLL_TIMEOUT", absl::Seconds(25));
  const bool workers = env.Bool("TELEGRAM_WORKERS", true);
  const int max_connections = static_cast<int>(env.Int("TELEGRAM_MAX_CONNECTIONS", 40, 1, 100));
  SenderLimits limits;
  limits.per_bot = static_cast<int>(env.Int("SEND_PER_BOT", limits.per_bot, 1, 1000));
  limits.bot_window = env.Duration("SEND_BOT_WINDOW", limits.bot_window);
  limits.per_chat = static_cast<int>(env.Int("SEND_PER_CHAT", limits.per_chat, 1, 1000));
  limits.chat_window = env.Duration("SEND_CHAT_WINDOW", limits.chat_window);
  limits.per_group = static_cast<int>(env.Int("SEND_PER_GROUP", limits.per_group, 1, 1000));
  limits.group_window = env.Duration("SEND_GROUP_WINDOW", limits.group_window);
  limits.margin = env.Duration("SEND_MARGIN", limits.margin);
  GroupCommitOptions group_commit;  // group_commit.h: concurrent webhook deliveries share a transaction
  group_commit.window = env.Duration("INTAKE_BATCH_WINDOW", group_commit.window);
  group_commit.max_rows = static_cast<int>(env.Int("INTAKE_BATCH_ROWS", group_commit.max_rows, 1, 1000));
  std::string key = SecretsKey(env, secrets_file, service_key_file);
  if (!env.status().ok()) return nullptr;
  crm::rpc::Server& server = ctx.server;
  auto* api = server.Own(std::make_unique<BotApi>(BotApiOptions{.base_url = api_url}));
  auto* box = server.Own(std::make_unique<SecretBox>(key));
  auto* bots = server.Own(std::make_unique<BotStore>(
      ctx.pool, *api, *box, ctx.clock,
      BotStoreOptions{.public_url = ctx.public_url, .max_connections = max_connections}));
  auto* outgoing = server.Own(std::make_unique<Outgoing>(ctx.outbox, ctx.clock));
  auto* sender = server.Own(std::make_unique<Sender>(ctx.pool, *api, *box, *outgoing, limits));
  auto* intake = server.Own(std::make_unique<WebhookIntake>(ctx.pool, ctx.outbox, *box, ctx.clock, group_commit));
  auto* poller = server.Own(std::make_unique<Poller>(ctx.pool, *api, ctx.outbox, ctx.clock));
  server.AddService(server.Own(std::make_unique<BotServiceImpl>(*bots)));
  server.AddService(server.Own(std::make_unique<TelegramIntakeImpl>(*intake)));
  if (workers) {
    server.Own(std::make_unique<Workers>(*bots, *poller, *sender,
                                         WorkerOptions{.dsn = ctx.pool.options().dsn, .poll_timeout = poll_timeout}));
  }
  return server.Own(std::make_unique<TelegramPart>(
      TelegramPart{.api = api, .secrets = box, .bots = bots, .outgoing = outgoing, .sender = sender, .intake = intake}));
}

}  // namespace crm::dialogs::telegram
