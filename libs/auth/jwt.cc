#include "libs/auth/jwt.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/auth/encoding.h"
#include "libs/base/strings.h"

namespace crm::auth {
namespace {

constexpr size_t kEd25519KeyBytes = 32;
constexpr size_t kEd25519SigBytes = 64;
constexpr size_t kMaxJwksBytes = 64 * 1024;
constexpr size_t kMaxJwksKeys = 64;

using Json = nlohmann::json;

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioDeleter {
  void operator()(BIO* p) const { BIO_free(p); }
};

absl::Status Unauth(std::string_view why) { return absl::UnauthenticatedError(AsAbsl(why)); }

bool IsKind(std::string_view k) { return k == "user" || k == "api_key" || k == "service"; }

// Reads an optional string member; false if present with another type.
bool GetString(const Json& o, const char* name, std::string& out) {
  auto it = o.find(name);
  if (it == o.end()) return true;
  if (!it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

bool GetStrings(const Json& o, const char* name, std::vector<std::string>& out) {
  auto it = o.find(name);
  if (it == o.end()) return true;
  if (!it->is_array()) return false;
  for (const Json& v : *it) {
    if (!v.is_string()) return false;
    out.push_back(v.get<std::string>());
  }
  return true;
}

// Reads an optional NumericDate (integer seconds); false if present with another type.
bool GetTime(const Json& o, const char* name, std::optional<absl::Time>& out) {
  auto it = o.find(name);
  if (it == o.end()) return true;
  if (it->is_number_unsigned()) {
    uint64_t v = it->get<uint64_t>();
    if (v > uint64_t{1} << 40) return false;
    out = absl::FromUnixSeconds(int64_t(v));
    return true;
  }
  if (it->is_number_integer()) {
    int64_t v = it->get<int64_t>();
    if (v < -(int64_t{1} << 40) || v > (int64_t{1} << 40)) return false;
    out = absl::FromUnixSeconds(v);
    return true;
  }
  return false;
}

std::optional<Json> ParseObject(std::string_view text) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

}  // namespace

bool IsValidKid(std::string_view kid) {
  if (kid.empty() || kid.size() > 128) return false;
  return std::all_of(kid.begin(), kid.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  });
}

// ---- PublicKey ----

absl::StatusOr<PublicKey> PublicKey::FromRaw(std::string kid, std::string_view raw) {
  if (!IsValidKid(kid)) return absl::InvalidArgumentError("invalid kid");
  if (raw.size() != kEd25519KeyBytes) {
    return absl::InvalidArgumentError("Ed25519 public key must be 32 bytes");
  }
  return PublicKey(std::move(kid), std::string(raw));
}

PublicKey::PublicKey(std::string kid, std::string raw) : kid_(std::move(kid)), raw_(std::move(raw)) {
  if (raw_.size() == kEd25519KeyBytes) {
    pkey_.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                            reinterpret_cast<const unsigned char*>(raw_.data()), raw_.size()),
                PkeyDeleter());
  }
}

bool PublicKey::Verify(std::string_view message, std::string_view signature) const {
  if (signature.size() != kEd25519SigBytes || !pkey_) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey_.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

nlohmann::json PublicKey::ToJwk() const {
  return Json{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", Base64UrlEncode(raw_)},
              {"kid", kid_},  {"alg", "EdDSA"},   {"use", "sig"}};
}

// ---- SigningKey ----

absl::StatusOr<SigningKey> SigningKey::Generate(std::string kid) {
  if (!IsValidKid(kid)) return absl::InvalidArgumentError("invalid kid");
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (raw == nullptr) return absl::InternalError("Ed25519 key generation failed");
  return SigningKey(std::move(kid), std::shared_ptr<EVP_PKEY>(raw, PkeyDeleter()));
}

absl::StatusOr<SigningKey> SigningKey::FromPrivatePem(std::string kid, std::string_view pem) {
  if (!IsValidKid(kid)) return absl::InvalidArgumentError("invalid kid");
  if (pem.size() > 16 * 1024) return absl::InvalidArgumentError("PEM too long");
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  if (!bio) return absl::InternalError("BIO_new_mem_buf failed");
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (raw == nullptr) return absl::InvalidArgumentError("unreadable private key PEM");
  std::shared_ptr<EVP_PKEY> pkey(raw, PkeyDeleter());
  if (EVP_PKEY_get_base_id(raw) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("private key is not Ed25519");
  }
  return SigningKey(std::move(kid), std::move(pkey));
}

absl::StatusOr<SigningKey> SigningKey::FromRawSeed(std::string kid, std::string_view seed) {
  if (!IsValidKid(kid)) return absl::InvalidArgumentError("invalid kid");
  if (seed.size() != kEd25519KeyBytes) return absl::InvalidArgumentError("Ed25519 seed must be 32 bytes");
  EVP_PKEY* raw = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  if (raw == nullptr) return absl::InternalError("EVP_PKEY_new_raw_private_key failed");
  return SigningKey(std::move(kid), std::shared_ptr<EVP_PKEY>(raw, PkeyDeleter()));
}

std::string SigningKey::PrivatePem() const {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return "";
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(len));
}

