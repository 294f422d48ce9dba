// File: services/identity/revocation.h
// -----------------------------------------------------------------------------
// Ending sessions before their time, and saying so. Every path that revokes a session — sign-out, a
// reused refresh token, a password change, deactivating the user, an administrator — goes through
// these functions, which mark the sessions revoked and append one SessionRevoked event per session to
// the outbox IN THE CALLER'S TRANSACTION (type crm.identity.session.revoked.v1, aggregate "session",
// key = session id, topic crm.identity.session.v1). The gateway keeps the revoked sessions from that
// topic and refuses their access tokens at once instead of when they expire.
//
// tokens_expire_time is the session's `last_access_expire_time` column: the expiry of the last access
// token issued to it, which SignIn and every Refresh set in the transaction that issues the token.
//
// Example:
//   CRM_RETURN_IF_ERROR(pg::InTransaction(pool, [&](pqxx::work& tx) -> absl::Status {
//     return RevokeUserSessions(tx, store.outbox(), actor, user_id, RevokeReason::kPasswordChanged, now)
//         .status();
//   }));
#ifndef CRM_SERVICES_IDENTITY_REVOCATION_H_
#define CRM_SERVICES_IDENTITY_REVOCATION_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/events/outbox.h"
#include "services/identity/store.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm::identity {

enum class RevokeReason { kSignOut, kRefreshReuse, kPasswordChanged, kUserDeactivated, kRevokedByAdmin };

// The reason as SessionRevoked.reason (and sessions.revoke_reason) spell it: "sign_out",
// "refresh_reuse", "password_changed", "user_deactivated", "revoked_by_admin".
std::string_view RevokeReasonCode(RevokeReason reason);

// A session one of the functions below revoked.
struct RevokedSession {
  std::string session_id;
  std::string user_id;
  absl::Time tokens_expire_time;
};

// Revokes session `session_id` if it is not revoked yet, and appends its SessionRevoked. Returns the
// revoked session (none when it did not exist or was already revoked: nothing is written then).
// `actor` is the envelope's actor; an actor with no principal kind stands for the session's own user.
absl::StatusOr<std::vector<RevokedSession>> RevokeSession(pqxx::transaction_base& tx,
                                                          const events::OutboxWriter& outbox,
                                                          const Actor& actor, std::string_view session_id,
                                                          RevokeReason reason, absl::Time now);

// The same for the session that issued `refresh_token_hash` (any of its tokens, retired or not).
absl::StatusOr<std::vector<RevokedSession>> RevokeSessionOfRefreshToken(pqxx::transaction_base& tx,
                                                                        const events::OutboxWriter& outbox,
                                                                        const Actor& actor,
                                                                        std::string_view refresh_token_hash,
                                                                        RevokeReason reason, absl::Time now);

// The same for every unrevoked session of user `user_id` (one event per session).
absl::StatusOr<std::vector<RevokedSession>> RevokeUserSessions(pqxx::transaction_base& tx,
                                                               const events::OutboxWriter& outbox,
                                                               const Actor& actor, std::string_view user_id,
                                                               RevokeReason reason, absl::Time now);

}  // namespace crm::identity

#endif  // CRM_SERVICES_IDENTITY_REVOCATION_H_
