// File: services/deals/erp/erp_test.cc
// The 1C side's stores (D17) on a real PostgreSQL (a fresh database per test from CRM_TEST_PG_DSN, with the
// events, deals and erp migrations) and a ManualClock: the settings (directions, the accountant), 1C's bulk
// catalogue upsert (all or nothing, every bad row named, idempotent, its events written in bulk),
// proposals by revision and direction, documents with the signed status and the accountant's notice queued
// once, the kinds seed 002's thresholds call for, access as for deals, and the task mirror — deals' task
// events published for 1C, 1C's reports with last writer wins, the conflict log and the echo suppressed.
#include <gtest/gtest.h>

#include <memory>
#include <pqxx/binarystring>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crm/deals/v1/commerce.pb.h"
#include "crm/deals/v1/erp_events.pb.h"
#include "crm/deals/v1/tasks.pb.h"
#include "crm/events/v1/envelope.pb.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "libs/rpc/testing/principals.h"
#include "proto/crm/deals/v1/erp_event_types.h"
#include "services/deals/erp/catalog_sync.h"
#include "services/deals/demo.h"
#include "services/deals/erp/common.h"
#include "services/deals/erp/demo.h"
#include "services/deals/erp/document_store.h"
#include "services/deals/erp/proposal_store.h"
#include "services/deals/erp/settings_store.h"
#include "services/deals/erp/task_mirror.h"
#include "services/deals/erp/wiring.h"
#include "services/deals/products.h"
#include "services/deals/tasks.h"

namespace crm {
const std::vector<crm::pg::Migration>& DealsMigrations();
}  // namespace crm

