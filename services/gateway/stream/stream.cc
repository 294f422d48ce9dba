#include "services/gateway/stream/stream.h"

#include <librdkafka/rdkafka.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "google/protobuf/util/type_resolver.h"
#include "google/protobuf/util/type_resolver_util.h"
#include "libs/base/clock.h"
#include "libs/base/strings.h"
#include "libs/events/kafka_client.h"
#include "libs/log/log.h"
#include "libs/metrics/metrics.h"
#include "proto/crm/common/v1/common.pb.h"
#include "proto/crm/events/v1/envelope.pb.h"
#include "services/gateway/edge/server.h"
#include "services/gateway/stream/position.h"
#include "services/gateway/transcode/json_policy.h"

namespace crm::gateway {
namespace {

using stream_internal::PositionLayout;

constexpr absl::Duration kWakeInterval = absl::Milliseconds(250);  // bounded waits notice disconnects
constexpr int kKafkaTimeoutMs = 5000;

struct Metrics {
  prometheus::Gauge& subscribers;
  prometheus::Counter& consumed;
  prometheus::Counter& sent;
  prometheus::Counter& overflows;
  prometheus::Counter& resets;
  prometheus::Counter& catchups;
  prometheus::Counter& lost;
  prometheus::Gauge& lag;
};

Metrics& M() {
  static Metrics* const m = [] {
    using crm::metrics::NewCounter, crm::metrics::NewGauge;
    return new Metrics{
        NewGauge("crm_gateway_stream_subscribers", "Clients connected to the live event stream"),
        NewCounter("crm_gateway_stream_consumed_total", "Kafka messages read by the live stream's consumer"),
        NewCounter("crm_gateway_stream_events_sent_total", "Events sent to live stream clients"),
        NewCounter("crm_gateway_stream_overflows_total", "Live stream clients disconnected for a full queue"),
        NewCounter("crm_gateway_stream_resets_total", "event: reset sent to live stream clients"),
        NewCounter("crm_gateway_stream_catchups_total", "Live stream resumes that read a gap back from Kafka"),
        NewCounter("crm_gateway_stream_lost_total",
                "Messages Kafka deleted before the live stream's consumer read them"),
        NewGauge("crm_gateway_stream_consumer_lag", "Messages behind the end of the streamed partitions"),
    };
  }();
  return *m;
}

using KafkaPtr = events::KafkaHandle;

// A consumer that never joins a group: partitions are assigned explicitly and nothing is committed
// (librdkafka's high-level API wants a group.id even so; it is never used for membership).
absl::StatusOr<KafkaPtr> NewConsumer(const StreamOptions& o, const std::map<std::string, std::string>& ours) {
  std::map<std::string, std::string> props = {
      {"bootstrap.servers", o.brokers},
      {"group.id", "crm-gateway-stream"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"fetch.wait.max.ms", "100"},
  };
  for (const auto& [k, v] : ours) props[k] = v;
  return events::NewKafkaConsumer("stream", props, o.consumer_config);
}

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          *out += buf;
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

// Renders envelopes as the stream's JSON (see stream.h). Thread-safe.
class Renderer {
 public:
  explicit Renderer(const google::protobuf::DescriptorPool* pool)
      : resolver_(google::protobuf::util::NewTypeResolverForDescriptorPool(
            "type.googleapis.com",
            pool != nullptr ? pool : google::protobuf::DescriptorPool::generated_pool())) {}

