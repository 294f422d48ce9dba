#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/transaction>
#include <thread>

#include "gmock/gmock.h"
#include "google/protobuf/wrappers.pb.h"
#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"
#include "libs/base/status.h"
#include "libs/events/consumer.h"
#include "libs/events/outbox.h"
#include "libs/events/relay.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "proto/crm/events/v1/envelope.pb.h"
#include "tests/support/process.h"

namespace crm::events {
namespace {

using ::crm::testing::DevBroker;
using ::crm::testing::WaitFor;
using ::testing::HasSubstr;

constexpr char kTopic[] = "crm.unit.thing.v1";

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = pg::testing::TempDatabase::Create("events");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    auto migrations = EventsMigrations();
    migrations.push_back(
        {"unit", 1, "0001_seen.sql",
         "CREATE TABLE seen (n bigserial PRIMARY KEY, event_id uuid NOT NULL, value bigint)"});
    ASSERT_TRUE(pg::Migrate(db_->dsn(), migrations).ok());
    auto pool = pg::Pool::Create({.dsn = db_->dsn(), .size = 3});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
  }

  int64_t Scalar(const std::string& sql) {
    pqxx::connection c(db_->dsn());
    pqxx::nontransaction tx(c);
    return tx.exec1(sql)[0].as<int64_t>();
  }

  absl::Status Append(int64_t value, const std::string& id = "thing-1") {
    google::protobuf::Int64Value payload;
    payload.set_value(value);
    return pg::InTransaction(*pool_, [&](pqxx::work& tx) {
      return writer_
          .Append(tx, {.aggregate_type = "thing",
                       .aggregate_id = id,
                       .type = "crm.unit.thing.set.v1",
                       .payload = &payload})
          .status();
    });
  }

  // Appends `values` to the outbox, starts a private broker (one partition) and a relay, and returns
  // once all of them are published. The broker and relay live as long as the fixture.
  void PublishOnOnePartition(std::initializer_list<int64_t> values) {
    auto broker = DevBroker::Start({absl::StrCat(kTopic, ":1")});
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    for (int64_t v : values) ASSERT_TRUE(Append(v).ok());
    auto relay = Relay::Create({.dsn = db_->dsn(), .brokers = broker_->brokers()});
    ASSERT_TRUE(relay.ok()) << relay.status();
    relay_ = *std::move(relay);
    relay_->Start();
    ASSERT_TRUE(WaitFor([&] { return relay_->stats().published == static_cast<int64_t>(values.size()); },
                        absl::Seconds(30)));
  }

  // The Int64Value payloads of the first `n` events on kTopic, in the order a consumer gets them.
  std::vector<int64_t> ConsumeValues(const std::string& brokers, size_t n) {
    std::vector<int64_t> values;
    auto consumer = Consumer::Create({.brokers = brokers, .group_id = "unit", .topics = {kTopic}}, *pool_,
                                     [&](pqxx::transaction_base&, const ConsumedEvent& e) -> absl::Status {
                                       google::protobuf::Int64Value v;
                                       if (!e.envelope.payload().UnpackTo(&v)) ADD_FAILURE() << "not an Int64Value";
                                       values.push_back(v.value());
                                       return absl::OkStatus();
                                     });
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    if (!consumer.ok()) return values;
    EXPECT_TRUE(WaitFor(
        [&] {
          (void)(*consumer)->PollOnce(absl::Milliseconds(100));
          return values.size() >= n;
        },
        absl::Seconds(60)));
    return values;
  }

  std::unique_ptr<pg::testing::TempDatabase> db_;
  std::unique_ptr<pg::Pool> pool_;
  std::unique_ptr<DevBroker> broker_;
  std::unique_ptr<Relay> relay_;
  OutboxWriter writer_{"unit"};
};

