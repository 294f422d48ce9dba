// File: services/gateway/revocations.h
// -----------------------------------------------------------------------------
// Revoked sessions (issue 15): a session that identity ends early — sign-out, a reused refresh token,
// a password change, a deactivated user, an administrator — must stop working at the gateway at once,
// although its access tokens stay cryptographically valid until they expire, and without a call to
// identity per request.
//
// Identity publishes crm.identity.v1.SessionRevoked (type "crm.identity.session.revoked.v1") inside a
// crm.events.v1.Envelope on topic crm.identity.session.v1 (key = session id), from its outbox in the
// transaction that revokes the session. Every gateway replica reads ALL partitions of that topic itself
// (a broadcast: explicit assignment, no consumer group membership, nothing committed) and keeps the set
// session id → until when it matters (SessionRevoked.tokens_expire_time + the verifier's leeway; after
// that no token of the session verifies anyway, so the entry is dropped and memory stays bounded by the
// revocations of one token lifetime). The Authenticator (auth.h) refuses a token whose `sid` is in the
// set, including tokens it remembered as verified.
//
//   * RevokedSessions — the set itself, fed with envelopes; no Kafka (unit-testable with a ManualClock).
//   * RevocationListener — the librdkafka consumer feeding a RevokedSessions. At start it reads every
//     partition from `now - (token_ttl + leeway)` (rd_kafka_offsets_for_times) so a fresh replica knows
//     the revocations that still matter, and is Ready() only once it has read up to the partitions' ends
//     as they were at start. Where Kafka cannot say an offset for that time (the dev broker's mock
//     cluster cannot), it reads at most `fallback_backlog` messages back; entries already expired are
//     ignored on arrival.
//   * When Kafka is unreachable the listener keeps the set it has (tokens it knows revoked stay refused;
//     revocations published meanwhile are not seen) and reconnects by itself; once it has not reached
//     Kafka for `max_staleness`, Ready() says so (the gateway then reports not ready on /readyz).
//
// How fast: a revocation is effective at a replica as soon as that replica's consumer has read it —
// identity's relay publishing delay plus one fetch (fetch.wait.max.ms = 100), typically well under a
// second.
//
// Example:
//   RevocationOptions o;
//   o.brokers = "kafka:9092";
//   CRM_ASSIGN_OR_RETURN(std::unique_ptr<RevocationListener> revoked, RevocationListener::Start(o));
//   auth_options.revocations = revoked->sessions();   // the Authenticator asks it per token
//   ... /readyz: revoked->Ready() ...
//   revoked->Stop();
#ifndef CRM_SERVICES_GATEWAY_REVOCATIONS_H_
#define CRM_SERVICES_GATEWAY_REVOCATIONS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "services/gateway/auth.h"

namespace crm::gateway {

// The revoked sessions that still matter. Thread-safe.
class RevokedSessions final : public SessionRevocations {
 public:
  // `leeway` is added to every tokens_expire_time (the verifier accepts tokens that long after exp);
  // `max_sessions` bounds memory even under a flood (then the entries expiring first are dropped).
  // `clock` must outlive the set.
  explicit RevokedSessions(const Clock& clock, absl::Duration leeway = absl::Seconds(30),
                           size_t max_sessions = 1'000'000);

  // Applies one Kafka message value, a serialized crm.events.v1.Envelope: a SessionRevoked (by
  // Envelope.type, payload crm.identity.v1.SessionRevoked) revokes payload.session_id until
  // payload.tokens_expire_time + leeway (an envelope without tokens_expire_time is kept for
  // `fallback_ttl` + leeway from its revoke_time, else from now). Envelopes of other types are
  // ignored (OK). InvalidArgument for bytes that are not an Envelope or a SessionRevoked payload that
  // does not parse or names no session.
  absl::Status Apply(std::string_view envelope_bytes, absl::Duration fallback_ttl = absl::Minutes(10));

  // Revokes `session_id` until `tokens_expire_time` + leeway; an earlier entry of the session is kept
  // if it lasts longer. Ignored when that moment has already passed.
  void Revoke(std::string_view session_id, absl::Time tokens_expire_time);

  // True when `session_id` (not empty) is revoked now.
  bool IsRevoked(std::string_view session_id) const override;

  // Forgets entries whose time has passed; returns how many remain. Revoke() also does this, at most
  // once a second, so the set never holds much that has expired.
  size_t DropExpired();

  // Entries held (including expired ones not yet dropped).
  size_t size() const;

 private:
  void DropExpiredLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock& clock_;
  const absl::Duration leeway_;
  const size_t max_sessions_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, absl::Time> until_ ABSL_GUARDED_BY(mu_);
  absl::Time last_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

struct RevocationOptions {
  // Kafka bootstrap servers. Required.
  std::string brokers;
  // The topic identity publishes SessionRevoked on (crm::identity::v1::kSessionTopic).
  std::string topic = "crm.identity.session.v1";
  // The access-token lifetime identity issues (ACCESS_TOKEN_TTL) and the verifier's leeway: at start the
  // listener reads back token_ttl + leeway, and entries live until tokens_expire_time + leeway.
  absl::Duration token_ttl = absl::Minutes(10);
  absl::Duration leeway = absl::Seconds(30);
  // Without contact with Kafka for this long, Ready() reports an error (the set may miss revocations).
  absl::Duration max_staleness = absl::Seconds(30);
  // Messages per partition read back at start when Kafka cannot find an offset by time.
  int64_t fallback_backlog = 10'000;
  size_t max_sessions = 1'000'000;
  // Time source of the set and of staleness; nullptr means crm::SystemClock(). Must outlive the listener.
  const Clock* clock = nullptr;
  // Extra librdkafka properties (TLS, SASL), overriding the listener's own.
  std::map<std::string, std::string> consumer_config;
};

// Counters of one listener (also exported as crm_gateway_revoked_sessions,
// crm_gateway_revocation_events_total and crm_gateway_revocation_lag in crm::metrics::Registry()).
struct RevocationStats {
  int64_t sessions = 0;  // entries held
  int64_t events = 0;    // SessionRevoked envelopes applied
  int64_t malformed = 0; // messages that were not a valid envelope (logged, skipped)
  int64_t lag = -1;      // messages behind the partitions' ends (last known); -1 before known
};

// The consumer that keeps a RevokedSessions current. Thread-safe.
class RevocationListener {
 public:
  // Validates options and starts the consumer thread, which finds the topic's partitions and their
  // start offsets in the background, retrying while Kafka is unreachable (see Ready()).
  // InvalidArgument for bad options or librdkafka properties.
  static absl::StatusOr<std::unique_ptr<RevocationListener>> Start(RevocationOptions options);
  ~RevocationListener();  // Stop()s
  RevocationListener(const RevocationListener&) = delete;
  RevocationListener& operator=(const RevocationListener&) = delete;

  // The set the listener feeds (for AuthOptions::revocations); lives as long as any holder.
  std::shared_ptr<const RevokedSessions> sessions() const { return sessions_; }

  // OK once the start-up read-back reached the partitions' ends as they were at start, and Kafka was
  // reached within max_staleness; otherwise Unavailable saying which.
  absl::Status Ready() const;

  RevocationStats stats() const;

  // Stops the consumer thread; idempotent. The set keeps answering with what it holds.
  void Stop();

  class Impl;

 private:
  RevocationListener(std::shared_ptr<RevokedSessions> sessions, std::unique_ptr<Impl> impl);
  std::shared_ptr<RevokedSessions> sessions_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_REVOCATIONS_H_
