// Tests of services/mortgage/applications.h through gRPC, in process, on a real PostgreSQL database per
// test (CRM_TEST_PG_DSN) and a ManualClock. Applications' clients are checked with a real deals
// ClientService in process (M4; its own database, with the test clients Client(1..200) inserted); what
// M4 decides is tested in parties_test.cc.
#include "services/mortgage/applications.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <pqxx/binarystring>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/mortgage/v1/events.pb.h"
#include "libs/auth/jwt.h"
#include "libs/auth/service_credential.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "libs/rpc/call.h"
#include "libs/rpc/server.h"
#include "libs/rpc/signed_principal.h"
#include "services/deals/clients.h"

namespace crm {
const std::vector<crm::pg::Migration>& MortgageMigrations();
const std::vector<crm::pg::Migration>& DealsMigrations();
}  // namespace crm

namespace crm::mortgage {
namespace {

using crm::common::v1::Principal;
using S = v1::ApplicationStatus;

constexpr char kAnna[] = "01900000-0000-7000-8000-00000000f001";   // specialist
constexpr char kBoris[] = "01900000-0000-7000-8000-00000000f002";  // specialist
constexpr char kHead[] = "01900000-0000-7000-8000-00000000f003";   // head of the mortgage desk
constexpr char kOther[] = "01900000-0000-7000-8000-00000000f004";  // no mortgage permissions
constexpr char kCalcOnly[] = "01900000-0000-7000-8000-00000000f005";

Principal User(const std::string& id, std::vector<std::string> perms) {
  Principal p;
  p.set_kind(Principal::KIND_USER);
  p.set_id(id);
  for (auto& s : perms) p.add_permissions(s);
  return p;
}
// Specialists as the role matrix makes them: with clients.read, which deals asks for (M4).
Principal Anna() { return User(kAnna, {"mortgage.calculate", "mortgage.manage", "clients.read"}); }
Principal Boris() { return User(kBoris, {"mortgage.calculate", "mortgage.manage", "clients.read"}); }
Principal Head() {
  return User(kHead, {"mortgage.calculate", "mortgage.manage", "mortgage.read.all", "clients.read"});
}
Principal Other() { return User(kOther, {"deals.read.own"}); }
Principal CalcOnly() { return User(kCalcOnly, {"mortgage.calculate"}); }

std::string Bank(int n) { return absl::StrFormat("01900000-0000-7000-8000-0000000b%04d", n); }
std::string Client(int n) { return absl::StrFormat("01900000-0000-7000-8000-0000000c%04d", n); }

std::vector<FieldViolation> Violations(const grpc::Status& s) { return FieldViolations(FromGrpcStatus(s)); }
std::string FirstField(const grpc::Status& s) {
  auto v = Violations(s);
  return v.empty() ? "" : v[0].field;
}

// The multi-calculation the service is given: two offers, one with a schedule (which is not kept), or
// the calculator's INVALID_ARGUMENT for a property without a price.
absl::StatusOr<v1::MultiCalculateResponse> FakeCalculate(const v1::MultiCalculateRequest& r) {
  if (r.property().price() <= 0) return InvalidFieldError("property.price", "must be positive");
  v1::MultiCalculateResponse out;
  out.set_as_of("2026-11-02");
  v1::Offer* a = out.add_offers();
  a->set_bank_id(Bank(1));
  a->set_eligible(true);
  a->set_rate("0.06");
  a->set_loan(r.property().price() - r.property().down_payment());
  a->mutable_schedule()->add_rows()->set_n(1);
  v1::Offer* b = out.add_offers();
  b->set_bank_id(Bank(2));
  out.set_eligible_count(1);
  return out;
}

class ApplicationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Monday 2026-11-02 09:00 in Moscow.
    clock_.Set(absl::FromCivil(absl::CivilSecond(2026, 11, 2, 9, 0, 0), zone_));
    auto db = pg::testing::TempDatabase::Create("mapps");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    std::vector<pg::Migration> all = EventsMigrations();
    all.insert(all.end(), MortgageMigrations().begin(), MortgageMigrations().end());
    auto migrated = pg::Migrate(db_->dsn(), all);
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    auto pool = pg::Pool::Create({.dsn = db_->dsn(), .size = 4});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
    auto key = auth::SigningKey::Generate("gw-test");
    ASSERT_TRUE(key.ok()) << key.status();
    gateway_key_ = *std::move(key);
    for (int i = 1; i <= 8; ++i) InsertBank(i);
    ASSERT_NO_FATAL_FAILURE(StartDeals());

