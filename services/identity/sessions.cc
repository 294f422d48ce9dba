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
#include "libs/pg/pool.h"
#include "services/identity/keys.h"
#include "services/identity/store.h"
#include "services/identity/validate.h"

namespace crm::identity {

namespace v1 = crm::identity::v1;

namespace {

absl::Status InvalidLogin() { return absl::UnauthenticatedError("invalid login or password"); }
absl::Status Throttled() {
  return absl::ResourceExhaustedError("too many sign-in attempts, try again later");
}

}  // namespace

Sessions::Sessions(Store& store, KeyRing& keys, SessionOptions options)
    : store_(store), keys_(keys), options_(std::move(options)) {
  absl::StatusOr<std::string> dummy = auth::HashPassword(auth::RandomToken(16), store_.password_params());
  if (dummy.ok()) dummy_hash_ = *dummy;
}

absl::Status Sessions::CheckThrottle(const std::string& login_key, const std::string& ip_key) {
  bool blocked = false;
  CRM_RETURN_IF_ERROR(pg::InTransaction(store_.pool(),
                                        [&](pqxx::work& tx) -> absl::Status {
                                          blocked =
                                              !tx.exec_params(
                                                     "SELECT 1 FROM signin_throttle WHERE key IN ($1, $2) "
                                                     "AND blocked_until > $3::timestamptz",
                                                     login_key, ip_key, SqlTime(store_.clock().Now()))
                                                   .empty();
                                          return absl::OkStatus();
                                        },
                                        {.read_only = true}));
  return blocked ? Throttled() : absl::OkStatus();
}

absl::Status Sessions::RecordFailure(const std::string& key, int max_failures) {
  const absl::Time now = store_.clock().Now();
  return pg::InTransaction(store_.pool(), [&](pqxx::work& tx) -> absl::Status {
    tx.exec_params(
        "INSERT INTO signin_throttle (key, failures, window_start) VALUES ($1, 0, $2::timestamptz) "
        "ON CONFLICT (key) DO NOTHING",
        key, SqlTime(now));
    pqxx::row r =
        tx.exec_params1(absl::StrCat("SELECT failures, ", SqlMicros("window_start"), ", COALESCE(",
                                     SqlMicros("blocked_until"),
                                     ", 0), lockouts FROM signin_throttle WHERE key = $1 FOR UPDATE"),
                        key);
    int failures = r[0].as<int>();
    absl::Time window_start = absl::FromUnixMicros(r[1].as<int64_t>());
    const absl::Time blocked_until = absl::FromUnixMicros(r[2].as<int64_t>());
    int lockouts = r[3].as<int>();
    if (lockouts > 0 && now - blocked_until > absl::Hours(24)) lockouts = 0;  // a quiet day forgives
    if (now - window_start >= options_.failure_window) {
      failures = 0;
      window_start = now;
    }
    ++failures;
    std::string new_block = "";
    if (failures >= max_failures) {
      absl::Duration lock = options_.first_lockout;
      for (int i = 0; i < lockouts && lock < options_.max_lockout; ++i) lock *= 2;
      lock = std::min(lock, options_.max_lockout);
      new_block = SqlTime(now + lock);
      ++lockouts;
      failures = 0;
      window_start = now;
      log::Warn("sign-in throttled",
                {{"key_kind", key.substr(0, key.find(':'))}, {"lockout_s", absl::ToInt64Seconds(lock)}});
    }
    tx.exec_params(
        "UPDATE signin_throttle SET failures = $2, window_start = $3::timestamptz, lockouts = $4, "
        "blocked_until = CASE WHEN $5 = '' THEN blocked_until ELSE $5::timestamptz END WHERE key = $1",
        key, failures, SqlTime(window_start), lockouts, new_block);
    return absl::OkStatus();
  });
}

absl::Status Sessions::Fail(const std::string& login_key, const std::string& ip_key, absl::Status answer) {
  CRM_RETURN_IF_ERROR(RecordFailure(login_key, options_.login_max_failures));
  if (!ip_key.empty()) CRM_RETURN_IF_ERROR(RecordFailure(ip_key, options_.ip_max_failures));
  return answer;
}

absl::StatusOr<v1::Session> Sessions::SignIn(const v1::SignInRequest& req, std::string_view client_ip) {
  if (req.login().size() > 256) return InvalidLogin();
  const std::string login = NormalizeLogin(req.login());
  const std::string login_key = absl::StrCat("login:", login);
  const std::string ip_key = client_ip.empty() ? std::string() : absl::StrCat("ip:", AsAbsl(client_ip));
  CRM_RETURN_IF_ERROR(CheckThrottle(login_key, ip_key.empty() ? login_key : ip_key));

  CRM_ASSIGN_OR_RETURN(std::optional<UserAuth> user, store_.FindAuthByLogin(login));
  bool password_ok = false;
  if (user) {
    CRM_ASSIGN_OR_RETURN(password_ok, auth::VerifyPassword(req.password(), user->password_hash));
  } else {
    (void)auth::VerifyPassword(req.password(), dummy_hash_);  // same work as for a real user
  }
  if (!user || !password_ok || !user->user.active()) return Fail(login_key, ip_key, InvalidLogin());

  bool mfa = false;
  if (user->user.totp_enabled()) {
    if (req.totp_code().empty()) return absl::UnauthenticatedError("second factor required");
    std::optional<int64_t> step =
        auth::VerifyTotp(user->totp_secret, req.totp_code(), store_.clock().Now(), 1, user->totp_last_step);
    if (!step) return Fail(login_key, ip_key, absl::UnauthenticatedError("invalid code"));
    CRM_ASSIGN_OR_RETURN(bool fresh, store_.ConsumeTotpStep(user->user.id(), *step));
    if (!fresh) return Fail(login_key, ip_key, absl::UnauthenticatedError("invalid code"));
    mfa = true;
  }

  const absl::Time now = store_.clock().Now();
  const std::string session_id = NewUuidV7();
  const std::string refresh = auth::RandomToken();
  const absl::Time refresh_expire = now + options_.refresh_token_ttl;
  CRM_RETURN_IF_ERROR(pg::InTransaction(store_.pool(), [&](pqxx::work& tx) -> absl::Status {
    tx.exec_params("DELETE FROM signin_throttle WHERE key = $1", login_key);
    tx.exec_params(
        "INSERT INTO sessions (id, user_id, mfa, create_time) VALUES ($1, $2, $3, $4::timestamptz)",
        session_id, user->user.id(), mfa, SqlTime(now));
    tx.exec_params(
        "INSERT INTO refresh_tokens (token_hash, session_id, create_time, expire_time) "
        "VALUES ($1, $2, $3::timestamptz, $4::timestamptz)",
        auth::Sha256Hex(refresh), session_id, SqlTime(now), SqlTime(refresh_expire));
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
  return Issue(*user, session_id, mfa, refresh, refresh_expire);
}

absl::StatusOr<v1::Session> Sessions::Refresh(std::string_view refresh_token) {
  if (refresh_token.empty() || refresh_token.size() > 256) {
    return absl::UnauthenticatedError("invalid refresh token");
  }
  const absl::Time now = store_.clock().Now();
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
      tx.exec_params(
          "UPDATE sessions SET revoke_time = $2::timestamptz, revoke_reason = 'refresh token reuse' "
          "WHERE id = $1",
          session_id, SqlTime(now));
      log::Warn("refresh token reuse; session revoked", {{"session_id", session_id}, {"user_id", user_id}});
      verdict = absl::UnauthenticatedError("refresh token already used; the session is revoked");
    } else if (absl::FromUnixMicros(r[0][1].as<int64_t>()) <= now) {
      verdict = absl::UnauthenticatedError("refresh token expired");
    } else {
      tx.exec_params("UPDATE refresh_tokens SET used_time = $2::timestamptz WHERE token_hash = $1", hash,
                     SqlTime(now));
      tx.exec_params(
          "INSERT INTO refresh_tokens (token_hash, session_id, create_time, expire_time) "
          "VALUES ($1, $2, $3::timestamptz, $4::timestamptz)",
          auth::Sha256Hex(next), session_id, SqlTime(now), SqlTime(next_expire));
    }
    return absl::OkStatus();
  }));
  CRM_RETURN_IF_ERROR(verdict);
  CRM_ASSIGN_OR_RETURN(std::optional<UserAuth> user, store_.FindAuthById(user_id));
  if (!user || !user->user.active()) {
    CRM_RETURN_IF_ERROR(pg::InTransaction(store_.pool(), [&](pqxx::work& tx) -> absl::Status {
      tx.exec_params(
          "UPDATE sessions SET revoke_time = $2::timestamptz, revoke_reason = 'inactive' WHERE id = $1",
          session_id, SqlTime(now));
      return absl::OkStatus();
    }));
    return absl::UnauthenticatedError("session ended");
  }
  return Issue(*user, session_id, mfa, next, next_expire);
}