TEST_F(EventsTest, BadEventsAreRejectedNamingTheFieldAndNothingIsWritten) {
  google::protobuf::Int64Value payload;
  struct Case {
    NewEvent event;
    std::string field;
  } cases[] = {
      {{.aggregate_type = "", .aggregate_id = "x", .type = "t", .payload = &payload}, "event.aggregate_type"},
      {{.aggregate_type = "Bad-Type", .aggregate_id = "x", .type = "t", .payload = &payload},
       "event.aggregate_type"},
      {{.aggregate_type = "thing", .aggregate_id = "", .type = "t", .payload = &payload},
       "event.aggregate_id"},
      {{.aggregate_type = "thing", .aggregate_id = std::string(256, 'x'), .type = "t", .payload = &payload},
       "event.aggregate_id"},
      {{.aggregate_type = "thing", .aggregate_id = "x", .type = "", .payload = &payload}, "event.type"},
      {{.aggregate_type = "thing", .aggregate_id = "x", .type = "t", .payload = nullptr}, "event.payload"},
  };
  for (const auto& c : cases) {
    absl::Status s =
        pg::InTransaction(*pool_, [&](pqxx::work& tx) { return writer_.Append(tx, c.event).status(); });
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.field));
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM outbox"), 0);
  EXPECT_EQ(writer_.TopicFor("thing"), kTopic);
}

// OutboxBatch: every added event in one statement, in order, each payload exactly its own bytes (their
// lengths differ, one is empty), the columns as Append writes them, the actor without its permissions; a
// bad event is refused at Add.
TEST_F(EventsTest, ABatchWritesEveryEventInOrderWithItsOwnPayloadAndNoPermissions) {
  std::vector<std::string> texts = {"", "a", std::string(70'000, 'x'), "\\x00\t\n'\"{},", "последний"};
  std::vector<std::string> ids;
  ASSERT_TRUE(pg::InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
                OutboxBatch batch(writer_);
                for (size_t i = 0; i < texts.size(); ++i) {
                  google::protobuf::StringValue payload;
                  payload.set_value(texts[i]);
                  crm::common::v1::Principal actor;
                  actor.set_kind(crm::common::v1::Principal::KIND_USER);
                  actor.set_id("user-1");
                  actor.add_roles("head_of_sales");
                  actor.add_permissions("realty.manage");
                  CRM_ASSIGN_OR_RETURN(std::string id,
                                       batch.Add({.aggregate_type = "thing",
                                                  .aggregate_id = absl::StrCat("thing-\"", i, "\""),
                                                  .type = "crm.unit.thing.set.v1",
                                                  .payload = &payload,
                                                  .actor = actor}));
                  ids.push_back(id);
                }
                absl::StatusOr<std::string> bad = batch.Add({.aggregate_type = "Thing", .aggregate_id = "x",
                                                             .type = "t", .payload = &google::protobuf::StringValue::default_instance()});
                EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
                EXPECT_THAT(bad.status().message(), HasSubstr("event.aggregate_type"));
                EXPECT_EQ(batch.size(), texts.size());
                CRM_RETURN_IF_ERROR(batch.Flush(tx));
                EXPECT_EQ(batch.size(), 0u);
                return batch.Flush(tx);  // nothing left: no second copy
              }).ok());
  pqxx::connection c(db_->dsn());
  pqxx::nontransaction tx(c);
  pqxx::result rows = tx.exec(
      "SELECT id::text, aggregatetype, aggregateid, type, payload, topic, source, occurred_at IS NOT NULL "
      "FROM outbox ORDER BY seq");
  ASSERT_EQ(rows.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(rows[i][0].as<std::string>(), ids[i]);
    EXPECT_EQ(rows[i][1].as<std::string>(), "thing");
    EXPECT_EQ(rows[i][2].as<std::string>(), absl::StrCat("thing-\"", i, "\""));
    EXPECT_EQ(rows[i][3].as<std::string>(), "crm.unit.thing.set.v1");
    EXPECT_EQ(rows[i][5].as<std::string>(), kTopic);
    EXPECT_EQ(rows[i][6].as<std::string>(), "/crm/unit");
    EXPECT_TRUE(rows[i][7].as<bool>());
    pqxx::binarystring bytes(rows[i][4]);
    v1::Envelope envelope;
    ASSERT_TRUE(envelope.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) << i;
    EXPECT_EQ(envelope.id(), ids[i]);
    // Who caused it, never what they may do.
    EXPECT_EQ(envelope.actor().id(), "user-1");
    EXPECT_THAT(envelope.actor().roles(), ::testing::ElementsAre("head_of_sales"));
    EXPECT_EQ(envelope.actor().permissions_size(), 0);
    google::protobuf::StringValue v;
    ASSERT_TRUE(envelope.payload().UnpackTo(&v));
    EXPECT_EQ(v.value(), texts[i]) << i;
  }
}

