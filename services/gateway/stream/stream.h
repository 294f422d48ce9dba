// File: services/gateway/stream/stream.h
// -----------------------------------------------------------------------------
// The gateway's live event stream (GET /v1/stream, Server-Sent Events), fed from Kafka.
//
// A StreamHub is one per gateway process. It reads every partition of the configured topics with one
// librdkafka consumer (no consumer group: partitions are assigned explicitly, starting at their end by
// default), keeps the most recent events of each partition in memory, and fans them out to the
// connected clients (Serve()). What it promises:
//   * Visibility: a principal sees an event of topic crm.<service>.<aggregate>.v1 if its permissions
//     hold "<service>.read.all", or its id (an API key's: its owner's) is in Envelope.visible_to_user_ids,
//     or one of its team_ids is
//     in Envelope.visible_to_team_ids; with type prefixes, only events whose type starts with one of them.
//   * Positions: every SSE event's `id:` is the client's position in ALL partitions of the hub's topics
//     after that event (events it may not see count as passed). Ids are compact (base64url) and carry a
//     checksum of the topic layout (topic names and partition counts), so any gateway replica with the
//     same topics accepts them.
//   * Resume without gap or duplicate: with `Last-Event-ID`, the client gets every visible event after
//     that position, once, in offset order per partition: from memory while the ring still holds them,
//     else read back from Kafka first. If Kafka no longer has them (retention), or the id is malformed or
//     of another layout, the client gets `event: reset` (it must reload its screen), then live events.
//     Should Kafka delete messages before even the hub read them, the clients that would miss them are
//     disconnected, and get the reset when they resume.
//   * A slow client never slows the others: each has a bounded queue, and a client that overflows it is
//     disconnected; it reconnects with its Last-Event-ID and resumes without a gap.
//   * Every client has a position from the start: the first message (unless it is a reset) is id-only
//     (no `event:`, empty `data:`), which sets the browser's Last-Event-ID without firing an event.
//     Positions also move while nothing visible happens: after `checkpoint_interval` of quiet with a
//     newer position, the client gets another id-only message.
//
// The SSE `data:` is one line of JSON:
//   {"id","type","source","subject","time","actor":{"kind","id","service","onBehalfOfUserId"},
//    "requestId","payload":{"@type":..., ...}}
// with the payload in protobuf's proto3 JSON mapping (the gateway's JsonOutputOptions()) over
// StreamOptions::pool; a payload whose type the pool does not know is sent as {"@type": url} alone.
// The actor's roles, teams and permissions and the event's visibility lists are never sent.
//
// Example:
//   crm::gateway::StreamOptions o;
//   o.brokers = brokers;
//   o.topics = {"crm.deals.deal.v1", "crm.identity.user.v1"};
//   o.pool = &pool;                       // holds crm_api.pb (envelope + events protos)
//   CRM_ASSIGN_OR_RETURN(std::unique_ptr<StreamHub> hub, StreamHub::Start(std::move(o)));
//   // in the HttpHandler, for GET /v1/stream, after authenticating `principal`:
//   SseStream& sse = call.StartSse();
//   hub->Serve(sse, principal, sse.LastEventId(), ParseTypePrefixes(call.request()));
//   return {};
//   ...
//   server->Stop(absl::Seconds(10));      // closes the SSE streams: every Serve() returns
//   hub->Stop();
#ifndef CRM_SERVICES_GATEWAY_STREAM_STREAM_H_
#define CRM_SERVICES_GATEWAY_STREAM_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace google::protobuf {
class DescriptorPool;
}  // namespace google::protobuf
namespace crm {
class Clock;
}  // namespace crm
namespace crm::common::v1 {
class Principal;
}  // namespace crm::common::v1

