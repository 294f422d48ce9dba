// File: services/deals/commerce_test.cc
// Products, the catalogue, payments and orders (D6–D8) end to end on the ServiceTest harness
// (deals_testing.h): an in-process crm::rpc::Server with CatalogService, DealProductService,
// PaymentService and OrderService trusting a test "gateway" key that signs principals, a fresh
// PostgreSQL database per test (CRM_TEST_PG_DSN) with the events and deals migrations, deals inserted by
// SQL, and a ManualClock.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <pqxx/binarystring>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "crm/deals/v1/commerce.grpc.pb.h"
#include "crm/deals/v1/events.pb.h"
#include "crm/events/v1/envelope.pb.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/pool.h"
#include "services/deals/deals.h"
#include "services/deals/deals_testing.h"
#include "services/deals/orders.h"
#include "services/deals/payments.h"
#include "services/deals/products.h"

namespace crm::deals {
namespace {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;
using fixture::FirstField;
using fixture::kAnna;
using fixture::kBoris;
using fixture::kNew;
using fixture::kPipeline;
using fixture::kTeam1;
using fixture::User;
using grpc::StatusCode;

constexpr char kInteg[] = "01900000-0000-7000-8000-00000000f003";

// Anna: a manager, her own deals, payments.
Principal Anna() { return User(kAnna, {"deals.read.own", "deals.write.own", "payments.write"}, {kTeam1}); }
// Anna without payments.write.
Principal AnnaNoPayments() { return User(kAnna, {"deals.read.own", "deals.write.own"}, {kTeam1}); }
// Boris: another manager with his own deals only.
Principal Boris() { return User(kBoris, {"deals.read.own", "deals.write.own", "payments.write"}, {kTeam1}); }
// A reader of every deal who may change none.
Principal Reader() { return User(kBoris, {"deals.read.all", "payments.write"}, {kTeam1}); }
// The 1C integration.
Principal Integrator() { return User(kInteg, {"deals.read.all", "catalog.manage"}, {kTeam1}); }

crm::common::v1::Money Rub(int64_t minor) {
  crm::common::v1::Money m;
  m.set_amount_minor(minor);
  m.set_currency("RUB");
  return m;
}

// 2026-03-10 21:30 UTC is already 2026-03-11 00:30 in Moscow.
const absl::Time kStart = absl::FromCivil(absl::CivilSecond(2026, 3, 10, 21, 30, 0), absl::UTCTimeZone());

class CommerceTest : public fixture::ServiceTest {
 protected:
  CommerceTest() : ServiceTest("deals_commerce") {}

  void SetUp() override {
    clock_.Set(kStart);
    ASSERT_NO_FATAL_FAILURE(ServiceTest::SetUp());
    Sql(absl::StrCat("INSERT INTO pipelines (id, name) VALUES ('", kPipeline,
                     "', 'Продажа'); INSERT INTO stages (id, pipeline_id, position, name, kind) VALUES ('",
                     kNew, "', '", kPipeline, "', 1, 'Новая', 1);"));
    auto zone = LoadTimeZone(kDefaultPaymentTimeZone);
    ASSERT_TRUE(zone.ok()) << zone.status();
    deals_ = std::make_unique<DealStore>(*pool_, clock_);
    catalog_ = std::make_unique<CatalogStore>(*pool_, clock_);
    lines_ = std::make_unique<DealProductStore>(*pool_, clock_);
    payments_ = std::make_unique<PaymentStore>(*pool_, clock_, *deals_, *zone);
    orders_ = std::make_unique<OrderStore>(*pool_, clock_);
    catalog_service_ = std::make_unique<CatalogServiceImpl>(*catalog_);
    lines_service_ = std::make_unique<DealProductServiceImpl>(*lines_);
    payments_service_ = std::make_unique<PaymentServiceImpl>(*payments_);
    orders_service_ = std::make_unique<OrderServiceImpl>(*orders_);
    auto channel =
        Serve({catalog_service_.get(), lines_service_.get(), payments_service_.get(), orders_service_.get()});
    catalog_stub_ = v1::CatalogService::NewStub(channel);
    lines_stub_ = v1::DealProductService::NewStub(channel);
    payments_stub_ = v1::PaymentService::NewStub(channel);
    orders_stub_ = v1::OrderService::NewStub(channel);
  }

  int64_t Outbox(const std::string& type) {
    return Count(absl::StrCat("SELECT count(*) FROM outbox WHERE type = '", type, "'"));
  }

  // A deal of `responsible` with budget `amount_minor` RUB, inserted by SQL.
  std::string Deal(const std::string& responsible, int64_t amount_minor = 0) {
    const std::string id = NewUuidV7();
    Sql(absl::StrCat(
        "INSERT INTO deals (id, name, pipeline_id, stage_id, status, responsible_id, amount_minor) "
        "VALUES ('",
        id, "', 'Сделка', '", kPipeline, "', '", kNew, "', 1, '", responsible, "', ", amount_minor, ")"));
    return id;
  }
  v1::Deal GetDeal(const std::string& id) {
    auto d = deals_->Get(User(kAnna, {"deals.read.all"}, {kTeam1}), id);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : v1::Deal();
  }

