// File: services/dialogs/telegram/bot_api.h
// -----------------------------------------------------------------------------
// The Telegram Bot API client (T1): POST <base_url>/bot<token>/<method> with a JSON body over libcurl,
// answering Telegram's envelope as it is: {"ok":true,"result":…} or {"ok":false,"error_code":…,
// "description":…,"parameters":{"retry_after":N,"migrate_to_chat_id":M}}. base_url is
// https://api.telegram.org in production and the fake (tests/fakes/telegram_bot_api.py) in development:
// pointing at Telegram is configuration (CRM_DIALOGS_TELEGRAM_API_URL).
//
// Contract:
//   * The token is a URL path segment only; it is never logged and never part of an error message.
//   * Call() returns OK with the reply for every answer Telegram gave (ok or not): the caller decides
//     what a 429 or a 400 means. A transport failure (no connection, timeout, a body that is not the
//     envelope) is UNAVAILABLE: nothing is known about whether the call took effect.
//   * Thread-safe: each call uses its own curl handle.
//
// Example:
//   BotApi api({.base_url = "https://api.telegram.org"});
//   CRM_ASSIGN_OR_RETURN(ApiReply me, api.Call(token, "getMe", nlohmann::json::object()));
//   if (!me.ok) return absl::InvalidArgumentError("token: " + me.description);
//   std::string username = me.result.value("username", "");
#ifndef CRM_SERVICES_DIALOGS_TELEGRAM_BOT_API_H_
#define CRM_SERVICES_DIALOGS_TELEGRAM_BOT_API_H_

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crm::dialogs::telegram {

struct BotApiOptions {
  std::string base_url = "https://api.telegram.org";  // no trailing slash
  absl::Duration timeout = absl::Seconds(10);          // a call's whole time (getUpdates adds its timeout)
};

// Telegram's answer to one call.
struct ApiReply {
  bool ok = false;
  nlohmann::json result;           // when ok
  int error_code = 0;              // when !ok: 400, 403, 429, ...
  std::string description;         // when !ok
  int64_t retry_after = 0;         // parameters.retry_after (seconds), 0 when absent
  int64_t migrate_to_chat_id = 0;  // parameters.migrate_to_chat_id, 0 when absent
};

class BotApi {
 public:
  explicit BotApi(BotApiOptions options);

  // Calls `method` with `params` (a JSON object). `extra_timeout` is added to the options' timeout
  // (getUpdates' long poll). See the file comment for the errors.
  absl::StatusOr<ApiReply> Call(std::string_view token, std::string_view method, const nlohmann::json& params,
                                absl::Duration extra_timeout = absl::ZeroDuration()) const;

  const BotApiOptions& options() const { return options_; }

 private:
  BotApiOptions options_;
};

// Parses Telegram's envelope (exposed for tests); INVALID_ARGUMENT when `body` is not one.
absl::StatusOr<ApiReply> ParseApiReply(std::string_view body);

}  // namespace crm::dialogs::telegram

#endif  // CRM_SERVICES_DIALOGS_TELEGRAM_BOT_API_H_
