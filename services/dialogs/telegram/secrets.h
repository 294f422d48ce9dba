// File: services/dialogs/telegram/secrets.h
// -----------------------------------------------------------------------------
// Bots' secrets at rest (T1): a bot's token and its webhook secret_token are stored sealed —
// AES-256-GCM under a key derived (SHA-256) from the service's secrets key material
// (CRM_DIALOGS_SECRETS_KEY_FILE, else the service key file), with a fresh random nonce per seal and the
// `context` (e.g. "tg_bots.token/<bot id>") as associated data, so a sealed value moved to another row or
// column does not open. The table alone gives nothing away; the key never leaves the process.
//
// Sealed form: "v1." + base64url(nonce 12 bytes || ciphertext || tag 16 bytes).
#ifndef CRM_SERVICES_DIALOGS_TELEGRAM_SECRETS_H_
#define CRM_SERVICES_DIALOGS_TELEGRAM_SECRETS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace crm::dialogs::telegram {

class SecretBox {
 public:
  // A box keyed by SHA-256(key_material); key_material must not be empty.
  explicit SecretBox(std::string_view key_material);

  std::string Seal(std::string_view context, std::string_view plaintext) const;
  // INTERNAL when `sealed` is not a value sealed by this key for this context.
  absl::StatusOr<std::string> Open(std::string_view context, std::string_view sealed) const;

 private:
  unsigned char key_[32];
};

// `n` random bytes (OpenSSL's RAND_bytes), base64url without padding: hook paths and secret tokens
// (base64url is within the secret_token alphabet A-Z a-z 0-9 _ -).
std::string RandomToken(int n);

// Constant-time equality: CRYPTO_memcmp of the two strings' SHA-256 digests (no length leak either).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace crm::dialogs::telegram

#endif  // CRM_SERVICES_DIALOGS_TELEGRAM_SECRETS_H_
