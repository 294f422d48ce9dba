// File: services/dialogs/outreach/token.cc
#include "services/dialogs/outreach/token.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cctype>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "libs/base/strings.h"
#include "libs/base/uuid.h"

namespace crm::dialogs::outreach {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
constexpr size_t kTagBytes = 12;
constexpr size_t kClaimBytes = 20;

// The 16 bytes of a UUID's text; false when it is not one.
bool UuidBytes(std::string_view id, unsigned char out[16]) {
  if (!IsUuid(id)) return false;
  std::string hex;
  for (char c : id) {
    if (c != '-') hex.push_back(c);
  }
  const std::string raw = absl::HexStringToBytes(hex);
  if (raw.size() != 16) return false;
  std::memcpy(out, raw.data(), 16);
  return true;
}

std::string UuidText(const unsigned char b[16]) {
  const std::string hex = absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(b), 16));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

}  // namespace

QrSigner::QrSigner(std::string_view key_material) {
  std::string in = "dialogs.qr";
  in.append(key_material);
  SHA256(reinterpret_cast<const unsigned char*>(in.data()), in.size(), key_);
}

std::string QrSigner::Sign(std::string_view bot_id, std::string_view operator_id, uint32_t project_ref) const {
  unsigned char msg[13 + 16 + kClaimBytes];
  std::memcpy(msg, "dialogs.qr.v1", 13);
  unsigned char* claims = msg + 13 + 16;
  if (!UuidBytes(bot_id, msg + 13) || !UuidBytes(operator_id, claims)) return "";
  claims[16] = static_cast<unsigned char>(project_ref >> 24);
  claims[17] = static_cast<unsigned char>(project_ref >> 16);
  claims[18] = static_cast<unsigned char>(project_ref >> 8);
  claims[19] = static_cast<unsigned char>(project_ref);
  unsigned char tag[EVP_MAX_MD_SIZE];
  unsigned int tag_len = 0;
  HMAC(EVP_sha256(), key_, sizeof(key_), msg, sizeof(msg), tag, &tag_len);
  std::string raw(reinterpret_cast<const char*>(claims), kClaimBytes);
  raw.append(reinterpret_cast<const char*>(tag), kTagBytes);
  return absl::WebSafeBase64Escape(raw);  // 32 bytes → 43 characters, no padding
}

std::optional<PayloadClaims> QrSigner::Verify(std::string_view bot_id, std::string_view payload) const {
  if (payload.size() != 43) return std::nullopt;
  std::string raw;
  if (!absl::WebSafeBase64Unescape(AsAbsl(payload), &raw) || raw.size() != kClaimBytes + kTagBytes) {
    return std::nullopt;
  }
  unsigned char msg[13 + 16 + kClaimBytes];
  std::memcpy(msg, "dialogs.qr.v1", 13);
  if (!UuidBytes(bot_id, msg + 13)) return std::nullopt;
  std::memcpy(msg + 13 + 16, raw.data(), kClaimBytes);
  unsigned char tag[EVP_MAX_MD_SIZE];
  unsigned int tag_len = 0;
  HMAC(EVP_sha256(), key_, sizeof(key_), msg, sizeof(msg), tag, &tag_len);
  if (CRYPTO_memcmp(tag, raw.data() + kClaimBytes, kTagBytes) != 0) return std::nullopt;
  const auto* c = reinterpret_cast<const unsigned char*>(raw.data());
  PayloadClaims out;
  out.operator_id = UuidText(c);
  out.project_ref = (uint32_t{c[16]} << 24) | (uint32_t{c[17]} << 16) | (uint32_t{c[18]} << 8) | uint32_t{c[19]};
  // The canonical encoding only: another text decoding to the same bytes is not this payload.
  if (absl::WebSafeBase64Escape(raw) != payload) return std::nullopt;
  return out;
}

std::string NewCode() {
  unsigned char r[kCodeLength];
  RAND_bytes(r, sizeof(r));
  std::string out;
  for (unsigned char b : r) out.push_back(kAlphabet[b % 32]);
  return out;
}

std::optional<std::string> AsCode(std::string_view text) {
  std::string t = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(AsAbsl(text)));
  if (t.size() != kCodeLength) return std::nullopt;
  for (char c : t) {
    if (std::strchr(kAlphabet, c) == nullptr || c == '\0') return std::nullopt;
  }
  return t;
}

}  // namespace crm::dialogs::outreach