TEST_F(EventsTest, TheEnvelopeCarriesTheAutomationCausation) {
  google::protobuf::Int64Value payload;
  payload.set_value(1);
  NewEvent robot{.aggregate_type = "thing",
                 .aggregate_id = "thing-robot",
                 .type = "crm.unit.thing.set.v1",
                 .payload = &payload,
                 .automation_depth = 3,
                 .skip_automation = true};
  NewEvent person{.aggregate_type = "thing",
                  .aggregate_id = "thing-person",
                  .type = "crm.unit.thing.set.v1",
                  .payload = &payload};
  ASSERT_TRUE(pg::InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
                if (auto id = writer_.Append(tx, robot); !id.ok()) return id.status();
                return writer_.Append(tx, person).status();
              }).ok());
  auto envelope_of = [&](const std::string& aggregate_id) {
    pqxx::connection c(db_->dsn());
    pqxx::nontransaction tx(c);
    pqxx::binarystring bytes(tx.exec_params1("SELECT payload FROM outbox WHERE aggregateid = $1", aggregate_id)[0]);
    v1::Envelope e;
    EXPECT_TRUE(e.ParseFromString(bytes.str()));
    return e;
  };
  EXPECT_EQ(envelope_of("thing-robot").automation_depth(), 3);
  EXPECT_TRUE(envelope_of("thing-robot").skip_automation());
  EXPECT_EQ(envelope_of("thing-person").automation_depth(), 0);
  EXPECT_FALSE(envelope_of("thing-person").skip_automation());

  // Row() (the one-statement insert) encodes the same envelope: bytea hex "\\x..." of it.
  robot.automation_depth = 100;
  auto row = writer_.Row(robot);
  ASSERT_TRUE(row.ok()) << row.status();
  const std::string& hex = (*row)[4];
  ASSERT_EQ(hex.rfind("\\x", 0), 0u);
  std::string bytes;
  for (size_t i = 2; i + 1 < hex.size(); i += 2) bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  v1::Envelope from_row;
  ASSERT_TRUE(from_row.ParseFromString(bytes));
  EXPECT_EQ(from_row.automation_depth(), 100);
  EXPECT_TRUE(from_row.skip_automation());
  EXPECT_EQ(from_row.id(), (*row)[0]);

  // Depths outside 0..100 are rejected naming the field, by both.
  for (int bad : {-1, 101}) {
    robot.automation_depth = bad;
    absl::Status s = pg::InTransaction(*pool_, [&](pqxx::work& tx) { return writer_.Append(tx, robot).status(); });
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(s.message()), HasSubstr("automation_depth")) << bad;
    EXPECT_EQ(writer_.Row(robot).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM outbox"), 2);
}

TEST_F(EventsTest, OnlyCommittedChangesArePublishedInTheirEnvelope) {
  auto broker = DevBroker::Start({kTopic});
  ASSERT_TRUE(broker.ok()) << broker.status();
  google::protobuf::Int64Value payload;
  payload.set_value(7);
  absl::Status rolled_back = pg::InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
    auto id = writer_.Append(tx, {.aggregate_type = "thing",
                                  .aggregate_id = "thing-1",
                                  .type = "crm.unit.thing.set.v1",
                                  .payload = &payload});
    EXPECT_TRUE(id.ok());
    return absl::AbortedError("the business change failed");
  });
  ASSERT_EQ(rolled_back.code(), absl::StatusCode::kAborted);
  ASSERT_TRUE(Append(8).ok());
  EXPECT_EQ(Scalar("SELECT count(*) FROM outbox"), 1);

  auto relay = Relay::Create({.dsn = db_->dsn(), .brokers = (*broker)->brokers()});
  ASSERT_TRUE(relay.ok());
  (*relay)->Start();
  std::vector<int64_t> values;
  auto consumer =
      Consumer::Create({.brokers = (*broker)->brokers(), .group_id = "unit", .topics = {kTopic}}, *pool_,
                       [&](pqxx::transaction_base&, const ConsumedEvent& e) -> absl::Status {
                         google::protobuf::Int64Value v;
                         EXPECT_TRUE(e.envelope.payload().UnpackTo(&v));
                         EXPECT_EQ(e.envelope.source(), "/crm/unit");
                         EXPECT_EQ(e.envelope.subject(), "thing-1");
                         EXPECT_EQ(e.envelope.aggregate_type(), "thing");
                         EXPECT_EQ(e.topic, kTopic);
                         values.push_back(v.value());
                         return absl::OkStatus();
                       });
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE(WaitFor([&] { return (*consumer)->PollOnce(absl::Milliseconds(100)).value_or(false); },
                      absl::Seconds(60)));
  EXPECT_THAT(values, ::testing::ElementsAre(8));
  EXPECT_EQ((*consumer)->stats().lag, 0);
  EXPECT_TRUE(
      WaitFor([&] { return Scalar("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL") == 1; },
              absl::Seconds(30)));
  (*relay)->Stop();
}