  // Calls `method` of `stub` as `who`.
  template <typename Stub, typename Req, typename Resp>
  grpc::Status Call(const Principal& who, Stub& stub,
                    grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*), const Req& req,
                    Resp* out) {
    grpc::ClientContext ctx;
    As(ctx, who);
    if (!key_.empty()) ctx.AddMetadata("idempotency-key", key_);
    return (stub.*method)(&ctx, req, out);
  }

  // The Idempotency-Key every following Call sends ("" = none).
  std::string key_;

  grpc::Status Upsert(const Principal& who, const v1::Product& p, v1::UpsertProductResponse* out) {
    v1::UpsertProductRequest req;
    *req.mutable_product() = p;
    return Call(who, *catalog_stub_, &v1::CatalogService::Stub::UpsertProduct, req, out);
  }
  grpc::Status AddLine(const Principal& who, const std::string& deal, const v1::DealProduct& l,
                       v1::DealProduct* out) {
    v1::AddDealProductRequest req;
    req.set_deal_id(deal);
    *req.mutable_product() = l;
    return Call(who, *lines_stub_, &v1::DealProductService::Stub::AddDealProduct, req, out);
  }
  grpc::Status Panel(const Principal& who, const std::string& deal, v1::PaymentPanel* out) {
    v1::GetPaymentPanelRequest req;
    req.set_deal_id(deal);
    return Call(who, *payments_stub_, &v1::PaymentService::Stub::GetPaymentPanel, req, out);
  }
  grpc::Status AddPayment(const Principal& who, const std::string& deal, int64_t minor,
                          const std::string& due, v1::PaymentPanel* out) {
    v1::AddPaymentRequest req;
    req.set_deal_id(deal);
    *req.mutable_payment()->mutable_amount() = Rub(minor);
    req.mutable_payment()->set_due_date(due);
    return Call(who, *payments_stub_, &v1::PaymentService::Stub::AddPayment, req, out);
  }
  grpc::Status Schedule(const Principal& who, const std::string& deal, std::vector<int> percents,
                        std::optional<int64_t> total, v1::PaymentPanel* out) {
    v1::ApplyPaymentScheduleRequest req;
    req.set_deal_id(deal);
    int day = 1;
    for (int pct : percents) {
      v1::SchedulePart* part = req.add_parts();
      part->set_percent(pct);
      part->set_due_date(absl::StrCat("2026-0", 4 + (day - 1) % 5, "-01"));
      ++day;
    }
    if (total.has_value()) *req.mutable_total() = Rub(*total);
    return Call(who, *payments_stub_, &v1::PaymentService::Stub::ApplyPaymentSchedule, req, out);
  }
  grpc::Status MarkReceived(const Principal& who, const std::string& deal, const std::string& id,
                            v1::PaymentPanel* out, bool undo = false) {
    v1::MarkPaymentReceivedRequest req;
    req.set_deal_id(deal);
    req.set_id(id);
    req.set_undo(undo);
    return Call(who, *payments_stub_, &v1::PaymentService::Stub::MarkPaymentReceived, req, out);
  }

  static v1::Product Product(const std::string& external_id, int64_t price) {
    v1::Product p;
    p.set_external_id(external_id);
    p.set_sku("ART-" + external_id);
    p.set_name("Профиль алюминиевый " + external_id);
    p.set_unit("м");
    *p.mutable_price() = Rub(price);
    p.set_vat_basis_points(2000);
    p.set_active(true);
    return p;
  }

