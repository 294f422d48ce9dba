// File: services/identity/sessions.cc
#include "services/identity/sessions.h"

#include <algorithm>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "google/protobuf/timestamp.pb.h"
#include "libs/auth/jwt.h"
#include "libs/auth/password.h"
#include "libs/auth/secrets.h"
#include "libs/auth/totp.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/log/log.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "services/identity/keys.h"
#include "services/identity/revocation.h"
#include "services/identity/store.h"
#include "services/identity/validate.h"

namespace crm::identity {

namespace {

absl::Status InvalidLogin() { return absl::UnauthenticatedError("invalid login or password"); }

// The failure records of up to two keys ($2 may be ''): key, failures, last failure (µs).
constexpr char kReadFailuresSql[] =
    "SELECT key, failures, (EXTRACT(EPOCH FROM last_failure_time) * 1000000)::bigint "
    "FROM signin_failures WHERE key IN ($1, $2)";

// Counts one failure of key $1 at $2. The count restarts at 1 when the last failure is at least $3
// microseconds old (DelayPolicy::forget_after: the same rule as CountedFailures), and is bounded so it
// cannot overflow.
constexpr char kRecordFailureSql[] =
    "INSERT INTO signin_failures AS f (key, failures, last_failure_time) VALUES ($1, 1, $2::timestamptz) "
    "ON CONFLICT (key) DO UPDATE SET "
    "failures = CASE WHEN f.last_failure_time <= $2::timestamptz - $3::bigint * interval '1 microsecond' "
    "THEN 1 ELSE LEAST(f.failures + 1, 1000000) END, "
    "last_failure_time = GREATEST(f.last_failure_time, $2::timestamptz)";

constexpr char kClearFailuresSql[] = "DELETE FROM signin_failures WHERE key = $1";

constexpr char kInsertSessionSql[] =
    "INSERT INTO sessions (id, user_id, mfa, create_time, last_access_expire_time) "
    "VALUES ($1, $2, $3, $4::timestamptz, $5::timestamptz)";

constexpr char kInsertRefreshTokenSql[] =
    "INSERT INTO refresh_tokens (token_hash, session_id, create_time, expire_time) "
    "VALUES ($1, $2, $3::timestamptz, $4::timestamptz)";

constexpr char kSetLastAccessExpireSql[] =
    "UPDATE sessions SET last_access_expire_time = GREATEST(last_access_expire_time, $2::timestamptz) "
    "WHERE id = $1";

// RESOURCE_EXHAUSTED for an attempt refused for `wait` (rounded up to whole seconds, as Retry-After
// counts them), in plain words, with the wait as google.rpc.RetryInfo.
absl::Status Throttled(absl::Duration wait) {
  const int64_t seconds = std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(wait, absl::Seconds(1))));
  return WithRetryDelay(
      absl::ResourceExhaustedError(absl::StrCat("too many failed sign-in attempts; try again in ", seconds,
                                                seconds == 1 ? " second" : " seconds")),
      absl::Seconds(seconds));
}

Actor SystemActor(std::string_view request_id) {
  Actor a;
  a.principal.set_kind(crm::common::v1::Principal::KIND_SERVICE);
  a.principal.set_service("identity");
  a.request_id = std::string(request_id);
  return a;
}

}  // namespace

Sessions::Sessions(Store& store, KeyRing& keys, SessionOptions options)
    : store_(store), keys_(keys), options_(std::move(options)) {
  absl::StatusOr<std::string> dummy = auth::HashPassword(auth::RandomToken(16), store_.password_params());
  if (dummy.ok()) dummy_hash_ = *dummy;
}

