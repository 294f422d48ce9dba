// File: services/deals/lists_plan_test.cc
// Issue 14: the deals service's lists other than the deal list and board (listing_test.cc) at a
// realistic size — ListTasks on 1 000 000 tasks for every access scope (own, team, all, and none: a
// user's own tasks only) and every filter; ListClients' search and FindDuplicates on 1 000 000 clients;
// a client's and a deal's contacts; ListTimeline on 2 000 000 entries with their attachments; a deal's
// products, payments and orders; the catalogue's search. With fresh statistics, every statement the
// stores send (StatementRecorder, sql.h) is EXPLAINed (ANALYZE, FORMAT JSON) with its values and as the
// generic plan a prepared statement may settle on: none may read a big table with a sequential scan,
// nor walk an index throwing away more than kMaxDiscarded rows (an ordered walk of the whole table
// that hopes to meet its page early is no better; text searches have their own bound, see
// ExpectIndexBacked). The answers are checked against plain queries of what each list
// promises. The tables are filled with generate_series and their indexes built afterwards (BulkLoad):
// about 80 s here, most of it the trigram indexes of 1 000 000 clients.
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/base/time.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/plan_testing.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "services/deals/clients.h"
#include "services/deals/deals.h"
#include "services/deals/orders.h"
#include "services/deals/payments.h"
#include "services/deals/products.h"
#include "services/deals/sql.h"
#include "services/deals/tasks.h"
#include "services/deals/timeline.h"
#include "services/deals/plan_test_base.h"

namespace crm {
const std::vector<crm::pg::Migration>& DealsMigrations();
}  // namespace crm