namespace crm::deals::erp {
namespace {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;
using crm::rpc::testing::UserPrincipal;
using v1::Document;
using v1::ErpTask;
using v1::Proposal;

constexpr char kAnna[] = "01900000-0000-7000-8000-00000000a001";  // manager, team 1
constexpr char kVera[] = "01900000-0000-7000-8000-00000000a003";  // manager, team 2
constexpr char kTeam1[] = "01900000-0000-7000-8000-00000000e001";
constexpr char kTeam2[] = "01900000-0000-7000-8000-00000000e002";
constexpr char kRussia[] = "01900000-0000-7000-8000-00000000c001";  // «Продажа Россия»: 1C manages it
constexpr char kExport[] = "01900000-0000-7000-8000-00000000c002";  // «Продажа Экспорт»: not
constexpr char kRussiaStage[] = "01900000-0000-7000-8000-00000000d001";
constexpr char kExportStage[] = "01900000-0000-7000-8000-00000000d002";
constexpr char kClient[] = "01900000-0000-7000-8000-00000000f001";

Principal Anna() { return UserPrincipal(kAnna, {"deals.read.team", "deals.write.own"}, {kTeam1}); }
Principal Vera() { return UserPrincipal(kVera, {"deals.read.own", "deals.write.own"}, {kTeam2}); }
Principal Head() { return UserPrincipal(kVera, {"deals.read.all", "deals.write.all", "erp.manage"}, {kTeam2}); }
// 1C: an integrator's API key with the exchange's scopes.
Principal OneC() {
  Principal p;
  p.set_kind(Principal::KIND_API_KEY);
  p.set_id("01900000-0000-7000-8000-0000000000c1");
  p.add_permissions("erp.sync");
  p.add_permissions("catalog.manage");
  return p;
}
Actor As(const Principal& p, const std::string& key = "") { return Actor{.principal = p, .idempotency_key = key}; }

std::vector<std::string> Fields(const absl::Status& s) {
  std::vector<std::string> out;
  for (const FieldViolation& v : FieldViolations(s)) out.push_back(v.field);
  return out;
}

v1::Product Item(const std::string& guid, const std::string& name, int64_t price) {
  v1::Product p;
  p.set_external_id(guid);
  p.set_name(name);
  p.set_unit("шт");
  p.mutable_price()->set_amount_minor(price);
  p.set_vat_basis_points(2000);
  p.set_active(true);
  return p;
}

class ErpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = pg::testing::TempDatabase::Create("derp");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    std::vector<pg::Migration> all = EventsMigrations();
    all.insert(all.end(), DealsMigrations().begin(), DealsMigrations().end());
    all.insert(all.end(), ErpMigrations().begin(), ErpMigrations().end());
    auto migrated = pg::Migrate(db_->dsn(), all);
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    auto pool = pg::Pool::Create({.dsn = db_->dsn(), .size = 8});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
    clock_.Set(absl::FromUnixSeconds(1'772'434'800));  // 2026-03-02 10:00 MSK
    db_->Exec(absl::StrCat(
        "INSERT INTO user_directory (user_id, team_ids, full_name, version) VALUES ('", kAnna, "', '{", kTeam1,
        "}', 'Анна Петрова', 1), ('", kVera, "', '{", kTeam2, "}', 'Вера Смирнова', 1);",
        "INSERT INTO pipelines (id, name) VALUES ('", kRussia, "', 'Продажа Россия'), ('", kExport,
        "', 'Продажа Экспорт');", "INSERT INTO stages (id, pipeline_id, position, name, kind) VALUES ('", kRussiaStage,
        "', '", kRussia, "', 1, 'Новая', 1), ('", kExportStage, "', '", kExport, "', 1, 'Новая', 1);",
        "INSERT INTO clients (id, kind, name) VALUES ('", kClient, "', 1, 'ООО «Вектор»');"));
    settings_ = std::make_unique<SettingsStore>(*pool_, clock_);
    catalog_ = std::make_unique<CatalogSync>(*pool_, clock_);
    proposals_ = std::make_unique<ProposalStore>(*pool_, clock_);
    documents_ = std::make_unique<DocumentStore>(*pool_, clock_, DocumentOptions{.deal_url_prefix = "https://crm/d/"});
    mirror_ = std::make_unique<TaskMirror>(*pool_, clock_);
    tasks_ = std::make_unique<TaskStore>(*pool_, clock_);
  }

  std::string Deal(const char* pipeline, const char* responsible, const char* team, int64_t amount = 620'000'00) {
    const std::string id = NewUuidV7();
    db_->Exec(absl::StrCat("INSERT INTO deals (id, name, pipeline_id, stage_id, status, responsible_id, team_ids, "
                           "client_id, amount_minor) VALUES ('",
                           id, "', 'Поставка насосов', '", pipeline, "', '",
                           pipeline == std::string(kRussia) ? kRussiaStage : kExportStage, "', 1, '", responsible,
                           "', '{", team, "}', '", kClient, "', ", amount, ")"));
    return id;
  }
  // «Продажа Россия» managed by 1C (proposals, tasks) and the accountant's address.
  void Configure(std::vector<std::string> accountants = {"Бухгалтерия <buh@example.com>"}) {
    v1::ErpSettings s;
    v1::ErpSettings::Direction* d = s.add_directions();
    d->set_pipeline_id(kRussia);
    d->set_proposals_from_erp(true);
    d->set_tasks_mirrored(true);
    for (const std::string& a : accountants) s.add_accountant_emails(a);
    ASSERT_TRUE(settings_->Update(As(Head()), s).ok());
  }
  int64_t Count(const std::string& sql) { return db_->Count(sql); }
  int64_t Events(const std::string& type) {
    return Count(absl::StrCat("SELECT count(*) FROM outbox WHERE type = '", type, "'"));
  }
  // The envelopes of one type, oldest first.
  std::vector<crm::events::v1::Envelope> Envelopes(const std::string& type) {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    std::vector<crm::events::v1::Envelope> out;
    for (const auto& r : tx.exec_params("SELECT payload FROM outbox WHERE type = $1 ORDER BY seq", type)) {
      pqxx::binarystring raw(r[0]);
      crm::events::v1::Envelope e;
      EXPECT_TRUE(e.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
      out.push_back(std::move(e));
    }
    return out;
  }
  // Hands every event of `type` to the task mirror as the consumer would (each in its transaction).
  void Consume(const std::string& type) {
    for (const auto& e : Envelopes(type)) {
      const std::string topic = kTaskTopic;
      ASSERT_TRUE(pg::InTransaction(*pool_, [&](pqxx::work& tx) {
                    return mirror_->ApplyTaskEvent(tx, {.envelope = e, .topic = topic, .partition = 0, .offset = 0});
                  }).ok());
    }
  }
  v1::Task MakeTask(const std::string& deal, const std::string& title = "Отгрузить товар клиенту") {
    v1::Task t;
    t.set_deal_id(deal);
    t.set_kind(v1::Task::CUSTOM);
    t.set_title(title);
    *t.mutable_due_time() = ToProtoTimestamp(clock_.Now() + absl::Hours(24));
    auto made = tasks_->Create(As(Anna()), t);
    EXPECT_TRUE(made.ok()) << made.status();
    return made.ok() ? *made : t;
  }
  v1::ReportErpTaskStatusRequest Report(const std::string& guid, const std::string& task_id, ErpTask::ErpStatus s,
                                        absl::Time at) {
    v1::ReportErpTaskStatusRequest r;
    r.set_external_id(guid);
    r.set_task_id(task_id);
    r.set_status(s);
    *r.mutable_change_time() = ToProtoTimestamp(at);
    return r;
  }

  std::unique_ptr<pg::testing::TempDatabase> db_;
  std::unique_ptr<pg::Pool> pool_;
  ManualClock clock_{absl::UnixEpoch()};
  std::unique_ptr<SettingsStore> settings_;
  std::unique_ptr<CatalogSync> catalog_;
  std::unique_ptr<ProposalStore> proposals_;
  std::unique_ptr<DocumentStore> documents_;
  std::unique_ptr<TaskMirror> mirror_;
  std::unique_ptr<TaskStore> tasks_;
};

// ---- settings ----

TEST_F(ErpTest, SettingsNameEveryBadFieldAndCheckTheVersion) {
  v1::ErpSettings s;
  s.add_directions()->set_pipeline_id("nope");
  s.add_directions()->set_pipeline_id("01900000-0000-7000-8000-0000000000ee");
  s.add_directions()->set_pipeline_id(kRussia);
  s.add_directions()->set_pipeline_id(kRussia);
  s.add_accountant_emails("buh@example.com");
  s.add_accountant_emails("не адрес");
  absl::StatusOr<v1::ErpSettings> bad = settings_->Update(As(Head()), s);
  EXPECT_EQ(Fields(bad.status()),
            (std::vector<std::string>{"settings.directions[0].pipeline_id", "settings.directions[3].pipeline_id",
                                      "settings.accountant_emails[1]", "settings.directions[1].pipeline_id"}))
      << bad.status();
  EXPECT_TRUE(absl::IsPermissionDenied(settings_->Update(As(Anna()), v1::ErpSettings()).status()));
  ASSERT_NO_FATAL_FAILURE(Configure());
  absl::StatusOr<v1::ErpSettings> got = settings_->Get(Anna());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->directions_size(), 1);
  EXPECT_EQ(got->directions(0).pipeline_name(), "Продажа Россия");
  EXPECT_EQ(got->version(), 1);
  v1::ErpSettings stale = *got;
  stale.set_version(7);
  EXPECT_TRUE(absl::IsAborted(settings_->Update(As(Head()), stale).status()));
}

// ---- the catalogue ----

TEST_F(ErpTest, CatalogueUpsertIsAllOrNothingNamingEveryBadItem) {
  v1::BatchUpsertCatalogItemsRequest req;
  *req.add_items() = Item("guid-1", "Насос", 100);
  *req.add_items() = Item("guid-2", "", 100);
  v1::Product bad_currency = Item("guid-3", "Шкаф", 100);
  bad_currency.mutable_price()->set_currency("rub");
  *req.add_items() = bad_currency;
  *req.add_items() = Item("guid-1", "Насос снова", 100);
  *req.add_items() = Item("guid-5", "Кран", -1);
  v1::Product unknown_currency = Item("guid-6", "Стол", 100);
  unknown_currency.mutable_price()->set_currency("QQQ");  // three capitals, but no ISO 4217 currency
  *req.add_items() = unknown_currency;
  absl::StatusOr<v1::BatchUpsertCatalogItemsResponse> r = catalog_->Upsert(As(OneC()), req);
  EXPECT_EQ(Fields(r.status()),
            (std::vector<std::string>{"items[1].name", "items[2].price.currency", "items[3].external_id",
                                      "items[4].price.amount_minor", "items[5].price.currency"}));
  EXPECT_EQ(Count("SELECT count(*) FROM products"), 0);
  EXPECT_EQ(Events(kProductCreatedType), 0);
  EXPECT_TRUE(absl::IsPermissionDenied(catalog_->Upsert(As(Anna()), req).status()));
}

TEST_F(ErpTest, CatalogueUpsertCreatesUpdatesAndLeavesIdenticalItemsAlone) {
  v1::BatchUpsertCatalogItemsRequest req;
  for (int i = 0; i < 50; ++i) *req.add_items() = Item(absl::StrCat("guid-", i), absl::StrCat("Товар ", i), 100 * i);
  absl::StatusOr<v1::BatchUpsertCatalogItemsResponse> r = catalog_->Upsert(As(OneC(), "k1"), req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->created(), 50);
  EXPECT_EQ(Events(kProductCreatedType), 50);
  // The same key again: the first reply, nothing written.
  absl::StatusOr<v1::BatchUpsertCatalogItemsResponse> again = catalog_->Upsert(As(OneC(), "k1"), req);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->created(), 50);
  EXPECT_EQ(Count("SELECT count(*) FROM products"), 50);
  // Another call: two changed, the rest identical.
  req.mutable_items(3)->mutable_price()->set_amount_minor(999);
  req.mutable_items(7)->set_name("Товар семь");
  r = catalog_->Upsert(As(OneC()), req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->created(), 0);
  EXPECT_EQ(r->updated(), 2);
  EXPECT_EQ(r->unchanged(), 48);
  EXPECT_EQ(Count("SELECT count(*) FROM products"), 50);
  EXPECT_EQ(Count("SELECT version FROM products WHERE external_id = 'guid-3'"), 2);
  EXPECT_EQ(Count("SELECT version FROM products WHERE external_id = 'guid-4'"), 1);
  const auto updated = Envelopes(kProductUpdatedType);
  ASSERT_EQ(updated.size(), 2u);
  v1::ProductUpserted ev;
  ASSERT_TRUE(updated[0].payload().UnpackTo(&ev));
  EXPECT_EQ(ev.product().external_id(), "guid-3");
  EXPECT_EQ(std::vector<std::string>(ev.changed_fields().begin(), ev.changed_fields().end()),
            std::vector<std::string>{"price"});
}

// ---- proposals ----

class ProposalTest : public ErpTest {
 protected:
  void SetUp() override {
    ErpTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(Configure());
    v1::BatchUpsertCatalogItemsRequest items;
    *items.add_items() = Item("pump", "Насос НС-100", 250'000'00);
    *items.add_items() = Item("cabinet", "Шкаф ШУ-7", 95'000'00);
    {
      auto made = catalog_->Upsert(As(OneC()), items);
      ASSERT_TRUE(made.ok()) << made.status();
    }
    deal_ = Deal(kRussia, kAnna, kTeam1);
  }
  Proposal Kp(const std::string& guid, int64_t revision, const std::string& qty = "2") {
    Proposal p;
    p.set_external_id(guid);
    p.set_deal_id(deal_);
    p.set_number("КП-1");
    p.set_date("2026-03-02");
    p.set_revision(revision);
    p.set_status(Proposal::SENT);
    Proposal::Line* a = p.add_lines();
    a->set_product_external_id("pump");
    a->set_quantity(qty);
    Proposal::Line* b = p.add_lines();
    b->set_product_external_id("cabinet");
    b->set_quantity("1");
    b->set_discount_basis_points(1000);
    return p;
  }
  absl::StatusOr<v1::BatchUpsertProposalsResponse> Upsert(std::vector<Proposal> ps) {
    v1::BatchUpsertProposalsRequest r;
    for (auto& p : ps) *r.add_proposals() = std::move(p);
    return proposals_->Upsert(As(OneC()), r);
  }
  std::string deal_;
};

TEST_F(ProposalTest, ADirectionThatDoesNotTakeProposalsFrom1CRefusesThemAndEveryBadRowIsNamed) {
  Proposal other = Kp("kp-2", 1);
  other.set_deal_id(Deal(kExport, kAnna, kTeam1));
  Proposal unknown = Kp("kp-3", 1);
  unknown.mutable_lines(1)->set_product_external_id("no-such-guid");
  Proposal shape = Kp("kp-4", 0, "1.2345");
  absl::StatusOr<v1::BatchUpsertProposalsResponse> r = Upsert({Kp("kp-1", 1), other, unknown, shape});
  EXPECT_EQ(Fields(r.status()),
            (std::vector<std::string>{"proposals[3].revision", "proposals[3].lines[0].quantity",
                                      "proposals[1].deal_id", "proposals[2].lines[1].product_external_id"}))
      << r.status();
  ASSERT_EQ(FieldViolations(r.status()).size(), 4u);
  EXPECT_EQ(FieldViolations(r.status())[2].description,
            "the deal's direction «Продажа Экспорт» does not take proposals from 1C (ErpSettings.directions)");
  EXPECT_EQ(Count("SELECT count(*) FROM proposals"), 0);  // all or nothing
}

TEST_F(ProposalTest, RevisionsReplaceIdenticalOnesChangeNothingAndOldOnesAreIgnored) {
  absl::StatusOr<v1::BatchUpsertProposalsResponse> r = Upsert({Kp("kp-1", 1)});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->created(), 1);
  const std::string id = r->ids(0);
  absl::StatusOr<Proposal> p = proposals_->Get(Anna(), id);
  ASSERT_TRUE(p.ok()) << p.status();
  // The lines took the catalogue's names and prices: 2 × 250 000 + 95 000 − 10 %.
  EXPECT_EQ(p->lines(0).name(), "Насос НС-100");
  EXPECT_EQ(p->lines(0).total().amount_minor(), 500'000'00);
  EXPECT_EQ(p->lines(1).total().amount_minor(), 85'500'00);
  EXPECT_EQ(p->total().amount_minor(), 585'500'00);
  EXPECT_EQ(p->deal_name(), "Поставка насосов");
  // The same revision again: unchanged; with other content: refused naming revision.
  r = Upsert({Kp("kp-1", 1)});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->unchanged(), 1);
  EXPECT_EQ(Fields(Upsert({Kp("kp-1", 1, "3")}).status()), std::vector<std::string>{"proposals[0].revision"});
  // A higher one replaces it and is kept in the history; a lower one afterwards is ignored.
  Proposal agreed = Kp("kp-1", 3, "3");
  agreed.set_status(Proposal::AGREED);
  r = Upsert({agreed});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->revised(), 1);
  r = Upsert({Kp("kp-1", 2)});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stale(), 1);
  p = proposals_->Get(Anna(), id);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->revision(), 3);
  EXPECT_EQ(p->status(), Proposal::AGREED);
  EXPECT_EQ(p->total().amount_minor(), 835'500'00);
  ASSERT_EQ(p->revisions_size(), 2);
  EXPECT_EQ(p->revisions(0).revision(), 3);
  EXPECT_EQ(p->revisions(1).revision(), 1);
  EXPECT_EQ(p->version(), 2);
  EXPECT_EQ(Events(v1::kProposalCreatedType), 1);
  EXPECT_EQ(Events(v1::kProposalRevisedType), 1);
  // Lists and access as for deals: Vera (another team, own deals only) does not see it.
  absl::StatusOr<v1::ListProposalsResponse> list = proposals_->List(Anna(), [&] {
    v1::ListProposalsRequest q;
    q.set_deal_id(deal_);
    return q;
  }());
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->proposals_size(), 1);
  EXPECT_EQ(list->proposals(0).deal_name(), "Поставка насосов");  // the name beside the id
  EXPECT_TRUE(absl::IsNotFound(proposals_->Get(Vera(), id).status()));
}

