// File: libs/auth/jwt.h
// -----------------------------------------------------------------------------
// Short-lived access tokens: compact JWS JWTs signed with Ed25519 (JOSE alg "EdDSA", RFC 8037).
// The identity service holds SigningKeys and signs; the gateway holds a KeySet of PublicKeys, fetched
// as a JWKS document (RFC 7517) that identity publishes, and verifies. Keys are named by "kid"; rotation
// is several keys in the set at once: sign with the new key, keep the old public key published until
// every token it signed has expired, then drop it.
//
// VerifyJwt accepts only alg "EdDSA" with a known kid (never "none", never HS256 with a public key as
// the secret), checks the signature before it reads the claims, then issuer, audience and the time
// window. Every refusal is Unauthenticated with the reason in the message, for logs; clients should be
// told only "invalid token".
//
// Example:
//   auto key = crm::auth::SigningKey::Generate("2026-11-a");       // identity, at start-up
//   crm::auth::Claims c{.iss = "crm-identity", .sub = user_id, .aud = "crm", .jti = NewUuidV7(),
//                       .kind = "user", .roles = {"manager"}};
//   c.iat = c.nbf = now; c.exp = now + absl::Minutes(10);
//   CRM_ASSIGN_OR_RETURN(std::string token, crm::auth::SignJwt(c, *key));
//
//   crm::auth::KeySet keys;                                        // gateway
//   CRM_ASSIGN_OR_RETURN(keys, crm::auth::KeySet::FromJwks(jwks_json));
//   CRM_ASSIGN_OR_RETURN(crm::auth::Claims who,
//                        crm::auth::VerifyJwt(token, keys, clock.Now(), "crm-identity", "crm"));
#ifndef CRM_LIBS_AUTH_JWT_H_
#define CRM_LIBS_AUTH_JWT_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json_fwd.hpp"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace crm::auth {

// Longest token VerifyJwt reads, in bytes; longer ones are refused before any parsing.
inline constexpr size_t kMaxJwtBytes = 8 * 1024;

// Returns whether `kid` is usable as a key id: 1..128 characters from [A-Za-z0-9._:-].
bool IsValidKid(std::string_view kid);

// An Ed25519 public key with its key id. Immutable value; cheap to copy.
class PublicKey {
 public:
  // Returns the key for 32 raw public-key bytes. InvalidArgument if `kid` is not IsValidKid or
  // `raw` is not 32 bytes.
  static absl::StatusOr<PublicKey> FromRaw(std::string kid, std::string_view raw);

  const std::string& kid() const { return kid_; }
  // The 32 raw public-key bytes (RFC 8032 encoding).
  const std::string& raw() const { return raw_; }

  // Returns whether `signature` is a valid Ed25519 signature by this key over exactly `message`.
  bool Verify(std::string_view message, std::string_view signature) const;

  // Returns the public JWK {"kty":"OKP","crv":"Ed25519","x":<b64url>,"kid","alg":"EdDSA","use":"sig"}.
  // (Callers include <nlohmann/json.hpp> to use the result.)
  nlohmann::json ToJwk() const;

 private:
  friend class SigningKey;
  PublicKey(std::string kid, std::string raw);
  std::string kid_;
  std::string raw_;
  std::shared_ptr<evp_pkey_st> pkey_;  // built once from raw_; shared by copies
};

// An Ed25519 private key with its key id. Immutable; copies share the key. Thread-safe.
class SigningKey {
 public:
  // Returns a new random key named `kid`. InvalidArgument if !IsValidKid(kid); Internal if OpenSSL fails.
  static absl::StatusOr<SigningKey> Generate(std::string kid);
  // Returns the key in a PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----", as PrivatePem() writes and
  // `openssl genpkey -algorithm ed25519` prints). InvalidArgument if the PEM is unreadable or not Ed25519.
  static absl::StatusOr<SigningKey> FromPrivatePem(std::string kid, std::string_view pem);
  // Returns the key for a 32-byte RFC 8032 private seed. InvalidArgument if not 32 bytes or bad kid.
  static absl::StatusOr<SigningKey> FromRawSeed(std::string kid, std::string_view seed);