namespace crm::deals {
namespace {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;

constexpr int kUsers = kPlanUsers;
constexpr int kTeams = kPlanTeams;
constexpr int kDeals = 250'000;
constexpr int kTasks = 1'000'000;  // four per deal
constexpr int kClients = 1'000'000;
constexpr int kContacts = 300'000;   // two per client of the first 450 000 divisible by 3
constexpr int kEntries = 2'000'000;  // eight per deal
constexpr int kAttachments = 200'000;
constexpr int kLines = 500'000;  // two per deal
constexpr int kPayments = 250'000;
constexpr int kOrders = 250'000;
constexpr int kProducts = 100'000;
// The most rows a plan node on a big table may read and throw away (its filter's or recheck's).
constexpr int64_t kMaxDiscarded = 20'000;
// A text search's plan rests on the planner's guess of how common the text is (from a sampled
// histogram): for a name in a thousand it may walk the name index in order to meet a page, reading a
// few tens of thousands of rows. It may not read half of the table (the whole of it, for rare text, is
// what an ordered walk without a trigram index came to).
constexpr double kMaxSearchDiscardedShare = 0.5;
// A sequential scan of any of these fails the test.
const std::set<std::string> kBigTables = {
    "deals",           "tasks",         "clients",          "contacts",
    "client_contacts", "deal_contacts", "timeline_entries", "attachments",
    "deal_products",   "deal_payments", "deal_orders",      "products"};

constexpr char kPipeline[] = "01900000-0000-7000-8000-00000000c001";
constexpr char kStage[] = "01900000-0000-7000-8000-00000000d011";

// The generated rows' ids: row n of a table is a UUID whose fourth group names the table.
constexpr char kDealRows[] = "8100";
constexpr char kTaskRows[] = "9000";
constexpr char kClientRows[] = "a000";
constexpr char kContactRows[] = "a100";
constexpr char kEntryRows[] = "b000";
constexpr char kAttachmentRows[] = "b100";
constexpr char kLineRows[] = "c000";
constexpr char kPaymentRows[] = "c100";
constexpr char kOrderRows[] = "c200";
constexpr char kProductRows[] = "c300";

// User n (1..100) is in team n % 10 (plan_test_base.h). Deal g's responsible is user 1 + (g / 7) % 100
// (with that user's team as its team_ids); of its four tasks, the second is another user's (37 further on).

// The callers of every scope, with what access.h and tasks.h let each see of a task, written plainly
// over tasks t joined to their deals d: the deal's access, or the task being the caller's.
struct Caller {
  std::string name;
  Principal principal;
  std::string tasks;
};
std::vector<Caller> Callers() {
  return {
      {"own", User(1, {"deals.read.own"}),
       absl::StrCat("(d.responsible_id = '", UserId(1), "' OR t.responsible_id = '", UserId(1), "')")},
      {"team", User(2, {"deals.read.team"}),
       absl::StrCat("(d.responsible_id = '", UserId(2), "' OR d.team_ids && '{", TeamId(2),
                    "}' OR t.responsible_id = '", UserId(2), "')")},
      {"all", User(3, {"deals.read.all"}), "TRUE"},
      {"none", User(4, {"clients.read"}), absl::StrCat("t.responsible_id = '", UserId(4), "'")},
  };
}

// A ListTasks filter and the same condition written plainly over tasks t.
struct TaskFilter {
  std::string name;
  v1::ListTasksRequest req;
  std::string where;
};

class ListsPlanTest : public PlanTestBase<ListsPlanTest> {
 protected:
  static void SetUpTestSuite() {
    const absl::Time start = absl::Now();
    auto db = pg::testing::TempDatabase::Create("lists_plan");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = db->release();
    std::vector<pg::Migration> all = EventsMigrations();
    all.insert(all.end(), DealsMigrations().begin(), DealsMigrations().end());
    auto migrated = pg::Migrate(db_->dsn(), all);
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    pqxx::connection c(db_->dsn());
    {
      pqxx::work tx(c);
      tx.exec0(absl::StrCat("INSERT INTO pipelines (id, name) VALUES ('", kPipeline, "', 'Продажа')"));
      tx.exec0(absl::StrCat("INSERT INTO stages (id, pipeline_id, position, name, kind) VALUES ('", kStage,
                            "', '", kPipeline, "', 1, 'Новая', 1)"));
      InsertPlanStaff(tx);
      // The generated rows are consistent by construction: no foreign-key checks and no triggers
      // (deals' board totals) while loading.
      tx.exec0("SET LOCAL session_replication_role = replica");
      tx.exec0("SET LOCAL maintenance_work_mem = '256MB'");
      const std::string deal_responsible = absl::StrCat("(dg / 7) % ", kUsers);  // of deal dg, 0-based
      BulkLoad(tx, "deals",
               absl::StrCat(
                   "INSERT INTO deals (id, name, pipeline_id, stage_id, status, responsible_id, team_ids, "
                   "client_id, create_time, update_time, stage_enter_time) "
                   "SELECT ",
                   RowIdSql(kDealRows, "dg"), ", 'Сделка №' || dg, '", kPipeline, "', '", kStage, "', 1, ",
                   UserSql(absl::StrCat("1 + ", deal_responsible)), ", ARRAY[",
                   TeamSql(absl::StrCat("(1 + ", deal_responsible, ") % ", kTeams)), "], ",
                   RowIdSql(kClientRows, "4 * dg"), ", t, t, t FROM generate_series(1, ", kDeals,
                   ") dg, LATERAL (SELECT timestamptz '2025-01-01 00:00:00+00' + dg * interval '2 minutes' "
                   "AS t) x"));
      // Task g: of deal dg, its n-th (0..3); due once in the 694 days from 2025-01-01 (a permutation
      // of minutes); cancelled one in 20, open when due from 2026-06-01 on or forgotten (one in 50),
      // done otherwise.
      const std::string task_of = absl::StrCat(
          "LATERAL (SELECT 1 + (g - 1) % ", kDeals, " AS dg, (g - 1) / ", kDeals, " AS n, ((1 + (g - 1) % ",
          kDeals, ") / 7) % ", kUsers, " AS r, timestamptz '2025-01-01 00:00:00+00' + ",
          "((g::bigint * 7919) % 1000000) * interval '1 minute' AS due) x, ",
          "LATERAL (SELECT CASE WHEN g % 20 = 3 THEN 3 ",
          "WHEN x.due >= timestamptz '2026-06-01 00:00:00+00' OR g % 50 = 1 THEN 1 ELSE 2 END AS status) s");
      BulkLoad(tx, "tasks",
               absl::StrCat(
                   "INSERT INTO tasks (id, deal_id, kind, title, due_time, responsible_id, ",
                   "deal_responsible_id, status, completed_time, create_time, update_time, version) ",
                   "SELECT ", RowIdSql(kTaskRows, "g"), ", ", RowIdSql(kDealRows, "x.dg"),
                   ", 1 + g % 5, 'Задача №' || g, x.due, ",
                   UserSql(absl::StrCat("1 + CASE WHEN x.n = 1 THEN (x.r + 37) % ", kUsers, " ELSE x.r END")),
                   ", ", UserSql("1 + x.r"), ", s.status, CASE WHEN s.status = 2 THEN x.due END, ",
                   "x.due - interval '3 days', x.due - interval '3 days', 1 FROM generate_series(1, ",
                   kTasks, ") g, ", task_of));
      // Client g: a company or a person, one in a thousand «Заречный»; its own mobile, every fifth a
      // second number, the ten clients g % 100000 = 6 also client 5's mobile; every third an e-mail;
      // every fourth an ИНН (client 500000 a valid one). Every sixth e-mail is written «Client<g>@…»
      // (D5: found whatever the case).
      BulkLoad(
          tx, "clients",
          absl::StrCat(
              "INSERT INTO clients (id, kind, name, inn, phones, emails, create_time, update_time) SELECT ",
              RowIdSql(kClientRows, "g"),
              ", 1 + g % 2, CASE WHEN g % 2 = 0 THEN 'ООО «Компания ' || g || '»' ELSE 'Клиент ' || g END || "
              "CASE WHEN g % 1000 = 7 THEN ' Заречный' ELSE '' END, "
              "CASE WHEN g = 500000 THEN '7707083893' WHEN g % 4 = 0 THEN lpad(g::text, 10, '0') END, "
              "ARRAY['+7916' || lpad(g::text, 7, '0')] "
              "|| CASE WHEN g % 5 = 0 THEN ARRAY['+7495' || lpad(g::text, 7, '0')] ELSE '{}'::text[] END "
              "|| CASE WHEN g % 100000 = 6 THEN ARRAY['+79160000005'] ELSE '{}'::text[] END, "
              "CASE WHEN g % 6 = 0 THEN ARRAY['Client' || g || '@example.ru'] "
              "WHEN g % 3 = 0 THEN ARRAY['client' || g || '@example.ru'] ELSE '{}'::text[] END, t, t "
              "FROM generate_series(1, ",
              kClients,
              ") g, LATERAL (SELECT timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute' AS t) x"));
      // Contact k of client 3 * ((k + 1) / 2) (two each); deal g's main contact is contact g.
      BulkLoad(
          tx, "contacts",
          absl::StrCat(
              "INSERT INTO contacts (id, client_id, full_name, create_time, update_time) SELECT ",
              RowIdSql(kContactRows, "k"), ", ", RowIdSql(kClientRows, "3 * ((k + 1) / 2)"),
              ", 'Контакт ' || k, t, t FROM generate_series(1, ", kContacts,
              ") k, LATERAL (SELECT timestamptz '2024-01-01 00:00:00+00' + k * interval '1 minute' AS t) x"));
      BulkLoad(tx, "client_contacts",
               absl::StrCat("INSERT INTO client_contacts (client_id, contact_id) SELECT ",
                            RowIdSql(kClientRows, "3 * ((k + 1) / 2)"), ", ", RowIdSql(kContactRows, "k"),
                            " FROM generate_series(1, ", kContacts, ") k ORDER BY k"));
      BulkLoad(tx, "deal_contacts",
               absl::StrCat("INSERT INTO deal_contacts (deal_id, contact_id, main) SELECT ",
                            RowIdSql(kDealRows, "g"), ", ", RowIdSql(kContactRows, "g"),
                            ", true FROM generate_series(1, ", kDeals, ") g ORDER BY g"));
      // Entry g of deal 1 + (g - 1) % kDeals, every fourth a comment; attachment a on comment 4a.
      BulkLoad(
          tx, "timeline_entries",
          absl::StrCat(
              "INSERT INTO timeline_entries (id, deal_id, kind, actor_id, create_time, text) SELECT ",
              RowIdSql(kEntryRows, "g"), ", ", RowIdSql(kDealRows, absl::StrCat("1 + (g - 1) % ", kDeals)),
              ", CASE WHEN g % 4 = 0 THEN 1 ELSE 4 END, '', "
              "timestamptz '2025-01-01 00:00:00+00' + g * interval '15 seconds', 'Запись ' || g "
              "FROM generate_series(1, ",
              kEntries, ") g"));
      BulkLoad(
          tx, "attachments",
          absl::StrCat("INSERT INTO attachments (id, deal_id, file_name, content_type, size_bytes, sha256, "
                       "entry_id, create_time) SELECT ",
                       RowIdSql(kAttachmentRows, "a"), ", ",
                       RowIdSql(kDealRows, absl::StrCat("1 + (4 * a - 1) % ", kDeals)),
                       ", 'file' || a || '.pdf', 'application/pdf', 1000, md5(a::text), ",
                       RowIdSql(kEntryRows, "4 * a"),
                       ", timestamptz '2025-01-01 00:00:00+00' + 4 * a * interval '15 seconds' "
                       "FROM generate_series(1, ",
                       kAttachments, ") a"));
      BulkLoad(tx, "products",
               absl::StrCat(
                   "INSERT INTO products (id, external_id, sku, name, price_minor) SELECT ",
                   RowIdSql(kProductRows, "g"),
                   ", '1C-' || lpad(g::text, 8, '0'), 'SKU-' || g, 'Услуга ' || g || "
                   "CASE WHEN g % 1000 = 7 THEN ' ипотечная' ELSE '' END, 100000 FROM generate_series(1, ",
                   kProducts, ") g"));
      BulkLoad(
          tx, "deal_products",
          absl::StrCat(
              "INSERT INTO deal_products (id, deal_id, name, quantity_milli, unit_price_minor, currency, "
              "total_minor) SELECT ",
              RowIdSql(kLineRows, "l"), ", ", RowIdSql(kDealRows, absl::StrCat("1 + (l - 1) % ", kDeals)),
              ", 'Услуга ' || l, 1000, 100000, 'RUB', 100000 FROM generate_series(1, ", kLines,
              ") l ORDER BY l"));
      BulkLoad(
          tx, "deal_payments",
          absl::StrCat(
              "INSERT INTO deal_payments (id, deal_id, due_date, amount_minor, currency) SELECT ",
              RowIdSql(kPaymentRows, "x"), ", ", RowIdSql(kDealRows, absl::StrCat("1 + (x - 1) % ", kDeals)),
              ", date '2026-01-01' + x % 365, 50000, 'RUB' FROM generate_series(1, ", kPayments, ") x"));
      BulkLoad(
          tx, "deal_orders",
          absl::StrCat(
              "INSERT INTO deal_orders (id, deal_id, number, status, amount_minor, currency, "
              "create_time, update_time) SELECT ",
              RowIdSql(kOrderRows, "o"), ", ", RowIdSql(kDealRows, absl::StrCat("1 + (o - 1) % ", kDeals)),
              ", 'З-' || o, 1, 0, 'RUB', t, t FROM generate_series(1, ", kOrders,
              ") o, LATERAL (SELECT timestamptz '2025-01-01 00:00:00+00' + o * interval '1 minute' AS t) x"));
      tx.commit();
    }
    pqxx::nontransaction ntx(c);
    ntx.exec0("VACUUM ANALYZE");
    std::cerr << "lists_plan_test: data loaded and analysed in " << absl::Now() - start << "\n";
  }