absl::Status Sessions::CheckThrottle(const std::vector<ThrottleKey>& keys) {
  const absl::Time now = store_.clock().Now();
  absl::Duration wait = absl::ZeroDuration();
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      store_.pool(),
      [&](pqxx::work& tx) -> absl::Status {
        wait = absl::ZeroDuration();
        pqxx::result r = pg::ExecPrepared(tx, kReadFailuresSql, keys.at(0).key,
                                          keys.size() > 1 ? keys[1].key : std::string());
        for (const pqxx::row& row : r) {
          for (const ThrottleKey& k : keys) {
            if (k.key != row[0].c_str()) continue;
            wait = std::max(wait, WaitBefore(*k.policy, row[1].as<int>(),
                                             absl::FromUnixMicros(row[2].as<int64_t>()), now));
          }
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  if (wait <= absl::ZeroDuration()) return absl::OkStatus();
  log::Info("sign-in attempt throttled", {{"wait_ms", absl::ToInt64Milliseconds(wait)}});
  return Throttled(wait);
}

absl::Status Sessions::RecordFailure(const std::vector<ThrottleKey>& keys) {
  const std::string now = SqlTime(store_.clock().Now());
  return pg::InTransaction(store_.pool(), [&](pqxx::work& tx) -> absl::Status {
    for (const ThrottleKey& k : keys) {
      pg::ExecPrepared(tx, kRecordFailureSql, k.key, now, absl::ToInt64Microseconds(k.policy->forget_after));
    }
    return absl::OkStatus();
  });
}

absl::Status Sessions::Fail(const std::vector<ThrottleKey>& keys, absl::Status answer) {
  CRM_RETURN_IF_ERROR(RecordFailure(keys));
  return answer;
}

absl::Time Sessions::IssueTime() const {
  return absl::FromUnixSeconds(absl::ToUnixSeconds(store_.clock().Now()));
}

absl::StatusOr<v1::Session> Sessions::SignIn(const v1::SignInRequest& req, std::string_view client_ip) {
  if (req.login().size() > 256) return InvalidLogin();
  const std::string login = NormalizeLogin(req.login());
  const std::string pair_key = absl::StrCat("pair:", login, "|", AsAbsl(client_ip));
  std::vector<ThrottleKey> keys = {{pair_key, &options_.throttle.per_login_address}};
  if (!client_ip.empty()) {
    keys.push_back({absl::StrCat("addr:", AsAbsl(client_ip)), &options_.throttle.per_address});
  }
  CRM_RETURN_IF_ERROR(CheckThrottle(keys));  // before the password: a throttled attempt learns nothing

  CRM_ASSIGN_OR_RETURN(std::optional<UserAuth> user, store_.FindAuthByLogin(login));
  bool password_ok = false;
  if (user) {
    CRM_ASSIGN_OR_RETURN(password_ok, auth::VerifyPassword(req.password(), user->password_hash));
  } else {
    (void)auth::VerifyPassword(req.password(), dummy_hash_);  // same work as for a real user
  }
  if (!user || !password_ok || !user->user.active()) return Fail(keys, InvalidLogin());

  bool mfa = false;
  if (user->user.totp_enabled()) {
    if (req.totp_code().empty()) return absl::UnauthenticatedError("second factor required");
    std::optional<int64_t> step =
        auth::VerifyTotp(user->totp_secret, req.totp_code(), store_.clock().Now(), 1, user->totp_last_step);
    if (!step) return Fail(keys, absl::UnauthenticatedError("invalid code"));
    CRM_ASSIGN_OR_RETURN(bool fresh, store_.ConsumeTotpStep(user->user.id(), *step));
    if (!fresh) return Fail(keys, absl::UnauthenticatedError("invalid code"));
    mfa = true;
  }

  const absl::Time now = store_.clock().Now();
  const absl::Time issued = IssueTime();
  const std::string session_id = NewUuidV7();
  const std::string refresh = auth::RandomToken();
  const absl::Time refresh_expire = now + options_.refresh_token_ttl;
  CRM_RETURN_IF_ERROR(pg::InTransaction(store_.pool(), [&](pqxx::work& tx) -> absl::Status {
    pg::ExecPrepared(tx, kClearFailuresSql, pair_key);
    pg::ExecPrepared(tx, kInsertSessionSql, session_id, user->user.id(), mfa, SqlTime(now),
                     SqlTime(issued + options_.access_token_ttl));
    pg::ExecPrepared(tx, kInsertRefreshTokenSql, auth::Sha256Hex(refresh), session_id, SqlTime(now),
                     SqlTime(refresh_expire));
    return absl::OkStatus();
  }));
  if (auth::NeedsRehash(user->password_hash, store_.password_params())) {
    absl::StatusOr<std::string> phc = auth::HashPassword(req.password(), store_.password_params());
    if (phc.ok()) {
      (void)pg::InTransaction(store_.pool(), [&](pqxx::work& tx) -> absl::Status {
        tx.exec_params("UPDATE users SET password_hash = $2 WHERE id = $1", user->user.id(), *phc);
        return absl::OkStatus();
      });
    }
  }
  return Issue(*user, session_id, mfa, refresh, refresh_expire, issued);
}

absl::StatusOr<v1::Session> Sessions::Refresh(std::string_view refresh_token, std::string_view request_id) {
  if (refresh_token.empty() || refresh_token.size() > 256) {
    return absl::UnauthenticatedError("invalid refresh token");
  }
  const absl::Time now = store_.clock().Now();
  const absl::Time issued = IssueTime();
  const std::string hash = auth::Sha256Hex(refresh_token);
  const std::string next = auth::RandomToken();
  const absl::Time next_expire = now + options_.refresh_token_ttl;
  absl::Status verdict;
  std::string session_id, user_id;
  bool mfa = false;
  CRM_RETURN_IF_ERROR(pg::InTransaction(store_.pool(), [&](pqxx::work& tx) -> absl::Status {
    verdict = absl::OkStatus();
    pqxx::result r = tx.exec_params(
        absl::StrCat("SELECT rt.session_id::text, ", SqlMicros("rt.expire_time"),
                     ", rt.used_time IS NOT NULL, s.revoke_time IS NOT NULL, s.user_id::text, s.mfa "
                     "FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id "
                     "WHERE rt.token_hash = $1 FOR UPDATE OF rt, s"),
        hash);
    if (r.empty()) {
      verdict = absl::UnauthenticatedError("invalid refresh token");
      return absl::OkStatus();
    }
    session_id = r[0][0].c_str();
    user_id = r[0][4].c_str();
    mfa = r[0][5].as<bool>();
    if (r[0][3].as<bool>()) {
      verdict = absl::UnauthenticatedError("session ended");
    } else if (r[0][2].as<bool>()) {
      // A retired token came back: someone holds a copy. End the whole session.
      CRM_RETURN_IF_ERROR(RevokeSession(tx, store_.outbox(), SystemActor(request_id), session_id,
                                        RevokeReason::kRefreshReuse, now)
                              .status());
      log::Warn("refresh token reuse; session revoked", {{"session_id", session_id}, {"user_id", user_id}});
      verdict = absl::UnauthenticatedError("refresh token already used; the session is revoked");
    } else if (absl::FromUnixMicros(r[0][1].as<int64_t>()) <= now) {
      verdict = absl::UnauthenticatedError("refresh token expired");
    } else {
      tx.exec_params("UPDATE refresh_tokens SET used_time = $2::timestamptz WHERE token_hash = $1", hash,
                     SqlTime(now));
      pg::ExecPrepared(tx, kInsertRefreshTokenSql, auth::Sha256Hex(next), session_id, SqlTime(now),
                       SqlTime(next_expire));
      pg::ExecPrepared(tx, kSetLastAccessExpireSql, session_id, SqlTime(issued + options_.access_token_ttl));
    }
    return absl::OkStatus();
  }));
  CRM_RETURN_IF_ERROR(verdict);
  CRM_ASSIGN_OR_RETURN(std::optional<UserAuth> user, store_.FindAuthById(user_id));
  if (!user || !user->user.active()) {
    // Deactivation revokes sessions itself; this catches a session that escaped it.
    CRM_RETURN_IF_ERROR(pg::InTransaction(store_.pool(), [&](pqxx::work& tx) -> absl::Status {
      return RevokeSession(tx, store_.outbox(), SystemActor(request_id), session_id,
                           RevokeReason::kUserDeactivated, now)
          .status();
    }));
    return absl::UnauthenticatedError("session ended");
  }
  return Issue(*user, session_id, mfa, next, next_expire, issued);
}

absl::Status Sessions::SignOut(std::string_view refresh_token, std::string_view request_id) {
  if (refresh_token.empty() || refresh_token.size() > 256) return absl::OkStatus();
  const Actor by_user{{}, std::string(request_id)};  // no principal: the session's own user
  return pg::InTransaction(store_.pool(), [&](pqxx::work& tx) -> absl::Status {
    return RevokeSessionOfRefreshToken(tx, store_.outbox(), by_user, auth::Sha256Hex(refresh_token),
                                       RevokeReason::kSignOut, store_.clock().Now())
        .status();
  });
}

absl::StatusOr<v1::User> Sessions::ConfirmTotp(const Actor& actor, std::string_view user_id,
                                               std::string_view code) {
  CRM_ASSIGN_OR_RETURN(v1::User user, store_.GetUser(user_id));
  const std::vector<ThrottleKey> keys = {
      {absl::StrCat("enrol:", user.id()), &options_.throttle.per_login_address}};
  CRM_RETURN_IF_ERROR(CheckThrottle(keys));
  absl::StatusOr<v1::User> confirmed = store_.ConfirmTotp(actor, user_id, code);
  if (confirmed.status().code() == absl::StatusCode::kInvalidArgument) {
    CRM_RETURN_IF_ERROR(RecordFailure(keys));
  } else if (confirmed.ok()) {
    CRM_RETURN_IF_ERROR(pg::InTransaction(store_.pool(), [&](pqxx::work& tx) -> absl::Status {
      pg::ExecPrepared(tx, kClearFailuresSql, keys[0].key);
      return absl::OkStatus();
    }));
  }
  return confirmed;
}

absl::Status Sessions::Prune() {
  const absl::Time now = store_.clock().Now();
  const std::string day_ago = SqlTime(now - absl::Hours(24));
  // A failure record older than its policy's forget_after counts for nothing; keep a day at least.
  const absl::Duration keep = std::max({absl::Hours(24), options_.throttle.per_login_address.forget_after,
                                        options_.throttle.per_address.forget_after});
  return pg::InTransaction(store_.pool(), [&](pqxx::work& tx) -> absl::Status {
    tx.exec_params("DELETE FROM signin_failures WHERE last_failure_time < $1::timestamptz",
                   SqlTime(now - keep));
    tx.exec_params(
        "DELETE FROM sessions s WHERE s.create_time < $1::timestamptz AND NOT EXISTS "
        "(SELECT 1 FROM refresh_tokens rt WHERE rt.session_id = s.id AND rt.expire_time >= $1::timestamptz)",
        day_ago);
    return pg::PurgeIdempotency(tx, now).status();
  });
}

absl::StatusOr<v1::Session> Sessions::Issue(const UserAuth& user, const std::string& session_id, bool mfa,
                                            const std::string& refresh_token, absl::Time refresh_expire,
                                            absl::Time issued) {
  CRM_ASSIGN_OR_RETURN(auth::SigningKey key, keys_.Current());
  const absl::Time now = issued;  // the session's last_access_expire_time is issued + TTL
  auth::Claims c;
  c.iss = options_.issuer;
  c.aud = options_.audience;
  c.sub = user.user.id();
  c.kind = "user";
  c.jti = NewUuidV7();
  c.sid = session_id;
  c.mfa = mfa;
  c.iat = c.nbf = now;
  c.exp = now + options_.access_token_ttl;
  c.roles.assign(user.user.role_codes().begin(), user.user.role_codes().end());
  c.teams.assign(user.user.team_ids().begin(), user.user.team_ids().end());
  if (user.role_requires_totp && !mfa) {
    c.scopes = {kTotpEnrollScope};  // restricted: enrol the second factor first
  } else {
    c.scopes = user.permissions;
  }
  CRM_ASSIGN_OR_RETURN(std::string token, auth::SignJwt(c, key));
  v1::Session s;
  s.set_access_token(token);
  *s.mutable_access_token_expire_time() = ToProtoTimestamp(c.exp);
  s.set_refresh_token(refresh_token);
  *s.mutable_refresh_token_expire_time() = ToProtoTimestamp(refresh_expire);
  s.set_token_type("Bearer");
  *s.mutable_user() = user.user;
  return s;
}

}  // namespace crm::identity
