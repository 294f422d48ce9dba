// The platform's event guarantees, proven end to end against real PostgreSQL and a real
// Kafka-protocol broker (tools/devbroker), with the relay and consumer killed as whole processes:
//   * 10 000 changes written while the broker is down all arrive once it is up, in order per key,
//     none applied twice;
//   * the relay SIGKILLed mid-stream and restarted: same;
//   * the consumer SIGKILLed mid-stream and restarted: no lost and no doubled effect.
// Each proof ends by bumping every item once more and waiting for those effects: per-partition order
// means every earlier message, duplicates included, was handled by then.
#include <signal.h>

#include <cstring>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "libs/events/consumer.h"
#include "libs/events/relay.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "tests/platform/outbox_fixture.h"
#include "tests/support/process.h"

namespace crm::testing {
namespace {

constexpr absl::Duration kLong = absl::Seconds(180);

class OutboxProof : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = pg::testing::TempDatabase::Create("outbox");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    auto applied = pg::Migrate(db_->dsn(), OutboxScenarioMigrations());
    ASSERT_TRUE(applied.ok()) << applied.status();
  }

  const std::string& dsn() const { return db_->dsn(); }

  int64_t Published() {
    auto n = CountPublished(dsn());
    return n.ok() ? *n : -1;
  }
  int64_t Effects(const std::string& consumer) {
    auto n = CountEffects(dsn(), consumer);
    return n.ok() ? *n : -1;
  }

  // Runs an in-process consumer until `consumer` has `want` effects.
  void ConsumeUntil(const std::string& brokers, const std::string& consumer, int64_t want) {
    auto pool = pg::Pool::Create({.dsn = dsn(), .size = 2});
    ASSERT_TRUE(pool.ok()) << pool.status();
    auto c = events::Consumer::Create({.brokers = brokers, .group_id = consumer, .topics = {kItemTopic}},
                                      **pool, EffectHandler(consumer));
    ASSERT_TRUE(c.ok()) << c.status();
    absl::Status run;
    std::thread t([&] { run = (*c)->Run(); });
    const bool done = WaitFor([&] { return Effects(consumer) >= want; }, kLong);
    (*c)->Stop();
    t.join();
    EXPECT_TRUE(run.ok()) << run;
    ASSERT_TRUE(done) << "effects: " << Effects(consumer) << " of " << want;
  }

  void ExpectExactlyOnceInOrder(const std::string& consumer, int64_t events, int64_t items) {
    auto report = ReportEffects(dsn(), consumer);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->rows, events) << "every event has exactly one effect";
    EXPECT_EQ(report->distinct_events, events) << "no event applied twice";
    EXPECT_EQ(report->items, items);
    EXPECT_EQ(report->out_of_order, 0) << "per-key order kept";
  }

  std::map<std::string, std::string> ProbeEnv(const std::string& brokers) const {
    return {{"CRM_PROBE_PG_DSN", dsn()}, {"CRM_PROBE_KAFKA_BROKERS", brokers}};
  }

  std::unique_ptr<pg::testing::TempDatabase> db_;
};

std::string Probe() { return BinaryPath("tests/platform/crm-events-probe"); }

TEST_F(OutboxProof, TenThousandChangesDuringABrokerOutageAllArriveOnceAndInOrder) {
  constexpr int kItems = 200, kVersions = 50, kEvents = kItems * kVersions;
  auto broker = DevBroker::Start({absl::StrCat(kItemTopic, ":4")});
  ASSERT_TRUE(broker.ok()) << broker.status();
  ASSERT_TRUE((*broker)->Down().ok());

  auto relay = events::Relay::Create({.dsn = dsn(),
                                      .brokers = (*broker)->brokers(),
                                      .max_in_flight = 2000,
                                      .poll_interval = absl::Milliseconds(200)});
  ASSERT_TRUE(relay.ok()) << relay.status();
  (*relay)->Start();
  ASSERT_TRUE(WriteChanges(dsn(), kItems, kVersions, 4).ok());

  // The relay has handed events to the producer, which cannot deliver them: nothing is marked.
  ASSERT_TRUE(WaitFor([&] { return (*relay)->stats().in_flight > 0; }, kLong));
  EXPECT_EQ(Published(), 0);

  ASSERT_TRUE((*broker)->Up().ok());
  ASSERT_TRUE(WaitFor([&] { return Published() == kEvents; }, kLong)) << Published();

  ASSERT_TRUE(WriteChanges(dsn(), kItems, 1, 4).ok());  // the closing round
  ConsumeUntil((*broker)->brokers(), "outage", kEvents + kItems);
  ExpectExactlyOnceInOrder("outage", kEvents + kItems, kItems);
  EXPECT_EQ((*relay)->stats().delivery_errors, 0);
  (*relay)->Stop();
}

// Reads the relay probe's stats: "STATS leader=1 published=N in_flight=M".
int64_t ProbeInFlight(Process& relay) {
  relay.Kill(SIGUSR1);
  auto line = relay.ReadLineStartingWith("STATS", absl::Seconds(10));
  if (!line.ok()) return -1;
  return std::stoll(line->substr(line->find("in_flight=") + strlen("in_flight=")));
}