    store_ = std::make_unique<ApplicationStore>(*pool_, clock_);
    apps_ = std::make_unique<ApplicationServiceImpl>(*store_, FakeCalculate, *deals_client_);
    desk_ = std::make_unique<DeskServiceImpl>(*store_, clock_, zone_);
    static std::atomic<int> n{0};
    rpc::ServerOptions o;
    o.service = absl::StrCat("mapps_t", n++);
    o.grpc_address = "127.0.0.1:0";
    o.metrics_address = "127.0.0.1:0";
    server_ = std::make_unique<rpc::Server>(o);
    auth::KeySet trusted;
    trusted.Add(gateway_key_->public_key());
    server_->SetPrincipalVerifier(rpc::SignedPrincipals(std::move(trusted), clock_));
    server_->AddService(apps_.get());
    server_->AddService(desk_.get());
    const absl::Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started;
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->grpc_port()),
                                       grpc::InsecureChannelCredentials());
    stub_ = v1::ApplicationService::NewStub(channel);
    desk_stub_ = v1::DeskService::NewStub(channel);
  }

  void TearDown() override {
    for (std::unique_ptr<rpc::Server>* server : {&server_, &deals_server_}) {
      if (*server) {
        (*server)->Shutdown();
        (*server)->Wait();
        server->reset();
      }
    }
  }

  // deals' ClientService on a server of its own trusting the same gateway key, with the clients
  // Client(1..200), and the DealsClient mortgage asks it through.
  void StartDeals() {
    auto db = pg::testing::TempDatabase::Create("mappd");
    ASSERT_TRUE(db.ok()) << db.status();
    deals_db_ = *std::move(db);
    std::vector<pg::Migration> all = EventsMigrations();
    all.insert(all.end(), DealsMigrations().begin(), DealsMigrations().end());
    auto migrated = pg::Migrate(deals_db_->dsn(), all);
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    deals_db_->Exec(
        "INSERT INTO clients (id, kind, name) SELECT ('01900000-0000-7000-8000-0000000c' || lpad(i::text, 4, "
        "'0'))::uuid, 2, 'Клиент ' || i FROM generate_series(1, 200) i");
    auto pool = pg::Pool::Create({.dsn = deals_db_->dsn(), .size = 2});
    ASSERT_TRUE(pool.ok()) << pool.status();
    deals_pool_ = *std::move(pool);
    clients_ = std::make_unique<deals::ClientStore>(*deals_pool_, clock_);
    client_service_ = std::make_unique<deals::ClientServiceImpl>(*clients_);
    static std::atomic<int> n{0};
    rpc::ServerOptions o;
    o.service = absl::StrCat("mappd_t", n++);
    o.grpc_address = "127.0.0.1:0";
    o.metrics_address = "127.0.0.1:0";
    deals_server_ = std::make_unique<rpc::Server>(o);
    auth::KeySet trusted;
    trusted.Add(gateway_key_->public_key());
    deals_server_->SetPrincipalVerifier(rpc::SignedPrincipals(std::move(trusted), clock_));
    deals_server_->AddService(client_service_.get());
    const absl::Status started = deals_server_->Start();
    ASSERT_TRUE(started.ok()) << started;
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", deals_server_->grpc_port()),
                                       grpc::InsecureChannelCredentials());
    deals_client_ = std::make_unique<DealsClient>(channel, channel, &*gateway_key_, clock_);
  }

  void InsertBank(int n) {
    v1::Bank b;
    b.set_id(Bank(n));
    b.set_version(1);
    b.set_code(absl::StrFormat("%08d", n));
    b.set_name(absl::StrCat("Банк ", n));
    db_->Exec(absl::StrCat("INSERT INTO banks (id, code, name, version, body) VALUES ('", Bank(n), "', '",
                           b.code(), "', '", b.name(), "', 1, '\\x",
                           absl::BytesToHexString(b.SerializeAsString()), "'::bytea)"));
  }

  void As(grpc::ClientContext& ctx, const Principal& p, const std::string& idempotency_key = "") {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    const std::string bytes = p.SerializeAsString();
    ctx.AddMetadata(rpc::kPrincipalHeader, bytes);
    ctx.AddMetadata(std::string(auth::kPrincipalSigHeader),
                    *auth::SignPrincipalBytes(bytes, *gateway_key_, clock_.Now()));
    if (!idempotency_key.empty()) ctx.AddMetadata(rpc::kIdempotencyKeyHeader, idempotency_key);
  }

  // ----- calls -----
  grpc::Status Create(const Principal& p, const v1::Application& a, v1::Application* out,
                      bool confirm = false, const std::string& key = "") {
    grpc::ClientContext ctx;
    As(ctx, p, key);
    v1::CreateApplicationRequest req;
    *req.mutable_application() = a;
    req.set_confirm_many_banks(confirm);
    return stub_->CreateApplication(&ctx, req, out);
  }
  v1::Application App(int bank, int client, const std::string& project = "P1") {
    v1::Application a;
    a.set_bank_id(Bank(bank));
    a.set_client_id(Client(client));
    a.set_project(project);
    a.set_loan(800'000'000);
    a.set_rate("0.0899");
    return a;
  }
  v1::Application MustCreate(const Principal& p, const v1::Application& a) {
    v1::Application out;
    grpc::Status s = Create(p, a, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }
  grpc::Status Move(const Principal& p, const std::string& id, int64_t version, S to, v1::Application* out,
                    const std::string& key = "") {
    grpc::ClientContext ctx;
    As(ctx, p, key);
    v1::ChangeApplicationStatusRequest req;
    req.set_id(id);
    req.set_version(version);
    req.set_status(to);
    req.set_comment("test");
    return stub_->ChangeApplicationStatus(&ctx, req, out);
  }
  v1::Application MustMove(const Principal& p, const v1::Application& a, S to) {
    v1::Application out;
    grpc::Status s = Move(p, a.id(), a.version(), to, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }
  grpc::Status Reply(const Principal& p, const std::string& id, S decision, v1::Application* out,
                     const std::string& valid_until = "", const std::string& key = "") {
    grpc::ClientContext ctx;
    As(ctx, p, key);
    v1::RecordBankReplyRequest req;
    req.set_id(id);
    req.mutable_reply()->set_decision(decision);
    req.mutable_reply()->set_valid_until(valid_until);
    req.mutable_reply()->set_text("Решение банка");
    return stub_->RecordBankReply(&ctx, req, out);
  }
  v1::Application MustReply(const Principal& p, const v1::Application& a, S decision,
                            const std::string& valid_until = "") {
    v1::Application out;
    grpc::Status s = Reply(p, a.id(), decision, &out, valid_until);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }
  grpc::Status Get(const Principal& p, const std::string& id, v1::Application* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    v1::GetApplicationRequest req;
    req.set_id(id);
    return stub_->GetApplication(&ctx, req, out);
  }
  grpc::Status SaveCalc(const Principal& p, int client, const std::string& project, v1::Calculation* out,
                        const std::string& key = "", int64_t price = 1'000'000'000) {
    grpc::ClientContext ctx;
    As(ctx, p, key);
    v1::SaveCalculationRequest req;
    req.mutable_calculation()->set_client_id(Client(client));
    req.mutable_calculation()->set_project(project);
    req.mutable_calculation()->mutable_request()->mutable_property()->set_price(price);
    req.mutable_calculation()->mutable_request()->mutable_property()->set_down_payment(200'000'000);
    req.mutable_calculation()->mutable_request()->add_schedules_for("*");
    return stub_->SaveCalculation(&ctx, req, out);
  }
  grpc::Status CreateQ(const Principal& p, const v1::Questionnaire& q, v1::Questionnaire* out,
                       const std::string& key = "") {
    grpc::ClientContext ctx;
    As(ctx, p, key);
    v1::CreateQuestionnaireRequest req;
    *req.mutable_questionnaire() = q;
    return stub_->CreateQuestionnaire(&ctx, req, out);
  }
  grpc::Status UpdateQ(const Principal& p, const v1::Questionnaire& q, v1::Questionnaire* out,
                       const std::vector<std::string>& mask = {"*"}) {
    grpc::ClientContext ctx;
    As(ctx, p);
    v1::UpdateQuestionnaireRequest req;
    *req.mutable_questionnaire() = q;
    for (const std::string& path : mask) req.mutable_update_mask()->add_paths(path);
    return stub_->UpdateQuestionnaire(&ctx, req, out);
  }
  grpc::Status Desk(const Principal& p, const v1::GetDeskRequest& req, v1::Desk* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    return desk_stub_->GetDesk(&ctx, req, out);
  }
  static v1::ReportPeriod Period(const std::string& from, const std::string& to) {
    v1::ReportPeriod p;
    p.set_from(from);
    p.set_to(to);
    return p;
  }

  struct OutboxRow {
    std::string type;
    std::string aggregate_type;
    std::string aggregate_id;
    std::string topic;
    events::v1::Envelope env;
  };
  std::vector<OutboxRow> Outbox() {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    std::vector<OutboxRow> out;
    for (const pqxx::row& r :
         tx.exec("SELECT type, aggregatetype, aggregateid, topic, payload FROM outbox ORDER BY seq")) {
      OutboxRow o;
      o.type = r[0].as<std::string>();
      o.aggregate_type = r[1].as<std::string>();
      o.aggregate_id = r[2].as<std::string>();
      o.topic = r[3].as<std::string>();
      pqxx::binarystring raw(r[4]);
      EXPECT_TRUE(o.env.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
      out.push_back(std::move(o));
    }
    return out;
  }

  absl::TimeZone zone_ = DefaultCompanyZone();
  ManualClock clock_{absl::FromUnixSeconds(1'795'000'000)};
  std::unique_ptr<pg::testing::TempDatabase> db_;
  std::unique_ptr<pg::Pool> pool_;
  std::optional<auth::SigningKey> gateway_key_;
  std::unique_ptr<pg::testing::TempDatabase> deals_db_;
  std::unique_ptr<pg::Pool> deals_pool_;
  std::unique_ptr<deals::ClientStore> clients_;
  std::unique_ptr<deals::ClientServiceImpl> client_service_;
  std::unique_ptr<rpc::Server> deals_server_;
  std::unique_ptr<DealsClient> deals_client_;
  std::unique_ptr<ApplicationStore> store_;
  std::unique_ptr<ApplicationServiceImpl> apps_;
  std::unique_ptr<DeskServiceImpl> desk_;
  std::unique_ptr<rpc::Server> server_;
  std::unique_ptr<v1::ApplicationService::Stub> stub_;
  std::unique_ptr<v1::DeskService::Stub> desk_stub_;
};

// ----- The status machine ---------------------------------------------------------------------------

// The moves the API promises (applications.proto, applications.h), written out independently.
const std::map<S, std::set<S>>& Allowed() {
  static const auto* m = new std::map<S, std::set<S>>{
      {v1::APPLICATION_STATUS_DRAFT, {v1::APPLICATION_STATUS_SENT, v1::APPLICATION_STATUS_WITHDRAWN}},
      {v1::APPLICATION_STATUS_SENT,
       {v1::APPLICATION_STATUS_UNDER_REVIEW, v1::APPLICATION_STATUS_DOCUMENTS_REQUESTED,
        v1::APPLICATION_STATUS_APPROVED, v1::APPLICATION_STATUS_DECLINED, v1::APPLICATION_STATUS_WITHDRAWN}},
      {v1::APPLICATION_STATUS_UNDER_REVIEW,
       {v1::APPLICATION_STATUS_DOCUMENTS_REQUESTED, v1::APPLICATION_STATUS_APPROVED,
        v1::APPLICATION_STATUS_DECLINED, v1::APPLICATION_STATUS_WITHDRAWN}},
      {v1::APPLICATION_STATUS_DOCUMENTS_REQUESTED,
       {v1::APPLICATION_STATUS_UNDER_REVIEW, v1::APPLICATION_STATUS_APPROVED, v1::APPLICATION_STATUS_DECLINED,
        v1::APPLICATION_STATUS_WITHDRAWN}},
      {v1::APPLICATION_STATUS_APPROVED, {v1::APPLICATION_STATUS_ISSUED, v1::APPLICATION_STATUS_WITHDRAWN}},
      {v1::APPLICATION_STATUS_DECLINED, {}},
      {v1::APPLICATION_STATUS_ISSUED, {}},
      {v1::APPLICATION_STATUS_WITHDRAWN, {}},
  };
  return *m;
}

// How to reach each status from DRAFT.
std::vector<S> PathTo(S s) {
  switch (s) {
    case v1::APPLICATION_STATUS_DRAFT:
      return {};
    case v1::APPLICATION_STATUS_SENT:
      return {v1::APPLICATION_STATUS_SENT};
    case v1::APPLICATION_STATUS_UNDER_REVIEW:
      return {v1::APPLICATION_STATUS_SENT, v1::APPLICATION_STATUS_UNDER_REVIEW};
    case v1::APPLICATION_STATUS_DOCUMENTS_REQUESTED:
      return {v1::APPLICATION_STATUS_SENT, v1::APPLICATION_STATUS_DOCUMENTS_REQUESTED};
    case v1::APPLICATION_STATUS_APPROVED:
      return {v1::APPLICATION_STATUS_SENT, v1::APPLICATION_STATUS_APPROVED};
    case v1::APPLICATION_STATUS_DECLINED:
      return {v1::APPLICATION_STATUS_SENT, v1::APPLICATION_STATUS_DECLINED};
    case v1::APPLICATION_STATUS_ISSUED:
      return {v1::APPLICATION_STATUS_SENT, v1::APPLICATION_STATUS_APPROVED, v1::APPLICATION_STATUS_ISSUED};
    default:
      return {v1::APPLICATION_STATUS_WITHDRAWN};
  }
}

TEST_F(ApplicationsTest, StatusMachineAllowsExactlyThePromisedMoves) {
  int client = 100;
  for (const auto& [from, allowed] : Allowed()) {
    for (int t = 1; t <= 8; ++t) {
      const S to = static_cast<S>(t);
      SCOPED_TRACE(absl::StrCat(v1::ApplicationStatus_Name(from), " -> ", v1::ApplicationStatus_Name(to)));
      v1::Application a = MustCreate(Anna(), App(1, ++client));
      ASSERT_EQ(a.status(), v1::APPLICATION_STATUS_DRAFT);
      ASSERT_EQ(a.version(), 1);
      for (S step : PathTo(from)) a = MustMove(Anna(), a, step);
      ASSERT_EQ(a.status(), from);
      v1::Application out;
      grpc::Status s = Move(Anna(), a.id(), a.version(), to, &out);
      if (allowed.count(to)) {
        ASSERT_TRUE(s.ok()) << s.error_message();
        EXPECT_EQ(out.status(), to);
        EXPECT_EQ(out.version(), a.version() + 1);
        ASSERT_FALSE(out.history().empty());
        EXPECT_EQ(out.history(out.history_size() - 1).from(), from);
        EXPECT_EQ(out.history(out.history_size() - 1).to(), to);
        EXPECT_EQ(out.history(out.history_size() - 1).by(), kAnna);
        EXPECT_EQ(out.history_size(), static_cast<int>(PathTo(from).size()) + 2);  // + the creation
      } else {
        EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
        EXPECT_TRUE(absl::StrContains(s.error_message(), "allowed next statuses")) << s.error_message();
        for (S next : allowed) {
          std::string name =
              v1::ApplicationStatus_Name(next).substr(std::string("APPLICATION_STATUS_").size());
          EXPECT_TRUE(absl::StrContains(s.error_message(), name)) << s.error_message();
        }
        v1::Application again;
        ASSERT_TRUE(Get(Anna(), a.id(), &again).ok());
        EXPECT_EQ(again.status(), from);
        EXPECT_EQ(again.version(), a.version());
      }
    }
  }
}

TEST_F(ApplicationsTest, SendTimeIsTheFirstSend) {
  v1::Application a = MustCreate(Anna(), App(1, 1));
  EXPECT_FALSE(a.has_send_time());
  const absl::Time sent = clock_.Now();
  a = MustMove(Anna(), a, v1::APPLICATION_STATUS_SENT);
  EXPECT_EQ(FromProtoTimestamp(a.send_time()), sent);
  clock_.Advance(absl::Hours(1));
  a = MustMove(Anna(), a, v1::APPLICATION_STATUS_UNDER_REVIEW);
  EXPECT_EQ(FromProtoTimestamp(a.send_time()), sent);
}

TEST_F(ApplicationsTest, ObjectApprovalIsNeverIssued) {
  v1::Application in = App(1, 1);
  in.set_kind(v1::APPLICATION_KIND_OBJECT_APPROVAL);
  v1::Application out;
  grpc::Status s = Create(Anna(), in, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "application.object_description");
  in.set_object_description("ЖК «Сад», корпус 2, кв. 41");
  in.add_documents("https://files.example/plan.pdf");
  v1::Application a = MustCreate(Anna(), in);
  EXPECT_EQ(a.kind(), v1::APPLICATION_KIND_OBJECT_APPROVAL);
  a = MustMove(Anna(), a, v1::APPLICATION_STATUS_SENT);
  a = MustReply(Anna(), a, v1::APPLICATION_STATUS_APPROVED);
  s = Move(Anna(), a.id(), a.version(), v1::APPLICATION_STATUS_ISSUED, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
}

TEST_F(ApplicationsTest, StaleVersionIsAborted) {
  v1::Application a = MustCreate(Anna(), App(1, 1));
  v1::Application sent = MustMove(Anna(), a, v1::APPLICATION_STATUS_SENT);
  v1::Application out;
  grpc::Status s = Move(Anna(), a.id(), a.version(), v1::APPLICATION_STATUS_WITHDRAWN, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  ASSERT_TRUE(Get(Anna(), a.id(), &out).ok());
  EXPECT_EQ(out.status(), v1::APPLICATION_STATUS_SENT);
  EXPECT_EQ(out.version(), sent.version());
}

TEST_F(ApplicationsTest, BankRepliesBecomeTheStatus) {
  v1::Application a = MustCreate(Anna(), App(1, 1));
  v1::Application out;
  grpc::Status s = Reply(Anna(), a.id(), v1::APPLICATION_STATUS_APPROVED, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << "a draft was never sent";
  s = Reply(Anna(), a.id(), v1::APPLICATION_STATUS_SENT, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "reply.decision");

  a = MustMove(Anna(), a, v1::APPLICATION_STATUS_SENT);
  a = MustReply(Anna(), a, v1::APPLICATION_STATUS_UNDER_REVIEW);
  EXPECT_EQ(a.status(), v1::APPLICATION_STATUS_UNDER_REVIEW);
  a = MustReply(Anna(), a, v1::APPLICATION_STATUS_DOCUMENTS_REQUESTED);
  EXPECT_EQ(a.status(), v1::APPLICATION_STATUS_DOCUMENTS_REQUESTED);
  a = MustReply(Anna(), a, v1::APPLICATION_STATUS_APPROVED, "2026-12-01");
  EXPECT_EQ(a.status(), v1::APPLICATION_STATUS_APPROVED);
  ASSERT_EQ(a.replies_size(), 3);
  EXPECT_EQ(a.replies(2).decision(), v1::APPLICATION_STATUS_APPROVED);
  EXPECT_EQ(a.replies(2).valid_until(), "2026-12-01");
  EXPECT_EQ(a.replies(2).recorded_by(), kAnna);
  EXPECT_FALSE(a.replies(2).id().empty());
  // A renewed approval is kept without a move; a decline after an approval is not a move there is.
  const int64_t history = a.history_size();
  a = MustReply(Anna(), a, v1::APPLICATION_STATUS_APPROVED, "2026-12-20");
  EXPECT_EQ(a.replies_size(), 4);
  EXPECT_EQ(a.history_size(), history);
  s = Reply(Anna(), a.id(), v1::APPLICATION_STATUS_DECLINED, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  s = Reply(Anna(), a.id(), v1::APPLICATION_STATUS_APPROVED, &out, "2026-13-01");
  EXPECT_EQ(FirstField(s), "reply.valid_until");

  v1::Application b = MustMove(Anna(), MustCreate(Anna(), App(2, 1)), v1::APPLICATION_STATUS_SENT);
  b = MustReply(Anna(), b, v1::APPLICATION_STATUS_DECLINED);
  EXPECT_EQ(b.status(), v1::APPLICATION_STATUS_DECLINED);
  s = Reply(Anna(), b.id(), v1::APPLICATION_STATUS_DECLINED, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << "a declined application is final";
}

// ----- Questionnaires -------------------------------------------------------------------------------

TEST_F(ApplicationsTest, CompleteQuestionnaireNeedsEveryRequiredField) {
  v1::Questionnaire q;
  q.set_client_id(Client(1));
  q.set_status(v1::Questionnaire::STATUS_COMPLETE);
  q.set_phone("+79161234567");
  v1::Questionnaire out;
  grpc::Status s = CreateQ(Anna(), q, &out);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  std::vector<std::string> fields;
  for (const FieldViolation& v : Violations(s)) fields.push_back(v.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"questionnaire.full_name", "questionnaire.profile.age",
                                              "questionnaire.profile.monthly_income",
                                              "questionnaire.property.price"}));
  for (const std::string& f : fields)
    EXPECT_TRUE(absl::StrContains(s.error_message(), f)) << s.error_message();

  q.set_status(v1::Questionnaire::STATUS_DRAFT);
  ASSERT_TRUE(CreateQ(Anna(), q, &out).ok());
  EXPECT_EQ(out.version(), 1);
  EXPECT_EQ(out.specialist_id(), kAnna);

  v1::Questionnaire full = out;
  full.set_status(v1::Questionnaire::STATUS_COMPLETE);
  full.set_full_name("Иванов Иван Иванович");
  full.mutable_profile()->set_age(34);
  full.mutable_profile()->set_monthly_income(25'000'000);
  s = UpdateQ(Anna(), full, &out);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_EQ(Violations(s).size(), 1u);
  EXPECT_EQ(FirstField(s), "questionnaire.property.price");

  full.mutable_property()->set_price(1'200'000'000);
  v1::Questionnaire done;
  s = UpdateQ(Anna(), full, &done);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(done.version(), 2);
  EXPECT_EQ(done.status(), v1::Questionnaire::STATUS_COMPLETE);

  // The old version again: ABORTED; another specialist: PERMISSION_DENIED.
  s = UpdateQ(Anna(), full, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  s = UpdateQ(Boris(), done, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  // Issue 16: version 0 is "whatever is stored" (last writer wins); the mask says what changes.
  v1::Questionnaire patch;
  patch.set_id(done.id());
  patch.set_employer("ООО Ромашка");
  s = UpdateQ(Anna(), patch, &out, {"employer"});
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.version(), 3);
  EXPECT_EQ(out.employer(), "ООО Ромашка");
  EXPECT_EQ(out.full_name(), "Иванов Иван Иванович");  // not in the mask: kept
  EXPECT_EQ(out.status(), v1::Questionnaire::STATUS_COMPLETE);
  EXPECT_EQ(out.profile().monthly_income(), 25'000'000);
  patch.set_employer("");
  patch.mutable_profile()->set_age(35);
  s = UpdateQ(Anna(), patch, &out, {"profile.age"});  // a nested path: the profile's other fields stay
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.profile().age(), 35);
  EXPECT_EQ(out.profile().monthly_income(), 25'000'000);
  EXPECT_EQ(out.employer(), "ООО Ромашка");
  s = UpdateQ(Anna(), patch, &out, {"employer", "profile.salary"});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "update_mask");
  s = UpdateQ(Anna(), patch, &out, {"full_name"});  // a COMPLETE questionnaire needs its name
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(FirstField(s), "questionnaire.full_name");
}

// ----- Idempotency, the banks limit, the outbox --------------------------------------------------------

TEST_F(ApplicationsTest, CreateAndSaveAreIdempotent) {
  v1::Application first;
  v1::Application second;
  ASSERT_TRUE(Create(Anna(), App(1, 1), &first, false, "key-1").ok());
  ASSERT_TRUE(Create(Anna(), App(1, 1), &second, false, "key-1").ok());
  EXPECT_EQ(first.id(), second.id());
  EXPECT_EQ(first.number(), second.number());
  EXPECT_EQ(db_->Count("SELECT count(*) FROM applications"), 1);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM outbox WHERE type = 'crm.mortgage.application.created.v1'"), 1);
  // The same key with another request is refused; another caller's same key is their own.
  grpc::Status s = Create(Anna(), App(2, 1), &second, false, "key-1");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "idempotency-key");
  ASSERT_TRUE(Create(Boris(), App(1, 1), &second, false, "key-1").ok());
  EXPECT_NE(second.id(), first.id());

  v1::Calculation c1;
  v1::Calculation c2;
  ASSERT_TRUE(SaveCalc(Anna(), 1, "P1", &c1, "calc-1").ok());
  ASSERT_TRUE(SaveCalc(Anna(), 1, "P1", &c2, "calc-1").ok());
  EXPECT_EQ(c1.id(), c2.id());
  EXPECT_EQ(c1.number(), "0000001");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM calculations"), 1);
}

// Issue 16: every creating call of ApplicationService honours its key, the record in the transaction of
// the change: a repeat returns the first reply and changes nothing; the key with another request is 400.
TEST_F(ApplicationsTest, QuestionnairesStatusMovesAndRepliesAreIdempotent) {
  v1::Questionnaire q;
  q.set_client_id(Client(1));
  q.set_full_name("Иванов Иван");
  v1::Questionnaire q1;
  v1::Questionnaire q2;
  ASSERT_TRUE(CreateQ(Anna(), q, &q1, "q-1").ok());
  ASSERT_TRUE(CreateQ(Anna(), q, &q2, "q-1").ok());
  EXPECT_EQ(q1.SerializeAsString(), q2.SerializeAsString());
  EXPECT_EQ(db_->Count("SELECT count(*) FROM questionnaires"), 1);
  q.set_full_name("Петров Пётр");
  grpc::Status s = CreateQ(Anna(), q, &q2, "q-1");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "idempotency-key");

  const v1::Application a = MustCreate(Anna(), App(1, 1));
  v1::Application sent1;
  v1::Application sent2;
  ASSERT_TRUE(Move(Anna(), a.id(), 0, v1::APPLICATION_STATUS_SENT, &sent1, "move-1").ok());
  // Without the key a repeat would be refused (SENT cannot move to SENT): the key returns the first reply.
  s = Move(Anna(), a.id(), 0, v1::APPLICATION_STATUS_SENT, &sent2, "move-1");
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(sent1.SerializeAsString(), sent2.SerializeAsString());
  EXPECT_EQ(db_->Count("SELECT count(*) FROM application_history"), 2);  // created, sent
  s = Move(Anna(), a.id(), 0, v1::APPLICATION_STATUS_WITHDRAWN, &sent2, "move-1");
  EXPECT_EQ(FirstField(s), "idempotency-key");

  v1::Application r1;
  v1::Application r2;
  ASSERT_TRUE(Reply(Anna(), a.id(), v1::APPLICATION_STATUS_UNDER_REVIEW, &r1, "", "reply-1").ok());
  ASSERT_TRUE(Reply(Anna(), a.id(), v1::APPLICATION_STATUS_UNDER_REVIEW, &r2, "", "reply-1").ok());
  EXPECT_EQ(r1.SerializeAsString(), r2.SerializeAsString());
  EXPECT_EQ(r2.replies_size(), 1);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM bank_replies"), 1);
  EXPECT_EQ(
      db_->Count("SELECT count(*) FROM outbox WHERE type = 'crm.mortgage.application.status_changed.v1'"), 2);
  s = Reply(Anna(), a.id(), v1::APPLICATION_STATUS_DECLINED, &r2, "", "reply-1");
  EXPECT_EQ(FirstField(s), "idempotency-key");
}

TEST_F(ApplicationsTest, MoreThanFiveBanksADayNeedsConfirmation) {
  for (int bank = 1; bank <= 5; ++bank) MustCreate(Anna(), App(bank, 7));
  // Another application to a bank already asked is no new inquiry; an object approval is none either.
  MustCreate(Anna(), App(3, 7));
  v1::Application object = App(6, 7);
  object.set_kind(v1::APPLICATION_KIND_OBJECT_APPROVAL);
  object.set_object_description("кв. 41");
  MustCreate(Anna(), object);

  // A business limit (issue 16): FAILED_PRECONDITION in PreconditionFailure's terms, never
  // RESOURCE_EXHAUSTED (429), which client libraries retry.
  v1::Application out;
  grpc::Status s = Create(Anna(), App(6, 7), &out);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_TRUE(absl::StartsWith(s.error_message(),
                               absl::StrCat("precondition BANKS_PER_CLIENT failed for client ", Client(7))))
      << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "the limit is 5")) << s.error_message();
  EXPECT_EQ(FirstField(s), "confirm_many_banks");
  // Another client is not affected; the confirmation lets it through.
  MustCreate(Anna(), App(6, 8));
  s = Create(Anna(), App(6, 7), &out, /*confirm=*/true);
  ASSERT_TRUE(s.ok()) << s.error_message();
  s = Create(Anna(), App(7, 7), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  // A day later the window has moved on.
  clock_.Advance(absl::Hours(24) + absl::Seconds(1));
  s = Create(Anna(), App(7, 7), &out);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(ApplicationsTest, ChangesWriteTheirEventsInTheSameTransaction) {
  v1::Calculation calc;
  ASSERT_TRUE(SaveCalc(Anna(), 1, "P1", &calc).ok());
  EXPECT_EQ(calc.response().offers_size(), 2);
  EXPECT_FALSE(calc.response().offers(0).has_schedule()) << "summaries only";
  EXPECT_EQ(calc.specialist_id(), kAnna);

  v1::Application a = MustCreate(Anna(), App(1, 1));
  a = MustMove(Anna(), a, v1::APPLICATION_STATUS_SENT);
  a = MustReply(Anna(), a, v1::APPLICATION_STATUS_APPROVED, "2026-12-01");
  v1::Application out;
  ASSERT_FALSE(Move(Anna(), a.id(), a.version(), v1::APPLICATION_STATUS_DRAFT, &out).ok());  // no event

  std::vector<OutboxRow> rows = Outbox();
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].type, "crm.mortgage.calculation.saved.v1");
  EXPECT_EQ(rows[0].topic, "crm.mortgage.calculation.v1");
  EXPECT_EQ(rows[0].aggregate_id, Client(1));
  v1::Calculation saved;
  ASSERT_TRUE(rows[0].env.payload().UnpackTo(&saved));
  EXPECT_EQ(saved.number(), calc.number());
  EXPECT_EQ(saved.response().offers_size(), 0);
  EXPECT_EQ(saved.response().eligible_count(), 1);

  const std::vector<std::string> types = {"crm.mortgage.application.created.v1",
                                          "crm.mortgage.application.status_changed.v1",
                                          "crm.mortgage.application.status_changed.v1"};
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(rows[i].type, types[i - 1]);
    EXPECT_EQ(rows[i].topic, "crm.mortgage.application.v1");
    EXPECT_EQ(rows[i].aggregate_id, a.id());
    EXPECT_EQ(rows[i].env.actor().id(), kAnna);
  }
  v1::ApplicationEvent sent;
  ASSERT_TRUE(rows[2].env.payload().UnpackTo(&sent));
  EXPECT_EQ(sent.previous_status(), v1::APPLICATION_STATUS_DRAFT);
  EXPECT_EQ(sent.application().status(), v1::APPLICATION_STATUS_SENT);
  EXPECT_TRUE(sent.application().history().empty());
  v1::ApplicationEvent approved;
  ASSERT_TRUE(rows[3].env.payload().UnpackTo(&approved));
  EXPECT_EQ(approved.previous_status(), v1::APPLICATION_STATUS_SENT);
  EXPECT_EQ(approved.application().status(), v1::APPLICATION_STATUS_APPROVED);
  EXPECT_EQ(approved.reply().valid_until(), "2026-12-01");
}

TEST_F(ApplicationsTest, CalculatorErrorsNameTheRequestField) {
  v1::Calculation out;
  grpc::Status s = SaveCalc(Anna(), 1, "P1", &out, "", /*price=*/0);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "calculation.request.property.price");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM outbox"), 0);
}

// ----- Lists ----------------------------------------------------------------------------------------

TEST_F(ApplicationsTest, ListsPageByKeysetAndShowOnlyOwnWithoutReadAll) {
  std::set<std::string> mine;
  for (int i = 0; i < 5; ++i) {
    mine.insert(MustCreate(Anna(), App(1, 10 + i)).id());
    clock_.Advance(absl::Seconds(1));
  }
  MustCreate(Boris(), App(1, 20));
  std::set<std::string> seen;
  v1::ListApplicationsRequest req;
  req.set_page_size(2);
  for (int guard = 0; guard < 10; ++guard) {
    grpc::ClientContext ctx;
    As(ctx, Anna());
    v1::ListApplicationsResponse resp;
    ASSERT_TRUE(stub_->ListApplications(&ctx, req, &resp).ok());
    EXPECT_LE(resp.applications_size(), 2);
    for (const auto& a : resp.applications()) EXPECT_TRUE(seen.insert(a.id()).second);
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  EXPECT_EQ(seen, mine);

  grpc::ClientContext ctx;
  As(ctx, Head());
  v1::ListApplicationsResponse all;
  ASSERT_TRUE(stub_->ListApplications(&ctx, v1::ListApplicationsRequest(), &all).ok());
  EXPECT_EQ(all.applications_size(), 6);

  grpc::ClientContext bad;
  As(bad, Anna());
  v1::ListApplicationsRequest token;
  token.set_page_token("nonsense");
  grpc::Status s = stub_->ListApplications(&bad, token, &all);
  EXPECT_EQ(FirstField(s), "page_token");
}

// ----- Permissions and validation ---------------------------------------------------------------------

TEST_F(ApplicationsTest, PermissionsAreChecked) {
  v1::Application borises = MustCreate(Boris(), App(1, 1));
  v1::Application out;
  EXPECT_EQ(Create(Other(), App(1, 2), &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Create(CalcOnly(), App(1, 2), &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Get(Anna(), borises.id(), &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Move(Anna(), borises.id(), 1, v1::APPLICATION_STATUS_SENT, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Get(Head(), borises.id(), &out).ok());
  v1::Calculation calc;
  EXPECT_EQ(SaveCalc(Other(), 1, "P1", &calc).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(SaveCalc(CalcOnly(), 1, "P1", &calc).ok());
  {
    grpc::ClientContext ctx;
    As(ctx, Anna());
    v1::GetCalculationRequest req;
    req.set_id(calc.id());
    v1::Calculation got;
    EXPECT_EQ(stub_->GetCalculation(&ctx, req, &got).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    As(ctx, CalcOnly());
    v1::GetCalculationRequest req;
    req.set_id(calc.id());
    v1::Calculation got;
    ASSERT_TRUE(stub_->GetCalculation(&ctx, req, &got).ok());
    EXPECT_EQ(got.response().offers_size(), 2);
  }
  {
    grpc::ClientContext ctx;
    As(ctx, Anna());
    v1::ListCalculationsRequest req;
    req.set_specialist_id(kCalcOnly);
    v1::ListCalculationsResponse resp;
    EXPECT_EQ(stub_->ListCalculations(&ctx, req, &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    As(ctx, Anna());
    v1::BankEfficiencyRequest req;
    *req.mutable_period() = Period("2026-11-01", "2026-11-30");
    v1::BankEfficiency resp;
    EXPECT_EQ(desk_stub_->GetBankEfficiency(&ctx, req, &resp).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    v1::GetDeskRequest req;
    req.set_specialist_id(kBoris);
    v1::Desk desk;
    EXPECT_EQ(Desk(Anna(), req, &desk).error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(Desk(Other(), v1::GetDeskRequest(), &desk).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
}

TEST_F(ApplicationsTest, InvalidInputNamesTheField) {
  v1::Application out;
  v1::Application a = App(1, 1);
  a.clear_bank_id();
  EXPECT_EQ(FirstField(Create(Anna(), a, &out)), "application.bank_id");
  a.set_bank_id("01900000-0000-7000-8000-0000000bffff");
  EXPECT_EQ(FirstField(Create(Anna(), a, &out)), "application.bank_id");
  a = App(1, 1);
  a.set_rate("8,99%");
  EXPECT_EQ(FirstField(Create(Anna(), a, &out)), "application.rate");
  a = App(1, 1);
  a.set_client_id("");
  EXPECT_EQ(FirstField(Create(Anna(), a, &out)), "application.client_id");

  grpc::ClientContext ctx;
  As(ctx, Head());
  v1::ApplicationsReportRequest req;
  req.mutable_period()->set_to("2026-11-30");
  v1::ApplicationsReport report;
  grpc::Status s = desk_stub_->GetApplicationsReport(&ctx, req, &report);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "period.from");
}

std::vector<std::string> Fields(const grpc::Status& s) {
  std::vector<std::string> out;
  for (const FieldViolation& f : Violations(s)) out.push_back(f.field);
  return out;
}

// Issue 16: every violation at once, each named as the proto spells it; a malformed id is 400.
TEST_F(ApplicationsTest, EveryBadFieldIsNamedAtOnce) {
  v1::Application out;
  v1::Application a = App(1, 1);
  a.set_bank_id("bank-1");
  a.set_deal_id("deal?");
  a.set_rate("8,99%");
  a.set_status(v1::APPLICATION_STATUS_SENT);
  a.set_kind(v1::APPLICATION_KIND_OBJECT_APPROVAL);
  grpc::Status s = Create(Anna(), a, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Fields(s),
            (std::vector<std::string>{"application.bank_id", "application.deal_id", "application.rate",
                                      "application.status", "application.object_description"}));
  EXPECT_TRUE(absl::StrContains(s.error_message(), "application.bank_id: must be a UUID (and 4 more)"))
      << s.error_message();

  v1::Questionnaire q;
  q.set_client_id("c");
  q.set_phone(std::string(65, '9'));
  for (int i = 0; i < 11; ++i) q.add_co_borrower_names("Созаёмщик");
  v1::Questionnaire qout;
  EXPECT_EQ(Fields(CreateQ(Anna(), q, &qout)),
            (std::vector<std::string>{"questionnaire.client_id", "questionnaire.phone",
                                      "questionnaire.co_borrower_names"}));

  grpc::ClientContext ctx;
  As(ctx, Anna());
  v1::RecordBankReplyRequest reply;
  reply.set_id("42");
  reply.mutable_reply()->set_approved_rate("a lot");
  reply.mutable_reply()->set_valid_until("2026-13-01");
  EXPECT_EQ(Fields(stub_->RecordBankReply(&ctx, reply, &out)),
            (std::vector<std::string>{"id", "reply.decision", "reply.approved_rate", "reply.valid_until"}));

  grpc::ClientContext list_ctx;
  As(list_ctx, Anna());
  v1::ListApplicationsRequest list;
  list.set_page_size(-1);
  list.set_page_token("???");
  list.set_client_id("c-1");
  v1::ListApplicationsResponse page;
  EXPECT_EQ(Fields(stub_->ListApplications(&list_ctx, list, &page)),
            (std::vector<std::string>{"page_size", "page_token", "client_id"}));

  v1::Application got;
  EXPECT_EQ(FirstField(Get(Anna(), "not-an-id", &got)), "id");
  EXPECT_EQ(Get(Anna(), "not-an-id", &got).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// ----- The desk -------------------------------------------------------------------------------------

// Issue 16: every list of the desk is paged; a token continues its own list only.
TEST_F(ApplicationsTest, DeskListsArePaged) {
  std::set<std::string> created;
  for (int bank = 1; bank <= 5; ++bank) {
    created.insert(MustCreate(Anna(), App(bank, 3)).id());
    clock_.Advance(absl::Seconds(1));
  }
  v1::GetDeskRequest req;
  req.set_page_size(2);
  std::set<std::string> seen;
  std::vector<std::string> order;
  int pages = 0;
  do {
    v1::Desk desk;
    grpc::Status s = Desk(Anna(), req, &desk);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_LE(desk.drafts_size(), 2);
    for (const v1::Application& a : desk.drafts()) {
      seen.insert(a.id());
      order.push_back(a.id());
    }
    if (pages > 0) {
      EXPECT_EQ(desk.incomplete_questionnaires_size(), 0);  // only the list asked for
    }
    auto it = desk.next_page_tokens().find("drafts");
    req.set_page_token(it == desk.next_page_tokens().end() ? "" : it->second);
    ++pages;
  } while (!req.page_token().empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, created);
  EXPECT_EQ(order.size(), 5u);  // newest change first, none twice

  v1::GetDeskRequest bad;
  bad.set_page_size(-1);
  bad.set_page_token("k1.bm9wZQ.MQ.Mg");
  v1::Desk desk;
  EXPECT_EQ(Fields(Desk(Anna(), bad, &desk)), (std::vector<std::string>{"page_size", "page_token"}));
  bad.set_page_size(100000);  // clamped to the maximum
  bad.clear_page_token();
  EXPECT_TRUE(Desk(Anna(), bad, &desk).ok());
}

TEST_F(ApplicationsTest, DeskShowsTodaysWorkInTheCompanyZone) {
  // 23:30 in Moscow (20:30 UTC): a calculation late on 2 November.
  clock_.Set(absl::FromCivil(absl::CivilSecond(2026, 11, 2, 23, 30, 0), zone_));
  v1::Calculation calc;
  ASSERT_TRUE(SaveCalc(Anna(), 1, "P1", &calc).ok());
  // 00:30 on 3 November in Moscow (still 2 November in UTC).
  clock_.Set(absl::FromCivil(absl::CivilSecond(2026, 11, 3, 0, 30, 0), zone_));
  ASSERT_TRUE(SaveCalc(Anna(), 1, "P1", &calc).ok());
  ASSERT_TRUE(SaveCalc(Boris(), 2, "P1", &calc).ok());

  v1::Application draft = MustCreate(Anna(), App(1, 1));
  v1::Application docs = MustMove(Anna(), MustCreate(Anna(), App(2, 1)), v1::APPLICATION_STATUS_SENT);
  docs = MustReply(Anna(), docs, v1::APPLICATION_STATUS_DOCUMENTS_REQUESTED);
  v1::Application approved = MustMove(Anna(), MustCreate(Anna(), App(3, 1)), v1::APPLICATION_STATUS_SENT);
  approved = MustReply(Anna(), approved, v1::APPLICATION_STATUS_APPROVED, "2026-11-14");
  MustCreate(Boris(), App(1, 2));
  v1::Questionnaire q;
  q.set_client_id(Client(1));
  v1::Questionnaire qout;
  ASSERT_TRUE(CreateQ(Anna(), q, &qout).ok());

  v1::Desk desk;
  ASSERT_TRUE(Desk(Anna(), v1::GetDeskRequest(), &desk).ok());
  ASSERT_EQ(desk.drafts_size(), 1);
  EXPECT_EQ(desk.drafts(0).id(), draft.id());
  ASSERT_EQ(desk.documents_requested_size(), 1);
  EXPECT_EQ(desk.documents_requested(0).id(), docs.id());
  ASSERT_EQ(desk.approved_size(), 1);
  EXPECT_EQ(desk.approved(0).id(), approved.id());
  EXPECT_EQ(desk.expiring_size(), 0) << "14 November is 11 days away";
  ASSERT_EQ(desk.incomplete_questionnaires_size(), 1);
  EXPECT_EQ(desk.calculations_today(), 1) << "the 23:30 one was yesterday in Moscow";
  EXPECT_EQ(desk.replies_today(), 2);

  // Four days later the approval expires within a week; nothing was done today.
  clock_.Advance(absl::Hours(24 * 4));
  ASSERT_TRUE(Desk(Anna(), v1::GetDeskRequest(), &desk).ok());
  ASSERT_EQ(desk.expiring_size(), 1);
  EXPECT_EQ(desk.expiring(0).id(), approved.id());
  ASSERT_EQ(desk.expiring(0).replies_size(), 1);
  EXPECT_EQ(desk.calculations_today(), 0);
  EXPECT_EQ(desk.replies_today(), 0);
  // Past its date it is no longer "expiring".
  clock_.Advance(absl::Hours(24 * 8));
  ASSERT_TRUE(Desk(Anna(), v1::GetDeskRequest(), &desk).ok());
  EXPECT_EQ(desk.expiring_size(), 0);

  // The head: everyone's with only_mine = false, their own with only_mine = true, Boris's on request.
  ASSERT_TRUE(Desk(Head(), v1::GetDeskRequest(), &desk).ok());
  EXPECT_EQ(desk.drafts_size(), 2);
  v1::GetDeskRequest mine;
  mine.set_only_mine(true);
  ASSERT_TRUE(Desk(Head(), mine, &desk).ok());
  EXPECT_EQ(desk.drafts_size(), 0);
  v1::GetDeskRequest boris;
  boris.set_specialist_id(kBoris);
  ASSERT_TRUE(Desk(Head(), boris, &desk).ok());
  EXPECT_EQ(desk.drafts_size(), 1);
  // Anna without read.all sees only her own even with only_mine = false.
  ASSERT_TRUE(Desk(Anna(), v1::GetDeskRequest(), &desk).ok());
  EXPECT_EQ(desk.drafts_size(), 1);
}

// ----- The reports ----------------------------------------------------------------------------------

TEST_F(ApplicationsTest, ReportsCountAKnownDataSet) {
  // Sunday 1 November 23:59 Moscow: outside a period starting 2 November.
  clock_.Set(absl::FromCivil(absl::CivilSecond(2026, 11, 1, 23, 59, 0), zone_));
  MustCreate(Anna(), App(1, 99, "P1"));
  v1::Calculation calc;
  ASSERT_TRUE(SaveCalc(Anna(), 99, "P1", &calc).ok());

  // Monday 2 November 09:00: Anna's four to bank 1, Boris's two to bank 2, all sent at once.
  const absl::Time day1 = absl::FromCivil(absl::CivilSecond(2026, 11, 2, 9, 0, 0), zone_);
  clock_.Set(day1);
  ASSERT_TRUE(SaveCalc(Anna(), 1, "P1", &calc).ok());
  ASSERT_TRUE(SaveCalc(Anna(), 2, "P2", &calc).ok());
  ASSERT_TRUE(SaveCalc(Boris(), 3, "P1", &calc).ok());
  v1::Questionnaire q;
  q.set_client_id(Client(1));
  v1::Questionnaire qout;
  ASSERT_TRUE(CreateQ(Anna(), q, &qout).ok());
  auto sent = [&](const Principal& p, int bank, int client, const std::string& project) {
    return MustMove(p, MustCreate(p, App(bank, client, project)), v1::APPLICATION_STATUS_SENT);
  };
  v1::Application a1 = sent(Anna(), 1, 1, "P1");
  v1::Application a2 = sent(Anna(), 1, 2, "P1");
  v1::Application a3 = sent(Anna(), 1, 3, "P2");
  v1::Application a4 = sent(Anna(), 1, 4, "P2");
  v1::Application b1 = sent(Boris(), 2, 5, "P1");
  MustCreate(Boris(), App(2, 6, "P1"));  // a draft, never sent

  clock_.Set(day1 + absl::Hours(24));  // day 2
  a2 = MustReply(Anna(), a2, v1::APPLICATION_STATUS_DECLINED);
  b1 = MustReply(Boris(), b1, v1::APPLICATION_STATUS_APPROVED, "2026-12-31");
  a3 = MustReply(Anna(), a3, v1::APPLICATION_STATUS_UNDER_REVIEW);
  clock_.Set(day1 + absl::Hours(48));  // day 3
  a1 = MustReply(Anna(), a1, v1::APPLICATION_STATUS_APPROVED, "2026-12-31");
  clock_.Set(day1 + absl::Hours(72));  // day 4
  a4 = MustReply(Anna(), a4, v1::APPLICATION_STATUS_APPROVED, "2026-12-31");
  b1 = MustMove(Boris(), b1, v1::APPLICATION_STATUS_ISSUED);

  const v1::ReportPeriod week = Period("2026-11-02", "2026-11-08");
  {
    grpc::ClientContext ctx;
    As(ctx, Head());
    v1::BankEfficiencyRequest req;
    *req.mutable_period() = week;
    v1::BankEfficiency r;
    ASSERT_TRUE(desk_stub_->GetBankEfficiency(&ctx, req, &r).ok());
    ASSERT_EQ(r.rows_size(), 2);
    EXPECT_EQ(r.rows(0).bank_id(), Bank(1));
    EXPECT_EQ(r.rows(0).bank_name(), "Банк 1");
    EXPECT_EQ(r.rows(0).sent(), 4);
    EXPECT_EQ(r.rows(0).approved(), 2);
    EXPECT_EQ(r.rows(0).declined(), 1);
    EXPECT_EQ(r.rows(0).pending(), 1);
    EXPECT_EQ(r.rows(0).approval_rate(), "0.6667");
    EXPECT_EQ(r.rows(0).avg_decision_days(), "2.0");  // (2 + 1 + 3) / 3
    EXPECT_EQ(r.rows(1).bank_id(), Bank(2));
    EXPECT_EQ(r.rows(1).sent(), 1);
    EXPECT_EQ(r.rows(1).approved(), 1);
    EXPECT_EQ(r.rows(1).declined(), 0);
    EXPECT_EQ(r.rows(1).pending(), 0);
    EXPECT_EQ(r.rows(1).approval_rate(), "1.0000");
    EXPECT_EQ(r.rows(1).avg_decision_days(), "1.0");
  }
  {
    grpc::ClientContext ctx;
    As(ctx, Head());
    v1::ApplicationsReportRequest req;
    *req.mutable_period() = week;
    req.set_project("P1");
    v1::ApplicationsReport r;
    ASSERT_TRUE(desk_stub_->GetApplicationsReport(&ctx, req, &r).ok());
    std::set<std::string> ids;
    for (const auto& a : r.applications()) ids.insert(a.id());
    EXPECT_EQ(r.applications_size(), 4);  // a1, a2, b1 and Boris's draft; not the one of 1 November
    EXPECT_TRUE(ids.count(a1.id()) && ids.count(a2.id()) && ids.count(b1.id()));
    EXPECT_EQ(r.by_status().at("APPROVED"), 1);
    EXPECT_EQ(r.by_status().at("DECLINED"), 1);
    EXPECT_EQ(r.by_status().at("ISSUED"), 1);
    EXPECT_EQ(r.by_status().at("DRAFT"), 1);
    EXPECT_EQ(r.by_status().size(), 4u);
  }
  {
    grpc::ClientContext ctx;
    As(ctx, Head());
    v1::ApplicationsReportRequest req;
    *req.mutable_period() = week;
    req.set_project("P1");
    req.set_bank_id(Bank(1));
    v1::ApplicationsReport r;
    ASSERT_TRUE(desk_stub_->GetApplicationsReport(&ctx, req, &r).ok());
    EXPECT_EQ(r.applications_size(), 2);
  }
  {
    grpc::ClientContext ctx;
    As(ctx, Head());
    v1::CalculationsReportRequest req;
    *req.mutable_period() = week;
    req.set_project("P1");
    v1::CalculationsReport r;
    ASSERT_TRUE(desk_stub_->GetCalculationsReport(&ctx, req, &r).ok());
    ASSERT_EQ(r.calculations_size(), 2);
    EXPECT_FALSE(r.calculations(0).has_response());
    v1::CalculationsReportRequest wider;
    *wider.mutable_period() = Period("2026-11-01", "2026-11-08");
    grpc::ClientContext ctx2;
    As(ctx2, Head());
    ASSERT_TRUE(desk_stub_->GetCalculationsReport(&ctx2, wider, &r).ok());
    EXPECT_EQ(r.calculations_size(), 4);
    EXPECT_TRUE(r.next_page_token().empty());
    // Paged (issue 16: every list paginated): three pages of at most 3 then 1, the same rows in order.
    std::vector<std::string> all, paged;
    for (const auto& c : r.calculations()) all.push_back(c.id());
    wider.set_page_size(3);
    for (int page = 0; page < 3; ++page) {
      grpc::ClientContext pctx;
      As(pctx, Head());
      v1::CalculationsReport part;
      ASSERT_TRUE(desk_stub_->GetCalculationsReport(&pctx, wider, &part).ok());
      for (const auto& c : part.calculations()) paged.push_back(c.id());
      if (part.next_page_token().empty()) break;
      EXPECT_EQ(part.calculations_size(), 3);
      wider.set_page_token(part.next_page_token());
    }
    EXPECT_EQ(paged, all);
  }
  {
    // The applications report pages the same way; the counts by status are the whole period's on each page.
    std::vector<std::string> paged;
    v1::ApplicationsReportRequest req;
    *req.mutable_period() = week;
    req.set_project("P1");
    req.set_page_size(1);
    for (int page = 0; page < 10; ++page) {
      grpc::ClientContext ctx;
      As(ctx, Head());
      v1::ApplicationsReport r;
      ASSERT_TRUE(desk_stub_->GetApplicationsReport(&ctx, req, &r).ok());
      EXPECT_EQ(r.by_status().at("APPROVED"), 1);
      for (const auto& a : r.applications()) paged.push_back(a.id());
      if (r.next_page_token().empty()) break;
      req.set_page_token(r.next_page_token());
    }
    EXPECT_EQ(paged.size(), 4u);
    EXPECT_EQ(std::set<std::string>(paged.begin(), paged.end()).size(), 4u);
    grpc::ClientContext ctx;
    As(ctx, Head());
    req.set_page_size(-1);
    v1::ApplicationsReport r;
    const grpc::Status refused = desk_stub_->GetApplicationsReport(&ctx, req, &r);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(refused.error_message().find("page_size"), std::string::npos);
  }
  {
    grpc::ClientContext ctx;
    As(ctx, Head());
    v1::SpecialistKpisRequest req;
    *req.mutable_period() = week;
    v1::SpecialistKpis r;
    ASSERT_TRUE(desk_stub_->GetSpecialistKpis(&ctx, req, &r).ok());
    ASSERT_EQ(r.rows_size(), 2);
    EXPECT_EQ(r.rows(0).specialist_id(), kAnna);
    EXPECT_EQ(r.rows(0).calculations(), 2);
    EXPECT_EQ(r.rows(0).questionnaires(), 1);
    EXPECT_EQ(r.rows(0).applications(), 4);
    EXPECT_EQ(r.rows(0).approvals(), 2);
    EXPECT_EQ(r.rows(0).issued(), 0);
    EXPECT_EQ(r.rows(0).approval_rate(), "0.6667");
    EXPECT_EQ(r.rows(1).specialist_id(), kBoris);
    EXPECT_EQ(r.rows(1).calculations(), 1);
    EXPECT_EQ(r.rows(1).questionnaires(), 0);
    EXPECT_EQ(r.rows(1).applications(), 2);
    EXPECT_EQ(r.rows(1).approvals(), 1);
    EXPECT_EQ(r.rows(1).issued(), 1);
    EXPECT_EQ(r.rows(1).approval_rate(), "1.0000");
  }
}

}  // namespace
}  // namespace crm::mortgage