  // Fails for each statement of `statements` whose plan — for its values, and the generic plan a
  // prepared statement may settle on — reads a big table (kBigTables) with a sequential scan, or throws
  // away more than kMaxDiscarded rows of one. Returns how many statements read a big table.
  // A text search (`search`) is held to kMaxSearchDiscardedShare of the table, and only in the plan
  // for its values (the generic one is EXPLAINed without running it): a generic plan cannot know how
  // common the text is (PostgreSQL assumes 0.5 % of rows per pattern) and may walk the name index in
  // order; the stores send searches with Exec, which plans each call for its values.
  int ExpectIndexBacked(const std::vector<StatementRecorder::Statement>& statements, const std::string& what,
                        bool search = false) {
    pg::testing::PlanExpectations expect{.tables = kBigTables, .analyze = true, .analyze_generic = !search,
                                         .what = what};
    if (search) {
      expect.max_removed_share = kMaxSearchDiscardedShare;
    } else {
      expect.max_removed_rows = kMaxDiscarded;
    }
    return pg::testing::ExpectNoSeqScan(db_->dsn(), statements, expect);
  }

  static std::vector<TaskFilter> TaskFilters(const Caller& caller) {
    std::vector<TaskFilter> out;
    out.push_back({"none", {}, "TRUE"});
    {
      // Deal 441: user 64's; its second task is user 1's (the own caller's).
      TaskFilter f{"deal of another", {}, absl::StrCat("t.deal_id = '", RowId(kDealRows, 441), "'")};
      f.req.set_deal_id(RowId(kDealRows, 441));
      out.push_back(f);
    }
    {
      // Deal 77: user 12's, of team 2 (the team caller's).
      TaskFilter f{"deal of the team", {}, absl::StrCat("t.deal_id = '", RowId(kDealRows, 77), "'")};
      f.req.set_deal_id(RowId(kDealRows, 77));
      out.push_back(f);
    }
    {
      TaskFilter f{"mine", {}, absl::StrCat("t.responsible_id = '", caller.principal.id(), "'")};
      f.req.set_responsible("me");
      out.push_back(f);
    }
    {
      TaskFilter f{"another's", {}, absl::StrCat("t.responsible_id = '", UserId(12), "'")};
      f.req.set_responsible(UserId(12));
      out.push_back(f);
    }
    for (const auto& [name, status] : std::vector<std::pair<std::string, v1::Task::Status>>{
             {"open", v1::Task::OPEN}, {"done", v1::Task::DONE}, {"cancelled", v1::Task::CANCELLED}}) {
      TaskFilter f{name, {}, absl::StrCat("t.status = ", static_cast<int>(status))};
      f.req.set_status(status);
      out.push_back(f);
    }
    {
      TaskFilter f{
          "a week", {}, "t.due_time >= '2026-02-01 00:00:00+00' AND t.due_time < '2026-02-08 00:00:00+00'"};
      *f.req.mutable_due_after() =
          ToProtoTimestamp(absl::FromCivil(absl::CivilDay(2026, 2, 1), absl::UTCTimeZone()));
      *f.req.mutable_due_before() =
          ToProtoTimestamp(absl::FromCivil(absl::CivilDay(2026, 2, 8), absl::UTCTimeZone()));
      out.push_back(f);
    }
    {
      TaskFilter f{
          "overdue", {}, absl::StrCat("t.status = 1 AND t.due_time < '", absl::FormatTime(kNow), "'")};
      f.req.set_overdue(true);
      out.push_back(f);
    }
    {
      TaskFilter f{
          "my open", {}, absl::StrCat("t.status = 1 AND t.responsible_id = '", caller.principal.id(), "'")};
      f.req.set_responsible("me");
      f.req.set_status(v1::Task::OPEN);
      out.push_back(f);
    }
    {
      TaskFilter f{
          "deal's open", {}, absl::StrCat("t.status = 1 AND t.deal_id = '", RowId(kDealRows, 77), "'")};
      f.req.set_deal_id(RowId(kDealRows, 77));
      f.req.set_status(v1::Task::OPEN);
      out.push_back(f);
    }
    return out;
  }

