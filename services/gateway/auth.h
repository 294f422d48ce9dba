// File: services/gateway/auth.h
// -----------------------------------------------------------------------------
// Who is calling the gateway. A request carries `Authorization: Bearer <JWT>`, an access token that
// identity signed (Ed25519, libs/auth/jwt.h); the gateway verifies it locally against the public keys
// of a JWKS document and turns its claims into the crm.common.v1.Principal it forwards to backends.
//
// Keys come from a JwksSource. The one implemented reads a JWKS file (CRM_GATEWAY_JWKS_FILE) and
// re-reads it when its modification time changes, looking at most once per `reload_interval`; fetching
// identity's GetSigningKeys is the seam left for later (another JwksSource).
//
// Public methods (by full name, "crm.identity.v1.AuthService.SignIn") need no token; a valid token on
// them is still used, an invalid one is ignored. Every other method needs a valid token.
//
// Example:
//   AuthOptions o;
//   o.jwks = std::make_shared<JwksFileSource>("/etc/crm/jwks.json");
//   CRM_ASSIGN_OR_RETURN(std::unique_ptr<Authenticator> auth, Authenticator::Create(o));
//   absl::StatusOr<std::optional<crm::common::v1::Principal>> who =
//       auth->Authenticate("crm.deals.v1.DealService.GetDeal", request.Header("Authorization"));
//   if (!who.ok()) return HttpResponse::FromStatus(who.status(), request_id);  // 401
#ifndef CRM_SERVICES_GATEWAY_AUTH_H_
#define CRM_SERVICES_GATEWAY_AUTH_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// The methods reachable without a token by default.
std::vector<std::string> DefaultPublicMethods();

struct AuthOptions {
  // The trusted keys; nullptr means no token can be verified (only public methods work).
  std::shared_ptr<JwksSource> jwks;
  std::string issuer = "crm-identity";
  std::string audience = "crm";
  // Full method names callable without a token.
  std::vector<std::string> public_methods = DefaultPublicMethods();
  // Time source for token validity; nullptr means crm::SystemClock(). Must outlive the Authenticator.
  const Clock* clock = nullptr;
};

// Identifies callers. Thread-safe.
class Authenticator {
 public:
  // Returns an authenticator for `options`; InvalidArgument for an empty issuer or audience.
  static absl::StatusOr<std::unique_ptr<Authenticator>> Create(AuthOptions options);

  // Returns the caller of `method` (a full method name) given the request's Authorization header:
  // the principal of a valid bearer token; nullopt for a public method called without a valid token;
  // Unauthenticated ("missing bearer token" / "invalid token") otherwise. The precise reason a token
  // was refused is logged, never returned.
  absl::StatusOr<std::optional<common::v1::Principal>> Authenticate(
      std::string_view method, std::optional<std::string_view> authorization) const;

  // True when `method` needs no token.
  bool IsPublic(std::string_view method) const;

 private:
  explicit Authenticator(AuthOptions options) : options_(std::move(options)) {}
  AuthOptions options_;
};

// Returns the Principal for verified `claims`: kind from claims.kind ("user", "api_key", "service"),
// id = sub (for "service": service = sub and on_behalf_of_user_id = on_behalf_of), roles, team_ids.
common::v1::Principal PrincipalFromClaims(const auth::Claims& claims);

// Returns the gateway's own signing key (kid `kid`) read from the PKCS#8 PEM file at `pem_path`, or,
// when `pem_path` is empty, a newly generated one (the caller should warn: backends cannot trust a key
// they were not given). NotFound / InvalidArgument when the file cannot be read or parsed.
absl::StatusOr<auth::SigningKey> LoadServiceKey(const std::string& pem_path, const std::string& kid);

}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_AUTH_H_