PublicKey SigningKey::public_key() const {
  std::string raw(kEd25519KeyBytes, '\0');
  size_t len = raw.size();
  EVP_PKEY_get_raw_public_key(pkey_.get(), reinterpret_cast<unsigned char*>(raw.data()), &len);
  return PublicKey(kid_, std::move(raw));
}

absl::StatusOr<std::string> SigningKey::Sign(std::string_view message) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey_.get()) != 1) {
    return absl::InternalError("EVP_DigestSignInit failed");
  }
  std::string sig(kEd25519SigBytes, '\0');
  size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      len != kEd25519SigBytes) {
    return absl::InternalError("EVP_DigestSign failed");
  }
  return sig;
}

// ---- KeySet ----

void KeySet::Add(PublicKey key) {
  auto it = std::lower_bound(keys_.begin(), keys_.end(), key.kid(),
                             [](const PublicKey& k, const std::string& kid) { return k.kid() < kid; });
  if (it != keys_.end() && it->kid() == key.kid()) {
    *it = std::move(key);
  } else {
    keys_.insert(it, std::move(key));
  }
}

bool KeySet::Remove(std::string_view kid) {
  auto it = std::find_if(keys_.begin(), keys_.end(), [&](const PublicKey& k) { return k.kid() == kid; });
  if (it == keys_.end()) return false;
  keys_.erase(it);
  return true;
}

const PublicKey* KeySet::Find(std::string_view kid) const {
  auto it = std::lower_bound(keys_.begin(), keys_.end(), kid,
                             [](const PublicKey& k, std::string_view id) { return k.kid() < id; });
  if (it == keys_.end() || it->kid() != kid) return nullptr;
  return &*it;
}

absl::StatusOr<KeySet> KeySet::FromJwks(std::string_view json) {
  auto bad = [](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("malformed JWKS: ", AsAbsl(why)));
  };
  if (json.size() > kMaxJwksBytes) return bad("longer than 64 KiB");
  auto doc = ParseObject(json);
  if (!doc) return bad("not a JSON object");
  auto keys = doc->find("keys");
  if (keys == doc->end() || !keys->is_array()) return bad("no \"keys\" array");
  if (keys->size() > kMaxJwksKeys) return bad("more than 64 keys");
  KeySet set;
  for (const Json& k : *keys) {
    if (!k.is_object()) return bad("key is not an object");
    std::string kty, crv, x, kid, alg, use;
    if (!GetString(k, "kty", kty) || !GetString(k, "crv", crv)) return bad("kty/crv not strings");
    if (kty != "OKP" || crv != "Ed25519") continue;  // another algorithm: not ours to use
    if (!GetString(k, "x", x) || !GetString(k, "kid", kid) || !GetString(k, "alg", alg) ||
        !GetString(k, "use", use)) {
      return bad("member of the wrong type");
    }
    if (k.contains("d")) return bad("JWKS contains a private key");
    if (!alg.empty() && alg != "EdDSA") return bad("Ed25519 key with alg other than EdDSA");
    if (!use.empty() && use != "sig") return bad("Ed25519 key with use other than sig");
    auto raw = Base64UrlDecode(x);
    if (!raw) return bad("x is not base64url");
    auto pub = PublicKey::FromRaw(kid, *raw);
    if (!pub.ok()) return bad(AsStd(pub.status().message()));
    if (set.Find(kid) != nullptr) return bad("duplicate kid");
    set.Add(*std::move(pub));
  }
  return set;
}

std::string KeySet::ToJwks() const {
  Json arr = Json::array();
  for (const PublicKey& k : keys_) arr.push_back(k.ToJwk());
  return Json{{"keys", std::move(arr)}}.dump();
}

// ---- JWT ----