  std::unique_ptr<DealStore> deals_;
  std::unique_ptr<CatalogStore> catalog_;
  std::unique_ptr<DealProductStore> lines_;
  std::unique_ptr<PaymentStore> payments_;
  std::unique_ptr<OrderStore> orders_;
  std::unique_ptr<CatalogServiceImpl> catalog_service_;
  std::unique_ptr<DealProductServiceImpl> lines_service_;
  std::unique_ptr<PaymentServiceImpl> payments_service_;
  std::unique_ptr<OrderServiceImpl> orders_service_;
  std::unique_ptr<v1::CatalogService::Stub> catalog_stub_;
  std::unique_ptr<v1::DealProductService::Stub> lines_stub_;
  std::unique_ptr<v1::PaymentService::Stub> payments_stub_;
  std::unique_ptr<v1::OrderService::Stub> orders_stub_;
};

// ---------------------------------------------------------------------------------------------------
// D6: the catalogue

TEST_F(CommerceTest, UpsertByExternalIdIsIdempotent) {
  v1::UpsertProductResponse first, again, changed;
  ASSERT_TRUE(Upsert(Integrator(), Product("1C-001", 150000), &first).ok());
  EXPECT_TRUE(first.created());
  EXPECT_TRUE(first.changed());
  EXPECT_EQ(first.product().version(), 1);
  EXPECT_EQ(first.product().vat_basis_points(), 2000);
  ASSERT_TRUE(Upsert(Integrator(), Product("1C-001", 150000), &again).ok());
  EXPECT_FALSE(again.created());
  EXPECT_FALSE(again.changed());
  EXPECT_EQ(again.product().id(), first.product().id());
  EXPECT_EQ(again.product().version(), 1);
  ASSERT_TRUE(Upsert(Integrator(), Product("1C-001", 175000), &changed).ok());
  EXPECT_FALSE(changed.created());
  EXPECT_TRUE(changed.changed());
  EXPECT_EQ(changed.product().id(), first.product().id());
  EXPECT_EQ(changed.product().version(), 2);
  EXPECT_EQ(changed.product().price().amount_minor(), 175000);
  EXPECT_EQ(Count("SELECT count(*) FROM products"), 1);
  EXPECT_EQ(Outbox(kProductCreatedType), 1);
  EXPECT_EQ(Outbox(kProductUpdatedType), 1);

  // A manager may read the catalogue but not upsert into it.
  v1::UpsertProductResponse out;
  EXPECT_EQ(Upsert(Anna(), Product("1C-002", 1), &out).error_code(), StatusCode::PERMISSION_DENIED);
  v1::Product bad = Product("", 1);
  grpc::Status s = Upsert(Integrator(), bad, &out);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "product.external_id");
  bad = Product("1C-003", -5);
  s = Upsert(Integrator(), bad, &out);
  EXPECT_EQ(FirstField(s), "product.price.amount_minor");
  EXPECT_EQ(Count("SELECT count(*) FROM products"), 1);

  v1::ListProductsRequest list;
  list.set_query("1c-001");
  v1::ListProductsResponse listed;
  ASSERT_TRUE(Call(Anna(), *catalog_stub_, &v1::CatalogService::Stub::ListProducts, list, &listed).ok());
  ASSERT_EQ(listed.products_size(), 1);
  EXPECT_EQ(listed.products(0).id(), first.product().id());
}

TEST_F(CommerceTest, ConcurrentUpsertsOfOneExternalIdMakeOneRow) {
  constexpr int kIds = 15;
  std::atomic<int> failures{0};
  auto run = [&](int64_t price) {
    for (int i = 0; i < kIds; ++i) {
      auto r = catalog_->Upsert(Actor{Integrator(), ""}, Product(absl::StrCat("race-", i), price));
      if (!r.ok()) ++failures;
    }
  };
  std::thread a(run, 100), b(run, 200);
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM products"), kIds);
  EXPECT_EQ(Count("SELECT count(DISTINCT external_id) FROM products"), kIds);
  EXPECT_EQ(Outbox(kProductCreatedType), kIds);
}

// ---------------------------------------------------------------------------------------------------
// D6: line items

