// File: libs/auth/secrets.h
// -----------------------------------------------------------------------------
// Random bearer secrets and how they are kept at rest. Refresh tokens and API keys are 256-bit random
// values shown to their owner once; the database stores only their SHA-256, so a leaked table grants
// nothing. (A plain hash is enough here, unlike passwords: the values have full entropy, so there is
// nothing to guess.)
//
// Refresh tokens: token = RandomToken(); store Sha256Hex(token); on use, look the hash up, check it is
// the newest of its session, and rotate (issue a new one, mark the old one used).
// API keys: "crm_<prefix>_<secret>". The 12-hex-digit prefix is stored in clear and indexed (it names
// the key in lists and audit logs); the secret is stored as Sha256Hex(secret).
//
// Example:
//   crm::auth::NewApiKey key = crm::auth::MakeApiKey();
//   store.Insert(key.id_prefix, key.hash);  reply.set_api_key(key.display);   // shown once
//   ...
//   CRM_ASSIGN_OR_RETURN(auto parts, crm::auth::ParseApiKey(header_value));
//   CRM_ASSIGN_OR_RETURN(auto row, store.FindByPrefix(parts.first));
//   if (!crm::auth::VerifyApiKeySecret(parts.second, row.hash)) return Unauthenticated(...);
#ifndef CRM_LIBS_AUTH_SECRETS_H_
#define CRM_LIBS_AUTH_SECRETS_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

namespace crm::auth {

// Returns `bytes` bytes from OpenSSL's CSPRNG as unpadded base64url (43 characters for 32 bytes).
// Aborts the process if the CSPRNG fails: handing out a guessable secret is worse than stopping.
std::string RandomToken(size_t bytes = 32);

// Returns the SHA-256 of `data` as 64 lowercase hex digits.
std::string Sha256Hex(std::string_view data);

// Returns whether `a` and `b` are equal. Time depends only on the lengths, never on where they differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// A freshly minted API key. `display` is given to the integrator once; store id_prefix and hash.
struct NewApiKey {
  std::string id_prefix;  // 12 lowercase hex digits (48 random bits), stored in clear
  std::string secret;     // 64 lowercase hex digits (256 random bits), never stored
  std::string display;    // "crm_<prefix>_<secret>", shown once
  std::string hash;       // Sha256Hex(secret), stored
};

// Returns a new random API key. Aborts like RandomToken if the CSPRNG fails.
NewApiKey MakeApiKey();

// Returns {prefix, secret} of a display-form key "crm_<12 hex>_<64 hex>" (lowercase). InvalidArgument
// for anything else; the message never contains the input.
absl::StatusOr<std::pair<std::string, std::string>> ParseApiKey(std::string_view display);

// Returns whether `secret` hashes to `stored_hash` (Sha256Hex form), comparing in constant time.
bool VerifyApiKeySecret(std::string_view secret, std::string_view stored_hash);

}  // namespace crm::auth

#endif  // CRM_LIBS_AUTH_SECRETS_H_
