// File: services/telephony/calls/calls_testing.h
// -----------------------------------------------------------------------------
// Tests only (telephony_calls_test: intake_test.cc, calls_test.cc): the calls part on real PostgreSQL (P1,
// P2; issue 19) — telephony's database migrated as crm-telephony migrates it, deals in process on another
// (ClientService for caller identification, InteractionService for D16; deals' ServiceTest harness, signed
// principals, no fakes of deals), a ManualClock. Facts go in through the intake as the adapters give them;
// deals' queue runs by DealsSync::DrainOnce; the commands reach a PbxCommands double that records what it
// was asked (a test double of our own interface).
#ifndef CRM_SERVICES_TELEPHONY_CALLS_CALLS_TESTING_H_
#define CRM_SERVICES_TELEPHONY_CALLS_CALLS_TESTING_H_

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

namespace crm::telephony::calls::calls_testing {

namespace dv1 = crm::deals::v1;
using crm::deals::fixture::User;
using K = CallEvent::Kind;
using D = CallEvent::Direction;

constexpr char kOperator[] = "01930000-0000-7000-8000-0000000000e1";
constexpr char kOperator2[] = "01930000-0000-7000-8000-0000000000e2";
constexpr char kAdmin[] = "01930000-0000-7000-8000-0000000000e9";
constexpr char kProject[] = "01930000-0000-7000-8000-0000000000f1";

inline Principal Operator(const char* id = kOperator) { return User(id, {kOperate}); }
inline Principal Admin() { return User(kAdmin, {kOperate, kReadAll, kManage}); }

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

}  // namespace crm::telephony::calls::calls_testing

#endif  // CRM_SERVICES_TELEPHONY_CALLS_CALLS_TESTING_H_
