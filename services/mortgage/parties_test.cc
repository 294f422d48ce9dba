// M4 (issue 16): an application's client and deal must exist and be visible to the caller. Mortgage's
// ApplicationService asks an in-process deals (ClientService, DealService on the ServiceTest harness of
// services/deals/deals_testing.h: its own PostgreSQL database, signed principals) as the caller, whose
// principal is forwarded; each on its own real database, a ManualClock, no fakes of deals.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "crm/deals/v1/clients.grpc.pb.h"
#include "crm/deals/v1/deals.grpc.pb.h"
#include "libs/base/status.h"
#include "libs/base/uuid.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/testing.h"
#include "libs/rpc/call.h"
#include "libs/rpc/server.h"
#include "libs/rpc/signed_principal.h"
#include "services/deals/clients.h"
#include "services/deals/deals.h"
#include "services/deals/deals_testing.h"
#include "services/mortgage/applications.h"
#include "services/mortgage/deals_client.h"

namespace crm {
const std::vector<crm::pg::Migration>& MortgageMigrations();
}  // namespace crm

namespace crm::mortgage {
namespace {

namespace dv1 = crm::deals::v1;
using crm::common::v1::Principal;
using deals::fixture::User;

constexpr char kSpecialist[] = "01900000-0000-7000-8000-00000000f0a1";
constexpr char kBank[] = "01900000-0000-7000-8000-0000000b0001";

// The mortgage specialist as the role matrix makes them: no team, so deals.read.team reaches the deals
// they are responsible for.
Principal Specialist() {
  return User(kSpecialist, {"mortgage.calculate", "mortgage.manage", "clients.read", "deals.read.team"});
}
// The head of sales: makes the clients and deals the tests need, and assigns them.
Principal Head() {
  return User(deals::fixture::kHead, {"clients.read", "clients.write", "deals.read.all", "deals.write.all"},
              {deals::fixture::kTeam1});
}
// A manager's own deals only.
Principal Manager() {
  return User(deals::fixture::kAnna, {"clients.read", "clients.write", "deals.read.own", "deals.write.own"},
              {deals::fixture::kTeam1});
}

std::vector<std::string> FieldsOf(const grpc::Status& s) {
  std::vector<std::string> out;
  for (const FieldViolation& v : FieldViolations(FromGrpcStatus(s))) out.push_back(v.field);
  return out;
}

absl::StatusOr<v1::MultiCalculateResponse> NoCalculation(const v1::MultiCalculateRequest&) {
  return absl::UnimplementedError("not used here");
}

class PartiesTest : public deals::fixture::ServiceTest {
 protected:
  PartiesTest() : ServiceTest("mparty") {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ServiceTest::SetUp());
    InsertTestPipelines();
    deal_store_ = std::make_unique<deals::DealStore>(*pool_, clock_);
    client_store_ = std::make_unique<deals::ClientStore>(*pool_, clock_);
    deal_service_ = std::make_unique<deals::DealServiceImpl>(*deal_store_);
    client_service_ = std::make_unique<deals::ClientServiceImpl>(*client_store_);
    auto deals_channel = Serve({deal_service_.get(), client_service_.get()});
    deal_stub_ = dv1::DealService::NewStub(deals_channel);
    client_stub_ = dv1::ClientService::NewStub(deals_channel);
    deals_client_ = std::make_unique<DealsClient>(deals_channel, deals_channel, &*gateway_key_, clock_);
    ASSERT_NO_FATAL_FAILURE(StartMortgage());
  }

  void TearDown() override {
    if (mortgage_server_) {
      mortgage_server_->Shutdown();
      mortgage_server_->Wait();
      mortgage_server_.reset();
    }
    ServiceTest::TearDown();
  }