// ---- documents ----

class DocumentTest : public ErpTest {
 protected:
  void SetUp() override {
    ErpTest::SetUp();
    deal_ = Deal(kRussia, kAnna, kTeam1);
  }
  Document Doc(Document::Kind kind, const std::string& number, int64_t amount = 620'000'00) {
    Document d;
    d.set_deal_id(deal_);
    d.set_kind(kind);
    d.set_number(number);
    d.set_date("2026-03-03");
    d.mutable_amount()->set_amount_minor(amount);
    return d;
  }
  std::string deal_;
};

TEST_F(DocumentTest, ASignedDocumentQueuesOneNoticeToTheAccountantAndNeverChangesAgain) {
  ASSERT_NO_FATAL_FAILURE(Configure());
  absl::StatusOr<Document> made = documents_->Create(As(Anna()), Doc(Document::CONTRACT, "Д-17"));
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->status(), Document::DRAFT);
  EXPECT_EQ(made->amount().currency(), "RUB");
  EXPECT_EQ(made->client_name(), "ООО «Вектор»");
  EXPECT_FALSE(made->has_accountant_notice());
  v1::SignDocumentRequest sign;
  sign.set_id(made->id());
  absl::StatusOr<Document> signed_doc = documents_->Sign(As(Anna(), "sign-1"), sign);
  ASSERT_TRUE(signed_doc.ok()) << signed_doc.status();
  EXPECT_EQ(signed_doc->status(), Document::SIGNED);
  EXPECT_EQ(signed_doc->signed_by(), kAnna);
  EXPECT_EQ(signed_doc->accountant_notice().state(), Document::AccountantNotice::PENDING);
  EXPECT_EQ(signed_doc->accountant_notice().recipients(0), "Бухгалтерия <buh@example.com>");
  // A repeat with the key is the first reply; without it, FAILED_PRECONDITION; one notice either way.
  EXPECT_TRUE(documents_->Sign(As(Anna(), "sign-1"), sign).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(documents_->Sign(As(Anna()), sign).status()));
  EXPECT_EQ(Count("SELECT count(*) FROM erp_mail_queue"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM erp_mail_queue WHERE subject = "
                  "'Подписан документ: Договор № Д-17 от 03.03.2026 — «Поставка насосов»' AND body LIKE "
                  "'%Отметил подписание: Анна Петрова%https://crm/d/%'"),
            1);
  Document change;
  change.set_id(made->id());
  change.set_number("Д-18");
  google::protobuf::FieldMask mask;
  mask.add_paths("number");
  EXPECT_TRUE(absl::IsFailedPrecondition(documents_->Update(As(Anna()), change, mask).status()));
  EXPECT_EQ(Events(v1::kDocumentCreatedType), 1);
  EXPECT_EQ(Events(v1::kDocumentSignedType), 1);
}

