// File: services/deals/deals_testing.h
// -----------------------------------------------------------------------------
// Test fixtures of the deals service's gRPC tests. Test code only.
//
// ServiceTest is what every one of them shares: a fresh PostgreSQL database per test (CRM_TEST_PG_DSN)
// with the events and deals migrations and a pool on it, a ManualClock, a test "gateway" key that signs
// principals and an in-process crm::rpc::Server on loopback trusting it. A fixture derives from it, adds
// its own rows and stores, and starts the server with its services.
//
// DealsFixture is the DealService fixture (deals_test.cc, copy_test.cc): ServiceTest with a test pipeline
// with gated stages and two custom fields inserted by SQL, the users below, and helpers that call
// DealService.
//
// Example:
//   class TasksTest : public crm::deals::fixture::ServiceTest {
//    protected:
//     TasksTest() : ServiceTest("dtasks") {}
//     void SetUp() override {
//       clock_.Set(absl::FromUnixSeconds(1'800'000'000));  // before anything reads the clock
//       ASSERT_NO_FATAL_FAILURE(ServiceTest::SetUp());
//       tasks_ = std::make_unique<TaskStore>(*pool_, clock_);
//       service_ = std::make_unique<TaskServiceImpl>(*tasks_);
//       stub_ = v1::TaskService::NewStub(Serve({service_.get()}));
//     }
//     ...
//   };
//
//   class CopyTest : public crm::deals::fixture::DealsFixture {};
//   TEST_F(CopyTest, Something) { v1::Deal d = MustCreate(Anna(), Named("Сделка")); ... }
#ifndef CRM_SERVICES_DEALS_DEALS_TESTING_H_
#define CRM_SERVICES_DEALS_DEALS_TESTING_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <initializer_list>
#include <memory>
#include <optional>
#include <pqxx/binarystring>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "crm/deals/v1/deals.grpc.pb.h"
#include "crm/events/v1/envelope.pb.h"
#include "libs/auth/jwt.h"
#include "libs/auth/service_credential.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "libs/rpc/call.h"
#include "libs/rpc/server.h"
#include "libs/rpc/signed_principal.h"
#include "libs/rpc/testing/principals.h"
#include "services/deals/deals.h"

namespace crm {
const std::vector<crm::pg::Migration>& DealsMigrations();
}  // namespace crm

namespace crm::deals::fixture {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;

// The first field an INVALID_ARGUMENT names ("" when none).
inline std::string FirstField(const grpc::Status& s) {
  auto v = FieldViolations(FromGrpcStatus(s));
  return v.empty() ? "" : v[0].field;
}

// Every field a status names in its details, in order (issue 16: every violation at once).
inline std::vector<std::string> AllFields(const grpc::Status& s) {
  std::vector<std::string> out;
  for (const FieldViolation& v : FieldViolations(FromGrpcStatus(s))) out.push_back(v.field);
  return out;
}

// The shared harness of a deals gRPC test (see the file comment). A fixture's SetUp first sets clock_
// if it wants another start, then calls ASSERT_NO_FATAL_FAILURE(ServiceTest::SetUp()), inserts its rows,
// makes its stores and services and calls Serve() once. A fixture that overrides TearDown calls
// ServiceTest::TearDown() in it.
class ServiceTest : public ::testing::Test {
 protected:
  // `name` prefixes the test database's name and names the server ("<name>_t<n>").
  explicit ServiceTest(std::string name) : name_(std::move(name)) {}

  // Creates the database and migrates it (events, then deals), opens pool_ (4 connections) on it and
  // makes gateway_key_. Records a fatal failure if any of it fails (a clear one when CRM_TEST_PG_DSN is
  // unset). Does not read clock_.
  void SetUp() override {
    auto db = pg::testing::TempDatabase::Create(name_);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    std::vector<pg::Migration> all = EventsMigrations();
    all.insert(all.end(), DealsMigrations().begin(), DealsMigrations().end());
    auto migrated = pg::Migrate(db_->dsn(), all);
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    auto pool = pg::Pool::Create({.dsn = db_->dsn(), .size = 4});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
    auto key = auth::SigningKey::Generate("gw-test");
    ASSERT_TRUE(key.ok()) << key.status();
    gateway_key_ = *std::move(key);
  }

  // Stops the server Serve() started, lets in-flight calls finish and destroys it: afterwards the
  // fixture's services and stores may go.
  void TearDown() override {
    if (server_) {
      server_->Shutdown();
      server_->Wait();
      server_.reset();
    }
  }

