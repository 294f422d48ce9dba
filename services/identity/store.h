// File: services/identity/store.h
// -----------------------------------------------------------------------------
// identity's PostgreSQL store of users, teams and roles (permissions are rows of role_permissions).
// Every write validates its input (INVALID_ARGUMENT naming the proto field), runs in one transaction
// and, for users, appends UserCreated / UserUpdated to the outbox in that same transaction (aggregate
// "user", topic crm.identity.user.v1, visible to the user). Permission checks are the caller's job
// (service.cc): the store trusts that the actor may do what it asks.
//
// Example:
//   crm::identity::Store store(*pool, crm::SystemClock());
//   crm::identity::v1::User u;
//   u.set_login("Anna.K");  u.set_full_name("Анна К.");  u.add_role_codes("manager");
//   CRM_ASSIGN_OR_RETURN(u, store.CreateUser(actor, request_id, u, "a long password"));
//   CRM_ASSIGN_OR_RETURN(auto auth, store.LoadAuth(u.id()));   // permissions, TOTP state, hash
#ifndef CRM_SERVICES_IDENTITY_STORE_H_
#define CRM_SERVICES_IDENTITY_STORE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "crm/common/v1/common.pb.h"
#include "crm/identity/v1/identity.pb.h"
#include "libs/auth/password.h"
#include "libs/events/outbox.h"
#include "libs/pg/idempotency.h"
#include "proto/crm/identity/v1/event_types.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm {
class Clock;
namespace pg {
class Pool;
}  // namespace pg
}  // namespace crm

namespace crm::identity {

// What sign-in and token issue need to know about a user, beyond the public User.
struct UserAuth {
  crm::identity::v1::User user;
  std::string password_hash;
  std::string totp_secret;               // the confirmed secret, "" when none
  std::string totp_pending_secret;       // an enrolment awaiting ConfirmTotp, "" when none
  int64_t totp_last_step = -1;           // the last TOTP time step accepted
  bool role_requires_totp = false;       // one of the user's roles requires a second factor
  std::vector<std::string> permissions;  // union of the roles' permissions, sorted, unique
};

// Who made a change and in which request: the envelope's actor and request id.
struct Actor {
  crm::common::v1::Principal principal;
  std::string request_id;
};

// A creating call's idempotency (libs/pg/idempotency.h): its scope (caller, method, the client's key)
// and the request the key's fingerprint is taken of. The record is written in the transaction of the
// change, so a repeat returns the first reply and a failed first attempt leaves the key free. The
// default (no key, no request) makes the call run every time.
struct Idempotency {
  pg::IdempotencyScope scope;
  const google::protobuf::Message* request = nullptr;
  // Calls that carry a secret (sealed.h): the client's key, which seals the secret of the reply;
  // scope.key is then SealedScopeKey() of it. "" for every other call.
  std::string sealing_key;
};

// Runs `fn` within `tx` under `idempotency` (pg::RunIdempotent), or simply runs it without a key;
// `reply` is what is recorded and, for a repeat, what is filled instead of running `fn`.
absl::Status RunIdempotentIn(pqxx::transaction_base& tx, const Idempotency& idempotency, absl::Time now,
                             google::protobuf::Message& reply, absl::FunctionRef<absl::Status()> fn);

class Store {
 public:
  // `pool` and `clock` must outlive the store. `password_params` is the argon2id cost of new hashes.
  Store(pg::Pool& pool, const Clock& clock, auth::PasswordParams password_params = {});

  pg::Pool& pool() const { return pool_; }
  // identity's outbox writer (source "/crm/identity", topics crm.identity.<aggregate>.v1).
  const events::OutboxWriter& outbox() const { return outbox_; }
  const Clock& clock() const { return clock_; }
  const auth::PasswordParams& password_params() const { return password_params_; }

