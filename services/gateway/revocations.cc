// File: services/gateway/revocations.cc
// Threading: RevokedSessions is a mutex-guarded map. The listener runs one thread that owns the
// librdkafka consumer (setup, polling, lag queries); Ready()/stats() read its state under a mutex.
#include "services/gateway/revocations.h"

#include <librdkafka/rdkafka.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/events/kafka_client.h"
#include "libs/log/log.h"
#include "libs/metrics/metrics.h"
#include "proto/crm/events/v1/envelope.pb.h"
#include "proto/crm/identity/v1/event_types.h"
#include "proto/crm/identity/v1/events.pb.h"

namespace crm::gateway {
namespace {

constexpr int kKafkaTimeoutMs = 5000;

struct Metrics {
  prometheus::Gauge& sessions;
  prometheus::Counter& events;
  prometheus::Counter& malformed;
  prometheus::Gauge& lag;
};

Metrics& M() {
  static Metrics* const m = [] {
    using crm::metrics::NewCounter, crm::metrics::NewGauge;
    return new Metrics{
        NewGauge("crm_gateway_revoked_sessions", "Revoked sessions the gateway refuses tokens of"),
        NewCounter("crm_gateway_revocation_events_total", "SessionRevoked events applied"),
        NewCounter("crm_gateway_revocation_malformed_total", "Messages on the session topic that did not parse"),
        NewGauge("crm_gateway_revocation_lag", "Messages behind the end of the session topic's partitions"),
    };
  }();
  return *m;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------

RevokedSessions::RevokedSessions(const Clock& clock, absl::Duration leeway, size_t max_sessions)
    : clock_(clock), leeway_(leeway), max_sessions_(std::max<size_t>(1, max_sessions)) {}

absl::Status RevokedSessions::Apply(std::string_view envelope_bytes, absl::Duration fallback_ttl) {
  events::v1::Envelope envelope;
  if (!envelope.ParseFromArray(envelope_bytes.data(), static_cast<int>(envelope_bytes.size()))) {
    return absl::InvalidArgumentError("not a crm.events.v1.Envelope");
  }
  if (envelope.type() != identity::v1::kSessionRevokedType) return absl::OkStatus();
  identity::v1::SessionRevoked revoked;
  if (!envelope.payload().UnpackTo(&revoked)) {
    return absl::InvalidArgumentError(absl::StrCat("envelope ", envelope.id(), " of type ", envelope.type(),
                                                   " carries ", envelope.payload().type_url(),
                                                   ", not a crm.identity.v1.SessionRevoked"));
  }
  if (revoked.session_id().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("envelope ", envelope.id(), ": SessionRevoked without session_id"));
  }
  absl::Time until;
  if (revoked.has_tokens_expire_time()) {
    until = FromProtoTimestamp(revoked.tokens_expire_time());
  } else {
    until = (revoked.has_revoke_time() ? FromProtoTimestamp(revoked.revoke_time()) : clock_.Now()) + fallback_ttl;
  }
  Revoke(revoked.session_id(), until);
  return absl::OkStatus();
}

void RevokedSessions::Revoke(std::string_view session_id, absl::Time tokens_expire_time) {
  const absl::Time now = clock_.Now();
  const absl::Time until = tokens_expire_time + leeway_;
  if (session_id.empty() || until <= now) return;
  absl::MutexLock lock(&mu_);
  if (now - last_sweep_ >= absl::Seconds(1)) DropExpiredLocked(now);
  auto [it, inserted] = until_.try_emplace(std::string(session_id), until);
  if (!inserted) it->second = std::max(it->second, until);
  if (until_.size() > max_sessions_) {
    // A flood beyond the bound: forget the tenth that expires first (they matter the shortest).
    std::vector<absl::Time> times;
    times.reserve(until_.size());
    for (const auto& [sid, t] : until_) times.push_back(t);
    const size_t cut = std::max<size_t>(1, until_.size() / 10);
    std::nth_element(times.begin(), times.begin() + static_cast<ptrdiff_t>(cut - 1), times.end());
    const absl::Time threshold = times[cut - 1];
    absl::erase_if(until_, [&](const auto& e) { return e.second <= threshold; });
    log::Warn("revoked sessions over the bound; dropped those expiring first",
              {{"max_sessions", static_cast<int64_t>(max_sessions_)}});
  }
}

bool RevokedSessions::IsRevoked(std::string_view session_id) const {
  if (session_id.empty()) return false;
  const absl::Time now = clock_.Now();
  absl::ReaderMutexLock lock(&mu_);
  auto it = until_.find(AsAbsl(session_id));
  return it != until_.end() && now < it->second;
}

size_t RevokedSessions::DropExpired() {
  absl::MutexLock lock(&mu_);
  DropExpiredLocked(clock_.Now());
  return until_.size();
}

void RevokedSessions::DropExpiredLocked(absl::Time now) {
  last_sweep_ = now;
  absl::erase_if(until_, [now](const auto& e) { return e.second <= now; });
}

size_t RevokedSessions::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return until_.size();
}

// ---------------------------------------------------------------------------------------------------

namespace {

using KafkaPtr = events::KafkaHandle;

}  // namespace

class RevocationListener::Impl {
 public:
  Impl(RevocationOptions o, std::shared_ptr<RevokedSessions> sessions, KafkaPtr rk)
      : opts_(std::move(o)), sessions_(std::move(sessions)), rk_(std::move(rk)), started_(opts_.clock->Now()) {}

