// File: services/gateway/auth.h
// -----------------------------------------------------------------------------
// Who is calling the gateway. A request carries either
//   * `Authorization: Bearer <JWT>`, an access token that identity signed (Ed25519, libs/auth/jwt.h):
//     the gateway verifies it locally against the public keys of a JWKS document and turns its claims
//     into the crm.common.v1.Principal it forwards to backends; or
//   * an integrator's API key `crm_<prefix>_<secret>`, as `X-Api-Key: <key>` or `Authorization: Bearer
//     <key>`, which an ApiKeyVerifier (identity) turns into a principal.
//
// Keys come from a JwksSource: identity's GetSigningKeys (identity_client.h, the default) or a JWKS
// file (JwksFileSource, CRM_GATEWAY_JWKS_FILE), re-read when its modification time changes. A token
// whose key id is unknown triggers one JwksSource::Refresh() (identity may have just rotated).
//
// Verified tokens are remembered (up to `token_cache_size`, until they expire) so a client's next
// request with the same token costs a hash lookup instead of an Ed25519 verification; a remembered
// token is still refused once its key leaves the key set.
//
// Revoked sessions (issue 15): a token whose `sid` the SessionRevocations name is refused with "the
// session was revoked", remembered or not (revocations.h keeps the set from identity's events).
//
// What a refused client is told: "missing bearer token", "the token expired", "the session was
// revoked", else only "invalid token" / "invalid API key" (the precise reason is logged);
// WwwAuthenticate() gives the matching RFC 6750 challenge.
//
// Public methods (by full name, "crm.identity.v1.AuthService.SignIn") need no token; a valid token on
// them is still used, an invalid one is ignored. Every other method needs a valid token.
//
// Example:
//   AuthOptions o;
//   o.jwks = std::make_shared<JwksFileSource>("/etc/crm/jwks.json");
//   CRM_ASSIGN_OR_RETURN(std::unique_ptr<Authenticator> auth, Authenticator::Create(o));
//   absl::StatusOr<std::optional<crm::common::v1::Principal>> who = auth->Authenticate(
//       "crm.deals.v1.DealService.GetDeal",
//       {.authorization = request.Header("Authorization"), .api_key = request.Header("X-Api-Key")});
//   if (!who.ok()) return HttpResponse::FromStatus(who.status(), request_id);  // 401
#ifndef CRM_SERVICES_GATEWAY_AUTH_H_
#define CRM_SERVICES_GATEWAY_AUTH_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/auth/jwt.h"
#include "libs/base/clock.h"
#include "crm/common/v1/common.pb.h"

namespace crm::gateway {

// Where the gateway's trusted token-signing keys come from. Implementations are thread-safe.
class JwksSource {
 public:
  virtual ~JwksSource() = default;
  // Returns the current key set. `now` lets a source decide whether to look for changes. An error
  // means no keys are known at all (a source that had keys keeps serving them when a refresh fails).
  virtual absl::StatusOr<std::shared_ptr<const auth::KeySet>> Keys(absl::Time now) = 0;
  // Looks for new keys now if the source can (waiting up to `wait`), then returns Keys(). Called when
  // a token names an unknown key id. The default just returns Keys(absl::Now()).
  virtual absl::StatusOr<std::shared_ptr<const auth::KeySet>> Refresh(absl::Duration wait);
};

// Checks integrators' API keys. Implementations are thread-safe.
class ApiKeyVerifier {
 public:
  virtual ~ApiKeyVerifier() = default;
  // Returns the principal of API key `key`: Unauthenticated when the key is not valid (unknown,
  // revoked, expired); Unavailable when it cannot be checked now.
  virtual absl::StatusOr<common::v1::Principal> Verify(std::string_view key, std::string_view request_id) = 0;
};

// A JWKS document in a file, re-read when its modification time or size changes (checked at most once
// per `reload_interval`). A file that becomes unreadable or malformed keeps the last good keys.
class JwksFileSource final : public JwksSource {
 public:
  explicit JwksFileSource(std::string path, absl::Duration reload_interval = absl::Seconds(5));
  // Returns the keys of the file as last read; NotFound / InvalidArgument until it was read once.
  absl::StatusOr<std::shared_ptr<const auth::KeySet>> Keys(absl::Time now) override;

