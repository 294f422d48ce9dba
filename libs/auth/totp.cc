#include "libs/auth/totp.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <memory>

#include "absl/strings/str_cat.h"
#include "libs/base/strings.h"

namespace crm::auth {
namespace {

constexpr std::string_view kBase32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

struct MacDeleter {
  void operator()(EVP_MAC* p) const { EVP_MAC_free(p); }
};
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* p) const { EVP_MAC_CTX_free(p); }
};

// HMAC-SHA1(key, msg); empty on OpenSSL failure.
std::string HmacSha1(std::string_view key, std::string_view msg) {
  std::unique_ptr<EVP_MAC, MacDeleter> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) return "";
  std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> ctx(EVP_MAC_CTX_new(mac.get()));
  if (!ctx) return "";
  char digest[] = "SHA1";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  // A zero-length key is legal HMAC; OpenSSL wants a non-null pointer.
  static const unsigned char kEmpty = 0;
  const unsigned char* k =
      key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  if (EVP_MAC_init(ctx.get(), k, key.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) != 1) {
    return "";
  }
  std::string out(EVP_MAX_MD_SIZE, '\0');
  size_t len = 0;
  if (EVP_MAC_final(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, out.size()) != 1) {
    return "";
  }
  out.resize(len);
  return out;
}

bool ParamsOk(const TotpParams& p) {
  return p.digits >= 6 && p.digits <= 8 && p.step >= absl::Seconds(1) && p.step <= absl::Minutes(10) &&
         absl::Trunc(p.step, absl::Seconds(1)) == p.step;
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

std::string Base32Encode(std::string_view bytes) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : bytes) {
    acc = (acc << 8) | static_cast<uint8_t>(c);
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kBase32Alphabet[(acc >> bits) & 31]);
    }
  }
  if (bits > 0) out.push_back(kBase32Alphabet[(acc << (5 - bits)) & 31]);
  while (out.size() % 8 != 0) out.push_back('=');
  return out;
}

std::optional<std::string> Base32Decode(std::string_view text) {
  std::string clean;
  for (char c : text) {
    if (c == ' ') continue;
    clean.push_back(c >= 'a' && c <= 'z' ? char(c - 'a' + 'A') : c);
  }
  // Strip padding; it may only appear at the end and only to complete an 8-character group.
  size_t end = clean.find('=');
  if (end != std::string::npos) {
    if (clean.find_first_not_of('=', end) != std::string::npos || clean.size() % 8 != 0) {
      return std::nullopt;
    }
    clean.resize(end);
  }
  // Valid unpadded tail lengths of the last group: 0, 2, 4, 5, 7 characters.
  size_t tail = clean.size() % 8;
  if (tail == 1 || tail == 3 || tail == 6) return std::nullopt;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : clean) {
    size_t v = kBase32Alphabet.find(c);
    if (v == std::string_view::npos) return std::nullopt;
    acc = (acc << 5) | uint32_t(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

absl::StatusOr<std::string> NewTotpSecret() {
  std::array<unsigned char, 20> raw;
  if (RAND_bytes(raw.data(), int(raw.size())) != 1) return absl::InternalError("RAND_bytes failed");
  std::string secret = Base32Encode(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
  OPENSSL_cleanse(raw.data(), raw.size());
  return secret;  // 20 bytes = 32 characters, no padding needed
}

std::string OtpAuthUri(std::string_view issuer, std::string_view account, std::string_view base32_secret,
                       const TotpParams& params) {
  std::string secret;
  for (char c : base32_secret) {
    if (c != ' ' && c != '=') secret.push_back(c >= 'a' && c <= 'z' ? char(c - 'a' + 'A') : c);
  }
  std::string iss = PercentEncode(issuer);
  return absl::StrCat("otpauth://totp/", iss, ":", PercentEncode(account), "?secret=", secret,
                      "&issuer=", iss, "&algorithm=SHA1&digits=", params.digits,
                      "&period=", absl::ToInt64Seconds(params.step));
}

std::string HotpCode(std::string_view key, uint64_t counter, int digits) {
  std::array<char, 8> msg;
  for (int i = 7; i >= 0; --i) {
    msg[size_t(i)] = static_cast<char>(counter & 0xFF);
    counter >>= 8;
  }
  std::string mac = HmacSha1(key, std::string_view(msg.data(), msg.size()));
  if (mac.size() != 20) return "";
  // RFC 4226 5.3 dynamic truncation.
  size_t offset = static_cast<uint8_t>(mac[19]) & 0x0F;
  uint32_t bin = (uint32_t(static_cast<uint8_t>(mac[offset]) & 0x7F) << 24) |
                 (uint32_t(static_cast<uint8_t>(mac[offset + 1])) << 16) |
                 (uint32_t(static_cast<uint8_t>(mac[offset + 2])) << 8) |
                 uint32_t(static_cast<uint8_t>(mac[offset + 3]));
  uint32_t mod = 1;
  for (int i = 0; i < digits; ++i) mod *= 10;
  std::string code = std::to_string(bin % mod);
  if (code.size() < size_t(digits)) code.insert(0, size_t(digits) - code.size(), '0');
  return code;
}

absl::StatusOr<std::string> TotpCode(std::string_view base32_secret, absl::Time t,
                                     const TotpParams& params) {
  if (!ParamsOk(params)) return absl::InvalidArgumentError("TOTP params out of range");
  auto key = Base32Decode(base32_secret);
  if (!key) return absl::InvalidArgumentError("TOTP secret is not base32");
  int64_t secs = absl::ToUnixSeconds(t);
  if (secs < 0) return absl::InvalidArgumentError("TOTP time before the Unix epoch");
  std::string code = HotpCode(*key, uint64_t(secs / absl::ToInt64Seconds(params.step)), params.digits);
  OPENSSL_cleanse(key->data(), key->size());
  if (code.empty()) return absl::InternalError("HMAC-SHA1 failed");
  return code;
}

std::optional<int64_t> VerifyTotp(std::string_view base32_secret, std::string_view code, absl::Time now,
                                  int window_steps, int64_t last_used_step, const TotpParams& params) {
  if (!ParamsOk(params) || code.size() != size_t(params.digits) ||
      !std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  auto key = Base32Decode(base32_secret);
  if (!key || key->empty()) return std::nullopt;
  int64_t secs = absl::ToUnixSeconds(now);
  if (secs < 0) return std::nullopt;
  int64_t current = secs / absl::ToInt64Seconds(params.step);
  int64_t window = std::clamp(window_steps, 0, 10);
  std::optional<int64_t> matched;
  for (int64_t step = current - window; step <= current + window; ++step) {
    if (step < 0) continue;
    std::string expected = HotpCode(*key, uint64_t(step), params.digits);
    bool eq = expected.size() == code.size() &&
              CRYPTO_memcmp(expected.data(), code.data(), code.size()) == 0;
    if (eq && step > last_used_step) matched = step;  // keep scanning: same work for every code
  }
  OPENSSL_cleanse(key->data(), key->size());
  return matched;
}

}  // namespace crm::auth