TEST_F(EventsTest, AnEventCommittedAfterLaterOnesWerePublishedIsStillPublished) {
  auto broker = DevBroker::Start({kTopic});
  ASSERT_TRUE(broker.ok()) << broker.status();
  auto relay = Relay::Create({.dsn = db_->dsn(), .brokers = (*broker)->brokers()});
  ASSERT_TRUE(relay.ok());
  (*relay)->Start();

  // A slow transaction takes the lower seq and stays open...
  pqxx::connection slow_conn(db_->dsn());
  pqxx::work slow(slow_conn);
  google::protobuf::Int64Value payload;
  payload.set_value(1);
  ASSERT_TRUE(writer_
                  .Append(slow, {.aggregate_type = "thing",
                                 .aggregate_id = "thing-slow",
                                 .type = "crm.unit.thing.set.v1",
                                 .payload = &payload})
                  .ok());
  // ...while a later one commits and is published.
  ASSERT_TRUE(Append(2, "thing-fast").ok());
  ASSERT_TRUE(WaitFor([&] { return (*relay)->stats().published == 1; }, absl::Seconds(30)));
  slow.commit();

  ASSERT_TRUE(WaitFor([&] { return (*relay)->stats().published == 2; }, absl::Seconds(30)));
  EXPECT_EQ(Scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL"), 0);
  EXPECT_LT(Scalar("SELECT seq FROM outbox WHERE aggregateid = 'thing-slow'"),
            Scalar("SELECT seq FROM outbox WHERE aggregateid = 'thing-fast'"));
  (*relay)->Stop();
}

// The order a late commit must not break. thing-1's first event takes a seq and its transaction stays
// open while a later seq (thing-2's) is committed and handed to the producer. Then, while the relay is
// held in one statement (its published mark waits for a row lock this test holds), thing-1's first
// event commits and its second one — written after the first committed, as a writer that locks its
// aggregate does — commits too. When the relay goes on it sees both at once: the second above its
// high-water mark, the first below it. A consumer must get thing-1's events in outbox order whatever
// the relay's timing (the long poll interval only makes one timing certain).
TEST_F(EventsTest, AnEventCommittedLateReachesConsumersBeforeTheNextEventOfItsKey) {
  auto broker = DevBroker::Start({absl::StrCat(kTopic, ":1")});
  ASSERT_TRUE(broker.ok()) << broker.status();
  ASSERT_TRUE((*broker)->Down().ok());  // so that thing-2's event is in flight until the test says
  auto relay =
      Relay::Create({.dsn = db_->dsn(), .brokers = (*broker)->brokers(), .poll_interval = absl::Hours(1)});
  ASSERT_TRUE(relay.ok()) << relay.status();
  (*relay)->Start();

  auto append = [&](pqxx::transaction_base& tx, const std::string& id, int64_t value) {
    google::protobuf::Int64Value payload;
    payload.set_value(value);
    // The business change first (it gives the transaction its id), then its event.
    tx.exec_params("INSERT INTO seen (event_id, value) VALUES (gen_random_uuid(), $1)", value);
    return writer_
        .Append(tx, {.aggregate_type = "thing", .aggregate_id = id, .type = "crm.unit.thing.set.v1",
                     .payload = &payload})
        .status();
  };
  pqxx::connection slow_conn(db_->dsn());
  auto slow = std::make_unique<pqxx::work>(slow_conn);
  ASSERT_TRUE(append(*slow, "thing-1", 1).ok());
  ASSERT_TRUE(pg::InTransaction(*pool_, [&](pqxx::work& tx) { return append(tx, "thing-2", 100); }).ok());
  ASSERT_TRUE(WaitFor([&] { return (*relay)->stats().in_flight == 1; }, absl::Seconds(30)));

  // Hold the relay: its mark of thing-2's event waits for this lock once the broker acknowledges it.
  pqxx::connection hold_conn(db_->dsn());
  auto hold = std::make_unique<pqxx::work>(hold_conn);
  hold->exec("SELECT 1 FROM outbox WHERE aggregateid = 'thing-2' FOR UPDATE");
  ASSERT_TRUE((*broker)->Up().ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        return Scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                      "wait_event_type = 'Lock' AND query LIKE 'UPDATE outbox SET published_at%'") == 1;
      },
      absl::Seconds(30)));
  slow->commit();
  slow.reset();
  ASSERT_TRUE(pg::InTransaction(*pool_, [&](pqxx::work& tx) { return append(tx, "thing-1", 2); }).ok());
  hold->abort();
  hold.reset();

  ASSERT_TRUE(WaitFor([&] { return (*relay)->stats().published == 3; }, absl::Seconds(30)));
  EXPECT_THAT(ConsumeValues((*broker)->brokers(), 3), ::testing::ElementsAre(100, 1, 2));
  EXPECT_EQ((*relay)->stats().delivery_errors, 0);
  (*relay)->Stop();
}