TEST_F(CommerceTest, LineTotalsAndCatalogueCopies) {
  const std::string deal = Deal(kAnna);
  v1::UpsertProductResponse p;
  ASSERT_TRUE(Upsert(Integrator(), Product("1C-100", 10000), &p).ok());
  v1::DealProduct from_catalogue, out1, out2, out3;
  from_catalogue.set_product_id(p.product().id());
  from_catalogue.set_quantity("2.5");
  from_catalogue.set_discount_basis_points(1000);  // 10 %
  ASSERT_TRUE(AddLine(Anna(), deal, from_catalogue, &out1).ok());
  EXPECT_EQ(out1.name(), p.product().name());
  EXPECT_EQ(out1.unit(), "м");
  EXPECT_EQ(out1.unit_price().amount_minor(), 10000);
  EXPECT_EQ(out1.total().amount_minor(), 22500);  // 2.5 × 100,00 = 250,00 − 10 %
  EXPECT_EQ(out1.quantity(), "2.5");

  v1::DealProduct free_text;
  free_text.set_name("Монтаж");
  free_text.set_quantity("3");
  *free_text.mutable_unit_price() = Rub(333);
  *free_text.mutable_discount() = Rub(100);
  ASSERT_TRUE(AddLine(Anna(), deal, free_text, &out2).ok());
  EXPECT_EQ(out2.total().amount_minor(), 899);
  EXPECT_EQ(out2.product_id(), "");

  v1::DealProduct rounding;
  rounding.set_name("Крепёж");
  rounding.set_quantity("0.335");
  *rounding.mutable_unit_price() = Rub(100);  // 33.5 → 34 (half up)
  ASSERT_TRUE(AddLine(Anna(), deal, rounding, &out3).ok());
  EXPECT_EQ(out3.total().amount_minor(), 34);

  // The catalogue price changes later: the line keeps the price it was taken at.
  ASSERT_TRUE(Upsert(Integrator(), Product("1C-100", 99999), &p).ok());
  v1::ListDealProductsRequest lreq;
  lreq.set_deal_id(deal);
  v1::ListDealProductsResponse listed;
  ASSERT_TRUE(
      Call(Anna(), *lines_stub_, &v1::DealProductService::Stub::ListDealProducts, lreq, &listed).ok());
  ASSERT_EQ(listed.products_size(), 3);
  EXPECT_EQ(listed.products(0).unit_price().amount_minor(), 10000);
  EXPECT_EQ(listed.total().amount_minor(), 22500 + 899 + 34);

  // Update the quantity: the total follows.
  v1::UpdateDealProductRequest up;
  up.set_deal_id(deal);
  up.mutable_product()->set_id(out2.id());
  up.mutable_product()->set_quantity("4");
  up.mutable_update_mask()->add_paths("quantity");
  v1::DealProduct updated;
  ASSERT_TRUE(
      Call(Anna(), *lines_stub_, &v1::DealProductService::Stub::UpdateDealProduct, up, &updated).ok());
  EXPECT_EQ(updated.total().amount_minor(), 4 * 333 - 100);
  EXPECT_EQ(updated.version(), 2);

  // Validation names the field and writes nothing.
  const int64_t lines_before = Count("SELECT count(*) FROM deal_products");
  const int64_t events_before = Outbox(kProductsChangedType);
  v1::DealProduct bad = free_text;
  bad.set_quantity("1.2345");
  v1::DealProduct out;
  grpc::Status s = AddLine(Anna(), deal, bad, &out);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "product.quantity");
  bad = free_text;
  bad.set_discount_basis_points(500);
  EXPECT_EQ(FirstField(AddLine(Anna(), deal, bad, &out)), "product.discount");
  bad = free_text;
  *bad.mutable_discount() = Rub(100000);
  EXPECT_EQ(FirstField(AddLine(Anna(), deal, bad, &out)), "product.discount");
  bad = free_text;
  bad.clear_name();
  EXPECT_EQ(FirstField(AddLine(Anna(), deal, bad, &out)), "product.name");
  bad = free_text;
  bad.mutable_unit_price()->set_currency("USD");
  EXPECT_EQ(FirstField(AddLine(Anna(), deal, bad, &out)), "product.unit_price.currency");
  EXPECT_EQ(Count("SELECT count(*) FROM deal_products"), lines_before);
  EXPECT_EQ(Outbox(kProductsChangedType), events_before);
  EXPECT_EQ(events_before, 4);  // three adds and one update

  // CopyDealProducts (for the deal copy): same lines, new ids, in the caller's transaction.
  const std::string copy = Deal(kAnna);
  ASSERT_TRUE(
      pg::InTransaction(*pool_, [&](pqxx::work& tx) { return CopyDealProducts(tx, deal, copy); }).ok());
  auto copied = lines_->List(Anna(), copy);
  ASSERT_TRUE(copied.ok()) << copied.status();
  ASSERT_EQ(copied->products_size(), 3);
  EXPECT_EQ(copied->total().amount_minor(), listed.total().amount_minor() + 333);
  EXPECT_NE(copied->products(0).id(), listed.products(0).id());
  EXPECT_EQ(copied->products(0).product_id(), p.product().id());
}

TEST_F(CommerceTest, QuantityParsingAndFormatting) {
  EXPECT_EQ(*ParseQuantity("q", "2"), 2000);
  EXPECT_EQ(*ParseQuantity("q", "0,125"), 125);
  EXPECT_EQ(*ParseQuantity("q", "12.5"), 12500);
  EXPECT_FALSE(ParseQuantity("q", "0").ok());
  EXPECT_FALSE(ParseQuantity("q", "-1").ok());
  EXPECT_FALSE(ParseQuantity("q", "1e3").ok());
  EXPECT_EQ(FormatQuantity(12500), "12.5");
  EXPECT_EQ(FormatQuantity(125), "0.125");
  EXPECT_EQ(FormatQuantity(3000), "3");
}

// ---------------------------------------------------------------------------------------------------
// D7: payments

TEST_F(CommerceTest, ScheduleFiftyThirtyTenTenSplitsExactly) {
  const std::string deal = Deal(kAnna, 5000);
  v1::PaymentPanel panel;
  ASSERT_TRUE(Schedule(Anna(), deal, {50, 30, 10, 10}, 100001, &panel).ok());
  ASSERT_EQ(panel.payments_size(), 4);
  std::vector<int64_t> amounts;
  int64_t sum = 0;
  for (const v1::Payment& x : panel.payments()) {
    amounts.push_back(x.amount().amount_minor());
    sum += x.amount().amount_minor();
  }
  EXPECT_EQ(amounts, (std::vector<int64_t>{50000, 30000, 10000, 10001}));  // the remainder on the last part
  EXPECT_EQ(sum, 100001);
  EXPECT_EQ(panel.payments(0).schedule_percent(), 50);
  EXPECT_EQ(panel.planned_total().amount_minor(), 100001);
  EXPECT_EQ(panel.budget().amount_minor(), 100001);
  EXPECT_EQ(GetDeal(deal).amount().amount_minor(), 100001);
  EXPECT_EQ(Outbox(kPaymentScheduleAppliedType), 1);
}

