#include "libs/events/relay.h"

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <pqxx/binarystring>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/notification>
#include <pqxx/result>
#include <pqxx/transaction>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/config/config.h"
#include "libs/events/kafka_internal.h"
#include "libs/events/outbox.h"
#include "libs/log/log.h"
#include "libs/metrics/metrics.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"

namespace crm::events {
namespace {

// The advisory lock that makes one relay per database the leader. Each database is its own lock
// space, so one constant serves every service.
constexpr int64_t kLeaderLockKey = 0x63726d2d6f757462;  // "crm-outb"
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);
constexpr absl::Duration kHousekeepingInterval = absl::Seconds(10);
constexpr absl::Duration kPurgeInterval = absl::Minutes(10);

struct Metrics {
  prometheus::Counter& published;
  prometheus::Counter& delivery_errors;
  prometheus::Counter& parked;
  prometheus::Gauge& parked_rows;
  prometheus::Gauge& in_flight;
  prometheus::Gauge& backlog;
  prometheus::Gauge& oldest_age;
  prometheus::Gauge& leader;
};

Metrics& GetMetrics() {
  static Metrics* const m = [] {
    auto& r = crm::metrics::Registry();
    return new Metrics{
        prometheus::BuildCounter()
            .Name("crm_outbox_published_total")
            .Help("Outbox events acknowledged by Kafka and marked published")
            .Register(r)
            .Add({}),
        prometheus::BuildCounter()
            .Name("crm_outbox_delivery_errors_total")
            .Help("Delivery reports with an error; the event is retried")
            .Register(r)
            .Add({}),
        prometheus::BuildCounter()
            .Name("crm_outbox_parked_total")
            .Help("Events the broker refused for good, moved to outbox_parked by this relay")
            .Register(r)
            .Add({}),
        prometheus::BuildGauge()
            .Name("crm_outbox_parked")
            .Help("Rows in outbox_parked, waiting for an operator (sampled by the leader)")
            .Register(r)
            .Add({}),
        prometheus::BuildGauge()
            .Name("crm_outbox_in_flight")
            .Help("Events produced and awaiting a delivery report")
            .Register(r)
            .Add({}),
        prometheus::BuildGauge()
            .Name("crm_outbox_backlog")
            .Help("Unpublished outbox rows (sampled by the leader)")
            .Register(r)
            .Add({}),
        prometheus::BuildGauge()
            .Name("crm_outbox_oldest_unpublished_seconds")
            .Help("Age of the oldest unpublished outbox row (sampled by the leader)")
            .Register(r)
            .Add({}),
        prometheus::BuildGauge()
            .Name("crm_outbox_relay_leader")
            .Help("1 while this process is the outbox relay leader of its database")
            .Register(r)
            .Add({}),
    };
  }();
  return *m;
}

// "{1,2,3}": a PostgreSQL bigint[] literal.
template <typename Range>
std::string BigintArray(const Range& values) {
  std::string out = "{";
  bool first = true;
  for (int64_t v : values) {
    if (!first) out += ',';
    first = false;
    absl::StrAppend(&out, v);
  }
  out += '}';
  return out;
}

// Whether Kafka (or librdkafka, before sending) refuses this message for good: sending it again can only
// fail again, whatever the broker's state.
bool IsPermanent(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || err == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE ||
         err == RD_KAFKA_RESP_ERR_INVALID_RECORD;
}

class Wakeup final : public pqxx::notification_receiver {
 public:
  Wakeup(pqxx::connection_base& c, bool* flag)
      : pqxx::notification_receiver(c, kOutboxChannel), flag_(flag) {}
  void operator()(const std::string&, int) override { *flag_ = true; }

 private:
  bool* flag_;
};

}  // namespace

RelayOptions RelayOptionsFromEnv(config::Env& env, std::string dsn) {
  RelayOptions o;
  o.dsn = std::move(dsn);
  o.brokers = env.String("KAFKA_BROKERS", "127.0.0.1:9092");
  o.batch_size = static_cast<int>(env.Int("OUTBOX_BATCH_SIZE", o.batch_size, 1, 10000));
  o.max_in_flight = static_cast<int>(env.Int("OUTBOX_MAX_IN_FLIGHT", o.max_in_flight, 1, 100000));
  o.poll_interval = env.Duration("OUTBOX_POLL_INTERVAL", o.poll_interval);
  o.retention = env.Duration("OUTBOX_RETENTION", o.retention);
  return o;
}