TEST_F(EventsTest, AnEventTooBigForKafkaIsRefusedWithItsChange) {
  google::protobuf::StringValue big;
  big.set_value(std::string(kMaxEventBytes, 'x'));
  absl::Status s = pg::InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
    tx.exec("INSERT INTO seen (event_id) VALUES (gen_random_uuid())");
    return writer_
        .Append(tx, {.aggregate_type = "thing", .aggregate_id = "thing-1", .type = "crm.unit.thing.big.v1",
                     .payload = &big})
        .status();
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("event.payload"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("crm.unit.thing.big.v1"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM outbox"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM seen"), 0);  // the change went with it
}

// A broker (or producer) configured below the writer's limit refuses an event for good: it is parked
// with the refusal and the events behind it, of the same key too, are published, instead of the relay
// re-reading and re-sending it forever while everything waits.
TEST_F(EventsTest, AnEventKafkaRefusesForGoodIsParkedAndTheStreamGoesOn) {
  auto broker = DevBroker::Start({absl::StrCat(kTopic, ":1")});
  ASSERT_TRUE(broker.ok()) << broker.status();
  ASSERT_TRUE(Append(1).ok());
  google::protobuf::StringValue big;
  big.set_value(std::string(20000, 'x'));
  ASSERT_TRUE(pg::InTransaction(*pool_, [&](pqxx::work& tx) {
                return writer_
                    .Append(tx, {.aggregate_type = "thing", .aggregate_id = "thing-1",
                                 .type = "crm.unit.thing.big.v1", .payload = &big})
                    .status();
              }).ok());
  ASSERT_TRUE(Append(2).ok());
  ASSERT_TRUE(Append(3).ok());
  auto relay = Relay::Create({.dsn = db_->dsn(),
                              .brokers = (*broker)->brokers(),
                              .producer_config = {{"message.max.bytes", "10000"}, {"batch.size", "10000"}}});
  ASSERT_TRUE(relay.ok()) << relay.status();
  (*relay)->Start();
  ASSERT_TRUE(WaitFor([&] { return (*relay)->stats().published == 3 && (*relay)->stats().parked == 1; },
                      absl::Seconds(30)));
  EXPECT_EQ(Scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM outbox_parked WHERE type = 'crm.unit.thing.big.v1' AND "
                   "error ILIKE '%too large%' AND octet_length(payload) > 20000"),
            1);

  EXPECT_THAT(ConsumeValues((*broker)->brokers(), 3), ::testing::ElementsAre(1, 2, 3));
  (*relay)->Stop();
}

