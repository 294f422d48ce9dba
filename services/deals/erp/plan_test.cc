// File: services/deals/erp/plan_test.cc
// Issue 17 (D17): every list of the 1C side on an index at a realistic size — ListDocuments on 1 000 000
// documents (a deal's, with and without kind and status, and every deal's by kind, status, both and none),
// ListProposals on 200 000 proposals (a deal's, with and without status), ListErpTaskConflicts on 200 000
// conflicts (all, one task's), each with its next page, the kinds a deal still lacks, and the notice
// worker's claim of due e-mails among 1 000 000 notices. With fresh statistics, every statement the stores
// send (StatementRecorder, ../sql.h) is EXPLAINed (ANALYZE, FORMAT JSON) with its values and as the generic
// plan a prepared statement may settle on: none may read a big table with a sequential scan, nor throw away
// more than kMaxDiscarded rows of one. The answers are checked against plain queries of what each list
// promises. The tables are filled with generate_series and their indexes built afterwards
// (libs/pg/plan_testing.h's BulkLoad).
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/events/schema.h"
#include "libs/mail/mail.h"
#include "libs/pg/migrations.h"
#include "libs/pg/plan_testing.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "services/deals/erp/document_store.h"
#include "services/deals/erp/notices.h"
#include "services/deals/erp/proposal_store.h"
#include "services/deals/erp/task_mirror.h"
#include "services/deals/erp/wiring.h"
#include "services/deals/sql.h"
#include "services/deals/plan_test_base.h"

namespace crm {
const std::vector<crm::pg::Migration>& DealsMigrations();
}  // namespace crm