  // Mortgage on its own database (one bank) and server, trusting the same gateway key as deals.
  void StartMortgage() {
    auto db = pg::testing::TempDatabase::Create("mpartm");
    ASSERT_TRUE(db.ok()) << db.status();
    mortgage_db_ = *std::move(db);
    std::vector<pg::Migration> all = EventsMigrations();
    all.insert(all.end(), MortgageMigrations().begin(), MortgageMigrations().end());
    ASSERT_TRUE(pg::Migrate(mortgage_db_->dsn(), all).ok());
    v1::Bank b;
    b.set_id(kBank);
    b.set_version(1);
    b.set_code("00000001");
    b.set_name("Банк");
    mortgage_db_->Exec(absl::StrCat("INSERT INTO banks (id, code, name, version, body) VALUES ('", kBank,
                                    "', '00000001', 'Банк', 1, '\\x",
                                    absl::BytesToHexString(b.SerializeAsString()), "'::bytea)"));
    auto pool = pg::Pool::Create({.dsn = mortgage_db_->dsn(), .size = 2});
    ASSERT_TRUE(pool.ok()) << pool.status();
    mortgage_pool_ = *std::move(pool);
    store_ = std::make_unique<ApplicationStore>(*mortgage_pool_, clock_);
    apps_ = std::make_unique<ApplicationServiceImpl>(*store_, NoCalculation, *deals_client_);
    static std::atomic<int> n{0};
    rpc::ServerOptions o;
    o.service = absl::StrCat("mpartm_t", n++);
    o.grpc_address = "127.0.0.1:0";
    o.metrics_address = "127.0.0.1:0";
    mortgage_server_ = std::make_unique<rpc::Server>(o);
    auth::KeySet trusted;
    trusted.Add(gateway_key_->public_key());
    mortgage_server_->SetPrincipalVerifier(rpc::SignedPrincipals(std::move(trusted), clock_));
    mortgage_server_->AddService(apps_.get());
    const absl::Status started = mortgage_server_->Start();
    ASSERT_TRUE(started.ok()) << started;
    apps_stub_ = v1::ApplicationService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", mortgage_server_->grpc_port()), grpc::InsecureChannelCredentials()));
  }

