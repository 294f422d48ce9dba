// File: services/gateway/webhooks.h
// -----------------------------------------------------------------------------
// Webhook routes (G3): methods an outside system calls, not a user. The one place that says which:
//   * each is PUBLIC — no caller, no bearer token or API key (the backend sees the gateway's principal);
//     the outside system authenticates with a shared secret the backend checks;
//   * the secret's request header is forwarded as gRPC metadata (its name lower-cased) — that header
//     only, for that method only; a value that is not printable ASCII or longer than 256 bytes is
//     dropped (the backend then refuses the call as without a secret);
//   * its body is usually a raw google.api.HttpBody (transcode/http_body.h), bounded (413 over it).
// A backend's PERMISSION_DENIED (a wrong or missing secret) is 403, as for every route.
//
//   crm.dialogs.v1.TelegramIntake.ReceiveUpdate  POST /v1/telegram/hooks/{hook}
//       X-Telegram-Bot-Api-Secret-Token → x-telegram-bot-api-secret-token   (dialogs, T1: Telegram's
//       setWebhook secret_token, compared by dialogs in constant time)
#ifndef CRM_SERVICES_GATEWAY_WEBHOOKS_H_
#define CRM_SERVICES_GATEWAY_WEBHOOKS_H_

#include <string>
#include <vector>

namespace crm::gateway {

struct Webhook {
  std::string method;  // full method name, "crm.dialogs.v1.TelegramIntake.ReceiveUpdate"
  std::string header;  // the HTTP request header forwarded, "X-Telegram-Bot-Api-Secret-Token"
};

// The suite's webhooks (the table above).
inline std::vector<Webhook> DefaultWebhooks() {
  return {{"crm.dialogs.v1.TelegramIntake.ReceiveUpdate", "X-Telegram-Bot-Api-Secret-Token"}};
}

// The longest header value forwarded (Telegram's secret_token is 1–256 characters).
inline constexpr size_t kMaxWebhookHeaderBytes = 256;

}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_WEBHOOKS_H_