namespace crm::deals::erp {
namespace {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;

constexpr int kClients = 50'000;
constexpr int kDeals = 100'000;
constexpr int kDocuments = 1'000'000;
constexpr int kProposals = 200'000;
constexpr int kTasks = 100'000;
constexpr int kConflicts = 200'000;
constexpr int64_t kMaxDiscarded = 20'000;
const std::set<std::string> kBigTables = {"documents",  "proposals", "erp_task_conflicts", "erp_mail_queue",
                                          "deals",      "tasks",     "clients"};

constexpr char kPipeline[] = "01900000-0000-7000-8000-00000000c001";
constexpr char kStage[] = "01900000-0000-7000-8000-00000000d011";
constexpr char kResponsible[] = "01900000-0000-7000-8000-00000000a001";
constexpr char kClientRows[] = "a000";
constexpr char kDealRows[] = "8100";
constexpr char kDocumentRows[] = "d200";
constexpr char kProposalRows[] = "d300";
constexpr char kTaskRows[] = "d400";
constexpr char kConflictRows[] = "d500";

// 1C's API key: it reads every deal's documents.
Principal OneC() {
  Principal p;
  p.set_kind(Principal::KIND_API_KEY);
  p.set_id("01900000-0000-7000-8000-0000000000c1");
  p.add_permissions("erp.sync");
  return p;
}

// A mail server that takes everything (the plan test looks at the worker's statements, not at SMTP).
class TakingMailer final : public mail::Mailer {
 public:
  absl::Status Send(const mail::MailMessage&) override { return absl::OkStatus(); }
};

class ErpPlanTest : public PlanTestBase<ErpPlanTest> {
 protected:
  static void SetUpTestSuite() {
    const absl::Time start = absl::Now();
    auto db = pg::testing::TempDatabase::Create("erp_plan");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = db->release();
    std::vector<pg::Migration> all = EventsMigrations();
    all.insert(all.end(), DealsMigrations().begin(), DealsMigrations().end());
    all.insert(all.end(), ErpMigrations().begin(), ErpMigrations().end());
    auto migrated = pg::Migrate(db_->dsn(), all);
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    pqxx::connection c(db_->dsn());
    {
      pqxx::work tx(c);
      tx.exec0(absl::StrCat("INSERT INTO pipelines (id, name) VALUES ('", kPipeline, "', 'Продажа')"));
      tx.exec0(absl::StrCat("INSERT INTO stages (id, pipeline_id, position, name, kind) VALUES ('", kStage, "', '",
                            kPipeline, "', 1, 'Новая', 1)"));
      tx.exec0("SET LOCAL session_replication_role = replica");
      tx.exec0("SET LOCAL maintenance_work_mem = '256MB'");
      BulkLoad(tx, "clients",
               absl::StrCat("INSERT INTO clients (id, kind, name) SELECT ", RowIdSql(kClientRows, "g"),
                            ", 1, 'ООО «Клиент ' || g || '»' FROM generate_series(1, ", kClients, ") g"));
      BulkLoad(tx, "deals",
               absl::StrCat("INSERT INTO deals (id, name, pipeline_id, stage_id, status, responsible_id, client_id, "
                            "amount_minor, create_time, update_time, stage_enter_time) SELECT ",
                            RowIdSql(kDealRows, "d"), ", 'Сделка ' || d, '", kPipeline, "', '", kStage, "', 1, '",
                            kResponsible, "', ", RowIdSql(kClientRows, absl::StrCat("1 + d % ", kClients)),
                            ", 100000::bigint * d, now(), now(), now() FROM generate_series(1, ", kDeals, ") d"));
      // Document g: of deal 1 + (g - 1) % kDeals (ten a deal), kind 1 + g % 5, status 1 + (g / 7) % 4 (a
      // quarter SIGNED), dated one of 2 000 days from 2020-01-01.
      BulkLoad(tx, "documents",
               absl::StrCat("INSERT INTO documents (id, deal_id, kind, number, doc_date, amount_minor, currency, "
                            "status, signed_time, version, create_time, update_time) SELECT ",
                            RowIdSql(kDocumentRows, "g"), ", ", RowIdSql(kDealRows, absl::StrCat("1 + (g - 1) % ", kDeals)),
                            ", 1 + g % 5, 'N-' || g, date '2020-01-01' + (g % 2000), 100 + g, 'RUB', s.status, "
                            "CASE WHEN s.status = 3 THEN now() END, 1, now(), now() FROM generate_series(1, ",
                            kDocuments, ") g, LATERAL (SELECT 1 + (g / 7) % 4 AS status) s"));
      // The notices of the signed ones: sent, but one in 1 000 still pending (half of those due).
      BulkLoad(tx, "erp_mail_queue",
               "INSERT INTO erp_mail_queue (document_id, recipients, mail_from, subject, body, message_id, state, "
               "attempts, next_attempt_time, create_time) SELECT id, ARRAY['buh@example.com'], '', 'Подписан', 'Текст', "
               "'<d@x>', CASE WHEN random() < 0.001 THEN 1 ELSE 2 END, 1, "
               "now() + CASE WHEN random() < 0.5 THEN interval '1 day' ELSE interval '-1 day' END, now() "
               "FROM documents WHERE status = 3");
      BulkLoad(tx, "proposals",
               absl::StrCat("INSERT INTO proposals (id, external_id, deal_id, number, doc_date, revision, status, lines, "
                            "total_minor, currency, content_sha256, version, create_time, update_time) SELECT ",
                            RowIdSql(kProposalRows, "g"), ", '1c-kp-' || g, ",
                            RowIdSql(kDealRows, absl::StrCat("1 + (g - 1) % ", kDeals)),
                            ", 'КП-' || g, date '2020-01-01' + (g % 2000), 1, 1 + g % 4, '{\"lines\": []}', 100, 'RUB', "
                            "'x', 1, now(), now() FROM generate_series(1, ",
                            kProposals, ") g"));
      BulkLoad(tx, "tasks",
               absl::StrCat("INSERT INTO tasks (id, deal_id, kind, title, due_time, responsible_id, deal_responsible_id, "
                            "status, create_time, update_time) SELECT ",
                            RowIdSql(kTaskRows, "t"), ", ", RowIdSql(kDealRows, "t"), ", 5, 'Отгрузить ' || t, now(), '",
                            kResponsible, "', '", kResponsible, "', 1, now(), now() FROM generate_series(1, ", kTasks, ") t"));
      // Conflict g: of task 1 + (g - 1) % kTasks, logged a second after g - 1.
      BulkLoad(tx, "erp_task_conflicts",
               absl::StrCat("INSERT INTO erp_task_conflicts (id, task_id, external_id, reported_status, "
                            "reported_change_time, crm_status, crm_change_time, resolution, create_time) SELECT ",
                            RowIdSql(kConflictRows, "g"), ", ", RowIdSql(kTaskRows, absl::StrCat("1 + (g - 1) % ", kTasks)),
                            ", '1c-t-' || g, 2, now(), 1, now(), 1 + g % 3, timestamptz '2024-01-01 00:00:00+00' + g * "
                            "interval '1 second' FROM generate_series(1, ",
                            kConflicts, ") g"));
      tx.commit();
    }
    pqxx::nontransaction ntx(c);
    ntx.exec0("VACUUM ANALYZE");
    std::cerr << "erp_plan_test: data loaded and analysed in " << absl::Now() - start << "\n";
  }