  // Starts server_ with `services` on 127.0.0.1:0 (metrics on another free port), trusting principals
  // that gateway_key_ signed (checked against clock_), and returns a channel to it made with `args`.
  // Once per test; the services must outlive TearDown(). If the server does not start the test fails
  // fatally (its body does not run) and the channel reaches nothing.
  std::shared_ptr<grpc::Channel> Serve(std::initializer_list<grpc::Service*> services,
                                       const grpc::ChannelArguments& args = {}) {
    static std::atomic<int> n{0};
    rpc::ServerOptions o;
    o.service = absl::StrCat(name_, "_t", n++);
    o.grpc_address = "127.0.0.1:0";
    o.metrics_address = "127.0.0.1:0";
    server_ = std::make_unique<rpc::Server>(o);
    auth::KeySet trusted;
    trusted.Add(gateway_key_->public_key());
    server_->SetPrincipalVerifier(rpc::SignedPrincipals(std::move(trusted), clock_));
    for (grpc::Service* s : services) server_->AddService(s);
    const absl::Status started = server_->Start();
    if (!started.ok()) {
      // FAIL() returns from the function it is in: here the lambda, so that Serve can return a channel.
      [&] { FAIL() << "the test server did not start: " << started; }();
    }
    const int port = started.ok() ? server_->grpc_port() : 0;
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args);
  }

  // Runs `sql` (one or more statements) in one committed transaction on the test database.
  void Sql(const std::string& sql) { db_->Exec(sql); }
  // The integer the query `sql` returns in its one row and first column.
  int64_t Count(const std::string& sql) { return db_->Count(sql); }

  // Inserts the test pipelines kPipeline (stages kNew; kQualified, gated by amount, custom.object_type,
  // an open task and a comment; kWon; kLost) and kOther (kOtherStage), and the custom fields object_type
  // (ENUM flat / house) and area (NUMBER), plus `extra_fields` (SQL value tuples for field_definitions).
  void InsertTestPipelines(const std::string& extra_fields = "");

