// File: services/telephony/calls/calls_test.cc
// -----------------------------------------------------------------------------
// The calls part on real PostgreSQL (P1, P2; issue 19): telephony's database migrated as crm-telephony
// migrates it, deals in process on another (ClientService for caller identification, InteractionService
// for D16; deals' ServiceTest harness, signed principals, no fakes of deals), a ManualClock. Facts go in
// through the intake as the adapters give them; deals' queue runs by DealsSync::DrainOnce; the commands
// reach a PbxCommands double that records what it was asked (a test double of our own interface).
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <map>
#include <memory>
#include <pqxx/binarystring>
#include <pqxx/pqxx>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "crm/deals/v1/clients.grpc.pb.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/telephony/v1/events.pb.h"
#include "gtest/gtest.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/events/outbox.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "proto/crm/telephony/v1/event_types.h"
#include "services/deals/clients.h"
#include "services/deals/deals_testing.h"
#include "services/deals/interactions/calendar_store.h"
#include "services/deals/interactions/interaction_store.h"
#include "services/deals/interactions/service.h"
#include "services/deals/interactions/wiring.h"
#include "crm/identity/v1/events.pb.h"
#include "libs/events/consumer.h"
#include "proto/crm/identity/v1/event_types.h"
#include "services/telephony/calls/deals_sync.h"
#include "services/telephony/calls/demo.h"
#include "services/telephony/calls/users.h"
#include "services/telephony/calls/intake.h"
#include "services/telephony/calls/pbx.h"
#include "services/telephony/calls/service.h"
#include "services/telephony/migrations.h"

namespace crm::telephony::calls {
namespace {

namespace dv1 = crm::deals::v1;
using crm::deals::fixture::User;
using K = CallEvent::Kind;
using D = CallEvent::Direction;

constexpr char kOperator[] = "01930000-0000-7000-8000-0000000000e1";
constexpr char kOperator2[] = "01930000-0000-7000-8000-0000000000e2";
constexpr char kAdmin[] = "01930000-0000-7000-8000-0000000000e9";
constexpr char kProject[] = "01930000-0000-7000-8000-0000000000f1";

Principal Operator(const char* id = kOperator) { return User(id, {kOperate}); }
Principal Admin() { return User(kAdmin, {kOperate, kReadAll, kManage}); }

// What the commands asked of the PBX.
class RecordingPbx final : public PbxCommands {
 public:
  explicit RecordingPbx(std::string provider) : provider_(std::move(provider)) {}
  std::string_view provider() const override { return provider_; }
  absl::StatusOr<std::string> Originate(const OriginateRequest& r) override {
    Log(absl::StrCat("originate ", r.extension, " ", r.number, " ", r.line));
    return std::string("pbx-ref-1");
  }
  absl::Status Transfer(const LegRef& leg, const std::string& target) override {
    Log(absl::StrCat("transfer ", leg.call_key, " ", leg.leg_key, " ", leg.channel, " ", target));
    return absl::OkStatus();
  }
  absl::Status Hold(const LegRef& leg, bool on) override {
    Log(absl::StrCat("hold ", leg.leg_key, " ", on ? "on" : "off"));
    return absl::OkStatus();
  }
  absl::Status Merge(const LegRef& a, const LegRef& b) override {
    Log(absl::StrCat("merge ", a.leg_key, " ", b.leg_key));
    return absl::OkStatus();
  }
  absl::Status Hangup(const LegRef& leg) override {
    Log(absl::StrCat("hangup ", leg.leg_key, " ", leg.channel));
    return absl::OkStatus();
  }
  std::vector<std::string> Asked() {
    absl::MutexLock l(&mu_);
    return asked_;
  }

 private:
  void Log(std::string s) {
    absl::MutexLock l(&mu_);
    asked_.push_back(std::move(s));
  }
  std::string provider_;
  absl::Mutex mu_;
  std::vector<std::string> asked_;
};

class CallsTest : public crm::deals::fixture::ServiceTest {
 protected:
  CallsTest() : ServiceTest("tcalls") {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ServiceTest::SetUp());
    std::vector<crm::pg::Migration> deals = crm::EventsMigrations();
    deals.insert(deals.end(), crm::DealsMigrations().begin(), crm::DealsMigrations().end());
    deals.insert(deals.end(), crm::deals::interactions::InteractionsMigrations().begin(),
                 crm::deals::interactions::InteractionsMigrations().end());
    ASSERT_TRUE(crm::pg::Migrate(db_->dsn(), deals).ok());
    clients_ = std::make_unique<crm::deals::ClientStore>(*pool_, clock_);
    client_service_ = std::make_unique<crm::deals::ClientServiceImpl>(*clients_);
    interactions_ = std::make_unique<crm::deals::interactions::InteractionStore>(*pool_, clock_, absl::UTCTimeZone());
    calendars_ = std::make_unique<crm::deals::interactions::CalendarStore>(*pool_, clock_, absl::UTCTimeZone());
    interaction_service_ =
        std::make_unique<crm::deals::interactions::InteractionServiceImpl>(*interactions_, *calendars_);
    db_->Exec(absl::StrCat("INSERT INTO user_directory (user_id, team_ids, version) VALUES ('", kOperator,
                           "', '{}', 1), ('", kOperator2, "', '{}', 1)"));
    auto channel = Serve({client_service_.get(), interaction_service_.get()});
    client_stub_ = dv1::ClientService::NewStub(channel);

