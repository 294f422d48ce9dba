// File: libs/events/outbox.h
// -----------------------------------------------------------------------------
// The writing half of the transactional outbox. A service appends an event to its `outbox` table in
// the SAME PostgreSQL transaction as the change the event describes; the relay (relay.h) publishes it
// to Kafka after commit. So an acknowledged change never loses its event, and a rolled-back change
// never publishes one, whatever Kafka is doing at the time.
//
// Topic: crm.<service>.<aggregate_type>.v1. Key: the aggregate id. Value: crm.events.v1.Envelope.
// Per-key order is commit order: append an aggregate's events after locking or updating its row in the
// same transaction (the usual case), so two writers of one aggregate cannot interleave. That also gives
// the transaction its id before the event takes its seq, which the relay's ordering relies on (relay.h,
// "Order"); an aggregate whose writers skip the lock has no order promised.
//
// Example:
//   crm::events::OutboxWriter outbox("deals");
//   CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool, [&](pqxx::work& tx) -> absl::Status {
//     tx.exec_params("UPDATE deals SET stage_id = $2 WHERE id = $1", deal_id, stage_id);
//     deals::v1::DealStageChanged changed;  ...
//     return outbox.Append(tx, {.aggregate_type = "deal", .aggregate_id = deal_id,
//                               .type = "crm.deals.deal.stage_changed.v1", .payload = &changed}).status();
//   }));
#ifndef CRM_LIBS_EVENTS_OUTBOX_H_
#define CRM_LIBS_EVENTS_OUTBOX_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/crm/common/v1/common.pb.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf
namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm {
class Clock;
}  // namespace crm

namespace crm::events {

// What a writer says about one event; the writer fills in id, time and source.
struct NewEvent {
  std::string aggregate_type;  // "deal": [a-z][a-z0-9_]*, the middle of the topic name
  std::string aggregate_id;    // the Kafka key and ce_subject; non-empty, ≤ 255 bytes
  std::string type;            // "crm.deals.deal.stage_changed.v1"; non-empty, ≤ 255 bytes
  const google::protobuf::Message* payload = nullptr;  // packed into Envelope.payload (required)
  crm::common::v1::Principal actor;                    // who caused it (its permissions are not written)
  std::string request_id;                              // the request that caused it, if any
  // Who may see it on the gateway's live stream besides "<service>.read.all" holders (envelope.proto).
  std::vector<std::string> visible_to_user_ids;
  std::vector<std::string> visible_to_team_ids;
  // The automation causation of the change (envelope.proto): how deep in a chain of robot actions it
  // is, 0..kMaxAutomationDepth (0 for a person's, an API client's or an import's change), and whether
  // it was made with automation skipped. Producers copy them from the call (crm::rpc::AutomationDepth,
  // crm::rpc::SkipAutomation).
  int automation_depth = 0;
  bool skip_automation = false;
};

// The largest serialized Envelope an event may have. Kafka refuses bigger messages by default (the
// broker's message.max.bytes is 1 048 588, librdkafka's 1 000 000, both counting key, headers and batch
// framing): such an event could never be published, so Append and Row refuse it (InvalidArgument) and
// the change with it. Producers keep events small: ids and changed fields, not documents or long lists.
inline constexpr size_t kMaxEventBytes = 900'000;

// The largest NewEvent::automation_depth accepted (the same bound as the call metadata's).
inline constexpr int kMaxAutomationDepth = 100;

class OutboxWriter {
 public:
  // `service` names the source ("/crm/<service>") and the topic prefix; [a-z][a-z0-9_-]*.
  explicit OutboxWriter(std::string service);
  OutboxWriter(std::string service, const Clock& clock);

  // Inserts the event into `tx`'s outbox and wakes the relay at commit. Returns the event id (UUIDv7,
  // also Envelope.id and ce_id). InvalidArgument, naming the field, for a bad NewEvent or one whose
  // Envelope exceeds kMaxEventBytes; the event is published if and only if `tx` commits.
  absl::StatusOr<std::string> Append(pqxx::transaction_base& tx, const NewEvent& event) const;

  // The outbox row of `event` for a caller that inserts it in a statement of its own (to write a change
  // and its event in one round trip): the text values of kOutboxColumns in order (values[0] is the
  // event id; the payload is bytea hex), each to be cast to its kOutboxColumnTypes entry. The same
  // checks and promises as Append, once the caller's statement inserts the row — and WakeRelayAtCommit(tx)
  // is called for its transaction (else the relay finds the event at its next poll, up to a second later).
  absl::StatusOr<std::vector<std::string>> Row(const NewEvent& event) const;

  // The topic events of `aggregate_type` go to: "crm.<service>.<aggregate_type>.v1".
  std::string TopicFor(std::string_view aggregate_type) const;

  const std::string& service() const { return service_; }
  const Clock& clock() const { return *clock_; }

 private:
  std::string service_;
  const Clock* clock_;
};

// Many events of one transaction written by one statement (an import's thousands of events): Add
// builds and checks each event as Append would (the same errors, nothing written yet); Flush inserts
// every added event into `tx`'s outbox in one INSERT, in the order added (their seq follows it), and
// empties the batch. The payloads travel as one binary parameter, not as text: half the bytes of
// Row()'s hex and nothing for the server to unescape. Events not flushed are not written; the same
// promise as Append once `tx` commits.
//
// Example:
//   crm::events::OutboxBatch batch(outbox);
//   for (const Unit& u : changed) CRM_RETURN_IF_ERROR(batch.Add({.aggregate_type = "unit", ...}).status());
//   CRM_RETURN_IF_ERROR(batch.Flush(tx));
class OutboxBatch {
 public:
  explicit OutboxBatch(const OutboxWriter& writer);

  // Builds `event`'s row; returns its id. `event.payload` is read now, not kept.
  absl::StatusOr<std::string> Add(const NewEvent& event);
  // One INSERT of every event added since the last Flush (none: no statement).
  absl::Status Flush(pqxx::transaction_base& tx);

  size_t size() const { return lengths_.size(); }

 private:
  const OutboxWriter& writer_;
  std::vector<std::string> ids_, aggregate_types_, aggregate_ids_, types_, topics_, occurred_;
  std::vector<int64_t> lengths_;
  std::string payloads_;  // every payload, back to back
};

// The outbox columns Row() gives values for, and their SQL types.
inline constexpr char kOutboxColumns[] = "id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at";
inline constexpr const char* kOutboxColumnTypes[] = {"uuid", "text", "text",  "text",
                                                     "bytea", "text", "text", "timestamptz"};

// The NOTIFY channel the writers signal once they committed and the relay listens on.
inline constexpr char kOutboxChannel[] = "crm_outbox";

// Wakes the relay once `tx` committed (libs/pg/notify.h: after the COMMIT, not inside it, which would
// serialize every writer's commit). Append and OutboxBatch::Flush call it; a caller inserting Row()'s
// values itself calls it for its transaction.
void WakeRelayAtCommit(pqxx::transaction_base& tx);

}  // namespace crm::events

#endif  // CRM_LIBS_EVENTS_OUTBOX_H_
