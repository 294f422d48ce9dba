// File: services/identity/sessions.h
// -----------------------------------------------------------------------------
// Sign-in, token refresh and sign-out.
//
// * SignIn checks the throttles first (per login and per client IP, kept in PostgreSQL so every
//   replica sees the same counts), then the password (argon2id; a dummy hash for unknown logins so
//   timing tells nothing), then TOTP when the user enabled it or a role requires it. Every failure is
//   UNAUTHENTICATED "invalid login or password" whatever was wrong; a wrong TOTP code is "invalid
//   code". Failures (including wrong codes and unknown logins) count towards both throttles; once a
//   login reaches login_max_failures (or an IP ip_max_failures) within failure_window, attempts are
//   refused with RESOURCE_EXHAUSTED for first_lockout, doubling per lockout up to max_lockout. A
//   successful sign-in clears its login's counter.
// * A session is one sign-in. Its access token (Ed25519 JWT) carries roles, team ids, scopes (the union
//   of the roles' permissions), sid and mfa. Its refresh token is opaque, stored as SHA-256, single use:
//   Refresh retires it and issues the next one of the session; presenting a retired one revokes the
//   session (theft detection). Refresh re-reads the user, so role changes apply at the next refresh;
//   inactive users cannot refresh.
// * A user whose role requires TOTP but who has not enrolled gets a restricted session: mfa=false and
//   scopes exactly ["self.totp.enroll"].
//
// Example:
//   crm::identity::Sessions sessions(store, ring, {});
//   CRM_ASSIGN_OR_RETURN(crm::identity::v1::Session s, sessions.SignIn(request, "203.0.113.7"));
//   CRM_ASSIGN_OR_RETURN(s, sessions.Refresh(s.refresh_token()));
#ifndef CRM_SERVICES_IDENTITY_SESSIONS_H_
#define CRM_SERVICES_IDENTITY_SESSIONS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crm/identity/v1/identity.pb.h"

namespace crm::identity {

class KeyRing;
class Store;
struct Actor;
struct UserAuth;

struct SessionOptions {
  std::string issuer = "crm-identity";
  std::string audience = "crm";
  absl::Duration access_token_ttl = absl::Minutes(10);
  absl::Duration refresh_token_ttl = absl::Hours(24 * 14);
  int login_max_failures = 5;
  int ip_max_failures = 30;
  absl::Duration failure_window = absl::Minutes(15);
  absl::Duration first_lockout = absl::Minutes(1);
  absl::Duration max_lockout = absl::Hours(1);
};

class Sessions {
 public:
  // `store` and `keys` must outlive this object. Computes the dummy hash (one argon2 run).
  Sessions(Store& store, KeyRing& keys, SessionOptions options);

  // `client_ip` may be "" (then only the login throttle applies).
  absl::StatusOr<crm::identity::v1::Session> SignIn(const crm::identity::v1::SignInRequest& req,
                                                    std::string_view client_ip);
  // UNAUTHENTICATED for an unknown, retired (then the session is revoked), expired or revoked token,
  // or an inactive user.
  absl::StatusOr<crm::identity::v1::Session> Refresh(std::string_view refresh_token);
  // Revokes the session of `refresh_token`; OK also when the token is unknown.
  absl::Status SignOut(std::string_view refresh_token);
  // Store::ConfirmTotp under the user's login throttle: a wrong code counts as a failed sign-in, and a
  // throttled login gets RESOURCE_EXHAUSTED (so enrolment cannot be used to guess codes).
  absl::StatusOr<crm::identity::v1::User> ConfirmTotp(const Actor& actor, std::string_view user_id,
                                                      std::string_view code);
  // Deletes what can no longer matter: throttle records idle for a day, sessions whose refresh tokens
  // all expired more than a day ago (with their tokens), idempotency records older than 24 hours.
  absl::Status Prune();

  const SessionOptions& options() const { return options_; }

 private:
  absl::Status CheckThrottle(const std::string& login_key, const std::string& ip_key);
  absl::Status RecordFailure(const std::string& key, int max_failures);
  absl::Status Fail(const std::string& login_key, const std::string& ip_key, absl::Status answer);
  absl::StatusOr<crm::identity::v1::Session> Issue(const UserAuth& user, const std::string& session_id,
                                                   bool mfa, const std::string& refresh_token,
                                                   absl::Time refresh_expire);

  Store& store_;
  KeyRing& keys_;
  const SessionOptions options_;
  std::string dummy_hash_;
};

}  // namespace crm::identity

#endif  // CRM_SERVICES_IDENTITY_SESSIONS_H_