    auto tdb = crm::pg::testing::TempDatabase::Create("tcallst");
    ASSERT_TRUE(tdb.ok()) << tdb.status();
    tdb_ = std::move(*tdb);
    auto migrated = crm::pg::Migrate(tdb_->dsn(), crm::telephony::AllMigrations());
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    auto tpool = crm::pg::Pool::Create({.dsn = tdb_->dsn(), .size = 6});
    ASSERT_TRUE(tpool.ok()) << tpool.status();
    tpool_ = std::move(*tpool);
    outbox_ = std::make_unique<crm::events::OutboxWriter>("telephony", clock_);
    intake_ = std::make_unique<Intake>(*tpool_, clock_, *outbox_);
    sync_ = std::make_unique<DealsSync>(*tpool_, clock_, *outbox_, channel, &*gateway_key_);
    auto pbx = std::make_unique<RecordingPbx>("asterisk");
    pbx_ = pbx.get();
    registry_.Add(std::move(pbx));
    calls_ = std::make_unique<Calls>(*tpool_, clock_, registry_, "asterisk");
    tdb_->Exec(absl::StrCat("INSERT INTO extensions (provider, extension, user_id, update_time) VALUES "
                            "('asterisk', '101', '", kOperator, "', now()), ('asterisk', '102', '", kOperator2,
                            "', now())"));
  }