  static inline const absl::Time kNow = absl::FromCivil(absl::CivilDay(2026, 6, 10), absl::UTCTimeZone());
  ManualClock clock_{kNow};
};


TEST_F(ListsPlanTest, TasksOfEveryScopeAndFilterAreIndexBackedAndExact) {
  TaskStore store(*pool_, clock_);
  for (const Caller& caller : Callers()) {
    for (TaskFilter f : TaskFilters(caller)) {
      SCOPED_TRACE(absl::StrCat(caller.name, " / ", f.name));
      StatementRecorder recorder;
      f.req.set_page_size(50);
      auto first = store.List(caller.principal, f.req);
      ASSERT_TRUE(first.ok()) << first.status();
      std::vector<std::string> got;
      for (const auto& t : first->tasks()) got.push_back(t.id());
      // And the next page, through its token.
      if (!first->next_page_token().empty()) {
        f.req.set_page_token(first->next_page_token());
        auto second = store.List(caller.principal, f.req);
        ASSERT_TRUE(second.ok()) << second.status();
        for (const auto& t : second->tasks()) got.push_back(t.id());
      }
      EXPECT_EQ(got, Column(absl::StrCat(
                         "SELECT t.id::text FROM tasks t JOIN deals d ON d.id = t.deal_id WHERE ",
                         caller.tasks, " AND (", f.where, ") ORDER BY t.due_time, t.id LIMIT 100")));
      EXPECT_GE(ExpectIndexBacked(recorder.Take(), caller.name + " / " + f.name), 1);
    }
  }
}

TEST_F(ListsPlanTest, ClientSearchDuplicatesAndContactsAreIndexBackedAndExact) {
  ClientStore store(*pool_, clock_);
  const Principal caller = User(5, {"clients.read", "deals.read.all"});
  // ListClients: each query, two pages.
  for (const auto& [query, like, phone] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"", "", ""},
           {"Заречный", "%Заречный%", ""},                                // a part of one name in a thousand
           {"клиент", "%клиент%", ""},                                    // of half of them
           {"0012345", "%0012345%", ""},                                  // a part of a phone
           {"8 (916) 001-23-45", "%8 (916) 001-23-45%", "+79160012345"},  // a phone, written otherwise
           {"client12345@", "%client12345@%", ""},                        // a part of an e-mail
       }) {
    SCOPED_TRACE(query);
    StatementRecorder recorder;
    v1::ListClientsRequest req;
    req.set_query(query);
    req.set_page_size(40);
    auto first = store.ListClients(caller, req);
    ASSERT_TRUE(first.ok()) << first.status();
    std::vector<std::string> got;
    for (const auto& c : first->clients()) got.push_back(c.id());
    if (!first->next_page_token().empty()) {
      req.set_page_token(first->next_page_token());
      auto second = store.ListClients(caller, req);
      ASSERT_TRUE(second.ok()) << second.status();
      for (const auto& c : second->clients()) got.push_back(c.id());
    }
    std::string where = "TRUE";
    if (!like.empty()) {
      where = absl::StrCat("name ILIKE '", like, "' OR array_to_string(phones, ' ') ILIKE '", like,
                           "' OR array_to_string(emails, ' ') ILIKE '", like, "'");
    }
    if (!phone.empty()) absl::StrAppend(&where, " OR '", phone, "' = ANY(phones)");
    const std::vector<std::string> want = Column(
        absl::StrCat("SELECT id::text FROM clients WHERE ", where, " ORDER BY lower(name), id LIMIT 80"));
    EXPECT_EQ(got, want);
    EXPECT_FALSE(want.empty());
    EXPECT_GE(ExpectIndexBacked(recorder.Take(), "ListClients " + query, /*search=*/true), 1);
  }