  std::string Render(const events::v1::Envelope& e) const {
    std::string out = "{";
    auto field = [&](const char* name, std::string_view value) {
      if (out.size() > 1) out.push_back(',');
      AppendJsonString(&out, name);
      out.push_back(':');
      AppendJsonString(&out, value);
    };
    field("id", e.id());
    field("type", e.type());
    field("source", e.source());
    field("subject", e.subject());
    if (e.has_time()) {
      field("time", google::protobuf::util::TimeUtil::ToString(e.time()));
    } else {
      out += ",\"time\":null";
    }
    out += ",\"actor\":{\"kind\":";
    AppendJsonString(&out, common::v1::Principal_Kind_Name(e.actor().kind()));
    out += ",\"id\":";
    AppendJsonString(&out, e.actor().id());
    out += ",\"service\":";
    AppendJsonString(&out, e.actor().service());
    out += ",\"onBehalfOfUserId\":";
    AppendJsonString(&out, e.actor().on_behalf_of_user_id());
    out += "}";
    field("requestId", e.request_id());
    out += ",\"payload\":";
    if (!e.has_payload()) {
      out += "null";
    } else {
      std::string payload;
      if (google::protobuf::util::BinaryToJsonString(resolver_.get(),
                                                     "type.googleapis.com/google.protobuf.Any",
                                                     e.payload().SerializeAsString(), &payload,
                                                     JsonOutputOptions())
              .ok()) {
        out += payload;
      } else {  // a type this gateway does not know
        out += "{\"@type\":";
        AppendJsonString(&out, e.payload().type_url());
        out += "}";
      }
    }
    out += "}";
    return out;
  }

 private:
  std::unique_ptr<google::protobuf::util::TypeResolver> resolver_;
};

// One Kafka message, as the hub keeps it. Immutable once built except for the lazily rendered JSON.
struct Event {
  int slot = 0;
  int64_t offset = 0;
  uint64_t seq = 0;      // arrival order in the hub (byte-bound eviction takes the oldest)
  bool parsed = false;   // a crm.events.v1.Envelope; others are visible to nobody
  std::string type;
  std::vector<std::string> users, teams;
  std::string raw;       // the envelope bytes
  size_t bytes = 0;      // accounted size

  const std::string& Json(const Renderer& r) const {
    std::call_once(once_, [&] {
      events::v1::Envelope e;
      e.ParseFromString(raw);
      json_ = r.Render(e);
    });
    return json_;
  }

 private:
  mutable std::once_flag once_;
  mutable std::string json_;
};
using EventPtr = std::shared_ptr<const Event>;

EventPtr MakeEvent(const rd_kafka_message_t* m, int slot, uint64_t seq) {
  auto ev = std::make_shared<Event>();
  ev->slot = slot;
  ev->offset = m->offset;
  ev->seq = seq;
  events::v1::Envelope e;
  if (m->payload != nullptr && e.ParseFromArray(m->payload, static_cast<int>(m->len)) && !e.type().empty()) {
    ev->parsed = true;
    ev->type = e.type();
    ev->users.assign(e.visible_to_user_ids().begin(), e.visible_to_user_ids().end());
    ev->teams.assign(e.visible_to_team_ids().begin(), e.visible_to_team_ids().end());
    ev->raw.assign(static_cast<const char*>(m->payload), m->len);
  }
  // The rendered JSON is about as big again as the message; count both, plus bookkeeping.
  ev->bytes = 2 * ev->raw.size() + 256;
  return ev;
}

// "crm.<service>.<aggregate>.v1" → "<service>"; the whole name when it has no such shape.
std::string ServiceOf(const std::string& topic) {
  std::vector<std::string> parts = absl::StrSplit(topic, '.');
  return parts.size() >= 3 ? parts[1] : topic;
}

// One connected client. Identity fields are fixed at creation; the rest is guarded by the hub's mu_.
struct Subscriber {
  std::string user_id;
  std::vector<std::string> teams;
  std::vector<char> read_all;  // per slot
  std::vector<std::string> prefixes;

  std::deque<EventPtr> queue;
  size_t replay_left = 0;      // events at the front of `queue` replayed from the ring (not bounded)
  std::vector<int64_t> pos;    // the position after everything sent or skipped
  std::vector<int64_t> adv;    // skipped beyond events still queued; applies once those are sent
  std::vector<int64_t> floor;  // the resume position: older live events are not for this client
  std::vector<int> queued;     // per slot
  bool closed = false;         // overflowed
  absl::CondVar cv;

  bool Visible(const Event& e) const {
    if (!e.parsed) return false;
    if (!prefixes.empty() &&
        std::none_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) { return e.type.starts_with(p); })) {
      return false;
    }
    if (read_all[e.slot]) return true;
    if (!user_id.empty() && std::find(e.users.begin(), e.users.end(), user_id) != e.users.end()) return true;
    for (const auto& t : e.teams) {
      if (std::find(teams.begin(), teams.end(), t) != teams.end()) return true;
    }
    return false;
  }

