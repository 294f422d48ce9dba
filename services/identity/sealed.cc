// File: services/identity/sealed.cc
#include "services/identity/sealed.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "libs/auth/encoding.h"
#include "libs/auth/secrets.h"
#include "libs/base/status.h"
#include "libs/pg/idempotency.h"

namespace crm::identity {

namespace {

// HMAC-SHA256(key, label 0x00 message).
std::string Hmac(std::string_view key, std::string_view label, std::string_view message) {
  std::string data(label);
  data.push_back('\0');
  data.append(message);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

// `data` XOR the stream HMAC(key, "seal" context, block 0), HMAC(..., block 1), ...
std::string Xor(std::string_view key, std::string_view context, std::string_view data) {
  std::string out(data);
  for (size_t block = 0; block * 32 < out.size(); ++block) {
    const std::string pad =
        Hmac(key, std::string("crm.identity.seal/").append(context), std::to_string(block));
    for (size_t i = 0; i < 32 && block * 32 + i < out.size(); ++i) out[block * 32 + i] ^= pad[i];
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> SealedScopeKey(std::string_view client_key) {
  if (client_key.empty()) return std::string();
  if (client_key.size() > pg::kMaxIdempotencyKeyBytes) {
    return InvalidFieldError("idempotency-key",
                             absl::StrCat("longer than ", pg::kMaxIdempotencyKeyBytes, " bytes"));
  }
  return auth::Sha256Hex(client_key);
}

std::string Seal(std::string_view client_key, std::string_view context, std::string_view secret) {
  return auth::Base64UrlEncode(Xor(client_key, context, secret));
}

absl::StatusOr<std::string> Unseal(std::string_view client_key, std::string_view context,
                                   std::string_view sealed) {
  std::optional<std::string> raw = auth::Base64UrlDecode(sealed);
  if (!raw) return absl::InternalError("the idempotency record holds no sealed secret");
  return Xor(client_key, context, *raw);
}

std::string Blind(std::string_view client_key, std::string_view context, std::string_view secret) {
  return auth::Base64UrlEncode(Hmac(client_key, std::string("crm.identity.blind/").append(context), secret));
}

}  // namespace crm::identity