  // ---- users ----
  // Creates an active user with `password` (≥ 10 characters). The login is stored lower-case.
  // INVALID_ARGUMENT naming user.login / user.full_name / user.email / user.phone / user.role_codes /
  // user.team_ids / user.supervisor_id / password; ALREADY_EXISTS for a taken login. A repeat under
  // `idempotency` returns the first user.
  absl::StatusOr<crm::identity::v1::User> CreateUser(const Actor& actor, const crm::identity::v1::User& user,
                                                     std::string_view password,
                                                     const Idempotency& idempotency = {});
  // Applies the fields named in `paths` (User field names; validated by the caller) from `user`.
  // NOT_FOUND for an unknown user.id; ABORTED "version mismatch" when user.version is not 0 and not
  // the stored one. Bumps the version and emits UserUpdated only when something changed. Deactivating
  // a user revokes their sessions (SessionRevoked "user_deactivated" each, same transaction).
  absl::StatusOr<crm::identity::v1::User> UpdateUser(const Actor& actor, const crm::identity::v1::User& user,
                                                     const std::vector<std::string>& paths);
  // NOT_FOUND when there is no such user (or `id` is not a UUID).
  absl::StatusOr<crm::identity::v1::User> GetUser(std::string_view id);
  absl::StatusOr<crm::identity::v1::ListUsersResponse> ListUsers(
      const crm::identity::v1::ListUsersRequest& req);
  // The users of req.ids in the order asked, the ids of none, and their teams' names (issue 16).
  // INVALID_ARGUMENT naming `ids` (none, more than kMaxPageSize) or each malformed `ids[i]`.
  absl::StatusOr<crm::identity::v1::BatchGetUsersResponse> BatchGetUsers(
      const crm::identity::v1::BatchGetUsersRequest& req);
  // The sign-in view of a user; nullopt when none has this login (any case) / id.
  absl::StatusOr<std::optional<UserAuth>> FindAuthByLogin(std::string_view login);
  absl::StatusOr<std::optional<UserAuth>> FindAuthById(std::string_view id);
  // Replaces the password hash and revokes every session of the user (they must sign in again), with
  // one SessionRevoked "password_changed" per session in the same transaction.
  absl::Status SetPasswordHash(const Actor& actor, std::string_view user_id, std::string_view phc);
  // SetPasswordHash for UserService.SetPassword: when `current_password` is given it must verify against
  // the stored hash (else INVALID_ARGUMENT naming current_password), all under `idempotency` (sealed.h:
  // the request is fingerprinted with its passwords blinded). NOT_FOUND for no such user.
  absl::Status SetPassword(const Actor& actor, std::string_view user_id, std::string_view phc,
                           const std::string* current_password, const Idempotency& idempotency);
  // How many users exist.
  absl::StatusOr<int64_t> CountUsers();

  // ---- two-factor ----
  // Stores `secret` as the user's pending enrolment (replacing any earlier one).
  absl::Status SetPendingTotp(std::string_view user_id, std::string_view secret);
  // Makes the pending secret the user's confirmed one if `code` is valid for it now; emits
  // UserUpdated [totp_enabled]. FAILED_PRECONDITION when no enrolment is pending; INVALID_ARGUMENT
  // naming `code` when it does not match.
  absl::StatusOr<crm::identity::v1::User> ConfirmTotp(const Actor& actor, std::string_view user_id,
                                                      std::string_view code);
  // Enables TOTP with `secret` directly (demo data), without a code.
  absl::Status EnableTotpDirectly(std::string_view user_id, std::string_view secret);
  // Records that TOTP time step `step` was accepted for the user; false when it (or a later one)
  // already was (a replay).
  absl::StatusOr<bool> ConsumeTotpStep(std::string_view user_id, int64_t step);

  // ---- teams ----
  // INVALID_ARGUMENT naming team.name / team.parent_id / team.head_user_id. A repeat under
  // `idempotency` returns the first team.
  absl::StatusOr<crm::identity::v1::Team> CreateTeam(const crm::identity::v1::Team& team,
                                                     const Idempotency& idempotency = {});
  absl::StatusOr<crm::identity::v1::Team> GetTeam(std::string_view id);
  absl::StatusOr<crm::identity::v1::ListTeamsResponse> ListTeams(
      const crm::identity::v1::ListTeamsRequest& req);
  // The id of a team called exactly `name`, if any (the oldest when several).
  absl::StatusOr<std::optional<std::string>> FindTeamByName(std::string_view name);

  // ---- roles ----
  // Every role (what sign-in and the demo need).
  absl::StatusOr<crm::identity::v1::ListRolesResponse> ListRoles();
  // A page of roles by code (the suite's page rule: default 50, at most 200).
  absl::StatusOr<crm::identity::v1::ListRolesResponse> ListRoles(
      const crm::identity::v1::ListRolesRequest& req);
  // Applies `paths` (name, permissions, requires_totp) of `role`. NOT_FOUND for an unknown code.
  absl::StatusOr<crm::identity::v1::Role> UpdateRole(const crm::identity::v1::Role& role,
                                                     const std::vector<std::string>& paths);

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  auth::PasswordParams password_params_;
  events::OutboxWriter outbox_;
};

// The event types identity publishes, named once in proto/crm/identity/v1/event_types.h.
using crm::identity::v1::kSessionRevokedType;
using crm::identity::v1::kUserCreatedType;
using crm::identity::v1::kUserUpdatedType;

// Helpers shared by the store's modules (sessions, keys, API keys): timestamps as SQL parameters and
// results. `SqlTime(t)` is an RFC 3339 string to cast with `::timestamptz`; `kMicros(col)` SQL reads a
// timestamptz as microseconds since the epoch.
std::string SqlTime(absl::Time t);
std::string SqlMicros(std::string_view column);

}  // namespace crm::identity

#endif  // CRM_SERVICES_IDENTITY_STORE_H_