  CallEvent Fact(const std::string& call, const std::string& key, K kind, const std::string& leg, int at,
                 const std::string& extension = "", D direction = D::kInbound) {
    CallEvent e;
    e.provider = "asterisk";
    e.event_key = key;
    e.call_key = call;
    e.leg_key = leg;
    e.channel = absl::StrCat("PJSIP/", leg);
    e.kind = kind;
    e.direction = direction;
    e.from = "8 (916) 123-45-67";
    e.to = "101";
    e.extension = extension;
    e.line = "+74951234567";
    e.time = absl::FromUnixSeconds(1795000000 + at);
    return e;
  }
  void Record(const CallEvent& e, bool fresh = true) {
    auto r = intake_->Record(e);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, fresh) << e.event_key;
  }
  // An inbound call from `from` answered by extension 101 (or missed), `seconds` long; returns its id.
  std::string InboundCall(const std::string& key, const std::string& from, bool answered, int seconds = 60,
                          bool end = true) {
    auto f = [&](const std::string& k, K kind, const std::string& leg, int at, const std::string& ext = "") {
      CallEvent e = Fact(key, absl::StrCat(key, ":", k), kind, absl::StrCat(key, leg), at, ext);
      e.from = from;
      return e;
    };
    Record(f("r1", K::kRinging, "-out", 0));
    Record(f("r2", K::kRinging, "-op", 1, "101"));
    if (answered) {
      Record(f("a2", K::kAnswered, "-op", 5, "101"));
      Record(f("a1", K::kAnswered, "-out", 5));
    }
    if (end) {
      Record(f("e2", K::kEnded, "-op", 5 + seconds, "101"));
      Record(f("e1", K::kEnded, "-out", 5 + seconds));
    }
    return CallId(key);
  }
  std::string CallId(const std::string& key) {
    pqxx::connection c(tdb_->dsn());
    pqxx::work tx(c);
    pqxx::result r = tx.exec_params("SELECT id::text FROM calls WHERE call_key = $1", key);
    return r.empty() ? "" : r[0][0].c_str();
  }
  int64_t TCount(const std::string& sql) { return tdb_->Count(sql); }
  int64_t Events(const std::string& type, const std::string& call_id = "") {
    return TCount(absl::StrCat("SELECT count(*) FROM outbox WHERE type = '", type, "'",
                               call_id.empty() ? "" : absl::StrCat(" AND aggregateid = '", call_id, "'")));
  }
  template <typename M>
  M LastEvent(const std::string& type, const std::string& call_id) {
    pqxx::connection c(tdb_->dsn());
    pqxx::work tx(c);
    pqxx::result r = tx.exec_params(
        "SELECT payload FROM outbox WHERE type = $1 AND aggregateid = $2 ORDER BY seq DESC LIMIT 1", type, call_id);
    M out;
    if (r.empty()) return out;
    pqxx::binarystring raw(r[0][0]);
    crm::events::v1::Envelope env;
    EXPECT_TRUE(env.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
    EXPECT_TRUE(env.payload().UnpackTo(&out));
    return out;
  }
  std::string MustClient(const std::string& name, const std::string& phone) {
    grpc::ClientContext ctx;
    As(ctx, User(crm::deals::fixture::kHead, {"clients.read", "clients.write"}));
    dv1::CreateClientRequest req;
    req.mutable_client()->set_kind(dv1::Client::KIND_PERSON);
    req.mutable_client()->set_name(name);
    req.mutable_client()->add_phones(phone);
    req.set_allow_duplicate(true);
    dv1::Client out;
    grpc::Status s = client_stub_->CreateClient(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.id();
  }
  void Drain() {
    auto n = sync_->DrainOnce();
    ASSERT_TRUE(n.ok()) << n.status();
  }
  v1::Call Get(const std::string& id, const Principal& who = Admin()) {
    auto c = calls_->GetCall(who, id);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : v1::Call();
  }

  std::unique_ptr<crm::deals::ClientStore> clients_;
  std::unique_ptr<crm::deals::ClientServiceImpl> client_service_;
  std::unique_ptr<crm::deals::interactions::InteractionStore> interactions_;
  std::unique_ptr<crm::deals::interactions::CalendarStore> calendars_;
  std::unique_ptr<crm::deals::interactions::InteractionServiceImpl> interaction_service_;
  std::unique_ptr<dv1::ClientService::Stub> client_stub_;
  std::unique_ptr<crm::pg::testing::TempDatabase> tdb_;
  std::unique_ptr<crm::pg::Pool> tpool_;
  std::unique_ptr<crm::events::OutboxWriter> outbox_;
  std::unique_ptr<Intake> intake_;
  std::unique_ptr<DealsSync> sync_;
  PbxRegistry registry_;
  RecordingPbx* pbx_ = nullptr;
  std::unique_ptr<Calls> calls_;
};

TEST_F(CallsTest, AFactTwiceHasOneEffect) {
  const CallEvent e = Fact("c1", "c1:r1", K::kRinging, "c1-out", 0);
  Record(e);
  Record(e, /*fresh=*/false);
  EXPECT_EQ(TCount("SELECT count(*) FROM calls"), 1);
  EXPECT_EQ(TCount("SELECT count(*) FROM call_legs"), 1);
  EXPECT_EQ(TCount("SELECT count(*) FROM call_facts"), 1);
  EXPECT_EQ(Events(v1::kCallStartedType), 1);
  const v1::Call c = Get(CallId("c1"));
  EXPECT_EQ(c.state(), v1::CALL_STATE_RINGING);
  EXPECT_EQ(c.direction(), v1::CALL_DIRECTION_INBOUND);
  EXPECT_EQ(c.from_number(), "+79161234567");  // "8 (916) 123-45-67" normalised to E.164
  EXPECT_EQ(c.outside_number(), "+79161234567");
  EXPECT_EQ(c.to_number(), "101");             // an extension stays as it is
  EXPECT_EQ(c.line(), "+74951234567");
  EXPECT_EQ(c.identification(), v1::IDENTIFICATION_PENDING);
  // A bad fact names its fields; nothing stored.
  CallEvent bad;
  bad.kind = K::kRecording;
  auto r = intake_->Record(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::string> fields;
  for (const FieldViolation& v : FieldViolations(r.status())) fields.push_back(v.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"provider", "event_key", "call_key", "recording_url"}));
}

TEST_F(CallsTest, AnsweredCallEndsWithItsDurationEmployeeAndEvents) {
  const std::string id = InboundCall("c2", "+79161234567", true, 125);
  const v1::Call c = Get(id);
  EXPECT_EQ(c.state(), v1::CALL_STATE_ENDED);
  EXPECT_TRUE(c.answered());
  EXPECT_FALSE(c.missed());
  EXPECT_EQ(c.duration_seconds(), 125);
  EXPECT_EQ(c.user_id(), kOperator);  // extension 101
  ASSERT_EQ(c.legs_size(), 2);
  EXPECT_EQ(Events(v1::kCallStartedType, id), 1);
  EXPECT_EQ(Events(v1::kCallAnsweredType, id), 1);
  EXPECT_EQ(Events(v1::kCallFinishedType, id), 1);
  EXPECT_EQ(std::string(v1::kCallFinishedType), "crm.telephony.call.finished.v1");  // robots' trigger
  const auto f = LastEvent<v1::CallFinished>(v1::kCallFinishedType, id);
  EXPECT_EQ(f.call_id(), id);
  EXPECT_TRUE(f.answered());
  EXPECT_EQ(f.duration_seconds(), 125);
  EXPECT_EQ(f.user_id(), kOperator);
  EXPECT_EQ(f.direction(), v1::CallFinished::INBOUND);
  EXPECT_EQ(TCount("SELECT count(*) FROM outbox WHERE topic <> 'crm.telephony.call.v1'"), 0);
  // Recording: once per URL.
  CallEvent rec = Fact("c2", "c2:rec", K::kRecording, "", 200);
  rec.recording_url = "https://pbx.example/rec/c2.wav";
  Record(rec);
  rec.event_key = "c2:rec-again";
  Record(rec);
  EXPECT_EQ(Events(v1::kCallRecordingType, id), 1);
  EXPECT_EQ(Get(id).recording_url(), "https://pbx.example/rec/c2.wav");
  // A late fact of the ended call changes no event count.
  Record(Fact("c2", "c2:late", K::kEnded, "c2-out", 300));
  EXPECT_EQ(Events(v1::kCallFinishedType, id), 1);
  auto open = intake_->OpenLegs("asterisk");
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(open->empty());
}

TEST_F(CallsTest, OpenLegsListWhatHasNotEnded) {
  InboundCall("c3", "+79161234567", true, 10, /*end=*/false);
  auto open = intake_->OpenLegs("asterisk");
  ASSERT_TRUE(open.ok()) << open.status();
  ASSERT_EQ(open->size(), 2u);
  EXPECT_EQ((*open)[0].call_key, "c3");
  EXPECT_EQ((*open)[0].leg_key, "c3-out");
  EXPECT_EQ((*open)[0].channel, "PJSIP/c3-out");
  auto none = intake_->OpenLegs("mango");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

// 50 calls of 10 facts each (an answered call with a transfer to a third leg and a recording; every 5th
// missed on three extensions): two threads record all 500 facts, each in its own shuffled interleaving
// of the calls (a call's facts in their order): every fact stored once, the calls exact, each event once.
TEST_F(CallsTest, TwoThreadsOfShuffledFactsGiveExactCalls) {
  constexpr int kCalls = 50;
  std::vector<std::vector<CallEvent>> per_call(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    const std::string key = absl::StrCat("p", i);
    auto f = [&](int n, K kind, const std::string& leg, int at, const std::string& ext = "") {
      per_call[i].push_back(Fact(key, absl::StrCat(key, ":", n), kind, absl::StrCat(key, "-", leg), i * 1000 + at, ext));
    };
    if (i % 5 == 0) {
      f(1, K::kRinging, "out", 0);
      f(2, K::kRinging, "a", 1, "101");
      f(3, K::kRinging, "b", 1, "102");
      f(4, K::kEnded, "a", 20, "101");
      f(5, K::kEnded, "b", 20, "102");
      f(6, K::kRinging, "c", 21, "103");
      f(7, K::kEnded, "c", 40, "103");
      f(8, K::kEnded, "out", 41);
      f(9, K::kEnded, "out", 42);  // a second hangup report of the same leg
      f(10, K::kEnded, "c", 43, "103");
    } else {
      f(1, K::kRinging, "out", 0);
      f(2, K::kRinging, "a", 1, "101");
      f(3, K::kAnswered, "a", 5, "101");
      f(4, K::kAnswered, "out", 5);
      f(5, K::kRinging, "b", 30, "102");  // transfer to 102
      f(6, K::kEnded, "a", 31, "101");
      f(7, K::kAnswered, "b", 35, "102");
      f(8, K::kEnded, "b", 40 + 10 * i, "102");
      f(9, K::kEnded, "out", 41 + 10 * i);
      per_call[i].push_back(Fact(key, absl::StrCat(key, ":10"), K::kRecording, "", i * 1000 + 999));
      per_call[i].back().recording_url = absl::StrCat("https://pbx.example/", key, ".wav");
    }
  }
  // One interleaving per thread: a random call's next fact at each step.
  auto interleave = [&](unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<size_t> next(kCalls, 0);
    std::vector<CallEvent> out;
    std::vector<int> open;
    for (int i = 0; i < kCalls; ++i) open.push_back(i);
    while (!open.empty()) {
      const size_t pick = std::uniform_int_distribution<size_t>(0, open.size() - 1)(rng);
      const int c = open[pick];
      out.push_back(per_call[c][next[c]++]);
      if (next[c] == per_call[c].size()) open.erase(open.begin() + static_cast<long>(pick));
    }
    return out;
  };
  std::atomic<int> fresh{0}, errors{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (const CallEvent& e : interleave(7 + t)) {
        auto r = intake_->Record(e);
        if (!r.ok()) {
          ++errors;
          ADD_FAILURE() << r.status();
        } else if (*r) {
          ++fresh;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(fresh.load(), kCalls * 10);
  EXPECT_EQ(TCount("SELECT count(*) FROM call_facts"), kCalls * 10);
  EXPECT_EQ(TCount("SELECT count(*) FROM calls"), kCalls);
  EXPECT_EQ(TCount("SELECT count(*) FROM call_legs"), 40 * 3 + 10 * 4);
  for (int i = 0; i < kCalls; ++i) {
    SCOPED_TRACE(i);
    const std::string id = CallId(absl::StrCat("p", i));
    const v1::Call c = Get(id);
    EXPECT_EQ(c.state(), v1::CALL_STATE_ENDED);
    EXPECT_EQ(c.answered(), i % 5 != 0);
    EXPECT_EQ(c.missed(), i % 5 == 0);
    EXPECT_EQ(c.duration_seconds(), i % 5 == 0 ? 0 : 36 + 10 * i);  // answered at 5, ended at 41 + 10 i
    EXPECT_EQ(c.user_id(), kOperator);  // 101 rang first / answered first
    EXPECT_EQ(c.recording_url(), i % 5 == 0 ? "" : absl::StrCat("https://pbx.example/p", i, ".wav"));
    EXPECT_EQ(Events(v1::kCallStartedType, id), 1);
    EXPECT_EQ(Events(v1::kCallAnsweredType, id), i % 5 == 0 ? 0 : 1);
    EXPECT_EQ(Events(v1::kCallFinishedType, id), 1);
    EXPECT_EQ(Events(v1::kCallRecordingType, id), i % 5 == 0 ? 0 : 1);
  }
  EXPECT_EQ(TCount("SELECT count(*) FROM call_deals_sync WHERE kind = 'identify'"), kCalls);
  EXPECT_EQ(TCount("SELECT count(*) FROM call_deals_sync WHERE kind = 'interaction'"), kCalls);
}

// Facts of one call in any order (a replay after a dropped link): the same call, finished once.
TEST_F(CallsTest, OutOfOrderFactsGiveTheSameCall) {
  std::vector<CallEvent> facts = {
      Fact("o1", "o1:1", K::kRinging, "o1-out", 0), Fact("o1", "o1:2", K::kRinging, "o1-op", 1, "101"),
      Fact("o1", "o1:3", K::kAnswered, "o1-op", 5, "101"), Fact("o1", "o1:4", K::kAnswered, "o1-out", 5),
      Fact("o1", "o1:5", K::kEnded, "o1-op", 65, "101"), Fact("o1", "o1:6", K::kEnded, "o1-out", 66)};
  std::reverse(facts.begin(), facts.end());  // the ends first
  for (const CallEvent& e : facts) Record(e);
  const std::string id = CallId("o1");
  const v1::Call c = Get(id);
  EXPECT_EQ(c.state(), v1::CALL_STATE_ENDED);
  EXPECT_TRUE(c.answered());
  EXPECT_EQ(c.duration_seconds(), 61);
  EXPECT_EQ(c.user_id(), kOperator);
  EXPECT_EQ(Events(v1::kCallFinishedType, id), 1);
  // The late answer re-queued the interaction so deals gets the corrected call.
  EXPECT_EQ(TCount("SELECT count(*) FROM call_deals_sync WHERE kind = 'interaction' AND due_time IS NOT NULL"), 1);
}

TEST_F(CallsTest, IdentificationAndInteractionsThroughDeals) {
  const std::string ivan = MustClient("Иван Петров", "+79161234567");
  const std::string anna = MustClient("Анна Смирнова", "+79167654321");
  const std::string olga = MustClient("Ольга Смирнова", "+79167654321");

  // One client: the call's, while it rings; the operator's screen gets the identified event.
  const std::string one = InboundCall("i1", "+79161234567", true, 90, /*end=*/false);
  Drain();
  v1::Call c = Get(one);
  EXPECT_EQ(c.identification(), v1::IDENTIFICATION_IDENTIFIED);
  EXPECT_EQ(c.client_id(), ivan);
  EXPECT_EQ(c.client_name(), "Иван Петров");
  auto identified = LastEvent<v1::CallIdentified>(v1::kCallIdentifiedType, one);
  ASSERT_EQ(identified.candidates_size(), 1);
  EXPECT_EQ(identified.candidates(0).name(), "Иван Петров");
  // The operator links the project (for primacy) while talking; then the call ends.
  v1::SetCallClientRequest set;
  set.set_id(one);
  set.set_project_id(kProject);
  ASSERT_TRUE(calls_->SetCallClient(Operator(), set).ok());
  Record(Fact("i1", "i1:e2", K::kEnded, "i1-op", 95, "101"));
  Record(Fact("i1", "i1:e1", K::kEnded, "i1-out", 95));
  const auto finished = LastEvent<v1::CallFinished>(v1::kCallFinishedType, one);
  EXPECT_EQ(finished.client_id(), ivan);  // the finished event carries the client
  Drain();
  c = Get(one);
  EXPECT_FALSE(c.interaction_id().empty());
  EXPECT_EQ(c.primacy(), v1::PRIMACY_PRIMARY);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM interactions WHERE source = 'telephony' AND external_id = '",
                               one, "' AND client_id = '", ivan, "' AND kind = 1 AND status = 2 AND responsible_id = '",
                               kOperator, "' AND project_id = '", kProject, "'")),
            1);
  // A second call of the client in the project: «Вторичный».
  const std::string two = InboundCall("i2", "+79161234567", true, 30, /*end=*/false);
  Drain();
  set.set_id(two);
  ASSERT_TRUE(calls_->SetCallClient(Operator(), set).ok());
  Record(Fact("i2", "i2:e2", K::kEnded, "i2-op", 40, "101"));
  Record(Fact("i2", "i2:e1", K::kEnded, "i2-out", 40));
  Drain();
  EXPECT_EQ(Get(two).primacy(), v1::PRIMACY_SECONDARY);
  // Redelivered work changes nothing in deals: still one interaction per call.
  tdb_->Exec(absl::StrCat("INSERT INTO call_deals_sync (call_id, kind, due_time, create_time) VALUES ('", one,
                          "', 'interaction', '2020-01-01', now())"));
  Drain();
  EXPECT_EQ(Count("SELECT count(*) FROM interactions WHERE source = 'telephony'"), 2);

  // Two clients share a number: both are candidates, none is guessed; the interaction waits for a choice.
  const std::string three = InboundCall("i3", "+79167654321", false);
  Drain();
  c = Get(three);
  EXPECT_EQ(c.identification(), v1::IDENTIFICATION_CANDIDATES);
  EXPECT_TRUE(c.client_id().empty());
  ASSERT_EQ(c.client_candidates_size(), 2);
  EXPECT_EQ(TCount(absl::StrCat("SELECT count(*) FROM call_deals_sync WHERE call_id = '", three,
                                "' AND kind = 'interaction' AND due_time IS NULL")),
            1);  // parked
  EXPECT_EQ(LastEvent<v1::CallIdentified>(v1::kCallIdentifiedType, three).candidates_size(), 2);
  set.Clear();
  set.set_id(three);
  set.set_client_id(ivan);  // not a candidate
  auto wrong = calls_->SetCallClient(Operator(), set);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(FieldViolations(wrong.status())[0].field, "client_id");
  set.set_client_id(olga);
  auto chosen = calls_->SetCallClient(Operator(), set);
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_EQ(chosen->identification(), v1::IDENTIFICATION_CHOSEN);
  EXPECT_EQ(chosen->client_name(), "Ольга Смирнова");
  Drain();
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM interactions WHERE external_id = '", three, "' AND client_id = '",
                               olga, "'")),
            1);
  EXPECT_FALSE(Get(three).interaction_id().empty());
  // Once recorded, the client cannot change.
  set.set_client_id(anna);
  auto late = calls_->SetCallClient(Operator(), set);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  // A number nobody has: none.
  const std::string four = InboundCall("i4", "+79031112233", false);
  Drain();
  EXPECT_EQ(Get(four).identification(), v1::IDENTIFICATION_NONE);
  EXPECT_EQ(TCount("SELECT count(*) FROM call_deals_sync WHERE due_time IS NOT NULL"), 0);
}