  // Makes `ctx` call as `p`, signed by the gateway key at clock_'s time, with a 20 s deadline.
  void As(grpc::ClientContext& ctx, const Principal& p) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    const std::string bytes = p.SerializeAsString();
    ctx.AddMetadata(rpc::kPrincipalHeader, bytes);
    ctx.AddMetadata(std::string(auth::kPrincipalSigHeader),
                    *auth::SignPrincipalBytes(bytes, *gateway_key_, clock_.Now()));
  }

  // Stands still until a test moves it; a fixture may Set() another start before ServiceTest::SetUp().
  ManualClock clock_{absl::FromUnixSeconds(1'795'000'000)};
  std::unique_ptr<pg::testing::TempDatabase> db_;  // this test's database, dropped with the fixture
  std::unique_ptr<pg::Pool> pool_;                 // on db_
  std::optional<auth::SigningKey> gateway_key_;    // the key the server trusts
  std::unique_ptr<rpc::Server> server_;            // after Serve(), until TearDown()

 private:
  std::string name_;
};

// The test pipelines and stages (DealsFixture inserts them), teams and users; other fixtures take the
// ones they need.
inline constexpr char kPipeline[] = "01900000-0000-7000-8000-000000000001";
inline constexpr char kOther[] = "01900000-0000-7000-8000-000000000002";
inline constexpr char kNew[] = "01900000-0000-7000-8000-0000000000a1";
inline constexpr char kQualified[] = "01900000-0000-7000-8000-0000000000a2";
inline constexpr char kWon[] = "01900000-0000-7000-8000-0000000000a3";
inline constexpr char kLost[] = "01900000-0000-7000-8000-0000000000a4";
inline constexpr char kOtherStage[] = "01900000-0000-7000-8000-0000000000b1";
inline constexpr char kTeam1[] = "01900000-0000-7000-8000-00000000e001";
inline constexpr char kTeam2[] = "01900000-0000-7000-8000-00000000e002";
inline constexpr char kAnna[] = "01900000-0000-7000-8000-00000000f001";  // manager, team 1
inline constexpr char kBoris[] = "01900000-0000-7000-8000-00000000f002";  // manager, team 2
inline constexpr char kLena[] = "01900000-0000-7000-8000-00000000f003";   // team lead, team 1
inline constexpr char kHead[] = "01900000-0000-7000-8000-00000000f004";   // head of sales

inline void ServiceTest::InsertTestPipelines(const std::string& extra_fields) {
  Sql(absl::StrCat(
      "INSERT INTO pipelines (id, name, currency) VALUES ('", kPipeline, "', 'Продажа', 'RUB'), ('", kOther,
      "', 'Вторичка', 'RUB');"
      "INSERT INTO stages (id, pipeline_id, position, name, kind, gates) VALUES "
      "('", kNew, "', '", kPipeline, "', 1, 'Неразобранное', 1, '{}'),"
      "('", kQualified, "', '", kPipeline, "', 2, 'Квалифицирован', 1, "
      "'{\"requiredFields\": [\"amount\", \"custom.object_type\"], \"requiresOpenTask\": true, "
      "\"requiresComment\": true}'),"
      "('", kWon, "', '", kPipeline, "', 3, 'Успешно', 2, '{}'),"
      "('", kLost, "', '", kPipeline, "', 4, 'Отказ', 3, '{}'),"
      "('", kOtherStage, "', '", kOther, "', 1, 'Новая', 1, '{}');"
      "INSERT INTO field_definitions (code, name, type, options) VALUES "
      "('object_type', 'Тип объекта', 7, '{flat,house}'), ('area', 'Площадь', 2, '{}')",
      extra_fields.empty() ? "" : ", ", extra_fields, ";"));
}

// A user principal with `perms`, a member of `teams`.
inline Principal User(const std::string& id, std::vector<std::string> perms, std::vector<std::string> teams = {}) {
  return rpc::testing::UserPrincipal(id, std::move(perms), std::move(teams));
}

inline Principal Anna() { return User(kAnna, {"deals.read.own", "deals.write.own"}, {kTeam1}); }
inline Principal Boris() { return User(kBoris, {"deals.read.own", "deals.write.own"}, {kTeam2}); }
inline Principal Lena() { return User(kLena, {"deals.read.team", "deals.write.team"}, {kTeam1}); }
inline Principal Head() { return User(kHead, {"deals.read.all", "deals.write.all"}, {kTeam1}); }
inline Principal Auditor() { return User(kHead, {"deals.read.all"}); }

// The DealService fixture: ServiceTest with the pipelines, stages and custom fields above inserted by
// SQL, store_ and service_ on them, and stub_ calling the server as the test's users.
class DealsFixture : public ServiceTest {
 protected:
  DealsFixture() : ServiceTest("deals") {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ServiceTest::SetUp());
    InsertTestPipelines();
    store_ = std::make_unique<DealStore>(*pool_, clock_);
    service_ = std::make_unique<DealServiceImpl>(*store_);
    stub_ = v1::DealService::NewStub(Serve({service_.get()}));
  }

  grpc::Status Create(const Principal& p, const v1::Deal& d, v1::Deal* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    v1::CreateDealRequest req;
    *req.mutable_deal() = d;
    return stub_->CreateDeal(&ctx, req, out);
  }
  v1::Deal MustCreate(const Principal& p, v1::Deal d) {
    if (d.pipeline_id().empty()) d.set_pipeline_id(kPipeline);
    v1::Deal out;
    grpc::Status s = Create(p, d, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    clock_.Advance(absl::Seconds(1));
    return out;
  }
  v1::Deal Named(const std::string& name) {
    v1::Deal d;
    d.set_name(name);
    d.set_pipeline_id(kPipeline);
    return d;
  }
  grpc::Status Get(const Principal& p, const std::string& id, v1::Deal* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    v1::GetDealRequest req;
    req.set_id(id);
    return stub_->GetDeal(&ctx, req, out);
  }
  grpc::Status Update(const Principal& p, const v1::Deal& d, std::vector<std::string> paths, v1::Deal* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    v1::UpdateDealRequest req;
    *req.mutable_deal() = d;
    for (auto& s : paths) req.mutable_update_mask()->add_paths(s);
    return stub_->UpdateDeal(&ctx, req, out);
  }
  grpc::Status Move(const Principal& p, const v1::MoveDealRequest& req, v1::Deal* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    return stub_->MoveDeal(&ctx, req, out);
  }
  grpc::Status List(const Principal& p, const v1::ListDealsRequest& req, v1::ListDealsResponse* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    return stub_->ListDeals(&ctx, req, out);
  }
  // All ids the filter lists, page by page.
  std::vector<std::string> ListAll(const Principal& p, const v1::DealFilter& f, int page_size) {
    std::vector<std::string> ids;
    v1::ListDealsRequest req;
    *req.mutable_filter() = f;
    req.set_page_size(page_size);
    for (int guard = 0; guard < 100; ++guard) {
      v1::ListDealsResponse resp;
      grpc::Status s = List(p, req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      EXPECT_LE(resp.deals_size(), page_size);
      for (const auto& c : resp.deals()) ids.push_back(c.id());
      if (resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    return ids;
  }

  struct OutboxRow {
    std::string type;
    std::string aggregate_id;
    crm::events::v1::Envelope env;
  };
  std::vector<OutboxRow> Outbox() {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    std::vector<OutboxRow> out;
    for (const pqxx::row& r : tx.exec("SELECT type, aggregateid, aggregatetype, payload FROM outbox ORDER BY seq")) {
      OutboxRow o;
      o.type = r[0].as<std::string>();
      o.aggregate_id = r[1].as<std::string>();
      EXPECT_EQ(r[2].as<std::string>(), "deal");
      pqxx::binarystring raw(r[3]);
      EXPECT_TRUE(o.env.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
      out.push_back(std::move(o));
    }
    return out;
  }

  std::unique_ptr<DealStore> store_;
  std::unique_ptr<DealServiceImpl> service_;
  std::unique_ptr<v1::DealService::Stub> stub_;
};

}  // namespace crm::deals::fixture

#endif  // CRM_SERVICES_DEALS_DEALS_TESTING_H_
