#include "libs/auth/secrets.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "libs/auth/encoding.h"
#include "libs/base/strings.h"

namespace crm::auth {
namespace {

constexpr std::string_view kApiKeyTag = "crm_";
constexpr size_t kPrefixBytes = 6;   // 12 hex digits
constexpr size_t kSecretBytes = 32;  // 64 hex digits

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), int(n)) != 1) {
    std::cerr << "crm::auth: RAND_bytes failed; refusing to continue\n";
    std::abort();
  }
  return out;
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string RandomToken(size_t bytes) {
  std::string raw = RandomBytes(bytes);
  std::string token = Base64UrlEncode(raw);
  OPENSSL_cleanse(raw.data(), raw.size());
  return token;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    std::cerr << "crm::auth: SHA-256 failed; refusing to continue\n";
    std::abort();
  }
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

NewApiKey MakeApiKey() {
  NewApiKey key;
  key.id_prefix = HexEncode(RandomBytes(kPrefixBytes));
  std::string raw = RandomBytes(kSecretBytes);
  key.secret = HexEncode(raw);
  OPENSSL_cleanse(raw.data(), raw.size());
  key.display = absl::StrCat(AsAbsl(kApiKeyTag), key.id_prefix, "_", key.secret);
  key.hash = Sha256Hex(key.secret);
  return key;
}

absl::StatusOr<std::pair<std::string, std::string>> ParseApiKey(std::string_view display) {
  constexpr size_t kPrefixLen = kPrefixBytes * 2, kSecretLen = kSecretBytes * 2;
  const absl::Status bad = absl::InvalidArgumentError("malformed API key");
  if (display.size() != kApiKeyTag.size() + kPrefixLen + 1 + kSecretLen) return bad;
  if (display.substr(0, kApiKeyTag.size()) != kApiKeyTag) return bad;
  std::string_view prefix = display.substr(kApiKeyTag.size(), kPrefixLen);
  if (display[kApiKeyTag.size() + kPrefixLen] != '_') return bad;
  std::string_view secret = display.substr(kApiKeyTag.size() + kPrefixLen + 1);
  if (!IsLowerHex(prefix) || !IsLowerHex(secret)) return bad;
  return std::make_pair(std::string(prefix), std::string(secret));
}

bool VerifyApiKeySecret(std::string_view secret, std::string_view stored_hash) {
  return ConstantTimeEquals(Sha256Hex(secret), stored_hash);
}

}  // namespace crm::auth