  // FindDuplicates: by each key and by all three.
  for (const auto& [phone, email, inn] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"8 916 000-00-05", "", ""},
           {"", "client300@Example.RU", ""},
           {"", "", "7707083893"},
           {"+7 916 000-00-05", "CLIENT300@example.ru", "7707083893"},
       }) {
    SCOPED_TRACE(absl::StrCat(phone, " ", email, " ", inn));
    StatementRecorder recorder;
    v1::FindDuplicatesRequest req;
    req.set_phone(phone);
    req.set_email(email);
    req.set_inn(inn);
    auto found = store.FindDuplicates(caller, req);
    ASSERT_TRUE(found.ok()) << found.status();
    std::vector<std::string> got;
    for (const auto& c : found->clients()) got.push_back(c.id());
    std::vector<std::string> conds;
    if (!phone.empty()) conds.push_back("'+79160000005' = ANY(phones)");
    if (!email.empty()) {
      conds.push_back("EXISTS (SELECT 1 FROM unnest(emails) e WHERE lower(e) = 'client300@example.ru')");
    }
    if (!inn.empty()) conds.push_back("inn = '7707083893'");
    const std::vector<std::string> want =
        Column(absl::StrCat("SELECT id::text FROM clients WHERE ", absl::StrJoin(conds, " OR "),
                            " ORDER BY create_time, id LIMIT 20"));
    EXPECT_EQ(got, want);
    EXPECT_FALSE(want.empty());
    EXPECT_GE(ExpectIndexBacked(recorder.Take(), "FindDuplicates"), 1);
  }

  // A client's contacts, in the order it got them.
  {
    StatementRecorder recorder;
    const std::string client = RowId(kClientRows, 3 * 7000);
    auto contacts = store.ListContacts(caller, client);
    ASSERT_TRUE(contacts.ok()) << contacts.status();
    std::vector<std::string> got;
    for (const auto& k : contacts->contacts()) got.push_back(k.id());
    EXPECT_EQ(got, Column(absl::StrCat("SELECT contact_id::text FROM client_contacts WHERE client_id = '",
                                       client, "' ORDER BY pos")));
    EXPECT_EQ(got.size(), 2u);
    EXPECT_GE(ExpectIndexBacked(recorder.Take(), "ListContacts"), 1);
  }
  // A deal's contacts.
  {
    StatementRecorder recorder;
    const std::string deal = RowId(kDealRows, 4);
    auto contacts = store.ListDealContacts(caller, deal);
    ASSERT_TRUE(contacts.ok()) << contacts.status();
    std::vector<std::string> got;
    for (const auto& dc : contacts->contacts()) got.push_back(dc.contact().id());
    EXPECT_EQ(got, Column(absl::StrCat("SELECT contact_id::text FROM deal_contacts WHERE deal_id = '", deal,
                                       "' ORDER BY main DESC, pos")));
    EXPECT_EQ(got.size(), 1u);
    EXPECT_GE(ExpectIndexBacked(recorder.Take(), "ListDealContacts"), 1);
  }
}