TEST_F(DocumentTest, AccessIsAsForDealsAndBadFieldsAreNamed) {
  Document bad = Doc(Document::KIND_UNSPECIFIED, "");
  bad.set_date("2026-02-30");
  bad.mutable_amount()->set_amount_minor(0);
  bad.set_status(Document::SIGNED);
  EXPECT_EQ(Fields(documents_->Create(As(Anna()), bad).status()),
            (std::vector<std::string>{"document.kind", "document.number", "document.date",
                                      "document.amount.amount_minor", "document.status"}));
  // Vera's rights reach only her own deals: Anna's deal is invisible to her.
  EXPECT_TRUE(absl::IsNotFound(documents_->Create(As(Vera()), Doc(Document::INVOICE, "1")).status()));
  absl::StatusOr<Document> made = documents_->Create(As(Anna()), Doc(Document::INVOICE, "1"));
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_TRUE(absl::IsNotFound(documents_->Get(Vera(), made->id()).status()));
  EXPECT_TRUE(documents_->Get(OneC(), made->id()).ok());  // erp.sync reaches every deal
  v1::ListDocumentsRequest all;
  EXPECT_TRUE(absl::IsPermissionDenied(documents_->List(Anna(), all).status()));
  absl::StatusOr<v1::ListDocumentsResponse> list = documents_->List(OneC(), all);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->documents_size(), 1);
}