TEST_F(CommerceTest, BadSchedulesNameTheFieldAndWriteNothing) {
  const std::string deal = Deal(kAnna, 5000);
  v1::PaymentPanel panel;
  grpc::Status s = Schedule(Anna(), deal, {50, 30}, 100000, &panel);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "parts");
  EXPECT_NE(s.error_message().find("80"), std::string::npos) << s.error_message();
  s = Schedule(Anna(), deal, {50, 50, 10}, 100000, &panel);
  EXPECT_EQ(FirstField(s), "parts");
  s = Schedule(Anna(), deal, {100, 0}, 100000, &panel);
  EXPECT_EQ(FirstField(s), "parts[1].percent");
  s = Schedule(Anna(), deal, {}, 100000, &panel);
  EXPECT_EQ(FirstField(s), "parts");
  s = Schedule(Anna(), deal, {100}, -1, &panel);
  EXPECT_EQ(FirstField(s), "total.amount_minor");
  v1::ApplyPaymentScheduleRequest req;
  req.set_deal_id(deal);
  req.add_parts()->set_percent(100);
  req.mutable_parts(0)->set_due_date("2026-02-30");
  s = Call(Anna(), *payments_stub_, &v1::PaymentService::Stub::ApplyPaymentSchedule, req, &panel);
  EXPECT_EQ(FirstField(s), "parts[0].due_date");
  v1::PaymentPanel out;
  s = AddPayment(Anna(), deal, 0, "2026-04-01", &out);
  EXPECT_EQ(FirstField(s), "payment.amount.amount_minor");
  s = AddPayment(Anna(), deal, 10, "tomorrow", &out);
  EXPECT_EQ(FirstField(s), "payment.due_date");
  EXPECT_EQ(Count("SELECT count(*) FROM deal_payments"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox"), 0);
  v1::Deal d = GetDeal(deal);
  EXPECT_EQ(d.amount().amount_minor(), 5000);
  EXPECT_EQ(d.version(), 1);
}

TEST_F(CommerceTest, BudgetFollowsPaymentsInTheSameTransaction) {
  const std::string deal = Deal(kAnna, 5000);
  v1::PaymentPanel panel;
  ASSERT_TRUE(AddPayment(Anna(), deal, 30000, "2026-04-01", &panel).ok());
  EXPECT_EQ(panel.budget().amount_minor(), 30000);
  EXPECT_EQ(panel.deal_version(), 2);
  v1::Deal d = GetDeal(deal);
  EXPECT_EQ(d.amount().amount_minor(), 30000);
  EXPECT_EQ(d.version(), 2);
  ASSERT_TRUE(AddPayment(Anna(), deal, 20000, "2026-05-01", &panel).ok());
  EXPECT_EQ(GetDeal(deal).amount().amount_minor(), 50000);
  EXPECT_EQ(GetDeal(deal).version(), 3);
  ASSERT_EQ(panel.payments_size(), 2);
  const std::string second = panel.payments(1).id();

  // A changed amount moves the budget too.
  v1::UpdatePaymentRequest up;
  up.set_deal_id(deal);
  up.mutable_payment()->set_id(second);
  *up.mutable_payment()->mutable_amount() = Rub(25000);
  up.mutable_update_mask()->add_paths("amount");
  ASSERT_TRUE(Call(Anna(), *payments_stub_, &v1::PaymentService::Stub::UpdatePayment, up, &panel).ok());
  EXPECT_EQ(GetDeal(deal).amount().amount_minor(), 55000);

  v1::RemovePaymentRequest rm;
  rm.set_deal_id(deal);
  rm.set_id(second);
  ASSERT_TRUE(Call(Anna(), *payments_stub_, &v1::PaymentService::Stub::RemovePayment, rm, &panel).ok());
  d = GetDeal(deal);
  EXPECT_EQ(d.amount().amount_minor(), 30000);
  EXPECT_EQ(d.version(), 5);

  // Every budget change wrote DealUpdated{amount} with the payment event, in order.
  pqxx::connection conn(db_->dsn());
  pqxx::work tx(conn);
  pqxx::result r = tx.exec_params(
      "SELECT type, payload FROM outbox WHERE aggregateid = $1 AND topic = 'crm.deals.deal.v1' ORDER BY seq",
      deal);
  std::vector<std::string> types;
  for (const pqxx::row& row : r) types.push_back(row[0].as<std::string>());
  EXPECT_EQ(types, (std::vector<std::string>{kDealUpdatedType, kPaymentAddedType, kDealUpdatedType,
                                             kPaymentAddedType, kDealUpdatedType, kPaymentUpdatedType,
                                             kDealUpdatedType, kPaymentRemovedType}));
  pqxx::binarystring raw(r[0][1]);
  crm::events::v1::Envelope env;
  ASSERT_TRUE(env.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
  v1::DealUpdated updated;
  ASSERT_TRUE(env.payload().UnpackTo(&updated));
  EXPECT_EQ(updated.deal().amount().amount_minor(), 30000);
  ASSERT_EQ(updated.changed_fields_size(), 1);
  EXPECT_EQ(updated.changed_fields(0), "amount");
  EXPECT_EQ(env.visible_to_user_ids(0), kAnna);
  // ... and the deal's history (D10) records the amount change.
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM timeline_entries WHERE deal_id = '", deal,
                               "' AND field = 'amount'")),
            4);
}