TEST_F(ListsPlanTest, TimelineAndDealListsAreIndexBackedAndExact) {
  // Deal 4 is user 1's; all eight of its entries are comments, four with an attachment.
  const Principal own = User(1, {"deals.read.own"});
  const std::string deal = RowId(kDealRows, 4);
  LocalDirBlobStore blobs(::testing::TempDir(), 1 << 20);
  {
    TimelineStore store(*pool_, clock_, blobs);
    StatementRecorder recorder;
    std::vector<std::string> got;
    int attachments = 0;
    v1::ListTimelineRequest req;
    req.set_deal_id(deal);
    req.set_page_size(3);
    for (int page = 0; page < 10; ++page) {
      auto r = store.List(own, req);
      ASSERT_TRUE(r.ok()) << r.status();
      for (const auto& e : r->entries()) {
        got.push_back(e.id());
        attachments += e.attachments_size();
      }
      if (r->next_page_token().empty()) break;
      req.set_page_token(r->next_page_token());
    }
    EXPECT_EQ(got, Column(absl::StrCat("SELECT id::text FROM timeline_entries WHERE deal_id = '", deal,
                                       "' ORDER BY create_time DESC, id DESC")));
    EXPECT_EQ(got.size(), 8u);
    EXPECT_EQ(attachments, 4);
    EXPECT_GE(ExpectIndexBacked(recorder.Take(), "ListTimeline"), 2);
  }
  {
    DealProductStore store(*pool_, clock_);
    StatementRecorder recorder;
    auto lines = store.List(own, deal);
    ASSERT_TRUE(lines.ok()) << lines.status();
    std::vector<std::string> got;
    for (const auto& l : lines->products()) got.push_back(l.id());
    EXPECT_EQ(got, Column(absl::StrCat("SELECT id::text FROM deal_products WHERE deal_id = '", deal,
                                       "' ORDER BY pos")));
    EXPECT_EQ(got.size(), 2u);
    EXPECT_GE(ExpectIndexBacked(recorder.Take(), "ListDealProducts"), 2);
  }
  {
    DealStore deals(*pool_, clock_);
    PaymentStore store(*pool_, clock_, deals, absl::UTCTimeZone());
    StatementRecorder recorder;
    auto panel = store.GetPanel(own, deal);
    ASSERT_TRUE(panel.ok()) << panel.status();
    std::vector<std::string> got;
    for (const auto& x : panel->payments()) got.push_back(x.id());
    EXPECT_EQ(got, Column(absl::StrCat("SELECT id::text FROM deal_payments WHERE deal_id = '", deal,
                                       "' ORDER BY due_date, create_time, id")));
    EXPECT_EQ(got.size(), 1u);
    EXPECT_GE(ExpectIndexBacked(recorder.Take(), "GetPaymentPanel"), 2);
  }
  {
    OrderStore store(*pool_, clock_);
    StatementRecorder recorder;
    auto orders = store.List(own, deal);
    ASSERT_TRUE(orders.ok()) << orders.status();
    std::vector<std::string> got;
    for (const auto& o : orders->orders()) got.push_back(o.id());
    EXPECT_EQ(got, Column(absl::StrCat("SELECT id::text FROM deal_orders WHERE deal_id = '", deal,
                                       "' ORDER BY create_time DESC, id DESC")));
    EXPECT_EQ(got.size(), 1u);
    EXPECT_GE(ExpectIndexBacked(recorder.Take(), "ListOrders"), 2);
  }
}

