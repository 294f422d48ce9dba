// File: libs/events/consumer.h
// -----------------------------------------------------------------------------
// An idempotent Kafka consumer of the suite's events. For each message it records the event id in the
// `inbox` table (skipping the event if this consumer already has it) and runs the handler's effects in
// the same PostgreSQL transaction, commits, and only then stores the offset for commit. So a
// redelivered event has no second effect, and an event whose effects were not stored is delivered
// again: at least once on the wire, exactly once in effect.
//
// Batches: Run() takes the messages already fetched when one arrives (up to max_batch, never waiting
// for more) and applies them in order in ONE transaction, so a burst costs a commit per batch instead
// of one per event (issue 14). A handler's refusal rolls the batch back; the events before the refused
// one are applied again together, and the refused one alone, as described below. Handlers therefore
// must keep their effects inside `tx` (as they must anyway: a rolled-back event is handled again).
//
// Handler results:
//   OK                          effects committed, offset stored.
//   UNAVAILABLE, ABORTED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNKNOWN
//                               transient: rolled back and retried with backoff; the partition waits,
//                               so per-key order holds.
//   any other code              permanent: rolled back, the event is parked in the inbox as
//                               'rejected' with the error (visible, replayable), and consumption moves on.
// A value that is not a crm.events.v1.Envelope is parked the same way.
//
// Example:
//   auto consumer = crm::events::Consumer::Create(
//       {.brokers = brokers, .group_id = "robots", .topics = {"crm.deals.deal.v1"}}, pool,
//       [&](pqxx::work& tx, const crm::events::v1::Envelope& e) -> absl::Status { ... });
//   (*consumer)->Run();   // until Stop() from another thread
#ifndef CRM_LIBS_EVENTS_CONSUMER_H_
#define CRM_LIBS_EVENTS_CONSUMER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/crm/events/v1/envelope.pb.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::events {

struct ConsumerOptions {
  std::string brokers;
  std::string group_id;  // Kafka consumer group; also the inbox's consumer name
  std::vector<std::string> topics;
  absl::Duration session_timeout = absl::Seconds(10);
  absl::Duration max_retry_backoff = absl::Seconds(30);
  std::map<std::string, std::string> consumer_config;  // extra librdkafka properties (override ours)
  // At most this many events in one transaction (Run()); 1 = a transaction per event.
  int max_batch = 100;
  // Called on the consuming thread after each commit that applied events (not for duplicates or
  // parked events): e.g. to wake a worker that picks up what the handler wrote.
  std::function<void()> after_commit;
};

struct ConsumedEvent {
  const crm::events::v1::Envelope& envelope;
  const std::string& topic;
  int32_t partition;
  int64_t offset;
};

// Applies one event's effects inside `tx`. See the file comment for what each result means.
using Handler = std::function<absl::Status(pqxx::transaction_base& tx, const ConsumedEvent& event)>;

struct ConsumerStats {
  int64_t applied = 0;     // effects committed
  int64_t duplicates = 0;  // already in the inbox: skipped
  int64_t rejected = 0;    // parked as 'rejected'
  int64_t retries = 0;     // transient failures retried
  int64_t lag = -1;        // messages between this consumer's position and the end of its assigned
                           // partitions (from the last fetch's high watermarks); -1 before any assignment
};

class Consumer {
 public:
  // Validates options and subscribes; `pool` and `handler` must outlive the consumer.
  static absl::StatusOr<std::unique_ptr<Consumer>> Create(ConsumerOptions options, pg::Pool& pool,
                                                          Handler handler);
  ~Consumer();  // Stop()s and closes (commits stored offsets, leaves the group)

  // Consumes until Stop(). Returns OK after Stop().
  absl::Status Run();
  // Handles at most one message, waiting up to `timeout` for it. Returns true if one was handled.
  absl::StatusOr<bool> PollOnce(absl::Duration timeout);
  // Makes Run() return; safe from any thread.
  void Stop();

  ConsumerStats stats() const;

  class Impl;

 private:
  explicit Consumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Runs a consumer's Run() on a thread of its own from construction until destruction (which Stop()s it
// and joins): how a service keeps a consumer alive beside its gRPC server (Server::Own).
class ConsumerThread {
 public:
  explicit ConsumerThread(std::unique_ptr<Consumer> consumer);
  ~ConsumerThread();
  ConsumerThread(const ConsumerThread&) = delete;
  ConsumerThread& operator=(const ConsumerThread&) = delete;

 private:
  std::unique_ptr<Consumer> consumer_;
  std::thread thread_;  // last: starts after the consumer exists
};

}  // namespace crm::events

#endif  // CRM_LIBS_EVENTS_CONSUMER_H_
