#include "libs/events/consumer.h"

#include <librdkafka/rdkafka.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include <algorithm>
#include <atomic>
#include <pqxx/result>
#include <pqxx/transaction>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "libs/base/status.h"
#include "libs/base/uuid.h"
#include "libs/events/kafka_internal.h"
#include "libs/log/log.h"
#include "libs/metrics/metrics.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"

namespace crm::events {
namespace {


prometheus::Family<prometheus::Counter>& ConsumedFamily() {
  static auto* const family = &prometheus::BuildCounter()
                                   .Name("crm_events_consumed_total")
                                   .Help("Events handled by idempotent consumers, by result")
                                   .Register(crm::metrics::Registry());
  return *family;
}

prometheus::Gauge& LagSecondsGauge(const std::string& consumer) {
  static auto* const family = &prometheus::BuildGauge()
                                   .Name("crm_events_consumer_lag_seconds")
                                   .Help("How old the last event handled was when its batch was done (0 when idle)")
                                   .Register(crm::metrics::Registry());
  return family->Add({{"consumer", consumer}});
}

prometheus::Gauge& LagGauge(const std::string& consumer) {
  static auto* const family = &prometheus::BuildGauge()
                                   .Name("crm_events_consumer_lag")
                                   .Help("Messages not yet consumed in the consumer's assigned partitions")
                                   .Register(crm::metrics::Registry());
  return family->Add({{"consumer", consumer}});
}

std::string HeaderValue(const rd_kafka_message_t* m, const char* name) {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return "";
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      value == nullptr) {
    return "";
  }
  return std::string(static_cast<const char*>(value), size);
}

}  // namespace

class Consumer::Impl {
 public:
  Impl(ConsumerOptions options, pg::Pool& pool, Handler handler)
      : options_(std::move(options)),
        pool_(pool),
        handler_(std::move(handler)),
        applied_(ConsumedFamily().Add({{"consumer", options_.group_id}, {"result", "applied"}})),
        duplicate_(ConsumedFamily().Add({{"consumer", options_.group_id}, {"result", "duplicate"}})),
        rejected_(ConsumedFamily().Add({{"consumer", options_.group_id}, {"result", "rejected"}})),
        retried_(ConsumedFamily().Add({{"consumer", options_.group_id}, {"result", "retried"}})),
        lag_gauge_(LagGauge(options_.group_id)),
        lag_seconds_gauge_(LagSecondsGauge(options_.group_id)) {}

  ~Impl() { Close(); }

