// File: services/identity/sessions.h
// -----------------------------------------------------------------------------
// Sign-in, token refresh and sign-out.
//
// * SignIn checks the throttles first (throttle.h: one per (login, client address) pair and one per
//   client address, kept in PostgreSQL so every replica sees the same counts) and refuses a throttled
//   attempt BEFORE looking at the password: RESOURCE_EXHAUSTED with a google.rpc.RetryInfo saying how
//   long to wait. Then the password (argon2id; a dummy hash for unknown logins so timing tells
//   nothing), then TOTP when the user enabled it or a role requires it. Every failure is
//   UNAUTHENTICATED "invalid login or password" whatever was wrong; a wrong TOTP code is "invalid
//   code". Failures (including wrong codes and unknown logins) count for both throttles (one upsert
//   each); a successful sign-in clears its pair's record. Someone guessing a user's password from
//   elsewhere does not slow the user down at their own address.
// * A session is one sign-in. Its access token (Ed25519 JWT) carries roles, team ids, scopes (the union
//   of the roles' permissions), sid and mfa. Its refresh token is opaque, stored as SHA-256, single use:
//   Refresh retires it and issues the next one of the session; presenting a retired one revokes the
//   session (theft detection). Refresh re-reads the user, so role changes apply at the next refresh;
//   inactive users cannot refresh. Every early end of a session (SignOut, refresh-token reuse, and the
//   store's password change and deactivation) goes through revocation.h, which publishes
//   SessionRevoked in the same transaction; the session's last access-token expiry is kept for it.
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
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crm/identity/v1/identity.pb.h"
#include "services/identity/throttle.h"

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
  SignInThrottlePolicy throttle;
};

class Sessions {
 public:
  // `store` and `keys` must outlive this object. Computes the dummy hash (one argon2 run).
  Sessions(Store& store, KeyRing& keys, SessionOptions options);

  // `client_ip` may be "" (then only the login throttle applies).
  absl::StatusOr<crm::identity::v1::Session> SignIn(const crm::identity::v1::SignInRequest& req,
                                                    std::string_view client_ip);
  // UNAUTHENTICATED for an unknown, retired (then the session is revoked: SessionRevoked
  // "refresh_reuse"), expired or revoked token, or an inactive user. `request_id` goes into the event.
  absl::StatusOr<crm::identity::v1::Session> Refresh(std::string_view refresh_token,
                                                     std::string_view request_id = {});
  // Revokes the session of `refresh_token` (SessionRevoked "sign_out", actor = the session's user);
  // OK also when the token is unknown or the session already ended (then nothing is published).
  absl::Status SignOut(std::string_view refresh_token, std::string_view request_id = {});
  // Store::ConfirmTotp under a per-user throttle (the pair policy): wrong codes count as failures and a
  // throttled user gets RESOURCE_EXHAUSTED with RetryInfo (so enrolment cannot be used to guess codes).
  absl::StatusOr<crm::identity::v1::User> ConfirmTotp(const Actor& actor, std::string_view user_id,
                                                      std::string_view code);
  // Deletes what can no longer matter: throttle records idle for a day (and past their forget_after),
  // sessions whose refresh tokens all expired more than a day ago (with their tokens), idempotency records
  // older than 24 hours.
  absl::Status Prune();

  const SessionOptions& options() const { return options_; }

 private:
  // One throttled key: "pair:<login>|<address>", "addr:<address>" or "enrol:<user id>".
  struct ThrottleKey {
    std::string key;
    const DelayPolicy* policy;
  };
  // OK when every key may attempt now; else RESOURCE_EXHAUSTED with the longest wait as RetryInfo.
  absl::Status CheckThrottle(const std::vector<ThrottleKey>& keys);
  // Counts one failure for each key (one upsert each, one transaction).
  absl::Status RecordFailure(const std::vector<ThrottleKey>& keys);
  // RecordFailure(keys), then `answer`.
  absl::Status Fail(const std::vector<ThrottleKey>& keys, absl::Status answer);
  // The access token's issue time for a token issued now: whole seconds, as JWT times are.
  absl::Time IssueTime() const;
  absl::StatusOr<crm::identity::v1::Session> Issue(const UserAuth& user, const std::string& session_id,
                                                   bool mfa, const std::string& refresh_token,
                                                   absl::Time refresh_expire, absl::Time issued);

  Store& store_;
  KeyRing& keys_;
  const SessionOptions options_;
  std::string dummy_hash_;
};

}  // namespace crm::identity

#endif  // CRM_SERVICES_IDENTITY_SESSIONS_H_