  // Marks everything in `slot` below `next` as passed (nothing there for this client).
  void Skip(int slot, int64_t next) {
    if (queued[slot] == 0) {
      pos[slot] = std::max(pos[slot], next);
    } else {
      adv[slot] = std::max(adv[slot], next);
    }
  }
};

struct Partition {
  std::deque<EventPtr> ring;  // offsets increasing
  int64_t start = 0;          // the ring holds every message of [start, next)
  int64_t next = 0;           // the next offset the hub's consumer delivers
};

}  // namespace

class StreamHub::Impl {
 public:
  explicit Impl(StreamOptions o)
      : opts_(std::move(o)),
        clock_(opts_.clock != nullptr ? *opts_.clock : crm::SystemClock()),
        renderer_(opts_.pool) {}

  ~Impl() { Stop(); }

  absl::Status Init() {
    if (opts_.brokers.empty()) return absl::InvalidArgumentError("stream.brokers: required");
    if (opts_.topics.empty()) return absl::InvalidArgumentError("stream.topics: at least one");
    std::vector<std::string> sorted = opts_.topics;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
      return absl::InvalidArgumentError("stream.topics: repeated topic");
    if (opts_.ring_events_per_partition == 0 || opts_.subscriber_queue == 0)
      return absl::InvalidArgumentError("stream: ring_events_per_partition and subscriber_queue must be > 0");
    if (opts_.max_concurrent_catchups < 1)
      return absl::InvalidArgumentError("stream.max_concurrent_catchups: must be >= 1");
    // auto.offset.reset=error: a position Kafka deleted is reported (Handle() then skips to the oldest
    // message kept and disconnects the clients that would silently miss events).
    auto rk = NewConsumer(opts_, {{"client.id", "crm-gateway-stream"}, {"auto.offset.reset", "error"}});
    if (!rk.ok()) return rk.status();
    rk_ = std::move(*rk);
    M();  // registers the metrics
    thread_ = std::thread([this] { Run(); });
    return absl::OkStatus();
  }

  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) return;
      stopping_ = true;
      for (Subscriber* s : subs_) s->cv.SignalAll();
      // Serve() calls end within one wake interval; they use this object until then.
      mu_.Await(absl::Condition(
          +[](int* active) { return *active == 0; }, &active_serves_));
      stopped_ = true;
    }
    if (thread_.joinable()) thread_.join();
    rk_.reset();
  }

  bool Ready() const {
    absl::MutexLock lock(&mu_);
    return ready_ && !stopping_;
  }

  StreamStats stats() const {
    absl::MutexLock lock(&mu_);
    return stats_;
  }

  void Serve(SseStream& sse, const common::v1::Principal& who, std::string_view last_event_id,
             const std::vector<std::string>& type_prefixes) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      ++active_serves_;
    }
    ServeActive(sse, who, last_event_id, type_prefixes);
    absl::MutexLock lock(&mu_);
    --active_serves_;
  }

 private:
  enum class CatchUpResult { kDone, kReset, kClosed };

  // ---- the consumer thread ----

  void Run() {
    absl::Time next_lag = absl::InfinitePast();
    while (!stopping_.load()) {
      if (layout_ == nullptr) {
        absl::Status s = Setup();
        if (!s.ok()) {
          crm::log::Warn("stream: cannot assign the topics; retrying", {{"error", s}});
          absl::MutexLock lock(&mu_);
          mu_.AwaitWithTimeout(absl::Condition(
                                   +[](std::atomic<bool>* stop) { return stop->load(); }, &stopping_),
                               absl::Seconds(1));
        }
        continue;
      }
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), 200);
      if (m != nullptr) {
        Handle(m);
        rd_kafka_message_destroy(m);
      }
      if (absl::Now() >= next_lag) {
        next_lag = absl::Now() + absl::Seconds(5);
        UpdateLag();
      }
    }
  }

  // Looks the topics up, finds where to start and assigns every partition.
  absl::Status Setup() {
    std::vector<std::pair<std::string, int>> topics;
    for (const auto& name : opts_.topics) {
      rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_.get(), name.c_str(), nullptr);
      const rd_kafka_metadata_t* md = nullptr;
      rd_kafka_resp_err_t e = rd_kafka_metadata(rk_.get(), 0, rkt, &md, kKafkaTimeoutMs);
      rd_kafka_topic_destroy(rkt);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return absl::UnavailableError(absl::StrCat("metadata of ", name, ": ", rd_kafka_err2str(e)));
      }
      int count = 0;
      rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
      for (int i = 0; i < md->topic_cnt; ++i) {
        if (name == md->topics[i].topic) {
          topic_err = md->topics[i].err;
          count = md->topics[i].partition_cnt;
        }
      }
      rd_kafka_metadata_destroy(md);
      if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR || count <= 0) {
        return absl::UnavailableError(absl::StrCat("topic ", name, ": ", rd_kafka_err2str(topic_err)));
      }
      topics.emplace_back(name, count);
    }
    auto layout = std::make_unique<PositionLayout>(std::move(topics));
    std::vector<Partition> parts(layout->size());
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(layout->size()));
    for (size_t i = 0; i < layout->size(); ++i) {
      int64_t low = 0, high = 0;
      rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk_.get(), layout->topic(i).c_str(),
                                                               layout->partition(i), &low, &high, kKafkaTimeoutMs);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_destroy(list);
        return absl::UnavailableError(absl::StrCat("offsets of ", layout->topic(i), "/", layout->partition(i), ": ",
                                                   rd_kafka_err2str(e)));
      }
      parts[i].start = parts[i].next = opts_.start_at_end ? high : low;
      rd_kafka_topic_partition_list_add(list, layout->topic(i).c_str(), layout->partition(i))->offset = parts[i].next;
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(rk_.get(), list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return absl::UnavailableError(absl::StrCat("assign: ", rd_kafka_err2str(e)));
    std::vector<std::string> services;
    for (size_t i = 0; i < layout->size(); ++i) services.push_back(ServiceOf(layout->topic(i)));
    absl::MutexLock lock(&mu_);
    slot_service_ = std::move(services);
    lost_.assign(parts.size(), 0);
    parts_ = std::move(parts);
    layout_ = std::move(layout);
    ready_ = true;
    crm::log::Info("stream: consuming", {{"partitions", static_cast<int64_t>(layout_->size())}});
    return absl::OkStatus();
  }

  void Handle(const rd_kafka_message_t* m) {
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
        SkipDeleted(m);
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        crm::log::Warn("stream: kafka", {{"error", rd_kafka_message_errstr(m)}});
      }
      return;
    }
    const int slot = layout_->Slot(rd_kafka_topic_name(m->rkt), m->partition);
    if (slot < 0) return;
    EventPtr ev = MakeEvent(m, slot, ++seq_);
    M().consumed.Increment();
    absl::MutexLock lock(&mu_);
    ++stats_.consumed;
    Partition& part = parts_[slot];
    if (ev->offset < part.next) return;  // already had it
    if (lost_[slot]) {
      lost_[slot] = 0;
      if (ev->offset > part.next) SkipHole(slot, ev->offset);
    }
    part.ring.push_back(ev);
    part.next = ev->offset + 1;
    ring_bytes_ += ev->bytes;
    while (part.ring.size() > opts_.ring_events_per_partition) Evict(slot);
    while (ring_bytes_ > opts_.ring_max_bytes) {
      int oldest = -1;
      for (size_t i = 0; i < parts_.size(); ++i) {
        if (!parts_[i].ring.empty() && (oldest < 0 || parts_[i].ring.front()->seq < parts_[oldest].ring.front()->seq))
          oldest = static_cast<int>(i);
      }
      if (oldest < 0) break;
      Evict(oldest);
    }
    for (Subscriber* s : subs_) Deliver(*s, ev, /*replay=*/false);
  }

  void Evict(int slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Partition& part = parts_[slot];
    part.start = part.ring.front()->offset + 1;
    ring_bytes_ -= part.ring.front()->bytes;
    part.ring.pop_front();
  }

  void Deliver(Subscriber& s, const EventPtr& ev, bool replay) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (s.closed || ev->offset < s.floor[ev->slot]) return;
    if (!s.Visible(*ev)) {
      s.Skip(ev->slot, ev->offset + 1);
      return;
    }
    if (replay) {
      ++s.replay_left;
    } else if (s.queue.size() - s.replay_left >= opts_.subscriber_queue) {
      Close(s);
      ++stats_.overflows;
      M().overflows.Increment();
      return;
    }
    s.queue.push_back(ev);
    ++s.queued[ev->slot];
    s.cv.Signal();
  }

  // Ends a client's stream (Serve() returns); it resumes by reconnecting.
  void Close(Subscriber& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    s.closed = true;
    s.queue.clear();
    s.replay_left = 0;
    s.cv.SignalAll();
  }

  // The consumer's position in m's partition was deleted by Kafka: continue from the oldest message
  // kept (re-assigning every partition at the hub's own positions, so the others lose nothing).
  void SkipDeleted(const rd_kafka_message_t* m) {
    if (m->rkt == nullptr) return;
    const int slot = layout_->Slot(rd_kafka_topic_name(m->rkt), m->partition);
    if (slot < 0) return;
    int64_t low = 0, high = 0;
    const bool known = rd_kafka_query_watermark_offsets(rk_.get(), layout_->topic(slot).c_str(),
                                                        layout_->partition(slot), &low, &high,
                                                        kKafkaTimeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(layout_->size()));
    {
      absl::MutexLock lock(&mu_);
      if (known && low > parts_[slot].next) {
        SkipHole(slot, low);
      } else if (!known) {
        lost_[slot] = 1;  // Handle() skips the hole when the first message after it arrives
      }
      for (size_t i = 0; i < layout_->size(); ++i) {
        rd_kafka_topic_partition_list_add(list, layout_->topic(i).c_str(), layout_->partition(i))->offset =
            static_cast<int>(i) == slot && !known ? RD_KAFKA_OFFSET_BEGINNING : parts_[i].next;
      }
    }
    if (rd_kafka_resp_err_t e = rd_kafka_assign(rk_.get(), list); e != RD_KAFKA_RESP_ERR_NO_ERROR)
      crm::log::Error("stream: cannot re-assign", {{"error", rd_kafka_err2str(e)}});
    rd_kafka_topic_partition_list_destroy(list);
  }

  // Kafka deleted [next, to) of `slot` before the hub read it: the ring restarts at `to`, and clients
  // whose position is in the hole are disconnected (on resume they get `event: reset`).
  void SkipHole(int slot, int64_t to) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Partition& part = parts_[slot];
    const int64_t lost = to - part.next;
    stats_.lost += lost;
    M().lost.Increment(static_cast<double>(lost));
    crm::log::Warn("stream: Kafka deleted messages before they were read",
                   {{"topic", layout_->topic(slot)}, {"partition", layout_->partition(slot)},
                    {"from", part.next}, {"to", to}});
    while (!part.ring.empty()) Evict(slot);
    part.start = part.next = to;
    for (Subscriber* s : subs_) {
      if (s->pos[slot] < to && !s->closed) Close(*s);
    }
  }

  void UpdateLag() {
    std::vector<std::pair<int, int64_t>> next;
    {
      absl::MutexLock lock(&mu_);
      for (size_t i = 0; i < parts_.size(); ++i) next.emplace_back(static_cast<int>(i), parts_[i].next);
    }
    int64_t lag = 0;
    for (const auto& [slot, at] : next) {
      int64_t low = 0, high = 0;
      if (rd_kafka_get_watermark_offsets(rk_.get(), layout_->topic(slot).c_str(), layout_->partition(slot), &low,
                                         &high) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          high >= 0) {
        lag += std::max<int64_t>(0, high - at);
      }
    }
    M().lag.Set(static_cast<double>(lag));
    absl::MutexLock lock(&mu_);
    stats_.lag = lag;
  }

  // ---- clients ----

  void ServeActive(SseStream& sse, const common::v1::Principal& who, std::string_view last_event_id,
                   const std::vector<std::string>& type_prefixes) {
    // Wait for the layout (the hub's first assignment).
    const PositionLayout* layout = nullptr;
    while (layout == nullptr) {
      {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithTimeout(absl::Condition(this, &Impl::ReadyOrStopping), kWakeInterval);
        if (stopping_) return;
        if (ready_) layout = layout_.get();
      }
      if (layout == nullptr && !sse.IsOpen()) return;
    }

    Subscriber sub;
    // An integrator's API key sees what its owner would (and its scopes decide the read.all part).
    sub.user_id = who.kind() == common::v1::Principal::KIND_API_KEY ? who.on_behalf_of_user_id() : who.id();
    sub.teams.assign(who.team_ids().begin(), who.team_ids().end());
    sub.prefixes = type_prefixes;
    sub.read_all.assign(layout->size(), 0);
    for (size_t i = 0; i < layout->size(); ++i) {
      const std::string perm = slot_service_[i] + ".read.all";
      sub.read_all[i] = std::find(who.permissions().begin(), who.permissions().end(), perm) != who.permissions().end();
    }

    std::optional<std::vector<int64_t>> want;
    const char* reset = nullptr;
    if (!last_event_id.empty()) {
      want = layout->Decode(last_event_id);
      if (!want) reset = "unknown_position";
    }
    bool attached = false;
    while (want && !attached) {
      std::vector<int64_t> targets;
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
        bool in_ring = true;
        for (size_t i = 0; i < parts_.size(); ++i) in_ring = in_ring && (*want)[i] >= parts_[i].start;
        if (in_ring) {
          Attach(sub, *want);
          attached = true;
          break;
        }
        for (const auto& p : parts_) targets.push_back(p.start);
      }
      switch (CatchUp(sse, sub, *layout, &*want, targets)) {
        case CatchUpResult::kDone:
          break;
        case CatchUpResult::kClosed:
          return;
        case CatchUpResult::kReset:
          reset = "expired";
          want.reset();
          break;
      }
    }
    std::string reset_id;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) {
        if (attached) Detach(sub);
        return;
      }
      if (!attached) {
        std::vector<int64_t> now;
        for (const auto& p : parts_) now.push_back(p.next);
        Attach(sub, now);
      }
      if (reset != nullptr) reset_id = layout->Encode(sub.pos);
    }
    ServeAttached(sse, sub, *layout, reset, reset_id);
    absl::MutexLock lock(&mu_);
    Detach(sub);
  }

  bool ReadyOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ready_ || stopping_; }

  // Registers `sub` at `position`, queueing what the ring holds beyond it.
  void Attach(Subscriber& sub, const std::vector<int64_t>& position) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    sub.pos = sub.adv = sub.floor = position;
    sub.queued.assign(position.size(), 0);
    for (size_t i = 0; i < parts_.size(); ++i) {
      const auto& ring = parts_[i].ring;
      auto it = std::lower_bound(ring.begin(), ring.end(), position[i],
                                 [](const EventPtr& e, int64_t off) { return e->offset < off; });
      for (; it != ring.end(); ++it) Deliver(sub, *it, /*replay=*/true);
      sub.Skip(static_cast<int>(i), parts_[i].next);
    }
    subs_.push_back(&sub);
    ++stats_.subscribers;
    M().subscribers.Increment();
  }

  void Detach(Subscriber& sub) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    subs_.erase(std::find(subs_.begin(), subs_.end(), &sub));
    --stats_.subscribers;
    M().subscribers.Decrement();
  }

  void ServeAttached(SseStream& sse, Subscriber& sub, const PositionLayout& layout, const char* reset,
                     const std::string& reset_id) {
    if (reset != nullptr) {
      {
        absl::MutexLock lock(&mu_);
        ++stats_.resets;
      }
      M().resets.Increment();
      if (!sse.Send(reset_id, "reset", absl::StrCat("{\"reason\":\"", reset, "\"}"))) return;
    }
    std::vector<int64_t> last_sent;
    {
      absl::MutexLock lock(&mu_);
      last_sent = sub.pos;
    }
    // Without a reset, the first message is the start position alone: a client cut off before its
    // first event still has a Last-Event-ID to resume from.
    if (reset == nullptr && !sse.Send(layout.Encode(last_sent), "", "")) return;
    absl::Time last_write = clock_.Now();
    for (;;) {
      EventPtr ev;
      std::string id;
      {
        absl::MutexLock lock(&mu_);
        if (sub.queue.empty() && !sub.closed && !stopping_) sub.cv.WaitWithTimeout(&mu_, kWakeInterval);
        if (sub.closed || stopping_) return;
        if (!sub.queue.empty()) {
          ev = std::move(sub.queue.front());
          sub.queue.pop_front();
          if (sub.replay_left > 0) --sub.replay_left;
          const int slot = ev->slot;
          sub.pos[slot] = ev->offset + 1;
          if (--sub.queued[slot] == 0) sub.pos[slot] = std::max(sub.pos[slot], sub.adv[slot]);
          id = layout.Encode(sub.pos);
          last_sent = sub.pos;
        } else if (sub.pos != last_sent && clock_.Now() - last_write >= opts_.checkpoint_interval) {
          id = layout.Encode(sub.pos);
          last_sent = sub.pos;
        }
      }
      if (ev != nullptr) {
        if (!sse.Send(id, ev->type, ev->Json(renderer_))) return;
        Count();
        last_write = clock_.Now();
      } else if (!id.empty()) {
        if (!sse.Send(id, "", "")) return;  // id only: moves the client's Last-Event-ID
        last_write = clock_.Now();
      } else if (!sse.IsOpen()) {
        return;
      }
    }
  }

  void Count() {
    M().sent.Increment();
    absl::MutexLock lock(&mu_);
    ++stats_.sent;
  }

  // Sends what `sub` may see of [*position, targets) straight from Kafka, moving *position along. kReset
  // when Kafka no longer holds part of it.
  CatchUpResult CatchUp(SseStream& sse, const Subscriber& sub, const PositionLayout& layout,
                        std::vector<int64_t>* position, const std::vector<int64_t>& targets) {
    for (bool got = false; !got;) {
      {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithTimeout(absl::Condition(this, &Impl::CatchUpSlotFree), kWakeInterval);
        if (stopping_) return CatchUpResult::kClosed;
        if (catchups_running_ < opts_.max_concurrent_catchups) {
          ++catchups_running_;
          ++stats_.catchups;
          got = true;
        }
      }
      if (!got && !sse.IsOpen()) return CatchUpResult::kClosed;
    }
    M().catchups.Increment();
    CatchUpResult r = ReadBack(sse, sub, layout, position, targets);
    absl::MutexLock lock(&mu_);
    --catchups_running_;
    return r;
  }

  bool CatchUpSlotFree() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || catchups_running_ < opts_.max_concurrent_catchups;
  }

  CatchUpResult ReadBack(SseStream& sse, const Subscriber& sub, const PositionLayout& layout,
                              std::vector<int64_t>* position, const std::vector<int64_t>& targets) {
    auto rk = NewConsumer(opts_, {{"client.id", "crm-gateway-stream-catchup"},
                                  {"auto.offset.reset", "error"},
                                  {"enable.partition.eof", "true"}});
    if (!rk.ok()) {
      crm::log::Error("stream: catch-up consumer", {{"error", rk.status()}});
      return CatchUpResult::kClosed;
    }
    std::vector<char> pending(layout.size(), 0);
    int remaining = 0;
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    for (size_t i = 0; i < layout.size(); ++i) {
      if ((*position)[i] >= targets[i]) continue;
      int64_t low = 0, high = 0;
      rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk->get(), layout.topic(i).c_str(),
                                                               layout.partition(i), &low, &high, kKafkaTimeoutMs);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_destroy(list);
        crm::log::Warn("stream: catch-up offsets", {{"topic", layout.topic(i)}, {"error", rd_kafka_err2str(e)}});
        return CatchUpResult::kClosed;
      }
      if ((*position)[i] < low) {
        rd_kafka_topic_partition_list_destroy(list);
        return CatchUpResult::kReset;
      }
      rd_kafka_topic_partition_list_add(list, layout.topic(i).c_str(), layout.partition(i))->offset = (*position)[i];
      pending[i] = 1;
      ++remaining;
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(rk->get(), list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return CatchUpResult::kClosed;

    const absl::Time deadline = absl::Now() + opts_.catchup_timeout;
    uint64_t seq = 0;
    while (remaining > 0) {
      if (stopping_.load() || !sse.IsOpen()) return CatchUpResult::kClosed;
      if (absl::Now() > deadline) {
        crm::log::Warn("stream: catch-up timed out", {{"remaining_partitions", remaining}});
        return CatchUpResult::kClosed;
      }
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk->get(), 200);
      if (m == nullptr) continue;
      std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> guard(m, &rd_kafka_message_destroy);
      if (m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE || m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET)
        return CatchUpResult::kReset;
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        crm::log::Warn("stream: catch-up kafka", {{"error", rd_kafka_message_errstr(m)}});
        continue;
      }
      if (m->rkt == nullptr) continue;
      const int slot = layout.Slot(rd_kafka_topic_name(m->rkt), m->partition);
      if (slot < 0 || !pending[slot]) continue;
      int64_t& at = (*position)[slot];
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->offset < targets[slot]) {
        if (m->offset < at) continue;
        EventPtr ev = MakeEvent(m, slot, ++seq);
        at = m->offset + 1;
        if (sub.Visible(*ev)) {
          if (!sse.Send(layout.Encode(*position), ev->type, ev->Json(renderer_))) return CatchUpResult::kClosed;
          Count();
        }
        if (at < targets[slot]) continue;
      }
      // Reached the ring's start (or the partition's end, which is at or beyond it).
      at = std::max(at, targets[slot]);
      pending[slot] = 0;
      --remaining;
    }
    return CatchUpResult::kDone;
  }

  const StreamOptions opts_;
  const Clock& clock_;
  const Renderer renderer_;
  KafkaPtr rk_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  uint64_t seq_ = 0;  // consumer thread

  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  // Set once by the consumer thread (under mu_), then never changed: read without the lock after ready_.
  std::unique_ptr<PositionLayout> layout_;
  std::vector<std::string> slot_service_;
  std::vector<Partition> parts_ ABSL_GUARDED_BY(mu_);
  std::vector<char> lost_ ABSL_GUARDED_BY(mu_);  // per slot: Kafka deleted messages at our position
  size_t ring_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Subscriber*> subs_ ABSL_GUARDED_BY(mu_);
  int active_serves_ ABSL_GUARDED_BY(mu_) = 0;
  int catchups_running_ ABSL_GUARDED_BY(mu_) = 0;
  StreamStats stats_ ABSL_GUARDED_BY(mu_);
};

std::vector<std::string> ParseTypePrefixes(const HttpRequest& request) {
  std::vector<std::string> out;
  for (const auto& [name, value] : request.query) {
    if (name != "types") continue;
    for (absl::string_view part : absl::StrSplit(AsAbsl(value), ',', absl::SkipWhitespace())) {
      part = absl::StripAsciiWhitespace(part);
      out.emplace_back(part.data(), part.size());
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<StreamHub>> StreamHub::Start(StreamOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  absl::Status s = impl->Init();
  if (!s.ok()) return s;
  return std::unique_ptr<StreamHub>(new StreamHub(std::move(impl)));
}

StreamHub::StreamHub(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StreamHub::~StreamHub() { Stop(); }

void StreamHub::Serve(SseStream& sse, const common::v1::Principal& who, std::string_view last_event_id,
                      const std::vector<std::string>& type_prefixes) {
  impl_->Serve(sse, who, last_event_id, type_prefixes);
}

void StreamHub::Stop() { impl_->Stop(); }
bool StreamHub::Ready() const { return impl_->Ready(); }
StreamStats StreamHub::stats() const { return impl_->stats(); }

}  // namespace crm::gateway