TEST_F(CallsTest, DealsDownKeepsTheWorkAndRetries) {
  const std::string id = InboundCall("d1", "+79161234567", true, 10, /*end=*/false);
  server_->Shutdown();
  server_->Wait();
  Drain();
  EXPECT_EQ(TCount("SELECT count(*) FROM call_deals_sync WHERE attempts = 1 AND last_error <> ''"), 1);
  EXPECT_EQ(Get(id).identification(), v1::IDENTIFICATION_PENDING);
  // Not due again before its backoff.
  Drain();
  EXPECT_EQ(TCount("SELECT count(*) FROM call_deals_sync WHERE attempts = 1"), 1);
}

// The worker never waits for a call's row (the intake holds it, then wants the queue row the worker holds):
// a busy call is tried again a second later.
TEST_F(CallsTest, ABusyCallIsIdentifiedASecondLater) {
  const std::string ivan = MustClient("Иван Петров", "+79161234567");
  const std::string id = InboundCall("b1", "+79161234567", true, 10, /*end=*/false);
  {
    pqxx::connection holder(tdb_->dsn());
    pqxx::work lock(holder);
    lock.exec_params("SELECT 1 FROM calls WHERE id = $1::uuid FOR UPDATE", id);
    Drain();  // returns: it did not wait for the lock
    EXPECT_EQ(TCount("SELECT count(*) FROM call_deals_sync WHERE kind = 'identify' AND attempts = 0"), 1);
  }
  EXPECT_EQ(Get(id).identification(), v1::IDENTIFICATION_PENDING);
  Drain();
  EXPECT_EQ(Get(id).identification(), v1::IDENTIFICATION_PENDING);  // not due yet
  clock_.Advance(absl::Seconds(1));
  Drain();
  EXPECT_EQ(Get(id).client_id(), ivan);
}