absl::StatusOr<std::string> SignJwt(const Claims& c, const SigningKey& key) {
  if (c.iss.empty() || c.sub.empty() || c.aud.empty()) {
    return absl::InvalidArgumentError("JWT needs iss, sub and aud");
  }
  if (!IsKind(c.kind)) return absl::InvalidArgumentError("JWT kind must be user, api_key or service");
  if (c.exp <= c.iat) return absl::InvalidArgumentError("JWT exp must be after iat");
  Json payload{{"iss", c.iss}, {"sub", c.sub}, {"aud", c.aud}, {"kind", c.kind},
               {"iat", absl::ToUnixSeconds(c.iat)}, {"exp", absl::ToUnixSeconds(c.exp)}};
  if (c.nbf != absl::Time()) payload["nbf"] = absl::ToUnixSeconds(c.nbf);
  if (!c.jti.empty()) payload["jti"] = c.jti;
  if (!c.sid.empty()) payload["sid"] = c.sid;
  if (!c.roles.empty()) payload["roles"] = c.roles;
  if (!c.teams.empty()) payload["teams"] = c.teams;
  if (!c.scopes.empty()) payload["scopes"] = c.scopes;
  if (c.mfa) payload["mfa"] = true;
  if (!c.on_behalf_of.empty()) payload["obo"] = c.on_behalf_of;
  Json header{{"alg", "EdDSA"}, {"typ", "JWT"}, {"kid", key.kid()}};
  std::string input = absl::StrCat(AsAbsl(Base64UrlEncode(header.dump())), ".",
                                   AsAbsl(Base64UrlEncode(payload.dump())));
  auto sig = key.Sign(input);
  if (!sig.ok()) return sig.status();
  std::string token = absl::StrCat(input, ".", AsAbsl(Base64UrlEncode(*sig)));
  if (token.size() > kMaxJwtBytes) return absl::InvalidArgumentError("JWT longer than 8 KiB");
  return token;
}

absl::StatusOr<Claims> VerifyJwt(std::string_view token, const KeySet& keys, absl::Time now,
                                 std::string_view issuer, std::string_view audience,
                                 absl::Duration leeway) {
  if (token.size() > kMaxJwtBytes) return Unauth("token too long");
  size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return Unauth("malformed token");
  size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Unauth("malformed token");
  }
  std::string_view header_b64 = token.substr(0, dot1);
  std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  std::string_view sig_b64 = token.substr(dot2 + 1);

  auto header_text = Base64UrlDecode(header_b64);
  if (!header_text) return Unauth("malformed token");
  auto header = ParseObject(*header_text);
  if (!header) return Unauth("malformed token");
  std::string alg, kid;
  if (!GetString(*header, "alg", alg) || !GetString(*header, "kid", kid)) {
    return Unauth("malformed token");
  }
  if (alg != "EdDSA") return Unauth("unsupported alg");
  // RFC 7515 4.1.11: an extension we do not understand must not be ignored.
  if (header->contains("crit")) return Unauth("unsupported crit header");
  const PublicKey* key = keys.Find(kid);
  if (key == nullptr) return Unauth("unknown kid");
  auto sig = Base64UrlDecode(sig_b64);
  if (!sig || sig->size() != kEd25519SigBytes) return Unauth("malformed token");
  if (!key->Verify(token.substr(0, dot2), *sig)) return Unauth("bad signature");

  // Signed by us from here on; shape errors are still refusals.
  auto payload_text = Base64UrlDecode(payload_b64);
  if (!payload_text) return Unauth("malformed claims");
  auto p = ParseObject(*payload_text);
  if (!p) return Unauth("malformed claims");
  Claims c;
  std::optional<absl::Time> iat, nbf, exp;
  if (!GetString(*p, "iss", c.iss) || !GetString(*p, "sub", c.sub) || !GetString(*p, "jti", c.jti) ||
      !GetString(*p, "sid", c.sid) || !GetString(*p, "kind", c.kind) ||
      !GetString(*p, "obo", c.on_behalf_of) || !GetStrings(*p, "roles", c.roles) ||
      !GetStrings(*p, "teams", c.teams) || !GetStrings(*p, "scopes", c.scopes) ||
      !GetTime(*p, "iat", iat) || !GetTime(*p, "nbf", nbf) || !GetTime(*p, "exp", exp)) {
    return Unauth("malformed claims");
  }
  if (auto m = p->find("mfa"); m != p->end()) {
    if (!m->is_boolean()) return Unauth("malformed claims");
    c.mfa = m->get<bool>();
  }
  // "aud": a string, or an array of strings that must contain ours.
  bool aud_ok = false;
  if (auto a = p->find("aud"); a != p->end()) {
    if (a->is_string()) {
      c.aud = a->get<std::string>();
      aud_ok = c.aud == audience;
    } else if (a->is_array()) {
      for (const Json& v : *a) {
        if (!v.is_string()) return Unauth("malformed claims");
        if (v.get<std::string>() == audience) {
          aud_ok = true;
          c.aud = std::string(audience);
        }
      }
    } else {
      return Unauth("malformed claims");
    }
  }
  if (!exp || c.sub.empty() || !IsKind(c.kind)) return Unauth("malformed claims");
  c.exp = *exp;
  c.iat = iat.value_or(absl::Time());
  c.nbf = nbf.value_or(absl::Time());
  if (now >= c.exp + leeway) return Unauth("token expired");
  std::optional<absl::Time> start = nbf ? nbf : iat;
  if (start && now + leeway < *start) return Unauth("token not yet valid");
  if (c.iss != issuer) return Unauth("wrong issuer");
  if (!aud_ok) return Unauth("wrong audience");
  return c;
}

}  // namespace crm::auth