TEST_F(OutboxProof, RelayKilledMidStreamAndRestartedLosesNothingAndDoublesNoEffect) {
  constexpr int kItems = 100, kVersions = 100, kEvents = kItems * kVersions;
  // A 20 ms broker round trip and 100 events in flight make the stream take seconds, so the first kill
  // lands in the middle of it with deliveries outstanding.
  auto broker = DevBroker::Start({absl::StrCat(kItemTopic, ":4")}, /*rtt_ms=*/20);
  ASSERT_TRUE(broker.ok()) << broker.status();
  ASSERT_TRUE(WriteChanges(dsn(), kItems, kVersions, 4).ok());

  auto env = ProbeEnv((*broker)->brokers());
  env["CRM_PROBE_OUTBOX_BATCH_SIZE"] = "100";
  env["CRM_PROBE_OUTBOX_MAX_IN_FLIGHT"] = "100";
  auto first = Process::Spawn({Probe(), "relay"}, env);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE((*first)->ReadLineStartingWith("READY", absl::Seconds(30)).ok());
  ASSERT_TRUE(WaitFor([&] { return Published() >= kEvents / 5; }, kLong));
  (*first)->Kill(SIGKILL);
  ASSERT_EQ(*(*first)->Wait(absl::Seconds(30)), 128 + SIGKILL);
  const int64_t at_first_kill = Published();
  ASSERT_LT(at_first_kill, kEvents) << "the relay must be killed mid-stream for this test to mean anything";

  // Second kill: the broker is down, so what the new relay hands to its producer never reaches Kafka.
  ASSERT_TRUE((*broker)->Down().ok());
  auto second = Process::Spawn({Probe(), "relay"}, env);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE((*second)->ReadLineStartingWith("READY", absl::Seconds(30)).ok());
  ASSERT_TRUE(WaitFor([&] { return ProbeInFlight(**second) > 0; }, kLong));
  (*second)->Kill(SIGKILL);
  ASSERT_EQ(*(*second)->Wait(absl::Seconds(30)), 128 + SIGKILL);
  EXPECT_EQ(Published(), at_first_kill) << "nothing is marked without a delivery report";
  ASSERT_TRUE((*broker)->Up().ok());

  auto third = Process::Spawn({Probe(), "relay"}, env);
  ASSERT_TRUE(third.ok()) << third.status();
  ASSERT_TRUE(WaitFor([&] { return Published() == kEvents; }, kLong)) << Published();

  // The closing round, published after everything the killed relays may have sent.
  ASSERT_TRUE(WriteChanges(dsn(), kItems, 1, 4).ok());
  ConsumeUntil((*broker)->brokers(), "relay-kill", kEvents + kItems);
  (*third)->Kill(SIGTERM);
  EXPECT_EQ(*(*third)->Wait(absl::Seconds(30)), 0);
  ExpectExactlyOnceInOrder("relay-kill", kEvents + kItems, kItems);
}

TEST_F(OutboxProof, ConsumerKilledMidStreamAndRestartedLosesAndDoublesNoEffect) {
  constexpr int kItems = 100, kVersions = 50, kEvents = kItems * kVersions;
  auto broker = DevBroker::Start({absl::StrCat(kItemTopic, ":4")});
  ASSERT_TRUE(broker.ok()) << broker.status();
  ASSERT_TRUE(WriteChanges(dsn(), kItems, kVersions, 4).ok());
  auto relay = events::Relay::Create({.dsn = dsn(), .brokers = (*broker)->brokers()});
  ASSERT_TRUE(relay.ok()) << relay.status();
  (*relay)->Start();
  ASSERT_TRUE(WaitFor([&] { return Published() == kEvents; }, kLong));

  auto env = ProbeEnv((*broker)->brokers());
  env["CRM_PROBE_GROUP"] = "restart";
  auto first = Process::Spawn({Probe(), "consume"}, env);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(WaitFor([&] { return Effects("restart") >= kEvents / 5; }, kLong));
  (*first)->Kill(SIGKILL);
  ASSERT_EQ(*(*first)->Wait(absl::Seconds(30)), 128 + SIGKILL);
  const int64_t at_kill = Effects("restart");
  ASSERT_LT(at_kill, kEvents) << "the consumer must be killed mid-stream for this test to mean anything";

  auto second = Process::Spawn({Probe(), "consume"}, env);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(WriteChanges(dsn(), kItems, 1, 4).ok());  // the closing round
  ASSERT_TRUE(WaitFor([&] { return Effects("restart") >= kEvents + kItems; }, kLong)) << Effects("restart");
  (*second)->Kill(SIGTERM);
  EXPECT_EQ(*(*second)->Wait(absl::Seconds(30)), 0);
  (*relay)->Stop();
  ExpectExactlyOnceInOrder("restart", kEvents + kItems, kItems);
}

}  // namespace
}  // namespace crm::testing
