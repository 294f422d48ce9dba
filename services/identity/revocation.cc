// File: services/identity/revocation.cc
#include "services/identity/revocation.h"

#include <pqxx/pqxx>

#include "crm/identity/v1/events.pb.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/pg/prepared.h"
#include "proto/crm/identity/v1/event_types.h"

namespace crm::identity {

namespace {

// The aggregate of SessionRevoked: identity's outbox sends it to crm.identity.session.v1 (kSessionTopic).
constexpr char kSessionAggregate[] = "session";

// Each statement marks the selected unrevoked sessions revoked ($2 time, $3 reason) and returns them.
#define CRM_REVOKE_RETURNING \
  " RETURNING id::text, user_id::text, (EXTRACT(EPOCH FROM last_access_expire_time) * 1000000)::bigint"

constexpr char kRevokeSessionSql[] =
    "UPDATE sessions SET revoke_time = $2::timestamptz, revoke_reason = $3 "
    "WHERE id = $1::uuid AND revoke_time IS NULL" CRM_REVOKE_RETURNING;

constexpr char kRevokeSessionOfRefreshTokenSql[] =
    "UPDATE sessions SET revoke_time = $2::timestamptz, revoke_reason = $3 "
    "WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $1) AND revoke_time IS "
    "NULL" CRM_REVOKE_RETURNING;

constexpr char kRevokeUserSessionsSql[] =
    "UPDATE sessions SET revoke_time = $2::timestamptz, revoke_reason = $3 "
    "WHERE user_id = $1::uuid AND revoke_time IS NULL" CRM_REVOKE_RETURNING;

#undef CRM_REVOKE_RETURNING

absl::StatusOr<std::vector<RevokedSession>> Revoke(pqxx::transaction_base& tx,
                                                   const events::OutboxWriter& outbox, const Actor& actor,
                                                   const char* sql, std::string_view selector,
                                                   RevokeReason reason, absl::Time now) {
  const std::string reason_code(RevokeReasonCode(reason));
  pqxx::result rows = pg::ExecPrepared(tx, sql, std::string(selector), FormatRfc3339Utc(now), reason_code);
  std::vector<RevokedSession> out;
  out.reserve(rows.size());
  for (const pqxx::row& r : rows) {
    RevokedSession s{r[0].c_str(), r[1].c_str(), absl::FromUnixMicros(r[2].as<int64_t>())};
    v1::SessionRevoked event;
    event.set_session_id(s.session_id);
    event.set_user_id(s.user_id);
    event.set_reason(reason_code);
    *event.mutable_revoke_time() = ToProtoTimestamp(now);
    *event.mutable_tokens_expire_time() = ToProtoTimestamp(s.tokens_expire_time);
    crm::common::v1::Principal by = actor.principal;
    if (by.kind() == crm::common::v1::Principal::KIND_UNSPECIFIED) {
      by.set_kind(crm::common::v1::Principal::KIND_USER);
      by.set_id(s.user_id);
    }
    CRM_RETURN_IF_ERROR(outbox
                            .Append(tx, {.aggregate_type = kSessionAggregate,
                                         .aggregate_id = s.session_id,
                                         .type = v1::kSessionRevokedType,
                                         .payload = &event,
                                         .actor = std::move(by),
                                         .request_id = actor.request_id,
                                         .visible_to_user_ids = {s.user_id}})
                            .status());
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

std::string_view RevokeReasonCode(RevokeReason reason) {
  switch (reason) {
    case RevokeReason::kSignOut:
      return "sign_out";
    case RevokeReason::kRefreshReuse:
      return "refresh_reuse";
    case RevokeReason::kPasswordChanged:
      return "password_changed";
    case RevokeReason::kUserDeactivated:
      return "user_deactivated";
    case RevokeReason::kRevokedByAdmin:
      return "revoked_by_admin";
  }
  return "revoked_by_admin";
}

absl::StatusOr<std::vector<RevokedSession>> RevokeSession(pqxx::transaction_base& tx,
                                                          const events::OutboxWriter& outbox,
                                                          const Actor& actor, std::string_view session_id,
                                                          RevokeReason reason, absl::Time now) {
  return Revoke(tx, outbox, actor, kRevokeSessionSql, session_id, reason, now);
}

absl::StatusOr<std::vector<RevokedSession>> RevokeSessionOfRefreshToken(pqxx::transaction_base& tx,
                                                                        const events::OutboxWriter& outbox,
                                                                        const Actor& actor,
                                                                        std::string_view refresh_token_hash,
                                                                        RevokeReason reason, absl::Time now) {
  return Revoke(tx, outbox, actor, kRevokeSessionOfRefreshTokenSql, refresh_token_hash, reason, now);
}

absl::StatusOr<std::vector<RevokedSession>> RevokeUserSessions(pqxx::transaction_base& tx,
                                                               const events::OutboxWriter& outbox,
                                                               const Actor& actor, std::string_view user_id,
                                                               RevokeReason reason, absl::Time now) {
  return Revoke(tx, outbox, actor, kRevokeUserSessionsSql, user_id, reason, now);
}

}  // namespace crm::identity