// Issue 16: a bad page_token is named together with every other violation of a list, not alone after them.
TEST_F(DocumentTest, AListNamesABadPageTokenWithTheOtherViolations) {
  v1::ListDocumentsRequest documents;
  documents.set_deal_id("nope");
  documents.set_page_size(-1);
  documents.set_page_token("not-a-token");
  EXPECT_EQ(Fields(documents_->List(OneC(), documents).status()),
            (std::vector<std::string>{"deal_id", "page_size", "page_token"}));
  v1::ListProposalsRequest proposals;
  proposals.set_page_size(-1);
  proposals.set_page_token("not-a-token");
  EXPECT_EQ(Fields(proposals_->List(OneC(), proposals).status()),
            (std::vector<std::string>{"deal_id", "page_size", "page_token"}));
}

TEST_F(DocumentTest, TheDealsAmountCallsForItsKinds) {
  v1::ListDocumentsRequest q;
  q.set_deal_id(deal_);
  absl::StatusOr<v1::ListDocumentsResponse> r = documents_->List(Anna(), q);
  ASSERT_TRUE(r.ok()) << r.status();
  // 620 000 ₽: a contract and an invoice (seed 002).
  EXPECT_EQ(r->required_kinds_size(), 2);
  EXPECT_EQ(r->missing_kinds_size(), 2);
  {
    auto made = documents_->Create(As(Anna()), Doc(Document::INVOICE, "5"));
    ASSERT_TRUE(made.ok()) << made.status();
  }
  r = documents_->List(Anna(), q);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->missing_kinds_size(), 1);
  EXPECT_EQ(r->missing_kinds(0), Document::CONTRACT);
  EXPECT_EQ(r->documents_size(), 1);
}

