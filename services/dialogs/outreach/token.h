// File: services/dialogs/outreach/token.h
// -----------------------------------------------------------------------------
// Personal QR codes' deep-link payloads (T7), pure but for the random code: a compact signed token of
// (operator, project) for one bot, and the short typed fallback code.
//
//   payload = base64url(operator uuid 16 bytes || project number 4 bytes big-endian || tag 12 bytes)
//           = 43 characters of [A-Za-z0-9_-] (Telegram's /start parameter: ≤ 64 of that alphabet),
//   tag     = HMAC-SHA256(key, "dialogs.qr.v1" || bot uuid 16 bytes || the first 20 bytes) cut to 12 bytes,
// compared in constant time. `key` is the service's key material (QrSigner: derived, never stored). A
// payload of another bot, a tampered byte or another length is refused (nullopt).
//   code    = 6 characters of "ABCDEFGHJKLMNPQRSTUVWXYZ23456789" (no 0/O, 1/I), random, stored per bot;
// a client may type it (any case, spaces around) instead of scanning.
#ifndef CRM_SERVICES_DIALOGS_OUTREACH_TOKEN_H_
#define CRM_SERVICES_DIALOGS_OUTREACH_TOKEN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace crm::dialogs::outreach {

inline constexpr size_t kCodeLength = 6;

struct PayloadClaims {
  std::string operator_id;  // a UUID
  uint32_t project_ref = 0;
};

class QrSigner {
 public:
  // A signer keyed by SHA-256("dialogs.qr" || key_material).
  explicit QrSigner(std::string_view key_material);

  // The payload of (bot, operator, project) — bot and operator are UUIDs (else "").
  std::string Sign(std::string_view bot_id, std::string_view operator_id, uint32_t project_ref) const;
  // The claims of a payload this signer made for `bot_id`; nullopt otherwise.
  std::optional<PayloadClaims> Verify(std::string_view bot_id, std::string_view payload) const;

 private:
  unsigned char key_[32];
};

// A fresh random code.
std::string NewCode();
// `text` as a code (upper-cased, trimmed) when it has a code's shape; nullopt otherwise.
std::optional<std::string> AsCode(std::string_view text);

}  // namespace crm::dialogs::outreach

#endif  // CRM_SERVICES_DIALOGS_OUTREACH_TOKEN_H_