absl::Status Sessions::SignOut(std::string_view refresh_token) {
  if (refresh_token.empty() || refresh_token.size() > 256) return absl::OkStatus();
  return pg::InTransaction(store_.pool(), [&](pqxx::work& tx) -> absl::Status {
    tx.exec_params(
        "UPDATE sessions SET revoke_time = $2::timestamptz, revoke_reason = 'signed out' "
        "WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $1) AND revoke_time IS NULL",
        auth::Sha256Hex(refresh_token), SqlTime(store_.clock().Now()));
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::User> Sessions::ConfirmTotp(const Actor& actor, std::string_view user_id,
                                               std::string_view code) {
  CRM_ASSIGN_OR_RETURN(v1::User user, store_.GetUser(user_id));
  const std::string login_key = absl::StrCat("login:", user.login());
  CRM_RETURN_IF_ERROR(CheckThrottle(login_key, login_key));
  absl::StatusOr<v1::User> confirmed = store_.ConfirmTotp(actor, user_id, code);
  if (confirmed.status().code() == absl::StatusCode::kInvalidArgument) {
    CRM_RETURN_IF_ERROR(RecordFailure(login_key, options_.login_max_failures));
  }
  return confirmed;
}

absl::Status Sessions::Prune() {
  const absl::Time now = store_.clock().Now();
  const std::string day_ago = SqlTime(now - absl::Hours(24));
  return pg::InTransaction(store_.pool(), [&](pqxx::work& tx) -> absl::Status {
    tx.exec_params(
        "DELETE FROM signin_throttle WHERE window_start < $1::timestamptz "
        "AND (blocked_until IS NULL OR blocked_until < $1::timestamptz)",
        day_ago);
    tx.exec_params(
        "DELETE FROM sessions s WHERE s.create_time < $1::timestamptz AND NOT EXISTS "
        "(SELECT 1 FROM refresh_tokens rt WHERE rt.session_id = s.id AND rt.expire_time >= $1::timestamptz)",
        day_ago);
    tx.exec_params("DELETE FROM idempotency WHERE create_time < $1::timestamptz", day_ago);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Session> Sessions::Issue(const UserAuth& user, const std::string& session_id, bool mfa,
                                            const std::string& refresh_token, absl::Time refresh_expire) {
  CRM_ASSIGN_OR_RETURN(auth::SigningKey key, keys_.Current());
  const absl::Time now = absl::FromUnixSeconds(absl::ToUnixSeconds(store_.clock().Now()));
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