TEST_F(CommerceTest, ReceivedPaymentsAreNeverTouchedByASchedule) {
  const std::string deal = Deal(kAnna, 100000);
  v1::PaymentPanel panel;
  ASSERT_TRUE(Schedule(Anna(), deal, {50, 50}, std::nullopt, &panel).ok());  // of the budget
  ASSERT_EQ(panel.payments_size(), 2);
  const v1::Payment first = panel.payments(0);
  EXPECT_EQ(first.amount().amount_minor(), 50000);
  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(MarkReceived(Anna(), deal, first.id(), &panel).ok());
  const v1::Payment received = panel.payments(0);
  ASSERT_TRUE(received.received());
  EXPECT_EQ(received.received_by_id(), kAnna);
  EXPECT_EQ(FromProtoTimestamp(received.received_time()), clock_.Now());
  EXPECT_EQ(panel.received_total().amount_minor(), 50000);
  EXPECT_EQ(panel.outstanding().amount_minor(), 50000);
  EXPECT_EQ(Outbox(kPaymentReceivedType), 1);

  // A new schedule of what is left: [30, 70] of 50 000; the received payment stays as it was.
  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(Schedule(Anna(), deal, {30, 70}, std::nullopt, &panel).ok());
  ASSERT_EQ(panel.payments_size(), 3);
  int kept = 0;
  int64_t planned = 0;
  for (const v1::Payment& x : panel.payments()) {
    if (x.id() == received.id()) {
      ++kept;
      EXPECT_EQ(x.SerializeAsString(), received.SerializeAsString());
    } else {
      EXPECT_FALSE(x.received());
      planned += x.amount().amount_minor();
    }
  }
  EXPECT_EQ(kept, 1);
  EXPECT_EQ(planned, 50000);
  EXPECT_EQ(panel.budget().amount_minor(), 100000);
  // A received payment cannot be removed or have its amount changed.
  v1::RemovePaymentRequest rm;
  rm.set_deal_id(deal);
  rm.set_id(received.id());
  EXPECT_EQ(Call(Anna(), *payments_stub_, &v1::PaymentService::Stub::RemovePayment, rm, &panel).error_code(),
            StatusCode::FAILED_PRECONDITION);
  // An explicit total replaces the planned ones again, still leaving the received one.
  ASSERT_TRUE(Schedule(Anna(), deal, {100}, 70000, &panel).ok());
  ASSERT_EQ(panel.payments_size(), 2);
  EXPECT_EQ(panel.planned_total().amount_minor(), 120000);
  EXPECT_EQ(GetDeal(deal).amount().amount_minor(), 120000);
}

TEST_F(CommerceTest, OverdueFollowsTheClockInTheCompanyTimeZone) {
  const std::string deal = Deal(kAnna);
  v1::PaymentPanel panel;
  // Now is 2026-03-11 00:30 in Moscow (2026-03-10 in UTC): a payment due on the 10th is overdue.
  ASSERT_TRUE(AddPayment(Anna(), deal, 1000, "2026-03-10", &panel).ok());
  ASSERT_TRUE(AddPayment(Anna(), deal, 2000, "2026-03-11", &panel).ok());
  ASSERT_TRUE(AddPayment(Anna(), deal, 4000, "2026-03-12", &panel).ok());
  EXPECT_EQ(panel.today(), "2026-03-11");
  ASSERT_EQ(panel.payments_size(), 3);
  EXPECT_TRUE(panel.payments(0).overdue());
  EXPECT_FALSE(panel.payments(1).overdue());
  EXPECT_EQ(panel.overdue_count(), 1);
  EXPECT_EQ(panel.overdue_total().amount_minor(), 1000);

  clock_.Advance(absl::Hours(24));
  ASSERT_TRUE(Panel(Anna(), deal, &panel).ok());
  EXPECT_EQ(panel.overdue_count(), 2);
  EXPECT_EQ(panel.overdue_total().amount_minor(), 3000);
  // A received payment is never overdue.
  ASSERT_TRUE(MarkReceived(Anna(), deal, panel.payments(0).id(), &panel).ok());
  EXPECT_FALSE(panel.payments(0).overdue());
  EXPECT_EQ(panel.overdue_count(), 1);
  EXPECT_EQ(panel.overdue_total().amount_minor(), 2000);
  // Undo: overdue again.
  ASSERT_TRUE(MarkReceived(Anna(), deal, panel.payments(0).id(), &panel, /*undo=*/true).ok());
  EXPECT_TRUE(panel.payments(0).overdue());
  EXPECT_EQ(Outbox(kPaymentUnreceivedType), 1);
}

