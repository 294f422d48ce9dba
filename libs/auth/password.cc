#include "libs/auth/password.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <optional>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/auth/encoding.h"
#include "libs/base/strings.h"

namespace crm::auth {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
constexpr size_t kMinSalt = 8, kMaxSalt = 64, kMinHash = 16, kMaxHash = 64;
constexpr uint32_t kMaxTCost = 64, kMaxLanes = 64;
constexpr uint32_t kMaxMemKib = 4u * 1024 * 1024;  // 4 GiB

absl::Status CheckParams(const PasswordParams& p) {
  if (p.t_cost < 1 || p.t_cost > kMaxTCost || p.parallelism < 1 || p.parallelism > kMaxLanes ||
      p.m_cost_kib < 8 * p.parallelism || p.m_cost_kib > kMaxMemKib) {
    return absl::InvalidArgumentError(absl::StrCat("argon2id parameters out of range: m=", p.m_cost_kib,
                                                   ",t=", p.t_cost, ",p=", p.parallelism));
  }
  return absl::OkStatus();
}

struct ParsedPhc {
  PasswordParams params;
  std::string salt;
  std::string hash;
};

// Parses an unsigned decimal without sign, leading zeros or overflow.
std::optional<uint32_t> ParseU32(std::string_view s) {
  if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + uint64_t(c - '0');
  }
  if (v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}

std::optional<uint32_t> ParseKv(std::string_view kv, std::string_view key) {
  if (kv.size() <= key.size() + 1 || kv.substr(0, key.size()) != key || kv[key.size()] != '=') {
    return std::nullopt;
  }
  return ParseU32(kv.substr(key.size() + 1));
}

absl::StatusOr<ParsedPhc> ParsePhc(std::string_view phc) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("malformed argon2id PHC string: ", AsAbsl(why)));
  };
  if (phc.size() > 512) return bad("too long");
  std::vector<absl::string_view> parts = absl::StrSplit(AsAbsl(phc), '$');
  // "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
  if (parts.size() != 6 || !parts[0].empty()) return bad("expected 5 '$'-separated fields");
  if (parts[1] != "argon2id") return bad("algorithm is not argon2id");
  if (parts[2] != "v=19") return bad("version is not v=19");
  std::vector<absl::string_view> kvs = absl::StrSplit(parts[3], ',');
  if (kvs.size() != 3) return bad("expected m=,t=,p=");
  auto m = ParseKv(AsStd(kvs[0]), "m");
  auto t = ParseKv(AsStd(kvs[1]), "t");
  auto p = ParseKv(AsStd(kvs[2]), "p");
  if (!m || !t || !p) return bad("expected m=,t=,p=");
  ParsedPhc out;
  out.params = PasswordParams{.t_cost = *t, .m_cost_kib = *m, .parallelism = *p};
  if (!CheckParams(out.params).ok()) return bad("parameters out of range");
  auto salt = Base64NoPadDecode(AsStd(parts[4]));
  auto hash = Base64NoPadDecode(AsStd(parts[5]));
  if (!salt || salt->size() < kMinSalt || salt->size() > kMaxSalt) return bad("bad salt");
  if (!hash || hash->size() < kMinHash || hash->size() > kMaxHash) return bad("bad hash");
  out.salt = *std::move(salt);
  out.hash = *std::move(hash);
  return out;
}

absl::StatusOr<std::string> RawHash(std::string_view password, std::string_view salt,
                                    const PasswordParams& p, size_t hash_len) {
  std::string out(hash_len, '\0');
  int rc = argon2id_hash_raw(p.t_cost, p.m_cost_kib, p.parallelism, password.data(), password.size(),
                             salt.data(), salt.size(), out.data(), out.size());
  if (rc != ARGON2_OK) {
    return absl::InternalError(absl::StrCat("argon2id: ", argon2_error_message(rc)));
  }
  return out;
}

absl::Status CheckPasswordLength(std::string_view password) {
  if (password.size() > kMaxPasswordBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("password is longer than ", kMaxPasswordBytes, " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

namespace internal {
absl::StatusOr<std::string> HashPasswordWithSalt(std::string_view password, std::string_view salt,
                                                 const PasswordParams& params) {
  if (auto s = CheckPasswordLength(password); !s.ok()) return s;
  if (auto s = CheckParams(params); !s.ok()) return s;
  if (salt.size() < kMinSalt || salt.size() > kMaxSalt) {
    return absl::InvalidArgumentError("salt must be 8..64 bytes");
  }
  auto hash = RawHash(password, salt, params, kHashBytes);
  if (!hash.ok()) return hash.status();
  return absl::StrCat("$argon2id$v=19$m=", params.m_cost_kib, ",t=", params.t_cost,
                      ",p=", params.parallelism, "$", Base64NoPadEncode(salt), "$",
                      Base64NoPadEncode(*hash));
}
}  // namespace internal

absl::StatusOr<std::string> HashPassword(std::string_view password, const PasswordParams& params) {
  std::string salt(kSaltBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), int(salt.size())) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  return internal::HashPasswordWithSalt(password, salt, params);
}

absl::StatusOr<bool> VerifyPassword(std::string_view password, std::string_view phc) {
  auto parsed = ParsePhc(phc);
  if (!parsed.ok()) return parsed.status();
  if (password.size() > kMaxPasswordBytes) return false;
  auto hash = RawHash(password, parsed->salt, parsed->params, parsed->hash.size());
  if (!hash.ok()) return hash.status();
  return CRYPTO_memcmp(hash->data(), parsed->hash.data(), hash->size()) == 0;
}

bool NeedsRehash(std::string_view phc, const PasswordParams& params) {
  auto parsed = ParsePhc(phc);
  if (!parsed.ok()) return true;
  const PasswordParams& p = parsed->params;
  return p.t_cost != params.t_cost || p.m_cost_kib != params.m_cost_kib ||
         p.parallelism != params.parallelism || parsed->salt.size() < kSaltBytes ||
         parsed->hash.size() != kHashBytes;
}

}  // namespace crm::auth
