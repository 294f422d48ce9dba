#include "libs/auth/service_credential.h"

#include <cstdint>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "crm/common/v1/common.pb.h"
#include "libs/auth/encoding.h"
#include "libs/auth/jwt.h"
#include "libs/base/strings.h"

namespace crm::auth {
namespace {

constexpr size_t kMaxHeaderBytes = 512;
constexpr size_t kMaxPrincipalBytes = 64 * 1024;
constexpr size_t kSigB64Len = 86;  // 64 bytes, unpadded base64url

std::string SigningInput(std::string_view principal, int64_t ts) {
  return absl::StrCat("v1.", AsAbsl(Base64UrlEncode(principal)), ".", ts);
}

absl::Status Unauth(std::string_view why) { return absl::UnauthenticatedError(AsAbsl(why)); }

// Unix seconds without sign, leading zeros or overflow.
bool ParseSeconds(std::string_view s, int64_t& out) {
  if (s.empty() || s.size() > 12 || (s.size() > 1 && s[0] == '0')) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

}  // namespace

absl::StatusOr<std::string> SignPrincipalBytes(std::string_view serialized_principal,
                                               const SigningKey& key, absl::Time now) {
  if (serialized_principal.size() > kMaxPrincipalBytes) {
    return absl::InvalidArgumentError("principal larger than 64 KiB");
  }
  int64_t ts = absl::ToUnixSeconds(now);
  if (ts < 0) return absl::InvalidArgumentError("signing time before the Unix epoch");
  auto sig = key.Sign(SigningInput(serialized_principal, ts));
  if (!sig.ok()) return sig.status();
  return absl::StrCat("v1.", ts, ".", AsAbsl(Base64UrlEncode(*sig)), ".", key.kid());
}

absl::StatusOr<std::string> SignPrincipal(const crm::common::v1::Principal& p, const SigningKey& key,
                                          absl::Time now) {
  return SignPrincipalBytes(p.SerializeAsString(), key, now);
}

absl::Status VerifyPrincipal(std::string_view principal, std::string_view header, const KeySet& keys,
                             absl::Time now, absl::Duration max_age) {
  if (header.size() > kMaxHeaderBytes || principal.size() > kMaxPrincipalBytes ||
      header.substr(0, 3) != "v1.") {
    return Unauth("malformed principal signature");
  }
  std::string_view rest = header.substr(3);
  size_t dot = rest.find('.');
  if (dot == std::string_view::npos) return Unauth("malformed principal signature");
  int64_t ts = 0;
  if (!ParseSeconds(rest.substr(0, dot), ts)) return Unauth("malformed principal signature");
  rest.remove_prefix(dot + 1);
  if (rest.size() < kSigB64Len + 2 || rest[kSigB64Len] != '.') {
    return Unauth("malformed principal signature");
  }
  auto sig = Base64UrlDecode(rest.substr(0, kSigB64Len));
  std::string_view kid = rest.substr(kSigB64Len + 1);
  if (!sig || !IsValidKid(kid)) return Unauth("malformed principal signature");
  const PublicKey* key = keys.Find(kid);
  if (key == nullptr) return Unauth("unknown kid");
  if (!key->Verify(SigningInput(principal, ts), *sig)) return Unauth("bad principal signature");
  absl::Time at = absl::FromUnixSeconds(ts);
  if (at > now + kPrincipalSigMaxSkew) return Unauth("future-dated principal signature");
  if (now - at > max_age) return Unauth("stale principal signature");
  return absl::OkStatus();
}

}  // namespace crm::auth
