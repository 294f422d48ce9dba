// File: services/dialogs/telegram/wire.h
// -----------------------------------------------------------------------------
// Wiring of the Telegram part (T1) into the dialogs service (services/dialogs/wiring.cc): its migrations
// (component "telegram") and WireTelegram(ctx), which reads its settings, adds BotService and
// TelegramIntake to the server and starts its workers. The returned part is what the inbox builds on:
// `outgoing` to enqueue replies (and register its state hook), the claim API is updates.h.
//
// Settings (CRM_DIALOGS_<NAME>): TELEGRAM_API_URL (https://api.telegram.org; `tools/crm up` points it at
// the fake), SECRETS_KEY_FILE (the key material bots' tokens are sealed with; else SERVICE_KEY_FILE's;
// else a development key, with a warning), TELEGRAM_POLL_TIMEOUT (25s), TELEGRAM_WORKERS (true),
// TELEGRAM_MAX_CONNECTIONS (40), SEND_PER_BOT (30) per SEND_BOT_WINDOW (1s), SEND_PER_CHAT (1) per
// SEND_CHAT_WINDOW (1s), SEND_PER_GROUP (20) per SEND_GROUP_WINDOW (1m), SEND_MARGIN (10ms) (sender.h),
// INTAKE_BATCH_WINDOW (1ms), INTAKE_BATCH_ROWS (64) (group_commit.h).
#ifndef CRM_SERVICES_DIALOGS_TELEGRAM_WIRE_H_
#define CRM_SERVICES_DIALOGS_TELEGRAM_WIRE_H_

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/pg/migrations.h"
#include "services/dialogs/context.h"

namespace crm {
// Generated from telegram/migrations (component "telegram").
const std::vector<crm::pg::Migration>& TelegramMigrations();
}  // namespace crm

namespace crm::dialogs::telegram {

class BotApi;
class BotStore;
class Outgoing;
class SecretBox;
class Sender;
class WebhookIntake;

struct TelegramPart {
  BotApi* api;
  SecretBox* secrets;
  BotStore* bots;
  Outgoing* outgoing;
  Sender* sender;
  WebhookIntake* intake;  // the webhook intake (its last delivery: the inbox's intake-first rule)
};

// `crm-dialogs demo`: the demo bot under `bot_id` (scenarios::kDemoBotId: its scenario is the seed's flow)
// with the fake Bot API's token, webhook intake, working hours and out-of-hours text; once. The same
// settings as WireTelegram (the sealing key, TELEGRAM_API_URL, PUBLIC_URL).
absl::Status InstallDemoBot(crm::config::Env& env, crm::pg::Pool& pool, std::string_view bot_id);

// See the file comment. Objects are owned by ctx.server.
absl::StatusOr<TelegramPart*> WireTelegram(Context& ctx);

}  // namespace crm::dialogs::telegram

#endif  // CRM_SERVICES_DIALOGS_TELEGRAM_WIRE_H_