  void StartThread() {
    thread_ = std::thread([this] { Run(); });
  }

  void Stop() {
    if (stopping_.exchange(true)) return;
    if (thread_.joinable()) thread_.join();
    rk_.reset();
  }

  absl::Status Ready() const {
    absl::MutexLock lock(&mu_);
    const absl::Time now = opts_.clock->Now();
    const absl::Time contact = last_contact_ == absl::InfinitePast() ? started_ : last_contact_;
    if (!caught_up_) {
      return absl::UnavailableError(absl::StrCat(
          "the session-revocation stream (", opts_.topic, ") has not caught up since start",
          setup_error_.ok() ? "" : absl::StrCat(": ", setup_error_.message())));
    }
    if (now - contact > opts_.max_staleness) {
      return absl::UnavailableError(absl::StrCat("Kafka (", opts_.topic, ") not reached for ",
                                                 absl::FormatDuration(absl::Trunc(now - contact, absl::Seconds(1)))));
    }
    return absl::OkStatus();
  }

  RevocationStats stats() const {
    absl::MutexLock lock(&mu_);
    RevocationStats s = stats_;
    s.sessions = static_cast<int64_t>(sessions_->size());
    return s;
  }

 private:
  struct Partition {
    int id = 0;
    int64_t next = 0;    // next offset to read
    int64_t target = 0;  // the end at start: caught up once next >= target
  };