  std::string MustClient(const std::string& name) {
    grpc::ClientContext ctx;
    As(ctx, Head());
    dv1::CreateClientRequest req;
    req.mutable_client()->set_kind(dv1::Client::KIND_PERSON);
    req.mutable_client()->set_name(name);
    dv1::Client out;
    const grpc::Status s = client_stub_->CreateClient(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.id();
  }
  // A deal of `client` made by `as`, with `responsible` ("" = the maker).
  std::string MustDeal(const Principal& as, const std::string& client, const std::string& responsible) {
    grpc::ClientContext ctx;
    As(ctx, as);
    dv1::CreateDealRequest req;
    req.mutable_deal()->set_name("Ипотека, ЖК Северный");
    req.mutable_deal()->set_pipeline_id(deals::fixture::kPipeline);
    req.mutable_deal()->set_client_id(client);
    req.mutable_deal()->set_responsible_id(responsible);
    dv1::Deal out;
    const grpc::Status s = deal_stub_->CreateDeal(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.id();
  }

  grpc::Status Create(const Principal& as, const std::string& client, const std::string& deal,
                      v1::Application* out, const std::string& key = "") {
    grpc::ClientContext ctx;
    As(ctx, as);
    if (!key.empty()) ctx.AddMetadata(rpc::kIdempotencyKeyHeader, key);
    v1::CreateApplicationRequest req;
    req.mutable_application()->set_client_id(client);
    req.mutable_application()->set_deal_id(deal);
    req.mutable_application()->set_bank_id(kBank);
    req.mutable_application()->set_loan(900'000'000);
    req.mutable_application()->set_rate("0.2");
    return apps_stub_->CreateApplication(&ctx, req, out);
  }

  // How many applications, outbox rows and idempotency records mortgage holds.
  int64_t Written() {
    return mortgage_db_->Count(
        "SELECT (SELECT count(*) FROM applications) + (SELECT count(*) FROM outbox) + "
        "(SELECT count(*) FROM idempotency)");
  }

  std::unique_ptr<deals::DealStore> deal_store_;
  std::unique_ptr<deals::ClientStore> client_store_;
  std::unique_ptr<deals::DealServiceImpl> deal_service_;
  std::unique_ptr<deals::ClientServiceImpl> client_service_;
  std::unique_ptr<dv1::DealService::Stub> deal_stub_;
  std::unique_ptr<dv1::ClientService::Stub> client_stub_;
  std::unique_ptr<DealsClient> deals_client_;
  std::unique_ptr<pg::testing::TempDatabase> mortgage_db_;
  std::unique_ptr<pg::Pool> mortgage_pool_;
  std::unique_ptr<ApplicationStore> store_;
  std::unique_ptr<ApplicationServiceImpl> apps_;
  std::unique_ptr<rpc::Server> mortgage_server_;
  std::unique_ptr<v1::ApplicationService::Stub> apps_stub_;
};

TEST_F(PartiesTest, AnApplicationNamesAClientAndADealTheCallerSees) {
  const std::string client = MustClient("Петров Пётр");
  const std::string deal = MustDeal(Head(), client, kSpecialist);  // assigned to the specialist
  v1::Application app;
  grpc::Status s = Create(Specialist(), client, deal, &app);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(app.status(), v1::APPLICATION_STATUS_DRAFT);
  EXPECT_EQ(app.deal_id(), deal);
  // A client without a deal yet; and a deal that has no client yet.
  s = Create(Specialist(), client, "", &app);
  EXPECT_TRUE(s.ok()) << s.error_message();
  s = Create(Specialist(), client, MustDeal(Head(), "", kSpecialist), &app);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(PartiesTest, MissingOrInvisiblePartiesAreFailedPreconditionNamingTheField) {
  const std::string client = MustClient("Петров Пётр");
  const std::string other_client = MustClient("Сидорова Анна");
  const std::string nobody = NewUuidV7();
  const std::string own_deal = MustDeal(Head(), client, kSpecialist);
  const std::string managers_deal = MustDeal(Manager(), client, "");  // the manager's own deal
  const std::string other_clients_deal = MustDeal(Head(), other_client, kSpecialist);
  struct Case {
    const char* what;
    Principal as;
    std::string client, deal;
    std::string field;
  };
  Principal no_clients = Specialist();
  no_clients.clear_permissions();
  for (const char* p : {"mortgage.calculate", "mortgage.manage", "deals.read.team"})
    no_clients.add_permissions(p);
  for (const Case& c : std::vector<Case>{
           {"no such client", Specialist(), nobody, "", "application.client_id"},
           {"no such client, with a deal", Specialist(), nobody, own_deal, "application.client_id"},
           {"clients not readable (no clients.read)", no_clients, client, "", "application.client_id"},
           {"no such deal", Specialist(), client, nobody, "application.deal_id"},
           {"a deal the specialist may not see", Specialist(), client, managers_deal, "application.deal_id"},
           {"another client's deal", Specialist(), client, other_clients_deal, "application.deal_id"},
       }) {
    SCOPED_TRACE(c.what);
    v1::Application app;
    const grpc::Status s = Create(c.as, c.client, c.deal, &app);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
    EXPECT_EQ(FieldsOf(s), std::vector<std::string>{c.field}) << s.error_message();
  }
  EXPECT_EQ(Written(), 0);  // nothing half-written: no application, no event, no idempotency record
}

TEST_F(PartiesTest, DealsDownIsUnavailableAndAKeyedRepeatIsAnsweredFromItsRecord) {
  const std::string client = MustClient("Петров Пётр");
  const std::string deal = MustDeal(Head(), client, kSpecialist);
  v1::Application first;
  ASSERT_TRUE(Create(Specialist(), client, deal, &first, "app-once").ok());
  const int64_t written = Written();

  // deals stops.
  server_->Shutdown();
  server_->Wait();
  server_.reset();

  v1::Application app;
  const grpc::Status s = Create(Specialist(), client, deal, &app);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(Written(), written);  // no half-written application
  // The repeat of the first create needs no deals: it is answered from its idempotency record.
  v1::Application again;
  const grpc::Status repeat = Create(Specialist(), client, deal, &again, "app-once");
  ASSERT_TRUE(repeat.ok()) << repeat.error_message();
  EXPECT_EQ(again.id(), first.id());
}

}  // namespace
}  // namespace crm::mortgage