 private:
  const std::string path_;
  const absl::Duration reload_interval_;
  absl::Mutex mu_;
  absl::Time last_check_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t mtime_ns_ ABSL_GUARDED_BY(mu_) = -1;
  int64_t size_ ABSL_GUARDED_BY(mu_) = -1;
  std::shared_ptr<const auth::KeySet> keys_ ABSL_GUARDED_BY(mu_);
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
};

// Sessions whose tokens must be refused before they expire. Implementations are thread-safe and quick
// (called for every request with a token).
class SessionRevocations {
 public:
  virtual ~SessionRevocations() = default;
  // True when session `session_id` was revoked and its tokens must no longer be accepted.
  virtual bool IsRevoked(std::string_view session_id) const = 0;
};

// The messages of Authenticate()'s refusals that clients are told as such.
inline constexpr char kMissingTokenMessage[] = "missing bearer token";
inline constexpr char kExpiredTokenMessage[] = "the token expired";
inline constexpr char kRevokedSessionMessage[] = "the session was revoked";

// Returns the WWW-Authenticate value for a refusal of Authenticate(): `Bearer` when no credentials were
// given, else `Bearer error="invalid_token", error_description="<the status message>"` (RFC 6750 §3).
std::string WwwAuthenticate(const absl::Status& refused);

// The methods reachable without a token by default: sign-in, refresh, the signing keys and the webhooks
// (webhooks.h).
std::vector<std::string> DefaultPublicMethods();

struct AuthOptions {
  // The trusted keys; nullptr means no token can be verified (only public methods work).
  std::shared_ptr<JwksSource> jwks;
  // API keys; nullptr means API keys are refused.
  std::shared_ptr<ApiKeyVerifier> api_keys;
  std::string issuer = "crm-identity";
  std::string audience = "crm";
  // Full method names callable without a token.
  std::vector<std::string> public_methods = DefaultPublicMethods();
  // Time source for token validity; nullptr means crm::SystemClock(). Must outlive the Authenticator.
  const Clock* clock = nullptr;
  // Verified tokens remembered; 0 turns the cache off.
  size_t token_cache_size = 10'000;
  // Revoked sessions; nullptr means none are known (a token is good until it expires).
  std::shared_ptr<const SessionRevocations> revocations;
};

// Identifies callers. Thread-safe.
class Authenticator {
 public:
  // Returns an authenticator for `options`; InvalidArgument for an empty issuer or audience.
  static absl::StatusOr<std::unique_ptr<Authenticator>> Create(AuthOptions options);

  // What a request presents.
  struct Credentials {
    std::optional<std::string_view> authorization;  // the Authorization header
    std::optional<std::string_view> api_key;        // the X-Api-Key header
    std::string_view request_id;
  };

  // Returns the caller of `method` (a full method name): the principal of a valid bearer token or API
  // key; nullopt for a public method called without valid credentials; Unauthenticated otherwise
  // ("missing bearer token", "the token expired", "the session was revoked", "invalid token", "invalid
  // API key"), or Unavailable when an API key cannot be checked now. Other reasons a credential was
  // refused are logged, never returned. On a public method a revoked token counts as none.
  absl::StatusOr<std::optional<common::v1::Principal>> Authenticate(std::string_view method,
                                                                    const Credentials& credentials) const;

  // True when `method` needs no token.
  bool IsPublic(std::string_view method) const;

 private:
  explicit Authenticator(AuthOptions options) : options_(std::move(options)) {}
  // A token verified once: whom it names, until when, and under which key.
  struct Verified {
    common::v1::Principal principal;
    absl::Time not_before, expires;  // leeway included
    std::string kid, key;            // the key's id and raw public bytes
    std::string sid;                 // the token's session ("" if none)
  };
  // What `token` was verified as, if it was before and is still valid at `now` under `keys`.
  std::optional<Verified> Remembered(std::string_view token, absl::Time now, const auth::KeySet& keys) const;
  void Remember(std::string_view token, const auth::Claims& claims, const common::v1::Principal& p,
                const auth::KeySet& keys) const;

  AuthOptions options_;
  mutable absl::Mutex cache_mu_;
  mutable absl::flat_hash_map<std::string, Verified> cache_ ABSL_GUARDED_BY(cache_mu_);
};

// Returns the Principal for verified `claims`: kind from claims.kind ("user", "api_key", "service"),
// id = sub (for "service": service = sub and on_behalf_of_user_id = on_behalf_of), roles, team_ids,
// permissions = scopes.
common::v1::Principal PrincipalFromClaims(const auth::Claims& claims);

// Returns the gateway's own signing key (kid `kid`) read from the PKCS#8 PEM file at `pem_path`, or,
// when `pem_path` is empty, a newly generated one (the caller should warn: backends cannot trust a key
// they were not given). NotFound / InvalidArgument when the file cannot be read or parsed.
absl::StatusOr<auth::SigningKey> LoadServiceKey(const std::string& pem_path, const std::string& kid);

}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_AUTH_H_