namespace crm::gateway {

class SseStream;
struct HttpRequest;

struct StreamOptions {
  // Kafka bootstrap servers. Required.
  std::string brokers;
  // Topics to stream (crm.<service>.<aggregate>.v1). Required; order does not matter.
  std::vector<std::string> topics;
  // Where the hub starts reading: true = the end of each partition (only new events), false = the
  // beginning of what Kafka still holds.
  bool start_at_end = true;
  // Ring buffer: at most this many recent events per partition, and at most ring_max_bytes in total
  // (approximate: message size plus rendered JSON), are kept for resumes.
  size_t ring_events_per_partition = 2000;
  size_t ring_max_bytes = 64 << 20;
  // Events waiting for one client beyond which that client is disconnected.
  size_t subscriber_queue = 1000;
  // Quiet time after which a client whose position moved gets an id-only message (see file comment).
  absl::Duration checkpoint_interval = absl::Seconds(10);
  // Clients reading a gap back from Kafka at the same time; more wait their turn.
  int max_concurrent_catchups = 4;
  // Upper bound of one read-back from Kafka (the client is disconnected after it and may retry).
  absl::Duration catchup_timeout = absl::Seconds(60);
  // Descriptors for rendering payloads (and crm.events.v1.Envelope's imports). nullptr means the
  // generated pool. Must outlive the hub.
  const google::protobuf::DescriptorPool* pool = nullptr;
  // Time source for checkpoints; nullptr means crm::SystemClock(). Must outlive the hub.
  const Clock* clock = nullptr;
  // Extra librdkafka properties (TLS, SASL), overriding the hub's own.
  std::map<std::string, std::string> consumer_config;
};

// Counters of one hub (the same numbers also go to crm::metrics::Registry() as crm_gateway_stream_*).
struct StreamStats {
  int64_t subscribers = 0;  // Serve() calls attached right now
  int64_t consumed = 0;     // Kafka messages read by the hub's consumer
  int64_t sent = 0;         // events sent to clients (not counting resets and checkpoints)
  int64_t overflows = 0;    // clients disconnected for a full queue
  int64_t resets = 0;       // `event: reset` sent
  int64_t catchups = 0;     // resumes that read a gap back from Kafka
  int64_t lost = 0;         // messages Kafka deleted before the hub read them (retention); the clients
                            // that would have missed them were disconnected (their resume resets)
  int64_t lag = -1;         // messages behind the partitions' ends (last known); -1 before known
};

// Returns the `types` query parameter of `request` split on ',' (repeats of the parameter are merged,
// blanks dropped): the type prefixes for Serve().
std::vector<std::string> ParseTypePrefixes(const HttpRequest& request);

// The hub. Thread-safe: Serve() runs on any number of threads at once.
class StreamHub {
 public:
  // Validates options and starts the consumer thread; it looks the topics up and assigns their
  // partitions in the background, retrying while Kafka is unreachable (see Ready()). InvalidArgument
  // for bad options or librdkafka properties.
  static absl::StatusOr<std::unique_ptr<StreamHub>> Start(StreamOptions options);
  ~StreamHub();  // Stop()s
  StreamHub(const StreamHub&) = delete;
  StreamHub& operator=(const StreamHub&) = delete;

  // Streams to `sse` what `who` may see (filtered by `type_prefixes` when not empty), resuming after
  // `last_event_id` ("" = from now on; see the file comment). Blocks until the client leaves, it
  // overflows its queue, or Stop(); waits for Ready() first. `sse` must already be started.
  void Serve(SseStream& sse, const common::v1::Principal& who, std::string_view last_event_id,
             const std::vector<std::string>& type_prefixes);

  // Ends every Serve() and the consumer, and returns once they are done; idempotent. Serve() calls
  // after it return at once. A Serve() blocked writing to a client that stopped reading ends only when
  // the edge gives up on that write (HttpServerOptions::request_timeout), so stop the HttpServer first.
  void Stop();

  // True once every partition is assigned and new clients can be served (for /readyz).
  bool Ready() const;

  StreamStats stats() const;

  class Impl;

 private:
  explicit StreamHub(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_STREAM_STREAM_H_