TEST_F(CallsTest, CommandsReachTheAdapterOfTheCallsProvider) {
  // Click-to-call from the caller's extension, once per Idempotency-Key.
  v1::OriginateRequest o;
  o.set_number("8 916 123-45-67");
  auto r1 = calls_->Originate(Operator(), o, "key-1");
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(r1->extension(), "101");
  EXPECT_EQ(r1->number(), "+79161234567");
  EXPECT_EQ(r1->reference(), "pbx-ref-1");
  auto r2 = calls_->Originate(Operator(), o, "key-1");
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(pbx_->Asked(), (std::vector<std::string>{"originate 101 +79161234567 "}));
  // Without an extension; without a number; without the permission.
  auto none = calls_->Originate(User(kAdmin, {kOperate}), o, "");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  v1::OriginateRequest empty;
  EXPECT_EQ(FieldViolations(calls_->Originate(Operator(), empty, "").status())[0].field, "number");
  EXPECT_EQ(calls_->Originate(User(kOperator, {}), o, "").status().code(), absl::StatusCode::kPermissionDenied);

  // Leg commands: the employee on the call, or telephony.manage.
  const std::string id = InboundCall("k1", "+79161234567", true, 10, /*end=*/false);
  const v1::Call c = Get(id);
  std::string out_leg, op_leg;
  for (const v1::CallLeg& l : c.legs()) (l.extension().empty() ? out_leg : op_leg) = l.id();
  v1::TransferRequest t;
  t.set_call_id(id);
  t.set_leg_id(out_leg);
  t.set_target("102");
  ASSERT_TRUE(calls_->Transfer(Operator(), t).ok());
  EXPECT_EQ(pbx_->Asked().back(), "transfer k1 k1-out PJSIP/k1-out 102");
  // Another operator does not see the call.
  EXPECT_EQ(calls_->Transfer(Operator(kOperator2), t).status().code(), absl::StatusCode::kNotFound);
  v1::HoldRequest h;
  h.set_call_id(id);
  h.set_leg_id(out_leg);
  h.set_on(true);
  ASSERT_TRUE(calls_->Hold(Admin(), h).ok());
  EXPECT_EQ(pbx_->Asked().back(), "hold k1-out on");
  v1::MergeRequest m;
  m.set_call_id(id);
  m.set_leg_id(out_leg);
  m.set_other_call_id(id);
  m.set_other_leg_id(op_leg);
  ASSERT_TRUE(calls_->Merge(Operator(), m).ok());
  EXPECT_EQ(pbx_->Asked().back(), "merge k1-out k1-op");
  v1::HangupRequest hu;
  hu.set_call_id(id);
  hu.set_leg_id(op_leg);
  ASSERT_TRUE(calls_->Hangup(Operator(), hu).ok());
  EXPECT_EQ(pbx_->Asked().back(), "hangup k1-op PJSIP/k1-op");
  // An ended leg cannot be commanded.
  Record(Fact("k1", "k1:e2", K::kEnded, "k1-op", 20, "101"));
  EXPECT_EQ(calls_->Hangup(Operator(), hu).status().code(), absl::StatusCode::kFailedPrecondition);
  // Bad ids are named.
  v1::HangupRequest bad;
  std::vector<std::string> fields;
  for (const FieldViolation& v : FieldViolations(calls_->Hangup(Operator(), bad).status())) fields.push_back(v.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"call_id", "leg_id"}));

  // A call of a provider with no adapter: FAILED_PRECONDITION naming it.
  CallEvent mango = Fact("m1", "m1:r", K::kRinging, "m1-out", 0);
  mango.provider = "mango";
  Record(mango);
  const v1::Call mc = Get(CallId("m1"));
  hu.set_call_id(mc.id());
  hu.set_leg_id(mc.legs(0).id());
  auto no_pbx = calls_->Hangup(Admin(), hu);
  EXPECT_EQ(no_pbx.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(no_pbx.status().message().find("\"mango\""), std::string_view::npos) << no_pbx.status();
  const PbxRegistry empty_registry;
  Calls without(*tpool_, clock_, empty_registry, "asterisk");
  auto no_adapter = without.Originate(Operator(), o, "");
  EXPECT_EQ(no_adapter.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(no_adapter.status().message().find("\"asterisk\""), std::string_view::npos);
}

TEST_F(CallsTest, TheCallLogByScopeAndFilter) {
  const std::string ivan = MustClient("Иван Петров", "+79161234567");
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) ids.push_back(InboundCall(absl::StrCat("l", i), "+79161234567", i % 3 != 0, 10 + i));
  // One outbound call of operator 2.
  Record(Fact("l-out", "l-out:1", K::kRinging, "l-out-op", 50, "102", D::kOutbound));
  Drain();
  // All: newest first, pages of 3 through the token.
  v1::ListCallsRequest req;
  req.set_page_size(3);
  std::vector<std::string> seen;
  for (int page = 0; page < 5; ++page) {
    auto r = calls_->ListCalls(Admin(), req);
    ASSERT_TRUE(r.ok()) << r.status();
    for (const v1::Call& c : r->calls()) seen.push_back(c.id());
    if (r->next_page_token().empty()) break;
    req.set_page_token(r->next_page_token());
  }
  ASSERT_EQ(seen.size(), 8u);
  EXPECT_EQ(seen[0], CallId("l-out"));  // started last
  auto list = [&](const Principal& who, auto fill) {
    v1::ListCallsRequest q;
    fill(q);
    auto r = calls_->ListCalls(who, q);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->calls_size() : -1;
  };
  EXPECT_EQ(list(Operator(), [](auto&) {}), 7);                // own: operator 1's
  EXPECT_EQ(list(Operator(kOperator2), [](auto&) {}), 1);
  EXPECT_EQ(list(Operator(), [](auto& q) { q.set_user(kOperator2); }), 0);  // own scope: not another's
  EXPECT_EQ(list(Admin(), [](auto& q) { q.set_user(kOperator2); }), 1);
  EXPECT_EQ(list(Admin(), [](auto& q) { q.set_missed_only(true); }), 3);
  EXPECT_EQ(list(Operator(), [](auto& q) { q.set_missed_only(true); }), 3);
  EXPECT_EQ(list(Admin(), [](auto& q) { q.set_direction(v1::CALL_DIRECTION_OUTBOUND); }), 1);
  EXPECT_EQ(list(Admin(), [&](auto& q) { q.set_client_id(ivan); }), 7);
  EXPECT_EQ(list(Admin(), [&](auto& q) {
              *q.mutable_from_time() = ToProtoTimestamp(absl::FromUnixSeconds(1795000000));
              *q.mutable_to_time() = ToProtoTimestamp(absl::FromUnixSeconds(1795000001));
            }),
            7);
  // Errors name every field; no permission: denied.
  v1::ListCallsRequest bad;
  bad.set_page_size(-1);
  bad.set_page_token("nonsense!");
  bad.set_client_id("x");
  bad.set_user("y");
  std::vector<std::string> fields;
  for (const FieldViolation& v : FieldViolations(calls_->ListCalls(Admin(), bad).status())) fields.push_back(v.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"page_size", "page_token", "client_id", "user"}));
  EXPECT_EQ(calls_->ListCalls(User(kOperator, {}), v1::ListCallsRequest()).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(calls_->GetCall(Operator(kOperator2), ids[0]).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CallsTest, ExtensionsAdmin) {
  v1::PutExtensionRequest put;
  put.mutable_extension()->set_provider("asterisk");
  put.mutable_extension()->set_extension("205");
  put.mutable_extension()->set_user_id(kOperator2);
  EXPECT_EQ(calls_->PutExtension(Operator(), put).status().code(), absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(calls_->PutExtension(Admin(), put).ok());
  v1::ListExtensionsRequest lr;
  lr.set_user_id(kOperator2);
  auto l = calls_->ListExtensions(Admin(), lr);
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ(l->extensions_size(), 2);
  EXPECT_EQ(l->extensions(1).extension(), "205");
  // A later leg on 205 names operator 2.
  Record(Fact("x1", "x1:r", K::kRinging, "x1-op", 0, "205"));
  EXPECT_EQ(Get(CallId("x1")).user_id(), kOperator2);
  v1::PutExtensionRequest bad;
  bad.mutable_extension()->set_extension("bad ext");
  std::vector<std::string> fields;
  for (const FieldViolation& v : FieldViolations(calls_->PutExtension(Admin(), bad).status())) fields.push_back(v.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"extension.provider", "extension.extension", "extension.user_id"}));
  v1::DeleteExtensionRequest del;
  del.set_provider("asterisk");
  del.set_extension("205");
  ASSERT_TRUE(calls_->DeleteExtension(Admin(), del).ok());
  EXPECT_EQ(calls_->DeleteExtension(Admin(), del).status().code(), absl::StatusCode::kNotFound);
}

