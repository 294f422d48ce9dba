// File: libs/events/relay.h
// -----------------------------------------------------------------------------
// The outbox relay: publishes a service's outbox rows to Kafka and marks them published only after
// Kafka acknowledged them (acks=all, idempotent producer). Every service that writes events runs one
// in-process; any number of replicas may, since only one per database is active at a time.
//
// Guarantees:
//   * Leadership: the relay holds a session-level pg_try_advisory_lock on its database; replicas wait
//     as standbys and take over when the leader's connection goes away. One publisher is what lets one
//     aggregate's events reach Kafka in seq order (Order, below).
//   * Delivery: rows are read in seq order in batches (FOR UPDATE SKIP LOCKED), produced with the
//     Envelope as value, the aggregate id as key and CloudEvents ce_* headers, and marked
//     (published_at) only when their delivery report arrives. Messages never time out locally
//     (message.timeout.ms=0), so a broker outage of any length only delays them; the producer
//     reconnects by itself and nothing is dropped or reordered. A message refused for now (a topic
//     the broker will not accept yet, a local queue error) gets attempts/last_error, counts in
//     crm_outbox_delivery_errors_total, and is retried with backoff. A message refused for good
//     (larger than the producer's or the broker's message.max.bytes, an invalid record — sending it
//     again can only fail again) is moved with the refusal to `outbox_parked` (migrations/0004, which
//     shows how to re-send it) and logged as an error, crm_outbox_parked counts it, and the events behind
//     it go on: one poisoned row never holds the stream up. The writer refuses events over
//     kMaxEventBytes (outbox.h), so only a broker configured below Kafka's default parks anything.
//   * Order: one aggregate's events reach Kafka, and so its consumers, in outbox (seq) order, when its
//     writers keep outbox.h's rule (lock or change the aggregate's row, then append). Seq order is not
//     commit order: a transaction can commit after later seqs were read. The relay reads above a
//     high-water mark and remembers the seqs it passed without reading (holes: a transaction still open,
//     or rolled back). Each batch reads in ONE repeatable-read snapshot, first what the holes now hold
//     (and, once per poll_interval, every row under the mark not in flight), then the stream above the
//     mark; since a writer appends an aggregate's next event only after the previous one committed, a
//     snapshot that sees the next sees the previous too, and hands it over first. A hole is forgotten
//     once every transaction that could still commit into it has ended — told by transaction ids, not
//     by time: the writer's rule gives it its id before its event takes a seq. Two exceptions, both
//     counted: an event whose delivery failed (crm_outbox_delivery_errors_total; rare, the producer
//     retries transient errors itself) is sent again and may arrive after later events of its aggregate
//     that were already in flight; a parked event (above) is skipped.
//   * At least once: a crash between delivery and marking re-sends those rows after restart; consumers
//     deduplicate by event id (consumer.h), which makes the effect exactly once. For the same reason the
//     relay's own commits (row locks, marks, the purge) run with synchronous_commit off: a mark lost in
//     a crash is a repeat the inboxes drop, and the WAL flush is left to the writers' commits.
//   * Wake-up: NOTIFY crm_outbox from the writer's commit; a periodic poll covers a missed notification.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(auto relay, crm::events::Relay::Create({.dsn = dsn, .brokers = brokers}));
//   relay->Start();      // background thread
//   ...
//   relay->Stop();       // on shutdown: waits briefly for in-flight deliveries, marks them
#ifndef CRM_LIBS_EVENTS_RELAY_H_
#define CRM_LIBS_EVENTS_RELAY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crm::config {
class Env;
}  // namespace crm::config

namespace crm::events {

struct RelayOptions {
  std::string dsn;                                     // the service's database (where `outbox` lives)
  std::string brokers;                                 // Kafka bootstrap servers
  int batch_size = 500;                                // rows read per batch
  int max_in_flight = 5000;                            // produced but not yet acknowledged
  absl::Duration poll_interval = absl::Seconds(1);     // re-check without a NOTIFY
  absl::Duration standby_interval = absl::Seconds(2);  // a standby retries the leader lock this often
  absl::Duration retention = absl::Hours(24 * 7);      // published rows are deleted after this
  absl::Duration stop_timeout = absl::Seconds(5);      // Stop() waits this long for deliveries
  std::map<std::string, std::string> producer_config;  // extra librdkafka properties (override ours)
};

// Reads CRM_<SERVICE>_OUTBOX_BATCH_SIZE, _OUTBOX_MAX_IN_FLIGHT, _OUTBOX_POLL_INTERVAL,
// _OUTBOX_RETENTION and CRM_<SERVICE>_KAFKA_BROKERS (falling back to CRM_KAFKA_BROKERS) from `env`;
// `dsn` is the service's own database. Errors are recorded in env.status().
RelayOptions RelayOptionsFromEnv(config::Env& env, std::string dsn);

struct RelayStats {
  bool leader = false;
  int64_t published = 0;        // rows marked published by this relay
  int64_t in_flight = 0;        // produced, awaiting a delivery report
  int64_t delivery_errors = 0;  // delivery reports with an error (the row is retried)
  int64_t parked = 0;           // rows refused for good and moved to outbox_parked
  int64_t batches = 0;
};

class Relay {
 public:
  // Validates options and creates the producer; nothing connects until Start().
  static absl::StatusOr<std::unique_ptr<Relay>> Create(RelayOptions options);
  ~Relay();  // Stop()s

  // Starts the background thread. Database and broker failures are retried there, forever.
  void Start();
  // Stops the thread: waits up to stop_timeout for in-flight deliveries, marks what was delivered,
  // releases leadership. Rows not marked are re-sent by the next leader.
  void Stop();

  RelayStats stats() const;

  class Impl;

 private:
  explicit Relay(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crm::events

#endif  // CRM_LIBS_EVENTS_RELAY_H_