  absl::Status Init() {
    if (options_.brokers.empty()) return absl::InvalidArgumentError("consumer.brokers: required");
    if (options_.group_id.empty()) return absl::InvalidArgumentError("consumer.group_id: required");
    if (options_.topics.empty()) return absl::InvalidArgumentError("consumer.topics: at least one");
    if (!handler_) return absl::InvalidArgumentError("consumer.handler: required");
    if (options_.max_batch < 1) return absl::InvalidArgumentError("consumer.max_batch: at least 1");
    auto conf = internal::MakeConf(
        {
            {"bootstrap.servers", options_.brokers},
            {"group.id", options_.group_id},
            {"client.id", absl::StrCat("crm-consumer-", options_.group_id)},
            // Offsets are stored only after the effects commit; the background commit then sends only
            // those, and close() / revocation commit them too.
            {"enable.auto.offset.store", "false"},
            {"enable.auto.commit", "true"},
            {"auto.commit.interval.ms", "1000"},
            {"auto.offset.reset", "earliest"},
            {"session.timeout.ms", absl::StrCat(absl::ToInt64Milliseconds(options_.session_timeout))},
            {"heartbeat.interval.ms",
             absl::StrCat(std::max<int64_t>(100, absl::ToInt64Milliseconds(options_.session_timeout) / 4))},
            {"enable.partition.eof", "false"},
        },
        options_.consumer_config);
    if (!conf.ok()) return conf.status();
    char err[512];
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, *conf, err, sizeof err);
    if (rk_ == nullptr) {
      rd_kafka_conf_destroy(*conf);
      return absl::InvalidArgumentError(absl::StrCat("consumer: cannot create the Kafka consumer: ", err));
    }
    rd_kafka_poll_set_consumer(rk_);
    rd_kafka_topic_partition_list_t* topics =
        rd_kafka_topic_partition_list_new(static_cast<int>(options_.topics.size()));
    for (const auto& t : options_.topics)
      rd_kafka_topic_partition_list_add(topics, t.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::InvalidArgumentError(absl::StrCat(
          "consumer: cannot subscribe to ", absl::StrJoin(options_.topics, ","), ": ", rd_kafka_err2str(e)));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<bool> PollOnce(absl::Duration timeout) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    if (m == nullptr) return false;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      crm::log::Warn("consumer: kafka",
                     {{"consumer", options_.group_id}, {"error", rd_kafka_message_errstr(m)}});
      rd_kafka_message_destroy(m);
      return false;
    }
    absl::Status s = Handle(m);
    rd_kafka_message_destroy(m);
    if (!s.ok()) return s;
    return true;
  }

  absl::Status Run() {
    absl::Time last_lag = absl::InfinitePast();
    while (!stopping_) {
      absl::Status s = PollBatch(absl::Milliseconds(200));
      if (!s.ok() && !stopping_) return s;
      if (absl::Now() - last_lag >= absl::Seconds(5)) {
        last_lag = absl::Now();
        if (int64_t lag = Lag(); lag >= 0) lag_gauge_.Set(static_cast<double>(lag));
      }
    }
    return absl::OkStatus();
  }

  // Waits up to `timeout` for a message, takes whatever else is already fetched (up to max_batch,
  // never waiting for more) and handles them in order: runs of readable events in one transaction each.
  absl::Status PollBatch(absl::Duration timeout) {
    std::vector<rd_kafka_message_t*> batch;
    for (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
         m != nullptr; m = static_cast<int>(batch.size()) < options_.max_batch ? rd_kafka_consumer_poll(rk_, 0)
                                                                                  : nullptr) {
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        crm::log::Warn("consumer: kafka", {{"consumer", options_.group_id}, {"error", rd_kafka_message_errstr(m)}});
        rd_kafka_message_destroy(m);
        continue;
      }
      batch.push_back(m);
    }
    absl::Status s = HandleBatch(batch);
    // How far behind in time: the age of the newest event just handled (0 when nothing came).
    double age = 0;
    if (!batch.empty()) {
      rd_kafka_timestamp_type_t type;
      const int64_t ms = rd_kafka_message_timestamp(batch.back(), &type);
      if (ms > 0) age = std::max(0.0, static_cast<double>(absl::ToUnixMillis(absl::Now()) - ms) / 1000.0);
    }
    lag_seconds_gauge_.Set(age);
    for (rd_kafka_message_t* m : batch) rd_kafka_message_destroy(m);
    return s;
  }
  // Sum over the assigned partitions of (high watermark − position), from librdkafka's cached
  // watermarks. A partition nothing was consumed from since its assignment has no position: its
  // committed offset counts instead (one broker round trip, at most 1 s). -1 when nothing is assigned.
  int64_t Lag() const {
    rd_kafka_topic_partition_list_t* assignment = nullptr;
    if (rk_ == nullptr || rd_kafka_assignment(rk_, &assignment) != RD_KAFKA_RESP_ERR_NO_ERROR) return -1;
    int64_t lag = assignment->cnt > 0 ? 0 : -1;
    rd_kafka_position(rk_, assignment);
    rd_kafka_topic_partition_list_t* unknown = rd_kafka_topic_partition_list_new(assignment->cnt);
    for (int i = 0; i < assignment->cnt; ++i) {
      if (assignment->elems[i].offset < 0) {
        rd_kafka_topic_partition_list_add(unknown, assignment->elems[i].topic, assignment->elems[i].partition);
      }
    }
    if (unknown->cnt > 0 && rd_kafka_committed(rk_, unknown, 1000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < unknown->cnt; ++i) {
        rd_kafka_topic_partition_t* tp = rd_kafka_topic_partition_list_find(
            assignment, unknown->elems[i].topic, unknown->elems[i].partition);
        if (tp != nullptr && unknown->elems[i].offset >= 0) tp->offset = unknown->elems[i].offset;
      }
    }
    rd_kafka_topic_partition_list_destroy(unknown);
    for (int i = 0; i < assignment->cnt; ++i) {
      const rd_kafka_topic_partition_t& tp = assignment->elems[i];
      int64_t low = 0, high = 0;
      if (rd_kafka_get_watermark_offsets(rk_, tp.topic, tp.partition, &low, &high) !=
              RD_KAFKA_RESP_ERR_NO_ERROR ||
          high < 0) {
        continue;
      }
      const int64_t position = tp.offset >= 0 ? tp.offset : low;
      lag += std::max<int64_t>(0, high - position);
    }
    rd_kafka_topic_partition_list_destroy(assignment);
    return lag;
  }

  void Stop() {
    stopping_ = true;
    absl::MutexLock lock(&mu_);
    wake_.SignalAll();
  }

  ConsumerStats stats() const {
    ConsumerStats out;
    {
      absl::MutexLock lock(&mu_);
      out = stats_;
    }
    out.lag = Lag();
    return out;
  }

 private:
  // Applies one message exactly once in effect. Returns non-OK only when stopping mid-retry (the
  // offset is then not stored and the message comes again).
  absl::Status Handle(const rd_kafka_message_t* m) {
    const std::string topic = rd_kafka_topic_name(m->rkt);
    v1::Envelope envelope;
    const bool parsed = envelope.ParseFromArray(m->payload, static_cast<int>(m->len)) &&
                        IsUuid(envelope.id()) && !envelope.type().empty();
    const ConsumedEvent event{envelope, topic, m->partition, m->offset};
    if (!parsed) {
      // Not our envelope. Park it under its ce_id if it has a usable one; otherwise only log it.
      std::string id = HeaderValue(m, "ce_id");
      absl::Status why = absl::InvalidArgumentError("value is not a crm.events.v1.Envelope");
      crm::log::Error("consumer: unreadable event", {{"consumer", options_.group_id},
                                                     {"topic", topic},
                                                     {"partition", m->partition},
                                                     {"offset", m->offset},
                                                     {"ce_id", id}});
      if (IsUuid(id)) {
        envelope.set_id(id);
        envelope.set_type(HeaderValue(m, "ce_type"));
        CRM_RETURN_IF_ERROR(Park(event, why));
      }
      StoreOffset(m);
      return absl::OkStatus();
    }

    absl::Duration backoff = absl::Milliseconds(50);
    for (;;) {
      bool duplicate = false;
      absl::Status s = pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
        if (!RecordInInbox(tx, event)) {
          duplicate = true;
          return absl::OkStatus();
        }
        return handler_(tx, event);
      });
      if (s.ok()) {
        StoreOffset(m);
        {
          absl::MutexLock lock(&mu_);
          (duplicate ? stats_.duplicates : stats_.applied)++;
          (duplicate ? duplicate_ : applied_).Increment();
        }
        if (!duplicate && options_.after_commit) options_.after_commit();
        return absl::OkStatus();
      }
      if (!IsTransient(s)) {
        crm::log::Error("consumer: event rejected; parked in the inbox", {{"consumer", options_.group_id},
                                                                          {"event_id", envelope.id()},
                                                                          {"type", envelope.type()},
                                                                          {"error", s}});
        CRM_RETURN_IF_ERROR(Park(event, s));
        StoreOffset(m);
        return absl::OkStatus();
      }
      crm::log::Warn(
          "consumer: transient failure; retrying",
          {{"consumer", options_.group_id}, {"event_id", envelope.id()}, {"error", s}, {"backoff", backoff}});
      {
        absl::MutexLock lock(&mu_);
        ++stats_.retries;
        retried_.Increment();
      }
      if (!Backoff(backoff)) return s;
      backoff = std::min(backoff * 2, options_.max_retry_backoff);
    }
  }

  // Handles `batch` in order. A run of readable events commits in ONE transaction (inbox rows and every
  // handler's effects), so a burst costs one commit, not one per event; offsets are stored after it, in
  // order. When a handler refuses an event, the run is rolled back, the events before it are applied
  // again as a run, and that event goes through Handle() alone (retry or park, as for a single event).
  absl::Status HandleBatch(const std::vector<rd_kafka_message_t*>& batch) {
    struct Item {
      const rd_kafka_message_t* m;
      v1::Envelope envelope;
      std::string topic;
    };
    size_t i = 0;
    while (i < batch.size() && !stopping_) {
      std::vector<Item> run;
      for (size_t j = i; j < batch.size(); ++j) {
        Item item{batch[j], {}, rd_kafka_topic_name(batch[j]->rkt)};
        if (!item.envelope.ParseFromArray(batch[j]->payload, static_cast<int>(batch[j]->len)) ||
            !IsUuid(item.envelope.id()) || item.envelope.type().empty()) {
          break;
        }
        run.push_back(std::move(item));
      }
      if (run.size() <= 1) {  // one event, or an unreadable one: the single-event path
        CRM_RETURN_IF_ERROR(Handle(batch[i]));
        ++i;
        continue;
      }
      size_t failed_at = run.size();
      std::vector<bool> duplicate(run.size(), false);
      auto apply = [&](size_t end) {
        return pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
          failed_at = run.size();
          for (size_t k = 0; k < end; ++k) {
            const Item& it = run[k];
            const ConsumedEvent event{it.envelope, it.topic, it.m->partition, it.m->offset};
            duplicate[k] = !RecordInInbox(tx, event);
            if (duplicate[k]) continue;
            if (absl::Status s = handler_(tx, event); !s.ok()) {
              failed_at = k;
              return s;
            }
          }
          return absl::OkStatus();
        });
      };
      size_t end = run.size();
      absl::Status s = apply(end);
      if (!s.ok() && failed_at < run.size()) {
        // Keep what came before the refused event, then let Handle() decide about it alone.
        if (IsTransient(s)) {
          absl::MutexLock lock(&mu_);
          ++stats_.retries;
          retried_.Increment();
        }
        end = failed_at;
        s = end == 0 ? absl::OkStatus() : apply(end);
      }
      if (!s.ok()) {
        // The run itself did not commit (a database failure): its first event on its own, with Handle()'s
        // retries, then the rest again.
        crm::log::Warn("consumer: a batch did not commit; handling its first event alone",
                       {{"consumer", options_.group_id}, {"events", end}, {"error", s}});
        end = 0;
      }
      bool applied = false;
      for (size_t k = 0; k < end; ++k) {
        StoreOffset(run[k].m);
        absl::MutexLock lock(&mu_);
        (duplicate[k] ? stats_.duplicates : stats_.applied)++;
        (duplicate[k] ? duplicate_ : applied_).Increment();
        applied = applied || !duplicate[k];
      }
      if (applied && options_.after_commit) options_.after_commit();
      i += end;
      if (end < run.size()) {
        CRM_RETURN_IF_ERROR(Handle(batch[i]));
        ++i;
      }
    }
    return absl::OkStatus();
  }

  // Records `event` as applied by this consumer in `tx`; false when it already was (a redelivery).
  bool RecordInInbox(pqxx::transaction_base& tx, const ConsumedEvent& event) {
    return pg::ExecPrepared(tx,
                 "INSERT INTO inbox (consumer, event_id, event_type, topic, kafka_partition, kafka_offset) "
                 "VALUES ($1, $2::uuid, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                 options_.group_id, event.envelope.id(), event.envelope.type(), event.topic, event.partition,
                 event.offset)
               .affected_rows() > 0;
  }

  // Waits `backoff`, or less if Stop() comes; returns false when stopping.
  bool Backoff(absl::Duration backoff) {
    absl::MutexLock lock(&mu_);
    if (!stopping_) wake_.WaitWithTimeout(&mu_, backoff);
    return !stopping_;
  }

  // Records a refused event as 'rejected' with its error, so it is visible and can be replayed.
  absl::Status Park(const ConsumedEvent& event, const absl::Status& why) {
    for (absl::Duration backoff = absl::Milliseconds(50);;
         backoff = std::min(backoff * 2, options_.max_retry_backoff)) {
      absl::Status s = pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
        pg::ExecPrepared(tx,
            "INSERT INTO inbox (consumer, event_id, event_type, topic, kafka_partition, kafka_offset, "
            "status, error) "
            "VALUES ($1, $2::uuid, $3, $4, $5, $6, 'rejected', $7) ON CONFLICT DO NOTHING",
            options_.group_id, event.envelope.id(), event.envelope.type(), event.topic, event.partition,
            event.offset, why.ToString());
        return absl::OkStatus();
      });
      if (s.ok()) {
        absl::MutexLock lock(&mu_);
        ++stats_.rejected;
        rejected_.Increment();
        return absl::OkStatus();
      }
      if (!Backoff(backoff)) return s;
    }
  }

  void StoreOffset(const rd_kafka_message_t* m) {
    // Stores m->offset + 1: the next message to read.
    rd_kafka_offset_store(m->rkt, m->partition, m->offset);
  }

  void Close() {
    if (rk_ == nullptr) return;
    rd_kafka_consumer_close(rk_);  // commits the stored offsets and leaves the group
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
  }

  const ConsumerOptions options_;
  pg::Pool& pool_;
  const Handler handler_;
  rd_kafka_t* rk_ = nullptr;
  std::atomic<bool> stopping_{false};
  prometheus::Counter& applied_;
  prometheus::Counter& duplicate_;
  prometheus::Counter& rejected_;
  prometheus::Counter& retried_;
  prometheus::Gauge& lag_gauge_;
  prometheus::Gauge& lag_seconds_gauge_;

  mutable absl::Mutex mu_;
  absl::CondVar wake_;
  ConsumerStats stats_;
};

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(ConsumerOptions options, pg::Pool& pool,
                                                           Handler handler) {
  auto impl = std::make_unique<Impl>(std::move(options), pool, std::move(handler));
  CRM_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Consumer>(new Consumer(std::move(impl)));
}

Consumer::Consumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Consumer::~Consumer() = default;
absl::Status Consumer::Run() { return impl_->Run(); }
absl::StatusOr<bool> Consumer::PollOnce(absl::Duration timeout) { return impl_->PollOnce(timeout); }
void Consumer::Stop() { impl_->Stop(); }
ConsumerStats Consumer::stats() const { return impl_->stats(); }

ConsumerThread::ConsumerThread(std::unique_ptr<Consumer> consumer)
    : consumer_(std::move(consumer)), thread_([this] {
        if (absl::Status s = consumer_->Run(); !s.ok()) crm::log::Error("consumer stopped", {{"error", s}});
      }) {}

ConsumerThread::~ConsumerThread() {
  consumer_->Stop();
  thread_.join();
}

}  // namespace crm::events