  // Returns the private key as PKCS#8 PEM, for storage in a secret store. Handle as a secret.
  std::string PrivatePem() const;
  const std::string& kid() const { return kid_; }
  // Returns the matching public key, same kid.
  PublicKey public_key() const;
  // Returns the 64-byte Ed25519 signature over `message` (deterministic: same key and message give
  // the same bytes). Internal only if OpenSSL fails.
  absl::StatusOr<std::string> Sign(std::string_view message) const;

 private:
  SigningKey(std::string kid, std::shared_ptr<evp_pkey_st> pkey)
      : kid_(std::move(kid)), pkey_(std::move(pkey)) {}
  std::string kid_;
  std::shared_ptr<evp_pkey_st> pkey_;
};

// The public keys a verifier trusts, by kid. Not thread-safe for writes: build one, then share it
// read-only (or swap a new one in under the caller's lock when the JWKS is re-fetched).
class KeySet {
 public:
  // Adds `key`, replacing any key with the same kid.
  void Add(PublicKey key);
  // Removes the key named `kid`; returns whether there was one.
  bool Remove(std::string_view kid);
  // Returns the key named `kid`, or nullptr. The pointer is valid until the set is next modified.
  const PublicKey* Find(std::string_view kid) const;
  size_t size() const { return keys_.size(); }

  // Parses a JWKS document {"keys":[...]}. Ed25519 entries (kty "OKP", crv "Ed25519") are loaded and
  // must have a valid kid, a 32-byte "x", and if present alg "EdDSA" and use "sig"; entries of other key
  // types are skipped (a JWKS may mix algorithms). InvalidArgument for malformed JSON, a malformed
  // Ed25519 entry, a duplicate kid, more than 64 keys, or more than 64 KiB of text.
  static absl::StatusOr<KeySet> FromJwks(std::string_view json);
  // Returns the set as a JWKS document, keys in kid order; FromJwks(ToJwks()) gives the same set.
  std::string ToJwks() const;

 private:
  std::vector<PublicKey> keys_;  // sorted by kid
};

// The claims of an access token. Times are whole seconds on the wire.
struct Claims {
  std::string iss, sub, aud, jti, sid;  // issuer, subject (user/API key id or service), audience,
                                        // token id, session id (empty: none)
  std::string kind;                     // "user" | "api_key" | "service"
  std::vector<std::string> roles, teams, scopes;
  absl::Time iat, nbf, exp;  // issued at, not before, expires
  bool mfa = false;          // the session passed a second factor
  std::string on_behalf_of;  // for kind "service": the user it acts for, if any
};

// Returns the compact JWS of `claims` with header {"alg":"EdDSA","typ":"JWT","kid":key.kid()}.
// InvalidArgument if iss, sub or aud is empty, kind is not one of the three, exp is not after iat, or
// the token would exceed kMaxJwtBytes. Empty strings and lists, and nbf == absl::Time() (the epoch,
// the default), are left out of the payload.
absl::StatusOr<std::string> SignJwt(const Claims& claims, const SigningKey& key);

// Returns the claims of `token` if it is a compact JWS with alg "EdDSA", signed by the key in `keys`
// named by its "kid", whose "iss" equals `issuer`, whose "aud" equals (or, as an array, contains)
// `audience`, with now < exp + leeway and now >= nbf - leeway (iat when nbf is absent). Otherwise
// Unauthenticated, the message naming the reason: "malformed token", "token too long", "unsupported
// alg", "unknown kid", "bad signature", "token expired", "token not yet valid", "wrong issuer",
// "wrong audience" (or "malformed claims" for a validly signed payload of the wrong shape).
absl::StatusOr<Claims> VerifyJwt(std::string_view token, const KeySet& keys, absl::Time now,
                                 std::string_view issuer, std::string_view audience,
                                 absl::Duration leeway = absl::Seconds(30));

}  // namespace crm::auth

#endif  // CRM_LIBS_AUTH_JWT_H_