  int ExpectIndexBacked(const std::vector<StatementRecorder::Statement>& statements, const std::string& what) {
    return pg::testing::ExpectNoSeqScan(
        db_->dsn(), statements,
        {.tables = kBigTables, .max_removed_rows = kMaxDiscarded, .analyze = true, .analyze_generic = true, .what = what});
  }

  ManualClock clock_{absl::Now()};
};

TEST_F(ErpPlanTest, DocumentsOfEveryFilterAreIndexBackedAndExact) {
  DocumentStore store(*pool_, clock_);
  const std::string deal = RowId(kDealRows, 4242);
  struct Filter {
    std::string name;
    std::string deal_id;
    v1::Document::Kind kind = v1::Document::KIND_UNSPECIFIED;
    v1::Document::Status status = v1::Document::STATUS_UNSPECIFIED;
  };
  const std::vector<Filter> filters = {
      {"every deal's", ""},
      {"signed", "", v1::Document::KIND_UNSPECIFIED, v1::Document::SIGNED},
      {"УПД", "", v1::Document::UPD},
      {"signed УПД", "", v1::Document::UPD, v1::Document::SIGNED},
      {"a deal's", deal},
      {"a deal's invoice-contracts", deal, v1::Document::INVOICE_CONTRACT},  // deal 4242's ten are all kind 3
      {"a deal's drafts", deal, v1::Document::KIND_UNSPECIFIED, v1::Document::DRAFT},
  };
  for (const Filter& f : filters) {
    SCOPED_TRACE(f.name);
    v1::ListDocumentsRequest req;
    req.set_deal_id(f.deal_id);
    req.set_kind(f.kind);
    req.set_status(f.status);
    const int page = f.deal_id.empty() ? 50 : 3;
    req.set_page_size(page);
    std::string where = "TRUE";
    if (!f.deal_id.empty()) absl::StrAppend(&where, " AND x.deal_id = '", f.deal_id, "'");
    if (f.kind != v1::Document::KIND_UNSPECIFIED) absl::StrAppend(&where, " AND x.kind = ", static_cast<int>(f.kind));
    if (f.status != v1::Document::STATUS_UNSPECIFIED) {
      absl::StrAppend(&where, " AND x.status = ", static_cast<int>(f.status));
    }
    const std::vector<std::string> want = Column(absl::StrCat("SELECT x.id::text FROM documents x WHERE ", where,
                                                              " ORDER BY x.doc_date DESC, x.id DESC LIMIT ", 2 * page));
    StatementRecorder recorder;
    auto first = store.List(OneC(), req);
    ASSERT_TRUE(first.ok()) << first.status();
    std::vector<std::string> got;
    for (const auto& d : first->documents()) got.push_back(d.id());
    // More than a page of data must give a token, and the second page must follow the first exactly.
    ASSERT_EQ(first->next_page_token().empty(), static_cast<int>(want.size()) <= page);
    if (!first->next_page_token().empty()) {
      req.set_page_token(first->next_page_token());
      auto second = store.List(OneC(), req);
      ASSERT_TRUE(second.ok()) << second.status();
      for (const auto& d : second->documents()) got.push_back(d.id());
    }
    EXPECT_EQ(got, want);
    EXPECT_FALSE(got.empty());
    if (!f.deal_id.empty() && f.kind == v1::Document::KIND_UNSPECIFIED && f.status == v1::Document::STATUS_UNSPECIFIED) {
      // Deal 4242's ten documents are of every kind, some cancelled: what is missing is what the data says.
      EXPECT_EQ(first->required_kinds_size(), 2) << first->ShortDebugString();  // 424 200 000 kopecks
    }
    EXPECT_GE(ExpectIndexBacked(recorder.Take(), f.name), 1);
  }
}

TEST_F(ErpPlanTest, ProposalsOfADealAreIndexBackedAndExact) {
  ProposalStore store(*pool_, clock_);
  const std::string deal = RowId(kDealRows, 777);
  for (v1::Proposal::Status status : {v1::Proposal::STATUS_UNSPECIFIED, v1::Proposal::SENT}) {  // deal 777's: SENT
    SCOPED_TRACE(status);
    v1::ListProposalsRequest req;
    req.set_deal_id(deal);
    req.set_status(status);
    req.set_page_size(1);
    const std::vector<std::string> want =
        Column(absl::StrCat("SELECT p.id::text FROM proposals p WHERE p.deal_id = '", deal, "'",
                            status == v1::Proposal::STATUS_UNSPECIFIED
                                ? ""
                                : absl::StrCat(" AND p.status = ", static_cast<int>(status)),
                            " ORDER BY p.doc_date DESC, p.id DESC LIMIT 2"));
    StatementRecorder recorder;
    auto first = store.List(OneC(), req);
    ASSERT_TRUE(first.ok()) << first.status();
    std::vector<std::string> got;
    for (const auto& p : first->proposals()) got.push_back(p.id());
    // More than a page of data must give a token, and the second page must follow the first exactly.
    ASSERT_EQ(first->next_page_token().empty(), want.size() <= 1);
    if (!first->next_page_token().empty()) {
      req.set_page_token(first->next_page_token());
      auto second = store.List(OneC(), req);
      ASSERT_TRUE(second.ok()) << second.status();
      for (const auto& p : second->proposals()) got.push_back(p.id());
    }
    EXPECT_EQ(got, want);
    EXPECT_FALSE(got.empty());
    EXPECT_GE(ExpectIndexBacked(recorder.Take(), "proposals"), 1);
  }
}

TEST_F(ErpPlanTest, TheConflictLogIsIndexBackedAndExact) {
  TaskMirror mirror(*pool_, clock_);
  for (const std::string& task : {std::string(), RowId(kTaskRows, 99)}) {
    SCOPED_TRACE(task);
    v1::ListErpTaskConflictsRequest req;
    req.set_task_id(task);
    req.set_page_size(task.empty() ? 50 : 1);
    StatementRecorder recorder;
    auto first = mirror.ListConflicts(OneC(), req);
    ASSERT_TRUE(first.ok()) << first.status();
    std::vector<std::string> got;
    for (const auto& c : first->conflicts()) got.push_back(c.id());
    ASSERT_FALSE(first->next_page_token().empty());
    req.set_page_token(first->next_page_token());
    auto second = mirror.ListConflicts(OneC(), req);
    ASSERT_TRUE(second.ok()) << second.status();
    for (const auto& c : second->conflicts()) got.push_back(c.id());
    EXPECT_EQ(got, Column(absl::StrCat("SELECT k.id::text FROM erp_task_conflicts k WHERE ",
                                       task.empty() ? "TRUE" : absl::StrCat("k.task_id = '", task, "'"),
                                       " ORDER BY k.create_time DESC, k.id DESC LIMIT ", task.empty() ? 100 : 2)));
    EXPECT_GE(ExpectIndexBacked(recorder.Take(), "conflicts"), 1);
  }
}

TEST_F(ErpPlanTest, TheWorkerClaimsDueNoticesOnAnIndex) {
  TakingMailer mailer;
  NoticeSender sender(*pool_, clock_, mailer, {.batch = 10});
  const int64_t due = db_->Count(
      "SELECT count(*) FROM erp_mail_queue WHERE state = 1 AND next_attempt_time <= now()");
  ASSERT_GT(due, 10);
  StatementRecorder recorder;
  absl::StatusOr<int> sent = sender.RunOnce();
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(*sent, 10);
  EXPECT_GE(ExpectIndexBacked(recorder.Take(), "notice claim"), 1);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM erp_mail_queue WHERE state = 1 AND next_attempt_time <= now()"), due - 10);
}

}  // namespace
}  // namespace crm::deals::erp