TEST_F(CommerceTest, AccessFollowsTheDeal) {
  const std::string deal = Deal(kAnna, 1000);
  v1::PaymentPanel panel;
  ASSERT_TRUE(AddPayment(Anna(), deal, 1000, "2026-04-01", &panel).ok());
  // Another manager does not see the deal at all.
  EXPECT_EQ(Panel(Boris(), deal, &panel).error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(AddPayment(Boris(), deal, 1, "2026-04-01", &panel).error_code(), StatusCode::NOT_FOUND);
  v1::DealProduct line, out;
  line.set_name("Монтаж");
  line.set_quantity("1");
  *line.mutable_unit_price() = Rub(100);
  EXPECT_EQ(AddLine(Boris(), deal, line, &out).error_code(), StatusCode::NOT_FOUND);
  v1::ListOrdersRequest lo;
  lo.set_deal_id(deal);
  v1::ListOrdersResponse orders;
  EXPECT_EQ(Call(Boris(), *orders_stub_, &v1::OrderService::Stub::ListOrders, lo, &orders).error_code(),
            StatusCode::NOT_FOUND);
  // A reader sees everything and changes nothing.
  EXPECT_TRUE(Panel(Reader(), deal, &panel).ok());
  EXPECT_TRUE(Call(Reader(), *orders_stub_, &v1::OrderService::Stub::ListOrders, lo, &orders).ok());
  EXPECT_EQ(AddPayment(Reader(), deal, 1, "2026-04-01", &panel).error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(AddLine(Reader(), deal, line, &out).error_code(), StatusCode::PERMISSION_DENIED);
  v1::CreateOrderRequest co;
  co.set_deal_id(deal);
  v1::Order order;
  EXPECT_EQ(Call(Reader(), *orders_stub_, &v1::OrderService::Stub::CreateOrder, co, &order).error_code(),
            StatusCode::PERMISSION_DENIED);
  // Payments need payments.write besides write access to the deal.
  grpc::Status s = AddPayment(AnnaNoPayments(), deal, 1, "2026-04-01", &panel);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_NE(s.error_message().find("payments.write"), std::string::npos);
  EXPECT_TRUE(AddLine(AnnaNoPayments(), deal, line, &out).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM deal_payments"), 1);
}

// ---------------------------------------------------------------------------------------------------
// D8: orders

TEST_F(CommerceTest, OrdersFromTheDealsLinesAndTheirStatuses) {
  const std::string deal = Deal(kAnna);
  v1::DealProduct line, out;
  line.set_name("Окно ПВХ");
  line.set_quantity("2");
  *line.mutable_unit_price() = Rub(1250000);
  ASSERT_TRUE(AddLine(Anna(), deal, line, &out).ok());

  v1::CreateOrderRequest co;
  co.set_deal_id(deal);
  co.set_from_deal_products(true);
  co.mutable_order()->set_comment("Срочно");
  v1::Order order;
  ASSERT_TRUE(Call(Anna(), *orders_stub_, &v1::OrderService::Stub::CreateOrder, co, &order).ok());
  EXPECT_EQ(order.status(), v1::Order::NEW);
  EXPECT_EQ(order.number(), "З-000001");
  EXPECT_EQ(order.amount().amount_minor(), 2500000);
  ASSERT_EQ(order.lines_size(), 1);
  EXPECT_EQ(order.lines(0).name(), "Окно ПВХ");
  EXPECT_EQ(order.creator_id(), kAnna);

  // A 1C order with its own number and lines; a taken number is ALREADY_EXISTS; bad lines name the field.
  v1::CreateOrderRequest own;
  own.set_deal_id(deal);
  own.mutable_order()->set_number("1C-77");
  v1::DealProduct* l = own.mutable_order()->add_lines();
  l->set_name("Доставка");
  l->set_quantity("1");
  *l->mutable_unit_price() = Rub(50000);
  v1::Order second;
  ASSERT_TRUE(Call(Anna(), *orders_stub_, &v1::OrderService::Stub::CreateOrder, own, &second).ok());
  EXPECT_EQ(second.amount().amount_minor(), 50000);
  v1::Order dup;
  EXPECT_EQ(Call(Anna(), *orders_stub_, &v1::OrderService::Stub::CreateOrder, own, &dup).error_code(),
            StatusCode::ALREADY_EXISTS);
  own.mutable_order()->set_number("1C-78");
  own.mutable_order()->mutable_lines(0)->set_quantity("");
  grpc::Status s = Call(Anna(), *orders_stub_, &v1::OrderService::Stub::CreateOrder, own, &dup);
  EXPECT_EQ(FirstField(s), "order.lines[0].quantity");
  EXPECT_EQ(Count("SELECT count(*) FROM deal_orders"), 2);

  clock_.Advance(absl::Seconds(1));
  v1::ListOrdersRequest lo;
  lo.set_deal_id(deal);
  v1::ListOrdersResponse listed;
  ASSERT_TRUE(Call(Anna(), *orders_stub_, &v1::OrderService::Stub::ListOrders, lo, &listed).ok());
  ASSERT_EQ(listed.orders_size(), 2);
  EXPECT_EQ(listed.orders(0).id(), second.id());  // newest first
  EXPECT_EQ(listed.orders(1).lines(0).total().amount_minor(), 2500000);

  v1::SetOrderStatusRequest st;
  st.set_deal_id(deal);
  st.set_id(order.id());
  st.set_status(v1::Order::SHIPPED);
  v1::Order moved;
  ASSERT_TRUE(Call(Anna(), *orders_stub_, &v1::OrderService::Stub::SetOrderStatus, st, &moved).ok());
  EXPECT_EQ(moved.status(), v1::Order::SHIPPED);
  EXPECT_EQ(moved.version(), 2);
  st.set_status(v1::Order::DONE);
  ASSERT_TRUE(Call(Anna(), *orders_stub_, &v1::OrderService::Stub::SetOrderStatus, st, &moved).ok());
  st.set_status(v1::Order::CANCELLED);
  EXPECT_EQ(Call(Anna(), *orders_stub_, &v1::OrderService::Stub::SetOrderStatus, st, &moved).error_code(),
            StatusCode::FAILED_PRECONDITION);
  st.set_status(v1::Order::STATUS_UNSPECIFIED);
  EXPECT_EQ(FirstField(Call(Anna(), *orders_stub_, &v1::OrderService::Stub::SetOrderStatus, st, &moved)),
            "status");
  EXPECT_EQ(Outbox(kOrderCreatedType), 2);
  EXPECT_EQ(Outbox(kOrderStatusChangedType), 2);
}

// Issue 16 (G1): a payment, a line item, a schedule and an order POSTed again with the same
// Idempotency-Key (a client retrying after a lost reply) are made once: the budget is not doubled; the
// same key with another request is INVALID_ARGUMENT naming idempotency-key.
TEST_F(CommerceTest, RepeatedPostsWithOneKeyChangeTheDealOnce) {
  const std::string deal = Deal(kAnna);
  key_ = "pay-1";
  v1::PaymentPanel first, again;
  ASSERT_TRUE(AddPayment(Anna(), deal, 70000, "2026-05-01", &first).ok());
  ASSERT_TRUE(AddPayment(Anna(), deal, 70000, "2026-05-01", &again).ok());
  EXPECT_EQ(again.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(again.payments_size(), 1);
  EXPECT_EQ(GetDeal(deal).amount().amount_minor(), 70000);
  EXPECT_EQ(Outbox(kPaymentAddedType), 1);
  grpc::Status other = AddPayment(Anna(), deal, 80000, "2026-05-01", &again);
  EXPECT_EQ(other.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(other), "idempotency-key");

  key_ = "line-1";
  v1::DealProduct line;
  line.set_name("Монтаж");
  line.set_quantity("2");
  *line.mutable_unit_price() = Rub(300000);
  v1::DealProduct l1, l2;
  ASSERT_TRUE(AddLine(Anna(), deal, line, &l1).ok());
  ASSERT_TRUE(AddLine(Anna(), deal, line, &l2).ok());
  EXPECT_EQ(l2.id(), l1.id());
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM deal_products WHERE deal_id = '", deal, "'")), 1);

  key_ = "schedule-1";
  v1::PaymentPanel s1, s2;
  ASSERT_TRUE(Schedule(Anna(), deal, {50, 50}, 100000, &s1).ok());
  ASSERT_TRUE(Schedule(Anna(), deal, {50, 50}, 100000, &s2).ok());
  EXPECT_EQ(s2.SerializeAsString(), s1.SerializeAsString());
  EXPECT_EQ(Outbox(kPaymentScheduleAppliedType), 1);

  key_ = "order-1";
  v1::CreateOrderRequest co;
  co.set_deal_id(deal);
  co.set_from_deal_products(true);
  v1::Order o1, o2;
  ASSERT_TRUE(Call(Anna(), *orders_stub_, &v1::OrderService::Stub::CreateOrder, co, &o1).ok());
  ASSERT_TRUE(Call(Anna(), *orders_stub_, &v1::OrderService::Stub::CreateOrder, co, &o2).ok());
  EXPECT_EQ(o2.id(), o1.id());
  EXPECT_EQ(o2.number(), o1.number());
  EXPECT_EQ(Outbox(kOrderCreatedType), 1);

  // Without a key every POST is a new payment.
  key_.clear();
  v1::PaymentPanel p;
  ASSERT_TRUE(AddPayment(Anna(), deal, 1000, "2026-05-01", &p).ok());
  ASSERT_TRUE(AddPayment(Anna(), deal, 1000, "2026-05-01", &p).ok());
  EXPECT_EQ(Outbox(kPaymentAddedType), 3);
}

}  // namespace
}  // namespace crm::deals