TEST_F(DocumentTest, OnesBatchUpsertIsAllOrNothingAndSignsOnce) {
  Configure({});  // no accountant yet
  v1::BatchUpsertDocumentsRequest req;
  Document a = Doc(Document::UPD, "U-1");
  a.set_external_id("1c-upd-1");
  a.set_status(Document::SIGNED);
  Document b = Doc(Document::ACT, "A-1");
  b.set_external_id("1c-act-1");
  *req.add_documents() = a;
  *req.add_documents() = b;
  Document missing_key = Doc(Document::ACT, "A-2");
  *req.add_documents() = missing_key;
  EXPECT_EQ(Fields(documents_->Upsert(As(OneC()), req).status()),
            std::vector<std::string>{"documents[2].external_id"});
  req.mutable_documents()->RemoveLast();
  absl::StatusOr<v1::BatchUpsertDocumentsResponse> r = documents_->Upsert(As(OneC()), req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->created(), 2);
  EXPECT_EQ(r->newly_signed(), 1);
  absl::StatusOr<Document> upd = documents_->Get(OneC(), r->ids(0));
  ASSERT_TRUE(upd.ok()) << upd.status();
  EXPECT_EQ(upd->accountant_notice().state(), Document::AccountantNotice::NOT_CONFIGURED);
  // Again: unchanged. A change to the signed one is refused naming the field; the act may change.
  r = documents_->Upsert(As(OneC()), req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->unchanged(), 2);
  req.mutable_documents(0)->mutable_amount()->set_amount_minor(1);
  req.mutable_documents(1)->set_status(Document::SIGNED);
  EXPECT_EQ(Fields(documents_->Upsert(As(OneC()), req).status()),
            std::vector<std::string>{"documents[0].amount"});
  req.mutable_documents(0)->mutable_amount()->set_amount_minor(620'000'00);
  r = documents_->Upsert(As(OneC()), req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->updated(), 1);
  EXPECT_EQ(r->newly_signed(), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM erp_mail_queue"), 2);
  EXPECT_EQ(Events(v1::kDocumentSignedType), 2);
  // A document of another deal cannot move to this one.
  req.mutable_documents(1)->set_deal_id(Deal(kRussia, kAnna, kTeam1));
  EXPECT_EQ(Fields(documents_->Upsert(As(OneC()), req).status()), std::vector<std::string>{"documents[1].deal_id"});
}

// ---- the task mirror ----

class MirrorTest : public ErpTest {
 protected:
  void SetUp() override {
    ErpTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(Configure());
    deal_ = Deal(kRussia, kAnna, kTeam1);
  }
  std::string deal_;
};

TEST_F(MirrorTest, TasksOfAMirroredDirectionArePublishedFor1COthersAreNot) {
  const v1::Task mirrored = MakeTask(deal_);
  const v1::Task other = MakeTask(Deal(kExport, kAnna, kTeam1));
  ASSERT_NO_FATAL_FAILURE(Consume(kTaskCreatedType));
  ASSERT_NO_FATAL_FAILURE(Consume(kTaskCreatedType));  // a redelivery publishes nothing more
  const auto published = Envelopes(v1::kErpTaskPublishedType);
  ASSERT_EQ(published.size(), 1u);
  v1::ErpTaskPublished ev;
  ASSERT_TRUE(published[0].payload().UnpackTo(&ev));
  EXPECT_EQ(ev.erp_task().task_id(), mirrored.id());
  EXPECT_EQ(ev.erp_task().task().title(), "Отгрузить товар клиенту");
  EXPECT_EQ(ev.erp_task().deal_name(), "Поставка насосов");
  EXPECT_EQ(ev.responsible_name(), "Анна Петрова");
  EXPECT_EQ(ev.change(), v1::ErpTaskPublished::CREATED);
  EXPECT_EQ(published[0].subject(), mirrored.id());
  EXPECT_TRUE(absl::IsFailedPrecondition(
      mirror_->ReportStatus(As(OneC()), Report("1c-t-9", other.id(), ErpTask::DONE, clock_.Now())).status()));
}

TEST_F(MirrorTest, OnesReportLandsOnTheTaskAndItsEchoIsNotPublishedBack) {
  const v1::Task task = MakeTask(deal_);
  ASSERT_NO_FATAL_FAILURE(Consume(kTaskCreatedType));
  // The first report needs the task id; then 1C's GUID alone.
  EXPECT_EQ(Fields(mirror_->ReportStatus(As(OneC()), Report("1c-t-1", "", ErpTask::DONE, clock_.Now())).status()),
            std::vector<std::string>{"task_id"});
  clock_.Advance(absl::Minutes(10));
  absl::StatusOr<ErpTask> r =
      mirror_->ReportStatus(As(OneC()), Report("1c-t-1", task.id(), ErpTask::DONE, clock_.Now() - absl::Minutes(1)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome(), ErpTask::APPLIED);
  EXPECT_EQ(r->task().status(), v1::Task::DONE);
  EXPECT_EQ(r->task().result(), kDefaultErpResult);
  EXPECT_EQ(r->external_id(), "1c-t-1");
  absl::StatusOr<v1::Task> stored = tasks_->Get(Anna(), task.id());
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->status(), v1::Task::DONE);
  EXPECT_EQ(stored->version(), 2);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM timeline_entries WHERE task_id = '", task.id(), "'")), 2);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM deals WHERE id = '", deal_, "' AND next_task_time IS NULL")), 1);
  // Its completion went to deals' topic (robots see it) but is not published back to 1C.
  EXPECT_EQ(Events(kTaskCompletedType), 1);
  ASSERT_NO_FATAL_FAILURE(Consume(kTaskCompletedType));
  EXPECT_EQ(Events(v1::kErpTaskPublishedType), 1);
  EXPECT_EQ(Events(v1::kErpTaskStatusReportedType), 1);
  // The same report again changes nothing and logs nothing; an older one is stale and logged.
  r = mirror_->ReportStatus(As(OneC()), Report("1c-t-1", "", ErpTask::DONE, clock_.Now() - absl::Minutes(1)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome(), ErpTask::UNCHANGED);
  r = mirror_->ReportStatus(As(OneC()), Report("1c-t-1", "", ErpTask::IN_PROGRESS, clock_.Now() - absl::Minutes(5)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome(), ErpTask::STALE);
  EXPECT_EQ(r->conflict_count(), 1);
  EXPECT_EQ(r->task().status(), v1::Task::DONE);
  // Another task cannot take this GUID, nor this task another one.
  EXPECT_EQ(Fields(mirror_->ReportStatus(As(OneC()), Report("1c-t-1", MakeTask(deal_).id(), ErpTask::DONE,
                                                               clock_.Now()))
                       .status()),
            std::vector<std::string>{"task_id"});
  EXPECT_TRUE(absl::IsPermissionDenied(
      mirror_->ReportStatus(As(Anna()), Report("1c-t-1", "", ErpTask::DONE, clock_.Now())).status()));
}

TEST_F(MirrorTest, LastWriterWinsBetweenTheCrmAnd1CAndEveryLoserIsLogged) {
  const v1::Task first = MakeTask(deal_, "Отгрузить товар клиенту");
  const v1::Task second = MakeTask(deal_, "Проконтролировать отгрузку");
  ASSERT_NO_FATAL_FAILURE(Consume(kTaskCreatedType));
  const absl::Time t0 = clock_.Now();
  // A manager completes both in the CRM at t0 + 10 min.
  clock_.Advance(absl::Minutes(10));
  for (const v1::Task* t : {&first, &second}) {
    v1::CompleteTaskRequest done;
    done.set_id(t->id());
    done.set_result("Отгружено");
    ASSERT_TRUE(tasks_->Complete(As(Anna()), done).ok());
  }
  // 1C's logist says «в работе» as of t0 + 5 min (sent late): the CRM's later change wins.
  clock_.Advance(absl::Minutes(1));
  absl::StatusOr<ErpTask> r =
      mirror_->ReportStatus(As(OneC()), Report("1c-t-1", first.id(), ErpTask::IN_PROGRESS, t0 + absl::Minutes(5)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome(), ErpTask::CRM_NEWER);
  EXPECT_EQ(r->task().status(), v1::Task::DONE);
  EXPECT_EQ(r->erp_status(), ErpTask::IN_PROGRESS);
  // The second: 1C reopens it as of t0 + 20 min, later than the CRM's completion it had not heard of yet:
  // 1C wins, the task is open again, and the CRM's overridden completion is logged.
  clock_.Advance(absl::Minutes(10));
  r = mirror_->ReportStatus(As(OneC()), Report("1c-t-2", second.id(), ErpTask::IN_PROGRESS, t0 + absl::Minutes(20)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome(), ErpTask::APPLIED);
  EXPECT_EQ(r->task().status(), v1::Task::OPEN);
  EXPECT_EQ(r->task().result(), "");
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM deals WHERE id = '", deal_, "' AND next_task_time IS NOT NULL")),
            1);
  // The completions reach the consumer now: the first's is published to 1C (the CRM's own, which won), the
  // second's is not (1C overrode it already).
  ASSERT_NO_FATAL_FAILURE(Consume(kTaskCompletedType));
  const auto published = Envelopes(v1::kErpTaskPublishedType);
  ASSERT_EQ(published.size(), 3u);
  v1::ErpTaskPublished ev;
  ASSERT_TRUE(published[2].payload().UnpackTo(&ev));
  EXPECT_EQ(ev.erp_task().task_id(), first.id());
  EXPECT_EQ(ev.change(), v1::ErpTaskPublished::COMPLETED);
  EXPECT_EQ(ev.erp_task().erp_status(), ErpTask::IN_PROGRESS);  // what 1C last said, for its reconciliation
  // 1C, now told, cancels the first as of later on: it lands.
  r = mirror_->ReportStatus(As(OneC()), Report("1c-t-1", "", ErpTask::CANCELLED, t0 + absl::Minutes(21)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome(), ErpTask::APPLIED);
  EXPECT_EQ(r->task().status(), v1::Task::CANCELLED);
  EXPECT_EQ(r->conflict_count(), 1);
  EXPECT_EQ(Events(kTaskCancelledType), 1);
  absl::StatusOr<v1::ListErpTaskConflictsResponse> log = mirror_->ListConflicts(OneC(), {});
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(log->conflicts_size(), 2);  // newest first
  EXPECT_EQ(log->conflicts(0).resolution(), v1::ErpTaskConflict::ERP_WON);
  EXPECT_EQ(log->conflicts(0).task_id(), second.id());
  EXPECT_EQ(log->conflicts(0).crm_status(), v1::Task::DONE);
  EXPECT_EQ(log->conflicts(1).resolution(), v1::ErpTaskConflict::CRM_WON);
  EXPECT_EQ(log->conflicts(1).task_title(), "Отгрузить товар клиенту");
  v1::ListErpTaskConflictsRequest page;
  page.set_page_size(1);
  log = mirror_->ListConflicts(OneC(), page);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(log->conflicts_size(), 1);
  page.set_page_token(log->next_page_token());
  log = mirror_->ListConflicts(OneC(), page);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(log->conflicts_size(), 1);
  EXPECT_EQ(log->conflicts(0).resolution(), v1::ErpTaskConflict::CRM_WON);
  EXPECT_TRUE(absl::IsPermissionDenied(mirror_->ListConflicts(Anna(), {}).status()));
  absl::StatusOr<ErpTask> seen = mirror_->Get(Anna(), second.id());
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->conflict_count(), 1);
  EXPECT_EQ(seen->erp_status(), ErpTask::IN_PROGRESS);
}

// ---- demo data ----

TEST_F(ErpTest, TheDemoLoadsOnceAndAgainAddsNothing) {
  ASSERT_TRUE(LoadDemoPipelines(*pool_).ok());
  absl::Status loaded = LoadDemoErp(*pool_, clock_);
  ASSERT_TRUE(loaded.ok()) << loaded;
  const auto counts = [&] {
    return std::vector<int64_t>{Count("SELECT count(*) FROM deals"), Count("SELECT count(*) FROM documents"),
                                Count("SELECT count(*) FROM proposals"), Count("SELECT count(*) FROM products"),
                                Count("SELECT count(*) FROM erp_mail_queue"), Count("SELECT count(*) FROM outbox")};
  };
  const std::vector<int64_t> first = counts();
  EXPECT_EQ(first[0], 2);
  EXPECT_EQ(first[1], 3);
  EXPECT_EQ(first[2], 1);
  EXPECT_EQ(first[4], 1);  // the signed contract's e-mail, queued
  loaded = LoadDemoErp(*pool_, clock_);
  ASSERT_TRUE(loaded.ok()) << loaded;
  EXPECT_EQ(counts(), first);
  absl::StatusOr<v1::ErpSettings> s = settings_->Get(OneC());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->accountant_emails(0), "Бухгалтерия <buh@crm.local>");
  v1::ListDocumentsRequest q;
  q.set_deal_id(kDemoSupplyDealId);
  absl::StatusOr<v1::ListDocumentsResponse> docs = documents_->List(OneC(), q);
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_EQ(docs->missing_kinds_size(), 0);  // 620 000 ₽: its contract and invoice are there
}

}  // namespace
}  // namespace crm::deals::erp