TEST_F(EventsTest, OneRelayLeadsPerDatabaseAndAStandbyTakesOver) {
  auto broker = DevBroker::Start({kTopic});
  ASSERT_TRUE(broker.ok()) << broker.status();
  RelayOptions options{
      .dsn = db_->dsn(), .brokers = (*broker)->brokers(), .standby_interval = absl::Milliseconds(50)};
  auto a = Relay::Create(options);
  auto b = Relay::Create(options);
  ASSERT_TRUE(a.ok() && b.ok());
  (*a)->Start();
  ASSERT_TRUE(WaitFor([&] { return (*a)->stats().leader; }, absl::Seconds(30)));
  (*b)->Start();
  ASSERT_TRUE(Append(1).ok());
  ASSERT_TRUE(WaitFor([&] { return (*a)->stats().published == 1; }, absl::Seconds(30)));
  EXPECT_FALSE((*b)->stats().leader);

  (*a)->Stop();  // the leader goes away: the standby takes the lock and publishes what follows
  ASSERT_TRUE(WaitFor([&] { return (*b)->stats().leader; }, absl::Seconds(30)));
  ASSERT_TRUE(Append(2).ok());
  ASSERT_TRUE(WaitFor([&] { return (*b)->stats().published == 1; }, absl::Seconds(30)));
  EXPECT_EQ((*a)->stats().published, 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL"), 0);
  (*b)->Stop();
}

TEST_F(EventsTest, ConsumerReportsItsLag) {
  PublishOnOnePartition({1, 2, 3});
  auto consumer =
      Consumer::Create({.brokers = broker_->brokers(), .group_id = "lagging", .topics = {kTopic}}, *pool_,
                       [](pqxx::transaction_base&, const ConsumedEvent&) { return absl::OkStatus(); });
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  EXPECT_EQ((*consumer)->stats().lag, -1) << "nothing assigned yet";
  ASSERT_TRUE(WaitFor([&] { return (*consumer)->PollOnce(absl::Milliseconds(100)).value_or(false); },
                      absl::Seconds(60)));
  EXPECT_EQ((*consumer)->stats().lag, 2);
  ASSERT_TRUE(WaitFor([&] { return (*consumer)->PollOnce(absl::Milliseconds(100)).value_or(false); },
                      absl::Seconds(10)));
  ASSERT_TRUE(WaitFor([&] { return (*consumer)->PollOnce(absl::Milliseconds(100)).value_or(false); },
                      absl::Seconds(10)));
  EXPECT_EQ((*consumer)->stats().lag, 0);
  EXPECT_EQ((*consumer)->stats().applied, 3);
}

TEST_F(EventsTest, ConsumerRetriesTransientFailuresAndParksRejectedEvents) {
  PublishOnOnePartition({1, 2, 3});
  int calls_for_1 = 0;
  auto consumer =
      Consumer::Create({.brokers = broker_->brokers(),
                        .group_id = "picky",
                        .topics = {kTopic},
                        .max_retry_backoff = absl::Milliseconds(100)},
                       *pool_, [&](pqxx::transaction_base& tx, const ConsumedEvent& e) -> absl::Status {
                         google::protobuf::Int64Value v;
                         e.envelope.payload().UnpackTo(&v);
                         tx.exec_params("INSERT INTO seen (event_id, value) VALUES ($1::uuid, $2)",
                                        e.envelope.id(), v.value());
                         if (v.value() == 1 && ++calls_for_1 < 3)
                           return absl::UnavailableError("dependency down");
                         if (v.value() == 2)
                           return absl::FailedPreconditionError("cannot apply: value 2 is refused");
                         return absl::OkStatus();
                       });
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  std::thread run([&] { EXPECT_TRUE((*consumer)->Run().ok()); });
  const bool done =
      WaitFor([&] { return (*consumer)->stats().applied == 2 && (*consumer)->stats().rejected == 1; },
              absl::Seconds(60));
  (*consumer)->Stop();
  run.join();
  ASSERT_TRUE(done);
  EXPECT_EQ(calls_for_1, 3);
  EXPECT_EQ((*consumer)->stats().retries, 2);
  // Failed attempts left nothing behind; the rejected event's effects were rolled back.
  EXPECT_EQ(Scalar("SELECT count(*) FROM seen"), 2);
  EXPECT_EQ(Scalar("SELECT count(*) FROM seen WHERE value = 2"), 0);
  EXPECT_EQ(
      Scalar("SELECT count(*) FROM inbox WHERE status = 'rejected' AND error LIKE '%value 2 is refused%'"),
      1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM inbox WHERE status = 'applied'"), 2);
}

TEST_F(EventsTest, ConsumerAppliesABurstInFewTransactionsInOrderAndOnce) {
  std::vector<int64_t> values;
  for (int64_t v = 1; v <= 300; ++v) values.push_back(v);
  auto broker = DevBroker::Start({absl::StrCat(kTopic, ":1")});
  ASSERT_TRUE(broker.ok()) << broker.status();
  broker_ = *std::move(broker);
  for (int64_t v : values) ASSERT_TRUE(Append(v).ok());
  auto relay = Relay::Create({.dsn = db_->dsn(), .brokers = broker_->brokers()});
  ASSERT_TRUE(relay.ok()) << relay.status();
  relay_ = *std::move(relay);
  relay_->Start();
  ASSERT_TRUE(WaitFor([&] { return relay_->stats().published == 300; }, absl::Seconds(30)));

  // Value 150 is refused for good: the events before it and after it are applied, it is parked.
  auto consumer = Consumer::Create(
      {.brokers = broker_->brokers(), .group_id = "bursty", .topics = {kTopic}, .max_batch = 100}, *pool_,
      [&](pqxx::transaction_base& tx, const ConsumedEvent& e) -> absl::Status {
        google::protobuf::Int64Value v;
        e.envelope.payload().UnpackTo(&v);
        if (v.value() == 150) return absl::InvalidArgumentError("150 is refused");
        tx.exec_params("INSERT INTO seen (event_id, value) VALUES ($1::uuid, $2)", e.envelope.id(), v.value());
        return absl::OkStatus();
      });
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  std::thread run([&] { EXPECT_TRUE((*consumer)->Run().ok()); });
  const bool done = WaitFor(
      [&] { return (*consumer)->stats().applied == 299 && (*consumer)->stats().rejected == 1; }, absl::Seconds(60));
  (*consumer)->Stop();
  run.join();
  ASSERT_TRUE(done);
  EXPECT_EQ(Scalar("SELECT count(*) FROM seen"), 299);
  EXPECT_EQ(Scalar("SELECT count(DISTINCT value) FROM seen"), 299);
  // In the order they were published.
  EXPECT_EQ(Scalar("SELECT count(*) FROM (SELECT value, lag(value) OVER (ORDER BY n) AS prev FROM seen) s "
                   "WHERE prev IS NOT NULL AND value <= prev"),
            0);
  // A burst is a handful of transactions, not one per event: the inbox rows of one transaction share
  // their xmin.
  EXPECT_LE(Scalar("SELECT count(DISTINCT xmin::text) FROM inbox WHERE consumer = 'bursty' AND status = 'applied'"),
            30);
  EXPECT_EQ(Scalar("SELECT count(*) FROM inbox WHERE consumer = 'bursty' AND status = 'rejected'"), 1);
}

TEST_F(EventsTest, ConsumerWithBatchesOfOneCommitsEachEvent) {
  PublishOnOnePartition({1, 2, 3, 4, 5});
  auto consumer = Consumer::Create(
      {.brokers = broker_->brokers(), .group_id = "single", .topics = {kTopic}, .max_batch = 1}, *pool_,
      [&](pqxx::transaction_base& tx, const ConsumedEvent& e) -> absl::Status {
        tx.exec_params("INSERT INTO seen (event_id, value) VALUES ($1::uuid, 0)", e.envelope.id());
        return absl::OkStatus();
      });
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  std::thread run([&] { EXPECT_TRUE((*consumer)->Run().ok()); });
  const bool done = WaitFor([&] { return (*consumer)->stats().applied == 5; }, absl::Seconds(60));
  (*consumer)->Stop();
  run.join();
  ASSERT_TRUE(done);
  EXPECT_EQ(Scalar("SELECT count(DISTINCT xmin::text) FROM inbox WHERE consumer = 'single'"), 5);
  EXPECT_FALSE(Consumer::Create({.brokers = broker_->brokers(), .group_id = "x", .topics = {kTopic}, .max_batch = 0},
                                *pool_, [](pqxx::transaction_base&, const ConsumedEvent&) { return absl::OkStatus(); })
                   .ok());
}

}  // namespace
}  // namespace crm::events