// The demo plans extensions by login; identity's user event of that login gives them to its user — once, and
// never over an extension an administrator assigned meanwhile.
TEST_F(CallsTest, DemoExtensionsFollowIdentitysUsersByLogin) {
  tdb_->Exec("DELETE FROM extensions");
  tdb_->Exec(absl::StrCat("INSERT INTO extensions (provider, extension, user_id, update_time) VALUES "
                          "('asterisk', '102', '", kOperator2, "', now())"));
  ASSERT_TRUE(InstallDemo(*tpool_).ok());
  ASSERT_TRUE(InstallDemo(*tpool_).ok());  // repeatable
  EXPECT_EQ(TCount("SELECT count(*) FROM pending_extensions"), 2);  // 102 is taken: not planned
  auto apply = [&](const std::string& id, const std::string& login, int64_t offset) {
    crm::identity::v1::UserCreated created;
    created.mutable_user()->set_id(id);
    created.mutable_user()->set_login(login);
    crm::events::v1::Envelope e;
    e.set_type(crm::identity::v1::kUserCreatedType);
    e.mutable_payload()->PackFrom(created);
    const std::string topic = crm::identity::v1::kUserTopic;
    ASSERT_TRUE(crm::pg::InTransaction(*tpool_, [&](pqxx::work& tx) -> absl::Status {
                  return ApplyUserEvent(tx, {.envelope = e, .topic = topic, .partition = 0, .offset = offset});
                }).ok());
  };
  apply(kOperator, "cc.operator", 1);
  apply(kAdmin, "somebody.else", 2);
  EXPECT_EQ(TCount(absl::StrCat("SELECT count(*) FROM extensions WHERE extension = '101' AND user_id = '", kOperator,
                                "'")),
            1);
  EXPECT_EQ(TCount("SELECT count(*) FROM pending_extensions"), 1);  // admin's 100 waits for «admin»
  apply(kOperator2, "cc.operator", 3);                                // a later user of the login: nothing planned
  EXPECT_EQ(TCount(absl::StrCat("SELECT count(*) FROM extensions WHERE user_id = '", kOperator, "'")), 1);
}

}  // namespace
}  // namespace crm::telephony::calls