class Relay::Impl {
 public:
  explicit Impl(RelayOptions options) : options_(std::move(options)) {}

  ~Impl() {
    Stop();
    if (producer_ != nullptr) rd_kafka_destroy(producer_);
    for (int fd : {stop_fd_, kafka_fd_[0], kafka_fd_[1]}) {
      if (fd >= 0) ::close(fd);
    }
  }

  absl::Status Init() {
    if (options_.dsn.empty()) return absl::InvalidArgumentError("relay.dsn: required");
    if (options_.brokers.empty()) return absl::InvalidArgumentError("relay.brokers: required");
    if (options_.batch_size < 1) return absl::InvalidArgumentError("relay.batch_size: must be ≥ 1");
    if (options_.max_in_flight < options_.batch_size) {
      return absl::InvalidArgumentError("relay.max_in_flight: must be ≥ batch_size");
    }
    stop_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (stop_fd_ < 0 || ::pipe2(kafka_fd_, O_NONBLOCK | O_CLOEXEC) != 0) {
      return absl::InternalError("relay: cannot create wake-up descriptors");
    }
    return CreateProducer();
  }

  void Start() {
    if (thread_.joinable()) return;
    thread_ = std::thread([this] { Run(); });
  }

  void Stop() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(stop_fd_, &one, sizeof one);
    thread_.join();
  }

  RelayStats stats() const {
    absl::MutexLock lock(&mu_);
    return stats_;
  }

 private:
  absl::Status CreateProducer() {
    auto conf = internal::MakeConf(
        {
            {"bootstrap.servers", options_.brokers},
            {"client.id", "crm-outbox-relay"},
            {"enable.idempotence", "true"},  // also acks=all, in-order retries without duplicates
            {"acks", "all"},
            {"message.timeout.ms", "0"},  // never give up locally: an outage only delays delivery
            {"linger.ms", "5"},
            {"partitioner", "murmur2_random"},  // the Java client's partitioning, for shared topics
            {"reconnect.backoff.ms", "100"},
            {"reconnect.backoff.max.ms", "2000"},
        },
        options_.producer_config);
    if (!conf.ok()) return conf.status();
    rd_kafka_conf_set_opaque(*conf, this);
    rd_kafka_conf_set_dr_msg_cb(*conf, &Impl::OnDelivery);
    rd_kafka_conf_set_error_cb(*conf, &Impl::OnError);
    char err[512];
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, err, sizeof err);
    if (producer_ == nullptr) {
      rd_kafka_conf_destroy(*conf);
      return absl::InvalidArgumentError(absl::StrCat("relay: cannot create the Kafka producer: ", err));
    }
    rd_kafka_queue_t* main_queue = rd_kafka_queue_get_main(producer_);
    static const char kByte = 1;
    rd_kafka_queue_io_event_enable(main_queue, kafka_fd_[1], &kByte, 1);
    rd_kafka_queue_destroy(main_queue);
    fatal_ = false;
    return absl::OkStatus();
  }

  // Called from rd_kafka_poll/flush on the relay thread only.
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    const auto seq = static_cast<int64_t>(reinterpret_cast<intptr_t>(m->_private));
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      self->delivered_.push_back(seq);
    } else if (IsPermanent(m->err)) {
      self->parked_.emplace_back(seq, rd_kafka_err2str(m->err));
    } else {
      self->failed_.emplace_back(seq, rd_kafka_err2str(m->err));
    }
  }

  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char buf[512];
      rd_kafka_fatal_error(rk, buf, sizeof buf);
      crm::log::Error("outbox relay: fatal producer error, recreating the producer", {{"error", buf}});
      self->fatal_ = true;
      return;
    }
    // Transient (e.g. all brokers down): the producer keeps retrying on its own.
    crm::log::Warn("outbox relay: kafka",
                   {{"error", rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err))}, {"reason", reason}});
  }

  void Run() {
    absl::Duration backoff = absl::Milliseconds(100);
    while (!stopping_) {
      absl::Status status;
      try {
        status = Step();
      } catch (const std::exception& e) {
        status = pg::StatusFromException(e);
      }
      if (status.ok()) {
        backoff = absl::Milliseconds(100);
        continue;
      }
      crm::log::Warn("outbox relay: retrying", {{"error", status}, {"backoff", backoff}});
      Disconnect();
      Wait(backoff);
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
    Finish();
  }

  absl::Status Step() {
    if (fatal_) RecreateProducer();
    if (conn_ == nullptr) {
      conn_ = std::make_unique<pqxx::connection>(options_.dsn);
      // Every relay query that orders reads outbox_unpublished in seq order. Without statistics (a
      // freshly filled outbox, as after an outage) the planner would rather sort every unpublished row
      // to take the first batch: 20x slower. This session never needs a sort.
      pqxx::nontransaction(*conn_).exec("SET enable_sort = off");
      // Nothing this session writes needs to outlive a crash: its row locks and its published marks
      // are hints — a mark lost with the last few commits only means those events are published again,
      // and every consumer's inbox drops the repeat. So its commits do not wait for the WAL flush; the
      // business transactions, which write the events, keep up's durability.
      pqxx::nontransaction(*conn_).exec("SET synchronous_commit = off");
      notified_ = true;  // look at the table once after (re)connecting
      wakeup_ = std::make_unique<Wakeup>(*conn_, &notified_);
    }
    rd_kafka_poll(producer_, 0);
    MarkResults();
    if (!leader_) {
      pqxx::nontransaction tx(*conn_);
      const bool got = pg::ExecPrepared1(tx, "SELECT pg_try_advisory_lock($1)", kLeaderLockKey)[0].as<bool>();
      if (!got) {
        notified_ = false;  // a standby only retries the lock
        Wait(options_.standby_interval);
        return absl::OkStatus();
      }
      leader_ = true;
      leader_pid_ = conn_->backendpid();
      GetMetrics().leader.Set(1);
      SetLeader(true);
      crm::log::Info("outbox relay: leader", {{"backend_pid", leader_pid_}});
    }
    // libpqxx 6 silently reconnects a broken connection, which would drop the session lock.
    if (conn_->backendpid() != leader_pid_) {
      return absl::UnavailableError("outbox relay: the connection was re-established; leadership lost");
    }
    int fetched = 0;
    absl::Duration wait = options_.poll_interval;
    const int room = options_.max_in_flight - static_cast<int>(in_flight_.size());
    const absl::Time now = absl::Now();
    if (room > 0 && now >= pause_until_) {
      fetched = FetchAndProduce(std::min(room, options_.batch_size));
    } else {
      // Nothing can be fetched now; a pending NOTIFY is served when room frees up or the pause ends.
      notified_ = false;
      if (room > 0) wait = std::min(wait, pause_until_ - now);
    }
    Housekeep();
    if (fetched < options_.batch_size) Wait(wait);
    return absl::OkStatus();
  }

  // Hands the next unpublished rows to the producer, in seq order; returns how many. The stream reads
  // above the high-water mark (the highest seq handed over: an index range scan whatever the planner
  // thinks). Rows below it that are neither published nor in flight — a transaction that committed
  // after later seqs were read, or a failed delivery to retry — are swept up when the stream has
  // caught up, and at least once per poll_interval.
  int FetchAndProduce(int limit) {
    notified_ = false;
    pqxx::work tx(*conn_);
    int produced = 0;
    const absl::Time now = absl::Now();
    bool swept = false;
    if (now - last_sweep_ >= options_.poll_interval) {
      swept = true;
      produced += Produce(Sweep(tx, limit));
    }
    if (const int want = limit - produced; want > 0) {
      const int streamed = Produce(pg::ExecPrepared(tx, absl::StrCat(kSelect, "seq > $1 ", kOrder), high_water_, want));
      produced += streamed;
      if (streamed < want && !swept) {  // the stream has caught up: look below the mark too
        swept = true;
        produced += Produce(Sweep(tx, limit - produced));
      }
    }
    if (swept) last_sweep_ = now;
    tx.commit();
    {
      absl::MutexLock lock(&mu_);
      ++stats_.batches;
    }
    NoteInFlight();
    return produced;
  }

  static constexpr char kSelect[] =
      "SELECT seq, id::text, topic, aggregateid, type, source, "
      "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), payload "
      "FROM outbox WHERE published_at IS NULL AND ";
  static constexpr char kOrder[] = "ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED";

  pqxx::result Sweep(pqxx::work& tx, int limit) {
    if (limit <= 0 || high_water_ == 0) return pqxx::result();
    return pg::ExecPrepared(tx, absl::StrCat(kSelect, "seq <= $1 AND seq NOT IN (SELECT unnest($3::bigint[])) ", kOrder),
                          high_water_, limit, BigintArray(in_flight_));
  }

  // Produces `rows` in order; stops at a row the producer refuses for now (it is retried by a later
  // sweep). A row it refuses for good (IsPermanent) is set aside for parking and the rest go on.
  int Produce(const pqxx::result& rows) {
    int produced = 0;
    for (const auto& row : rows) {
      // Views into `rows`, which outlives the producev call (it copies: RD_KAFKA_MSG_F_COPY).
      auto text = [&row](int i) { return std::string_view(row[i].c_str(), row[i].size()); };
      const auto seq = row[0].as<int64_t>();
      const std::string_view id = text(1), key = text(3), type = text(4), source = text(5), time = text(6);
      const char* topic = row[2].c_str();
      const pqxx::binarystring payload(row[7]);
      static constexpr std::string_view kSpec = "1.0", kContentType = "application/protobuf",
                                        kSchema = "crm.events.v1.Envelope";
      rd_kafka_resp_err_t err;
      for (;;) {
        // __extension__: the RD_KAFKA_V_* macros type-check in GNU statement expressions, which clang's
        // -Wpedantic reports here (GCC does not, the macros being a system header's).
        err = __extension__ rd_kafka_producev(
            producer_, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key.data(), key.size()),
            RD_KAFKA_V_VALUE(const_cast<unsigned char*>(payload.data()), payload.size()),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<intptr_t>(seq))),
            RD_KAFKA_V_HEADER("ce_specversion", kSpec.data(), static_cast<ssize_t>(kSpec.size())),
            RD_KAFKA_V_HEADER("ce_id", id.data(), static_cast<ssize_t>(id.size())),
            RD_KAFKA_V_HEADER("ce_type", type.data(), static_cast<ssize_t>(type.size())),
            RD_KAFKA_V_HEADER("ce_source", source.data(), static_cast<ssize_t>(source.size())),
            RD_KAFKA_V_HEADER("ce_subject", key.data(), static_cast<ssize_t>(key.size())),
            RD_KAFKA_V_HEADER("ce_time", time.data(), static_cast<ssize_t>(time.size())),
            RD_KAFKA_V_HEADER("ce_dataschema", kSchema.data(), static_cast<ssize_t>(kSchema.size())),
            RD_KAFKA_V_HEADER("content-type", kContentType.data(), static_cast<ssize_t>(kContentType.size())),
            RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
        rd_kafka_poll(producer_, 100);  // the local queue is full: let deliveries drain it
      }
      if (IsPermanent(err)) {
        parked_.emplace_back(seq, rd_kafka_err2str(err));
        high_water_ = std::max(high_water_, seq);
        continue;
      }
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        failed_.emplace_back(seq, rd_kafka_err2str(err));
        break;
      }
      in_flight_.insert(seq);
      high_water_ = std::max(high_water_, seq);
      ++produced;
    }
    return produced;
  }

  // Marks delivered rows published, parks the ones refused for good and records failed ones; on a
  // database error the results are kept and marked after reconnecting.
  void MarkResults() {
    if (!parked_.empty()) Park();
    if (!delivered_.empty()) {
      pqxx::work tx(*conn_);
      pg::ExecPrepared(tx,
          "UPDATE outbox SET published_at = now() WHERE seq = ANY($1::bigint[]) AND published_at IS NULL",
          BigintArray(delivered_));
      tx.commit();
      for (int64_t seq : delivered_) in_flight_.erase(seq);
      GetMetrics().published.Increment(static_cast<double>(delivered_.size()));
      absl::MutexLock lock(&mu_);
      stats_.published += static_cast<int64_t>(delivered_.size());
      delivered_.clear();
      retry_backoff_ = absl::Milliseconds(100);
    }
    if (!failed_.empty()) {
      pqxx::work tx(*conn_);
      for (const auto& [seq, error] : failed_) {
        pg::ExecPrepared(tx,
            "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE seq = $1 AND published_at IS "
            "NULL",
            seq, error);
      }
      tx.commit();
      crm::log::Warn("outbox relay: delivery failed; will retry",
                     {{"events", failed_.size()}, {"error", failed_.front().second}});
      for (const auto& f : failed_) in_flight_.erase(f.first);
      GetMetrics().delivery_errors.Increment(static_cast<double>(failed_.size()));
      {
        absl::MutexLock lock(&mu_);
        stats_.delivery_errors += static_cast<int64_t>(failed_.size());
      }
      failed_.clear();
      pause_until_ = absl::Now() + retry_backoff_;
      retry_backoff_ = std::min(retry_backoff_ * 2, absl::Seconds(30));
    }
    NoteInFlight();
  }

  // Moves the rows Kafka refused for good from outbox to outbox_parked (migrations/0004), so that they
  // stop holding the stream up and stay there, with the refusal, for an operator to fix and re-send.
  void Park() {
    static constexpr char kPark[] =
        "WITH moved AS (DELETE FROM outbox WHERE seq = $1 AND published_at IS NULL RETURNING *) "
        "INSERT INTO outbox_parked (seq, id, aggregatetype, aggregateid, type, payload, topic, source, "
        "occurred_at, attempts, error) "
        "SELECT seq, id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at, attempts + 1, $2 "
        "FROM moved ON CONFLICT DO NOTHING RETURNING id::text, type, topic, octet_length(payload)";
    pqxx::work tx(*conn_);
    int64_t moved = 0;
    for (const auto& [seq, error] : parked_) {
      for (const auto& row : pg::ExecPrepared(tx, kPark, seq, error)) {
        ++moved;
        crm::log::Error("outbox relay: Kafka refuses this event for good; parked in outbox_parked",
                        {{"seq", seq},
                         {"event_id", row[0].c_str()},
                         {"type", row[1].c_str()},
                         {"topic", row[2].c_str()},
                         {"bytes", row[3].as<int64_t>()},
                         {"error", error}});
      }
    }
    tx.commit();
    for (const auto& p : parked_) in_flight_.erase(p.first);
    parked_.clear();
    GetMetrics().parked.Increment(static_cast<double>(moved));
    absl::MutexLock lock(&mu_);
    stats_.parked += moved;
  }

  // Reports in_flight_.size() to stats() and the gauge; called wherever it changes.
  void NoteInFlight() {
    GetMetrics().in_flight.Set(static_cast<double>(in_flight_.size()));
    absl::MutexLock lock(&mu_);
    stats_.in_flight = static_cast<int64_t>(in_flight_.size());
  }

  void Housekeep() {
    const absl::Time now = absl::Now();
    if (now - last_sample_ >= kHousekeepingInterval) {
      last_sample_ = now;
      pqxx::nontransaction tx(*conn_);
      auto row = tx.exec1(
          "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(occurred_at)), 0)::float8 "
          "FROM outbox WHERE published_at IS NULL");
      GetMetrics().backlog.Set(row[0].as<double>());
      GetMetrics().oldest_age.Set(row[1].as<double>());
      GetMetrics().parked_rows.Set(tx.exec1("SELECT count(*) FROM outbox_parked")[0].as<double>());
    }
    if (now - last_purge_ >= kPurgeInterval) {
      last_purge_ = now;
      pqxx::nontransaction tx(*conn_);
      pg::ExecPrepared(tx,
          "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE published_at < now() - "
          "make_interval(secs => $1) LIMIT 10000)",
          absl::ToDoubleSeconds(options_.retention));
    }
  }

  // Sleeps until `timeout`, a NOTIFY, a Kafka event or Stop(), whichever comes first.
  void Wait(absl::Duration timeout) {
    if (stopping_ || notified_) return;
    pollfd fds[3] = {{stop_fd_, POLLIN, 0}, {kafka_fd_[0], POLLIN, 0}, {-1, POLLIN, 0}};
    if (conn_ != nullptr) fds[2].fd = conn_->sock();
    ::poll(fds, 3, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    char buf[64];
    while (::read(kafka_fd_[0], buf, sizeof buf) > 0) {
    }
    if (conn_ != nullptr) {
      try {
        conn_->get_notifs();
      } catch (const std::exception&) {
        // A broken connection shows up at the next query, which reconnects.
      }
    }
    rd_kafka_poll(producer_, 0);
  }

  void Disconnect() {
    wakeup_.reset();
    conn_.reset();  // a closed session releases its advisory lock
    if (leader_) crm::log::Info("outbox relay: no longer leader");
    leader_ = false;
    leader_pid_ = 0;
    GetMetrics().leader.Set(0);
    SetLeader(false);
  }

  void SetLeader(bool leader) {
    absl::MutexLock lock(&mu_);
    stats_.leader = leader;
  }

  // After a fatal idempotence error the producer cannot continue; rows in flight are re-read and
  // re-sent by the new one (consumers drop the duplicates).
  void RecreateProducer() {
    rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(producer_, 0);
    failed_.clear();  // purged, not failed
    rd_kafka_destroy(producer_);
    producer_ = nullptr;
    in_flight_.clear();
    high_water_ = 0;
    NoteInFlight();
    if (auto s = CreateProducer(); !s.ok()) {
      crm::log::Error("outbox relay: cannot recreate the producer", {{"error", s}});
      std::abort();  // configuration that worked at start cannot fail now
    }
  }

  void Finish() {
    rd_kafka_flush(producer_, static_cast<int>(absl::ToInt64Milliseconds(options_.stop_timeout)));
    if (conn_ != nullptr) {
      try {
        failed_.clear();
        MarkResults();
      } catch (const std::exception& e) {
        crm::log::Warn("outbox relay: could not mark the last deliveries; they will be re-sent",
                       {{"error", e.what()}});
      }
    }
    rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(producer_, 0);
    delivered_.clear();
    failed_.clear();
    in_flight_.clear();
    NoteInFlight();
    Disconnect();
  }

  const RelayOptions options_;
  rd_kafka_t* producer_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> fatal_{false};
  int stop_fd_ = -1;
  int kafka_fd_[2] = {-1, -1};

  // Relay-thread state.
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<Wakeup> wakeup_;
  bool notified_ = false;
  bool leader_ = false;
  int leader_pid_ = 0;
  absl::flat_hash_set<int64_t> in_flight_;
  int64_t high_water_ = 0;  // the highest seq handed to the producer
  absl::Time last_sweep_ = absl::InfinitePast();
  std::vector<int64_t> delivered_;
  std::vector<std::pair<int64_t, std::string>> failed_;
  std::vector<std::pair<int64_t, std::string>> parked_;  // refused for good: to outbox_parked
  absl::Time pause_until_ = absl::InfinitePast();
  absl::Duration retry_backoff_ = absl::Milliseconds(100);
  absl::Time last_sample_ = absl::InfinitePast();
  absl::Time last_purge_ = absl::InfinitePast();

  mutable absl::Mutex mu_;
  RelayStats stats_;
};

absl::StatusOr<std::unique_ptr<Relay>> Relay::Create(RelayOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  if (auto s = impl->Init(); !s.ok()) return s;
  return std::unique_ptr<Relay>(new Relay(std::move(impl)));
}

Relay::Relay(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Relay::~Relay() = default;
void Relay::Start() { impl_->Start(); }
void Relay::Stop() { impl_->Stop(); }
RelayStats Relay::stats() const { return impl_->stats(); }

}  // namespace crm::events