  void Run() {
    absl::Time next_check = absl::InfinitePast();
    while (!stopping_.load()) {
      if (parts_.empty()) {
        absl::Status s = Setup();
        if (!s.ok()) {
          log::Warn("revocations: cannot assign the session topic; retrying", {{"error", s}});
          {
            absl::MutexLock lock(&mu_);
            setup_error_ = s;
          }
          for (int i = 0; i < 10 && !stopping_.load(); ++i) absl::SleepFor(absl::Milliseconds(100));
        }
        continue;
      }
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), 100);
      if (m != nullptr) {
        Handle(m);
        rd_kafka_message_destroy(m);
      }
      if (absl::Now() >= next_check) {
        next_check = absl::Now() + absl::Seconds(2);
        CheckKafka();
      }
    }
  }

  // Finds the partitions, where to start (now - (ttl + leeway)) and where start-up reading ends.
  absl::Status Setup() {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_.get(), opts_.topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk_.get(), 0, rkt, &md, kKafkaTimeoutMs);
    rd_kafka_topic_destroy(rkt);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::UnavailableError(absl::StrCat("metadata of ", opts_.topic, ": ", rd_kafka_err2str(e)));
    }
    int count = 0;
    rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    for (int i = 0; i < md->topic_cnt; ++i) {
      if (opts_.topic == md->topics[i].topic) {
        topic_err = md->topics[i].err;
        count = md->topics[i].partition_cnt;
      }
    }
    rd_kafka_metadata_destroy(md);
    if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR || count <= 0) {
      return absl::UnavailableError(absl::StrCat("topic ", opts_.topic, ": ", rd_kafka_err2str(topic_err)));
    }
    const absl::Time since = opts_.clock->Now() - opts_.token_ttl - opts_.leeway;
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(count);
    for (int p = 0; p < count; ++p) {
      rd_kafka_topic_partition_list_add(list, opts_.topic.c_str(), p)->offset = absl::ToUnixMillis(since);
    }
    e = rd_kafka_offsets_for_times(rk_.get(), list, kKafkaTimeoutMs);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_topic_partition_list_destroy(list);
      return absl::UnavailableError(absl::StrCat("offsets of ", opts_.topic, " by time: ", rd_kafka_err2str(e)));
    }
    std::vector<Partition> parts;
    for (int i = 0; i < list->cnt; ++i) {
      rd_kafka_topic_partition_t& tp = list->elems[i];
      int64_t low = 0, high = 0;
      e = rd_kafka_query_watermark_offsets(rk_.get(), opts_.topic.c_str(), tp.partition, &low, &high, kKafkaTimeoutMs);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_destroy(list);
        return absl::UnavailableError(absl::StrCat("offsets of ", opts_.topic, "/", tp.partition, ": ",
                                                   rd_kafka_err2str(e)));
      }
      // No offset for that time: Kafka has nothing as recent (or, the dev broker, cannot look up by
      // time). Read a bounded backlog; entries already expired are ignored as they arrive.
      int64_t start = tp.err == RD_KAFKA_RESP_ERR_NO_ERROR && tp.offset >= 0
                          ? tp.offset
                          : std::max(low, high - opts_.fallback_backlog);
      start = std::clamp(start, low, high);
      tp.offset = start;
      parts.push_back(Partition{tp.partition, start, high});
    }
    e = rd_kafka_assign(rk_.get(), list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return absl::UnavailableError(absl::StrCat("assign: ", rd_kafka_err2str(e)));
    parts_ = std::move(parts);
    int64_t backlog = 0;
    for (const Partition& p : parts_) backlog += p.target - p.next;
    log::Info("revocations: consuming", {{"topic", opts_.topic},
                                         {"partitions", static_cast<int64_t>(parts_.size())},
                                         {"since", absl::FormatTime(since)},
                                         {"backlog", backlog}});
    absl::MutexLock lock(&mu_);
    setup_error_ = absl::OkStatus();
    last_contact_ = opts_.clock->Now();
    stats_.lag = backlog;
    UpdateCaughtUpLocked();
    return absl::OkStatus();
  }

  void Handle(const rd_kafka_message_t* m) {
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      log::Warn("revocations: consumer error", {{"error", rd_kafka_message_errstr(m)}});
      return;
    }
    absl::Status s = sessions_->Apply(
        std::string_view(static_cast<const char*>(m->payload), m->payload == nullptr ? 0 : m->len),
        opts_.token_ttl);
    absl::MutexLock lock(&mu_);
    last_contact_ = opts_.clock->Now();
    if (s.ok()) {
      ++stats_.events;
      M().events.Increment();
    } else {
      ++stats_.malformed;
      M().malformed.Increment();
      log::Warn("revocations: skipping a message", {{"partition", m->partition}, {"offset", m->offset}, {"error", s}});
    }
    for (Partition& p : parts_) {
      if (p.id == m->partition) p.next = std::max(p.next, m->offset + 1);
    }
    M().sessions.Set(static_cast<double>(sessions_->size()));
    if (!caught_up_) UpdateCaughtUpLocked();
  }

  // Every few seconds: is Kafka reachable (for Ready()), how far behind, and drop expired entries.
  void CheckKafka() {
    std::vector<std::pair<int, int64_t>> positions;
    {
      absl::MutexLock lock(&mu_);
      for (const Partition& p : parts_) positions.emplace_back(p.id, p.next);
    }
    int64_t lag = 0;
    bool reached = true;
    for (const auto& [id, next] : positions) {
      int64_t low = 0, high = 0;
      if (rd_kafka_query_watermark_offsets(rk_.get(), opts_.topic.c_str(), id, &low, &high, 1000) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        reached = false;
        break;
      }
      lag += std::max<int64_t>(0, high - next);
    }
    M().sessions.Set(static_cast<double>(sessions_->DropExpired()));
    absl::MutexLock lock(&mu_);
    if (!reached) return;
    last_contact_ = opts_.clock->Now();
    stats_.lag = lag;
    M().lag.Set(static_cast<double>(lag));
  }

  void UpdateCaughtUpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const Partition& p : parts_) {
      if (p.next < p.target) return;
    }
    caught_up_ = true;
    log::Info("revocations: caught up", {{"topic", opts_.topic}, {"sessions", static_cast<int64_t>(sessions_->size())}});
  }

  const RevocationOptions opts_;
  std::shared_ptr<RevokedSessions> sessions_;
  KafkaPtr rk_;
  const absl::Time started_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  // Consumer-thread only, except that Handle() and CheckKafka() read it under mu_ too.
  std::vector<Partition> parts_;

  mutable absl::Mutex mu_;
  bool caught_up_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_contact_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status setup_error_ ABSL_GUARDED_BY(mu_);
  RevocationStats stats_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::unique_ptr<RevocationListener>> RevocationListener::Start(RevocationOptions o) {
  if (o.brokers.empty()) return absl::InvalidArgumentError("revocations: no Kafka brokers given");
  if (o.topic.empty()) return absl::InvalidArgumentError("revocations: no topic given");
  if (o.token_ttl <= absl::ZeroDuration()) return absl::InvalidArgumentError("revocations: token TTL must be positive");
  if (o.leeway < absl::ZeroDuration()) return absl::InvalidArgumentError("revocations: leeway must not be negative");
  if (o.clock == nullptr) o.clock = &SystemClock();
  // Every replica reads every partition: explicit assignment, a group id of its own (librdkafka's
  // high-level consumer wants one; it never joins or commits).
  absl::StatusOr<KafkaPtr> rk = events::NewKafkaConsumer(
      "revocations",
      {{"bootstrap.servers", o.brokers},
       {"group.id", absl::StrCat("crm-gateway-revocations-", NewUuidV7())},
       {"enable.auto.commit", "false"},
       {"enable.auto.offset.store", "false"},
       {"enable.partition.eof", "false"},
       {"auto.offset.reset", "earliest"},
       {"fetch.wait.max.ms", "100"}},
      o.consumer_config);
  if (!rk.ok()) return rk.status();
  auto sessions = std::make_shared<RevokedSessions>(*o.clock, o.leeway, o.max_sessions);
  auto impl = std::make_unique<Impl>(std::move(o), sessions, *std::move(rk));
  impl->StartThread();
  return std::unique_ptr<RevocationListener>(new RevocationListener(std::move(sessions), std::move(impl)));
}

RevocationListener::RevocationListener(std::shared_ptr<RevokedSessions> sessions, std::unique_ptr<Impl> impl)
    : sessions_(std::move(sessions)), impl_(std::move(impl)) {}

RevocationListener::~RevocationListener() { Stop(); }

absl::Status RevocationListener::Ready() const { return impl_->Ready(); }

RevocationStats RevocationListener::stats() const { return impl_->stats(); }

void RevocationListener::Stop() { impl_->Stop(); }

}  // namespace crm::gateway
