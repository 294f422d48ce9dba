// File: services/deals/deals_testing.h
// -----------------------------------------------------------------------------
// The test fixture of DealService tests (deals_test.cc, copy_test.cc): an in-process crm::rpc::Server
// on loopback trusting a test "gateway" key that signs principals, a fresh PostgreSQL database per test
// (CRM_TEST_PG_DSN) with the events and deals migrations, a test pipeline with gated stages and two
// custom fields inserted by SQL, the users below, and a ManualClock. Test code only.
//
// Example:
//   class CopyTest : public crm::deals::fixture::DealsFixture {};
//   TEST_F(CopyTest, Something) { v1::Deal d = MustCreate(Anna(), Named("Сделка")); ... }
#ifndef CRM_SERVICES_DEALS_DEALS_TESTING_H_
#define CRM_SERVICES_DEALS_DEALS_TESTING_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <pqxx/binarystring>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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
#include "services/deals/deals.h"

namespace crm {
const std::vector<crm::pg::Migration>& DealsMigrations();
}  // namespace crm

namespace crm::deals::fixture {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;

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

inline Principal User(const std::string& id, std::vector<std::string> perms, std::vector<std::string> teams = {}) {
  Principal p;
  p.set_kind(Principal::KIND_USER);
  p.set_id(id);
  for (auto& s : perms) p.add_permissions(s);
  for (auto& t : teams) p.add_team_ids(t);
  return p;
}

inline Principal Anna() { return User(kAnna, {"deals.read.own", "deals.write.own"}, {kTeam1}); }
inline Principal Boris() { return User(kBoris, {"deals.read.own", "deals.write.own"}, {kTeam2}); }
inline Principal Lena() { return User(kLena, {"deals.read.team", "deals.write.team"}, {kTeam1}); }
inline Principal Head() { return User(kHead, {"deals.read.all", "deals.write.all"}, {kTeam1}); }
inline Principal Auditor() { return User(kHead, {"deals.read.all"}); }

class DealsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = pg::testing::TempDatabase::Create("deals");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    std::vector<pg::Migration> all = EventsMigrations();
    all.insert(all.end(), DealsMigrations().begin(), DealsMigrations().end());
    ASSERT_TRUE(pg::Migrate(db_->dsn(), all).ok());
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
        "('object_type', 'Тип объекта', 7, '{flat,house}'), ('area', 'Площадь', 2, '{}');"));
    auto pool = pg::Pool::Create({.dsn = db_->dsn(), .size = 4});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
    store_ = std::make_unique<DealStore>(*pool_, clock_);
    service_ = std::make_unique<DealServiceImpl>(*store_);
    gateway_key_ = *auth::SigningKey::Generate("gw-test");
    auth::KeySet trusted;
    trusted.Add(gateway_key_->public_key());
    static std::atomic<int> n{0};
    rpc::ServerOptions o;
    o.service = absl::StrCat("deals_t", n++);
    o.grpc_address = "127.0.0.1:0";
    o.metrics_address = "127.0.0.1:0";
    server_ = std::make_unique<rpc::Server>(o);
    server_->SetPrincipalVerifier(rpc::SignedPrincipals(trusted, clock_));
    server_->AddService(service_.get());
    ASSERT_TRUE(server_->Start().ok());
    stub_ = v1::DealService::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->grpc_port()),
                                                         grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_) {
      server_->Shutdown();
      server_->Wait();
    }
  }

  void Sql(const std::string& sql) {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    tx.exec(sql);
    tx.commit();
  }
  int64_t Count(const std::string& sql) {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    return tx.exec1(sql)[0].as<int64_t>();
  }

  void As(grpc::ClientContext& ctx, const Principal& p) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    const std::string bytes = p.SerializeAsString();
    ctx.AddMetadata(rpc::kPrincipalHeader, bytes);
    ctx.AddMetadata(std::string(auth::kPrincipalSigHeader),
                    *auth::SignPrincipalBytes(bytes, *gateway_key_, clock_.Now()));
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

  ManualClock clock_{absl::FromUnixSeconds(1'795'000'000)};
  std::unique_ptr<pg::testing::TempDatabase> db_;
  std::unique_ptr<pg::Pool> pool_;
  std::unique_ptr<DealStore> store_;
  std::unique_ptr<DealServiceImpl> service_;
  std::optional<auth::SigningKey> gateway_key_;
  std::unique_ptr<rpc::Server> server_;
  std::unique_ptr<v1::DealService::Stub> stub_;
};

// The first field an INVALID_ARGUMENT names ("" when none).
inline std::string FirstField(const grpc::Status& s) {
  auto v = FieldViolations(FromGrpcStatus(s));
  return v.empty() ? "" : v[0].field;
}

}  // namespace crm::deals::fixture

#endif  // CRM_SERVICES_DEALS_DEALS_TESTING_H_