TEST_F(ListsPlanTest, CatalogueSearchIsIndexBackedAndExact) {
  CatalogStore store(*pool_, clock_);
  const Principal caller = User(1, {"deals.read.own"});
  for (const auto& [query, like] :
       std::vector<std::pair<std::string, std::string>>{{"", ""},
                                                        {"ипотечная", "%ипотечная%"},
                                                        {"SKU-4242", "%SKU-4242%"},
                                                        {"1c-0000999", "%1c-0000999%"}}) {
    SCOPED_TRACE(query);
    StatementRecorder recorder;
    v1::ListProductsRequest req;
    req.set_query(query);
    req.set_page_size(30);
    auto first = store.List(caller, req);
    ASSERT_TRUE(first.ok()) << first.status();
    std::vector<std::string> got;
    for (const auto& x : first->products()) got.push_back(x.id());
    if (!first->next_page_token().empty()) {
      req.set_page_token(first->next_page_token());
      auto second = store.List(caller, req);
      ASSERT_TRUE(second.ok()) << second.status();
      for (const auto& x : second->products()) got.push_back(x.id());
    }
    const std::string where = like.empty() ? "TRUE"
                                           : absl::StrCat("name ILIKE '", like, "' OR sku ILIKE '", like,
                                                          "' OR external_id ILIKE '", like, "'");
    const std::vector<std::string> want = Column(
        absl::StrCat("SELECT id::text FROM products WHERE ", where, " ORDER BY lower(name), id LIMIT 60"));
    EXPECT_EQ(got, want);
    EXPECT_FALSE(want.empty());
    EXPECT_GE(ExpectIndexBacked(recorder.Take(), "ListProducts " + query, /*search=*/true), 1);
  }
}

}  // namespace
}  // namespace crm::deals
