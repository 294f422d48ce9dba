// crm-outbox-bench: outbox relay throughput next to raw librdkafka produce throughput, measured in the
// same run against the same in-process broker (librdkafka's mock cluster), printed as a ratio.
//
//   tools/crm bench [--events N] [--batch N]     (a throwaway PostgreSQL comes from tools/crm;
//   CRM_TEST_PG_DSN)
//
// raw:   N messages of the relay's exact shape (a serialized Envelope, key, the eight ce_* headers)
//        produced with the relay's producer settings (idempotent, acks=all, linger 5 ms), then flushed.
// relay: N rows pre-written to a fresh outbox, then the time from Relay::Start() until all N are
//        acknowledged by the broker AND marked published in PostgreSQL.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/transaction>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "google/protobuf/wrappers.pb.h"
#include "libs/base/uuid.h"
#include "libs/events/outbox.h"
#include "libs/events/relay.h"
#include "libs/events/schema.h"
#include "libs/log/log.h"
#include "libs/pg/migrations.h"
#include "proto/crm/events/v1/envelope.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "crm-outbox-bench: %s\n", why.c_str());
  std::exit(1);
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

rd_kafka_t* Producer(const std::string& brokers) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (auto [k, v] : {std::pair{"bootstrap.servers", brokers.c_str()},
                      {"enable.idempotence", "true"},
                      {"acks", "all"},
                      {"linger.ms", "5"},
                      {"message.timeout.ms", "0"},
                      {"partitioner", "murmur2_random"},
                      {"log_level", "3"}}) {
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) Die(err);
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) Die(err);
  return rk;
}

std::string SampleEnvelope(int i) {
  crm::events::v1::Envelope e;
  e.set_id(crm::NewUuidV7());
  e.set_type("crm.test.item.changed.v1");
  e.set_source("/crm/bench");
  e.set_subject(absl::StrCat("item-", i % 1000));
  e.set_aggregate_type("item");
  google::protobuf::Int64Value v;
  v.set_value(i);
  e.mutable_payload()->PackFrom(v);
  return e.SerializeAsString();
}

double RawProduce(const std::string& brokers, int n) {
  rd_kafka_t* rk = Producer(brokers);
  const std::string value = SampleEnvelope(0);
  const std::string id = crm::NewUuidV7(), time = "2026-11-24T10:00:00.000000Z";
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    const std::string key = absl::StrCat("item-", i % 1000);
    for (;;) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC("crm.bench.item.v1"), RD_KAFKA_V_KEY(key.data(), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADER("ce_specversion", "1.0", 3),
          RD_KAFKA_V_HEADER("ce_id", id.data(), 36),
          RD_KAFKA_V_HEADER("ce_type", "crm.test.item.changed.v1", 24),
          RD_KAFKA_V_HEADER("ce_source", "/crm/bench", 10),
          RD_KAFKA_V_HEADER("ce_subject", key.data(), static_cast<ssize_t>(key.size())),
          RD_KAFKA_V_HEADER("ce_time", time.data(), static_cast<ssize_t>(time.size())),
          RD_KAFKA_V_HEADER("ce_dataschema", "crm.events.v1.Envelope", 22),
          RD_KAFKA_V_HEADER("content-type", "application/protobuf", 20), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) Die(rd_kafka_err2str(err));
      rd_kafka_poll(rk, 10);
    }
    rd_kafka_poll(rk, 0);
  }
  if (rd_kafka_flush(rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) Die("raw flush timed out");
  auto end = Clock::now();
  rd_kafka_destroy(rk);
  return n / Seconds(start, end);
}

std::string MakeDatabase(const std::string& admin_dsn) {
  const std::string name = absl::StrCat("bench_", getpid());
  pqxx::connection c(admin_dsn);
  pqxx::nontransaction tx(c);
  tx.exec("DROP DATABASE IF EXISTS " + name);
  tx.exec("CREATE DATABASE " + name);
  return admin_dsn + " dbname=" + name;
}

void FillOutbox(const std::string& dsn, int n) {
  pqxx::connection c(dsn);
  const crm::events::OutboxWriter outbox("bench");
  google::protobuf::Int64Value v;
  for (int done = 0; done < n;) {
    pqxx::work tx(c);
    for (int k = 0; k < 2000 && done < n; ++k, ++done) {
      v.set_value(done);
      auto id = outbox.Append(tx, {.aggregate_type = "item",
                                   .aggregate_id = absl::StrCat("item-", done % 1000),
                                   .type = "crm.test.item.changed.v1",
                                   .payload = &v});
      if (!id.ok()) Die(id.status().ToString());
    }
    tx.commit();
  }
}

double RelayThroughput(const std::string& dsn, const std::string& brokers, int n, int batch) {
  auto relay = crm::events::Relay::Create(
      {.dsn = dsn, .brokers = brokers, .batch_size = batch, .max_in_flight = std::max(5000, 10 * batch)});
  if (!relay.ok()) Die(relay.status().ToString());
  auto start = Clock::now();
  (*relay)->Start();
  while ((*relay)->stats().published < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto end = Clock::now();
  (*relay)->Stop();
  return n / Seconds(start, end);
}

}  // namespace

int main(int argc, char** argv) {
  int events = 100000, batch = crm::events::RelayOptions{}.batch_size;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
      events = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
      batch = std::atoi(argv[++i]);
    } else {
      Die("usage: crm-outbox-bench [--events N] [--batch N]");
    }
  }
  if (batch < 1 || batch > 10000) Die("--batch: want 1..10000");
  if (events < 1000 || events > 10000000) Die("--events: want 1000..10000000");
  const char* admin = std::getenv("CRM_TEST_PG_DSN");
  if (admin == nullptr) Die("CRM_TEST_PG_DSN is not set: run through `tools/crm bench`");
  crm::log::Init("bench", crm::log::Level::kWarn);

  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(host, 1);
  rd_kafka_mock_topic_create(cluster, "crm.bench.item.v1", 6, 1);
  const std::string brokers = rd_kafka_mock_cluster_bootstraps(cluster);

  const std::string dsn = MakeDatabase(admin);
  if (auto s = crm::pg::Migrate(dsn, crm::EventsMigrations()); !s.ok()) Die(s.status().ToString());
  FillOutbox(dsn, events);

  std::printf(
      "events: %d, envelope %zu bytes + 8 ce_* headers, broker: librdkafka mock cluster (in process)\n",
      events, SampleEnvelope(0).size());
  const double raw = RawProduce(brokers, events);
  std::printf("raw librdkafka produce (idempotent, acks=all): %10.0f events/s\n", raw);
  const double relay = RelayThroughput(dsn, brokers, events, batch);
  std::printf("outbox relay (read, produce, ack, mark):      %10.0f events/s  (batch %d)\n", relay, batch);
  std::printf("ratio relay/raw: %.3f\n", relay / raw);

  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(host);
  return 0;
}
