// File: services/dialogs/telegram/bots.h
// -----------------------------------------------------------------------------
// Bots (T1): the store behind BotService and the registration of each bot's intake at Telegram.
//
// Contract:
//   * Every method needs dialogs.admin. The token is input only: checked with getMe (the username comes
//     from it), stored sealed (secrets.h), never in a reply, a log line or an idempotency record (the
//     request is fingerprinted with the token's SHA-256).
//   * A bot gets a random hook (32 bytes, base64url) and a random secret_token (32 bytes, base64url);
//     neither ever changes, so Telegram's configured URL stays valid.
//   * Create honours Idempotency-Key (RunIdempotent in the insert's transaction); every violation at once;
//     Update: version 0 = any, a stale one ABORTED; List: page rule (page_size < 0 refused, 0 = 50,
//     above 200 = 200) with a keyset page_token on (create_time, id).
//   * Register(bot) makes Telegram match the bot's intake_mode: WEBHOOK → setWebhook(PUBLIC_URL +
//     "/v1/telegram/hooks/" + hook, secret_token, allowed_updates, max_connections); POLLING →
//     deleteWebhook. It records what is registered (tg_bots.registered) or the error (intake_error), so
//     a failed registration is retried by the intake worker (workers.h) and shown to the admin.
#ifndef CRM_SERVICES_DIALOGS_TELEGRAM_BOTS_H_
#define CRM_SERVICES_DIALOGS_TELEGRAM_BOTS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crm/common/v1/common.pb.h"
#include "crm/dialogs/v1/bots.pb.h"
#include "services/dialogs/hours.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm {
class Clock;
namespace pg {
class Pool;
}  // namespace pg
}  // namespace crm

namespace crm::dialogs::telegram {

class BotApi;
class SecretBox;

inline constexpr char kAdminPermission[] = "dialogs.admin";
inline constexpr char kHookPathPrefix[] = "/v1/telegram/hooks/";

struct BotStoreOptions {
  std::string public_url;  // CRM_PUBLIC_URL, no trailing slash
  int max_connections = 40;
  // What Telegram sends the bots (setWebhook's allowed_updates).
  std::vector<std::string> allowed_updates = {"message", "edited_message", "callback_query", "my_chat_member"};
};

// A bot as the workers need it (its secrets opened).
struct BotRuntime {
  std::string id;
  std::string token;
  crm::dialogs::v1::IntakeMode mode = crm::dialogs::v1::INTAKE_MODE_WEBHOOK;
  int64_t poll_offset = 0;
};

class BotStore {
 public:
  BotStore(crm::pg::Pool& pool, const BotApi& api, const SecretBox& box, const crm::Clock& clock,
           BotStoreOptions options);

  absl::StatusOr<crm::dialogs::v1::Bot> Create(const crm::common::v1::Principal& caller,
                                               const crm::dialogs::v1::CreateBotRequest& request,
                                               std::string_view idempotency_key);
  absl::StatusOr<crm::dialogs::v1::Bot> Get(const crm::common::v1::Principal& caller, std::string_view id);
  absl::StatusOr<crm::dialogs::v1::ListBotsResponse> List(const crm::common::v1::Principal& caller,
                                                          const crm::dialogs::v1::ListBotsRequest& request);
  absl::StatusOr<crm::dialogs::v1::Bot> Update(const crm::common::v1::Principal& caller,
                                               const crm::dialogs::v1::UpdateBotRequest& request);

  // See the file comment. OK when Telegram agreed (or nothing was to do); the Bot API's refusal or
  // transport failure otherwise (also recorded on the bot).
  absl::Status Register(std::string_view bot_id);

  // The bot's working hours and out-of-hours text in the caller's transaction (the scenario runner's
  // BotHoursProvider, set at wiring); an unknown bot has none (always working).
  static absl::StatusOr<BotHours> Hours(pqxx::transaction_base& tx, std::string_view bot_id);

  // The demo bot (`crm-dialogs demo`): `bot` (id given) stored once with `token` and the fake Bot API's
  // username for it ("fake<digits>_bot"); a second call changes nothing. Registered by the workers.
  absl::Status InstallDemo(const crm::dialogs::v1::Bot& bot, std::string_view token);

  // Every bot with its token opened, for the workers.
  absl::StatusOr<std::vector<BotRuntime>> Runtimes();

  // The bot's webhook URL.
  std::string WebhookUrl(std::string_view hook) const;

 private:
  absl::StatusOr<std::string> Username(std::string_view token) const;

  crm::pg::Pool& pool_;
  const BotApi& api_;
  const SecretBox& box_;
  const crm::Clock& clock_;
  const BotStoreOptions options_;
};

}  // namespace crm::dialogs::telegram

#endif  // CRM_SERVICES_DIALOGS_TELEGRAM_BOTS_H_
