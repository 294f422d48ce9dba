// Issue 14: on 1 000 000 calculations, questionnaires and applications (and 780 000 bank replies) with fresh
// statistics, every statement the applications store sends for ListCalculations, ListQuestionnaires,
// ListApplications, the desk and the reports — for each scope (mortgage.read.all; the caller's own) and each
// filter the API offers, reports over a month and a quarter — has plans without a sequential scan of those
// tables: EXPLAIN (FORMAT JSON) of exactly what sql.h's Run sent, with its values and as the generic plan of
// a prepared statement; and a page (of a list or the desk) comes in its order from an index, sorting no more
// than a few thousand rows. And the store answers what a plain query of the same rows answers.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/plan_testing.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "services/mortgage/applications.h"
#include "services/mortgage/sql.h"

namespace crm {
const std::vector<crm::pg::Migration>& MortgageMigrations();
}  // namespace crm

namespace crm::mortgage {
namespace {

using crm::common::v1::Principal;

constexpr int kRows = 1'000'000;  // calculations, questionnaires, applications each
constexpr int kSpecialists = 100;
constexpr int kClients = 200'000;
constexpr int kBanks = 25;
// Row g (1..kRows) of each table is created at kStart + g × 95 s: three years, the newest in December 2026.
constexpr char kStart[] = "2023-12-01 00:00:00+00";
const std::vector<std::string> kBigTables = {"calculations", "questionnaires", "applications", "bank_replies"};

std::string Id(const char* prefix, int n) { return absl::StrCat(prefix, absl::Hex(n, absl::kZeroPad12)); }
std::string SpecialistId(int n) { return Id("01900000-0000-7000-8000-", n); }
std::string BankId(int n) { return Id("01910000-0000-7000-8000-", n); }
std::string ClientId(int n) { return Id("01920000-0000-7000-8000-", n); }
// The same ids in SQL, of an integer expression.
std::string SqlId(const char* prefix, const std::string& n) {
  return absl::StrCat("'", prefix, "' || lpad(to_hex(", n, "), 12, '0')");
}

Actor As(const std::string& id, std::vector<std::string> permissions) {
  Actor a;
  a.principal.set_kind(Principal::KIND_USER);
  a.principal.set_id(id);
  for (std::string& p : permissions) a.principal.add_permissions(std::move(p));
  return a;
}

std::string Quoted(const std::string& s) { return absl::StrCat("'", s, "'"); }

// m[key], 0 when absent.
int64_t At(const std::map<std::string, int64_t>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

class ListsPlanTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto start = std::chrono::steady_clock::now();
    auto db = pg::testing::TempDatabase::Create("mortgage_lists");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = db->release();
    std::vector<pg::Migration> all = EventsMigrations();
    all.insert(all.end(), MortgageMigrations().begin(), MortgageMigrations().end());
    auto migrated = pg::Migrate(db_->dsn(), all);
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    pqxx::connection c(db_->dsn());
    {
      pqxx::work tx(c);
      tx.exec0(absl::StrCat("INSERT INTO banks (id, code, name, version, body) SELECT (",
                            SqlId("01910000-0000-7000-8000-", "b"), ")::uuid, 'bank' || b, 'Банк ' || b, 1, '\\x' "
                            "FROM generate_series(1, ", kBanks, ") b"));
      // Row g: specialist 1 + (g div 3) mod 100, client 7g mod 200 000 (five of each kind per client),
      // created kStart + 95g s, ids time-ordered like UUIDv7; its project («ЖК 1»..«ЖК 7» or none), status,
      // bank and kind drawn from h, a hash of g, so that they are independent of each other and of the
      // specialist.
      const std::string specialist = SqlId("01900000-0000-7000-8000-", absl::StrCat("1 + (g / 3) % ", kSpecialists));
      const std::string client = SqlId("01920000-0000-7000-8000-", absl::StrCat("(g * 7) % ", kClients));
      const std::string project = "CASE WHEN h / 25000 % 8 = 0 THEN '' ELSE 'ЖК ' || (h / 25000 % 8) END";
      const std::string rows = absl::StrCat("FROM generate_series(1, ", kRows, ") g, LATERAL (SELECT timestamptz '",
                                            kStart, "' + g * interval '95 seconds' AS t, abs(hashint4(g)) AS h) ts");
      pg::testing::BulkLoad(tx, kBigTables, [&](pqxx::transaction_base& w) {
        w.exec0(absl::StrCat(
            "INSERT INTO calculations (id, number, client_id, deal_id, project, specialist_id, request, response, "
            "created_at) SELECT (",
            SqlId("01920000-0000-7000-a000-", "g"), ")::uuid, lpad(g::text, 7, '0'), ", client, ", '', ", project,
            ", ", specialist, ", '\\x', '\\x', t ", rows));
        // Every tenth questionnaire a draft, updated a day after its creation.
        w.exec0(absl::StrCat(
            "INSERT INTO questionnaires (id, version, client_id, deal_id, status, specialist_id, body, created_at, "
            "updated_at) SELECT (",
            SqlId("01920000-0000-7000-c000-", "g"), ")::uuid, 1, ", client,
            ", '', CASE WHEN h / 7 % 10 = 0 THEN 1 ELSE 2 END, ", specialist, ", '\\x', t, t + interval '1 day' ", rows));
        // Applications by h mod 100: 3 % drafts, 3 % sent, 3 % under review, 2 % documents requested, 10 %
        // approved (valid 90 days), 25 % declined, 35 % issued, 19 % withdrawn; every tenth an object approval.
        w.exec0(absl::StrCat(
            "INSERT INTO applications (id, version, number, kind, client_id, deal_id, project, bank_id, status, "
            "specialist_id, body, created_at, updated_at, sent_at, decision, decided_at, issued_at, valid_until, "
            "deal_application_id) SELECT (",
            SqlId("01920000-0000-7000-b000-", "g"), ")::uuid, 1, lpad(g::text, 7, '0'), "
            "CASE WHEN h / 2500 % 10 = 0 THEN 2 ELSE 1 END, ",
            client, ", '', ", project, ", (", SqlId("01910000-0000-7000-8000-", absl::StrCat("1 + h / 100 % ", kBanks)),
            ")::uuid, s, ", specialist,
            ", '\\x', t, t + interval '3 days', CASE WHEN s >= 2 THEN t + interval '1 hour' END, "
            "CASE WHEN s IN (5, 7) THEN 5 WHEN s = 6 THEN 6 END, "
            "CASE WHEN s IN (5, 6, 7) THEN t + interval '2 days' END, CASE WHEN s = 7 THEN t + interval '10 days' END, "
            "CASE WHEN s = 5 THEN (t + interval '90 days')::date END, "
            // Issue 17: every other application started from a deal application (25 from each).
            "CASE WHEN g % 2 = 0 THEN (", SqlId("01930000-0000-7000-d500-", "g / 50"), ")::uuid END ",
            rows,
            ", LATERAL (SELECT CASE WHEN h % 100 < 3 THEN 1 WHEN h % 100 < 6 THEN 2 WHEN h % 100 < 9 THEN 3 "
            "WHEN h % 100 < 11 THEN 4 WHEN h % 100 < 21 THEN 5 WHEN h % 100 < 46 THEN 6 WHEN h % 100 < 81 THEN 7 "
            "ELSE 8 END AS s) st"));
        // A bank's reply to every application it reviewed, two days after its creation.
        w.exec0(
            "INSERT INTO bank_replies (id, application_id, decision, received_at, body) "
            "SELECT gen_random_uuid(), id, coalesce(decision, 3), created_at + interval '2 days', '\\x' "
            "FROM applications WHERE status BETWEEN 3 AND 7");
      });
      tx.commit();
    }
    pqxx::nontransaction ntx(c);
    ntx.exec0("VACUUM ANALYZE");
    std::cerr << "filled and analyzed in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s\n";
  }

  static void TearDownTestSuite() {
    delete db_;
    db_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(db_, nullptr);
    auto pool = pg::Pool::Create({.dsn = db_->dsn(), .size = 2});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
    store_ = std::make_unique<ApplicationStore>(*pool_, clock_);
  }

  // The first column (as text) of the rows of `sql`.
  std::vector<std::string> Column(const std::string& sql) {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    std::vector<std::string> out;
    for (const pqxx::row& r : tx.exec(sql)) out.push_back(r[0].as<std::string>());
    return out;
  }
  // The ids of the first `limit` rows of `table` matching `where`, in `order`.
  std::vector<std::string> Ids(const std::string& table, const std::string& where, const std::string& order,
                               int limit) {
    return Column(absl::StrCat("SELECT id::text FROM ", table, " WHERE ", where, " ORDER BY ", order, " LIMIT ", limit));
  }
  // Rows of (key text, count bigint) as a map.
  std::map<std::string, int64_t> Counts(const std::string& sql) {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    std::map<std::string, int64_t> out;
    for (const pqxx::row& r : tx.exec(sql)) out[r[0].as<std::string>()] = r[1].as<int64_t>();
    return out;
  }

  // What a statement reads: a page of a list or of the desk, which must come in its order from an index
  // (no Sort of more than kMaxPageSort rows), or a report's period, which may be read and sorted whole.
  enum class Reads { kPage, kPeriod };
  static constexpr double kMaxPageSort = 5000;

  // Fails for each statement of `statements` that reads one of kBigTables with a sequential scan (or, for
  // a page, sorts more than kMaxPageSort rows), in the plan for its values and in the generic plan a
  // prepared statement may settle on; returns how many statements read `table`.
  int ExpectNoSeqScan(const std::vector<StatementRecorder::Statement>& statements, const std::string& table,
                      Reads reads = Reads::kPage) {
    return pg::testing::ExpectNoSeqScan(
        db_->dsn(), statements,
        {.tables = {kBigTables.begin(), kBigTables.end()},
         .reading = table,
         .max_sort_rows = reads == Reads::kPage ? std::optional<double>(kMaxPageSort) : std::nullopt});
  }

  // Two pages of a list through `list` (page size `size`), the ids of both; the statements sent are
  // checked to read `table` on an index.
  template <typename Request, typename Response>
  std::vector<std::string> TwoPages(
      Request req, int size, const std::string& table,
      const std::function<absl::StatusOr<Response>(const Request&)>& list,
      const std::function<std::vector<std::string>(const Response&)>& ids) {
    StatementRecorder recorder;
    req.set_page_size(size);
    absl::StatusOr<Response> first = list(req);
    EXPECT_TRUE(first.ok()) << first.status();
    if (!first.ok()) return {};
    std::vector<std::string> got = ids(*first);
    int calls = 1;
    if (!first->next_page_token().empty()) {
      req.set_page_token(first->next_page_token());
      absl::StatusOr<Response> second = list(req);
      EXPECT_TRUE(second.ok()) << second.status();
      if (!second.ok()) return {};
      for (std::string& id : ids(*second)) got.push_back(std::move(id));
      ++calls;
    }
    EXPECT_GE(ExpectNoSeqScan(recorder.Take(), table), calls);
    return got;
  }

  static pg::testing::TempDatabase* db_;
  // Today: Monday 7 December 2026, in UTC (the store is given the zone).
  ManualClock clock_{absl::FromCivil(absl::CivilSecond(2026, 12, 7, 10, 0, 0), absl::UTCTimeZone())};
  std::unique_ptr<pg::Pool> pool_;
  std::unique_ptr<ApplicationStore> store_;
};

pg::testing::TempDatabase* ListsPlanTest::db_ = nullptr;

// The scopes: every specialist's documents, and a specialist's own.
const Actor kAll = As(SpecialistId(1), {"mortgage.read.all", "mortgage.manage", "mortgage.calculate"});
const Actor kOwn = As(SpecialistId(12), {"mortgage.manage", "mortgage.calculate"});

TEST_F(ListsPlanTest, CalculationListsOfEveryScopeAndFilterAreIndexBackedAndExact) {
  // Client 7g mod 200 000 for g = 36: its five calculations (g = 36 + k × 200 000) are several specialists'.
  const std::string client = ClientId(252);
  const std::string own_client = Column(absl::StrCat("SELECT client_id FROM calculations WHERE specialist_id = '",
                                                     SpecialistId(12), "' ORDER BY created_at DESC LIMIT 1"))[0];
  struct Case {
    std::string name;
    Actor actor;
    std::string client_id;
    std::string specialist_id;
    std::string where;
  };
  const std::string mine = absl::StrCat("specialist_id = '", SpecialistId(12), "'");
  const std::vector<Case> cases = {
      {"all / none", kAll, "", "", "TRUE"},
      {"all / client", kAll, client, "", absl::StrCat("client_id = '", client, "'")},
      {"all / specialist", kAll, "", SpecialistId(30), absl::StrCat("specialist_id = '", SpecialistId(30), "'")},
      {"all / client and specialist", kAll, own_client, SpecialistId(12),
       absl::StrCat("client_id = '", own_client, "' AND ", mine)},
      {"own / none", kOwn, "", "", mine},
      {"own / client", kOwn, own_client, "", absl::StrCat("client_id = '", own_client, "' AND ", mine)},
      {"own / self", kOwn, "", SpecialistId(12), mine},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    v1::ListCalculationsRequest req;
    req.set_client_id(k.client_id);
    req.set_specialist_id(k.specialist_id);
    const std::vector<std::string> got = TwoPages<v1::ListCalculationsRequest, v1::ListCalculationsResponse>(
        req, 20, "calculations",
        [&](const v1::ListCalculationsRequest& r) { return store_->ListCalculations(k.actor, r); },
        [](const v1::ListCalculationsResponse& r) {
          std::vector<std::string> ids;
          for (const auto& c : r.calculations()) ids.push_back(c.id());
          return ids;
        });
    EXPECT_EQ(got, Ids("calculations", k.where, "created_at DESC, id DESC", 40));
    EXPECT_FALSE(got.empty());
  }
  v1::ListCalculationsRequest other;
  other.set_specialist_id(SpecialistId(30));
  EXPECT_EQ(store_->ListCalculations(kOwn, other).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(ListsPlanTest, QuestionnaireListsOfEveryScopeAndFilterAreIndexBackedAndExact) {
  const std::string client = ClientId(252);
  const std::string own_client = Column(absl::StrCat("SELECT client_id FROM questionnaires WHERE specialist_id = '",
                                                     SpecialistId(12), "' ORDER BY created_at DESC LIMIT 1"))[0];
  const std::string mine = absl::StrCat("specialist_id = '", SpecialistId(12), "'");
  struct Case {
    std::string name;
    Actor actor;
    std::string client_id;
    std::string where;
  };
  const std::vector<Case> cases = {
      {"all / none", kAll, "", "TRUE"},
      {"all / client", kAll, client, absl::StrCat("client_id = '", client, "'")},
      {"own / none", kOwn, "", mine},
      {"own / client", kOwn, own_client, absl::StrCat("client_id = '", own_client, "' AND ", mine)},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    v1::ListQuestionnairesRequest req;
    req.set_client_id(k.client_id);
    const std::vector<std::string> got = TwoPages<v1::ListQuestionnairesRequest, v1::ListQuestionnairesResponse>(
        req, 20, "questionnaires",
        [&](const v1::ListQuestionnairesRequest& r) { return store_->ListQuestionnaires(k.actor, r); },
        [](const v1::ListQuestionnairesResponse& r) {
          std::vector<std::string> ids;
          for (const auto& q : r.questionnaires()) ids.push_back(q.id());
          return ids;
        });
    EXPECT_EQ(got, Ids("questionnaires", k.where, "created_at DESC, id DESC", 40));
    EXPECT_FALSE(got.empty());
  }
}

TEST_F(ListsPlanTest, ApplicationListsOfEveryScopeAndFilterAreIndexBackedAndExact) {
  const std::string client = ClientId(252);
  const std::string own_client = Column(absl::StrCat("SELECT client_id FROM applications WHERE specialist_id = '",
                                                     SpecialistId(12), "' ORDER BY created_at DESC LIMIT 1"))[0];
  const std::string mine = absl::StrCat("specialist_id = '", SpecialistId(12), "'");
  struct Case {
    std::string name;
    Actor actor;
    std::string client_id;
    std::string bank_id;
    v1::ApplicationStatus status;
    std::string specialist_id;
    std::string where;
    std::string deal_application_id = "";
  };
  const std::string bank = BankId(7);
  // Issue 17: the mortgage applications started from one deal application (deal_applications.h).
  const std::string deal_application = "01930000-0000-7000-d500-000000000064";
  const std::string in_bank = absl::StrCat("bank_id = '", bank, "'");
  const std::vector<Case> cases = {
      {"all / none", kAll, "", "", v1::APPLICATION_STATUS_UNSPECIFIED, "", "TRUE"},
      {"all / client", kAll, client, "", v1::APPLICATION_STATUS_UNSPECIFIED, "",
       absl::StrCat("client_id = '", client, "'")},
      {"all / bank", kAll, "", bank, v1::APPLICATION_STATUS_UNSPECIFIED, "", in_bank},
      {"all / documents requested", kAll, "", "", v1::APPLICATION_STATUS_DOCUMENTS_REQUESTED, "", "status = 4"},
      {"all / specialist", kAll, "", "", v1::APPLICATION_STATUS_UNSPECIFIED, SpecialistId(30),
       absl::StrCat("specialist_id = '", SpecialistId(30), "'")},
      {"all / bank, approved", kAll, "", bank, v1::APPLICATION_STATUS_APPROVED, "", in_bank + " AND status = 5"},
      {"all / specialist, drafts", kAll, "", "", v1::APPLICATION_STATUS_DRAFT, SpecialistId(30),
       absl::StrCat("specialist_id = '", SpecialistId(30), "' AND status = 1")},
      {"own / none", kOwn, "", "", v1::APPLICATION_STATUS_UNSPECIFIED, "", mine},
      {"own / withdrawn", kOwn, "", "", v1::APPLICATION_STATUS_WITHDRAWN, "", mine + " AND status = 8"},
      {"own / bank", kOwn, "", bank, v1::APPLICATION_STATUS_UNSPECIFIED, "", mine + " AND " + in_bank},
      {"own / client", kOwn, own_client, "", v1::APPLICATION_STATUS_UNSPECIFIED, "",
       absl::StrCat("client_id = '", own_client, "' AND ", mine)},
      {"own / bank, issued", kOwn, "", bank, v1::APPLICATION_STATUS_ISSUED, "",
       mine + " AND " + in_bank + " AND status = 7"},
      {"all / deal application", kAll, "", "", v1::APPLICATION_STATUS_UNSPECIFIED, "",
       absl::StrCat("deal_application_id = '", deal_application, "'"), deal_application},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    v1::ListApplicationsRequest req;
    req.set_client_id(k.client_id);
    req.set_bank_id(k.bank_id);
    req.set_status(k.status);
    req.set_specialist_id(k.specialist_id);
    req.set_deal_application_id(k.deal_application_id);
    const std::vector<std::string> got = TwoPages<v1::ListApplicationsRequest, v1::ListApplicationsResponse>(
        req, 20, "applications",
        [&](const v1::ListApplicationsRequest& r) { return store_->ListApplications(k.actor, r); },
        [](const v1::ListApplicationsResponse& r) {
          std::vector<std::string> ids;
          for (const auto& a : r.applications()) ids.push_back(a.id());
          return ids;
        });
    EXPECT_EQ(got, Ids("applications", k.where, "created_at DESC, id DESC", 40));
    EXPECT_FALSE(got.empty());
  }
}

TEST_F(ListsPlanTest, DesksOfEveryScopeAreIndexBackedAndExact) {
  struct Case {
    std::string name;
    Actor actor;
    v1::GetDeskRequest req;
    std::string who;  // "" = every specialist
  };
  v1::GetDeskRequest of_30;
  of_30.set_specialist_id(SpecialistId(30));
  v1::GetDeskRequest only_mine;
  only_mine.set_only_mine(true);
  const std::vector<Case> cases = {
      {"own", kOwn, {}, SpecialistId(12)},
      {"all", kAll, {}, ""},
      {"all / another's", kAll, of_30, SpecialistId(30)},
      {"all / only mine", kAll, only_mine, SpecialistId(1)},
  };
  const absl::Time now = clock_.Now();
  for (Case k : cases) {
    SCOPED_TRACE(k.name);
    k.req.set_page_size(
        kMaxDeskRows);  // the largest page (issue 16: the desk's lists are paged, 50 by default)
    StatementRecorder recorder;
    absl::StatusOr<v1::Desk> desk = store_->GetDesk(k.actor, k.req, now, absl::UTCTimeZone());
    ASSERT_TRUE(desk.ok()) << desk.status();
    const std::vector<StatementRecorder::Statement> sent = recorder.Take();
    EXPECT_GE(ExpectNoSeqScan(sent, "applications"), 4);
    EXPECT_GE(ExpectNoSeqScan(sent, "questionnaires"), 1);
    EXPECT_GE(ExpectNoSeqScan(sent, "calculations"), 1);
    EXPECT_GE(ExpectNoSeqScan(sent, "bank_replies"), 1);

    const std::string who = k.who.empty() ? "TRUE" : absl::StrCat("specialist_id = '", k.who, "'");
    auto ids = [](const auto& list) {
      std::vector<std::string> out;
      for (const auto& x : list) out.push_back(x.id());
      return out;
    };
    const std::string recent = "updated_at DESC, id DESC";
    EXPECT_EQ(ids(desk->drafts()), Ids("applications", "status = 1 AND " + who, recent, kMaxDeskRows));
    EXPECT_EQ(ids(desk->documents_requested()), Ids("applications", "status = 4 AND " + who, recent, kMaxDeskRows));
    EXPECT_EQ(ids(desk->approved()), Ids("applications", "status = 5 AND " + who, recent, kMaxDeskRows));
    EXPECT_EQ(ids(desk->expiring()),
              Ids("applications",
                  "status = 5 AND valid_until BETWEEN '2026-12-07' AND '2026-12-14' AND " + who,
                  "valid_until, id", kMaxDeskRows));
    EXPECT_EQ(ids(desk->incomplete_questionnaires()),
              Ids("questionnaires", "status = 1 AND " + who, recent, kMaxDeskRows));
    // The next page of the drafts (a keyset page of one list) is index-backed too, and goes on exactly.
    ASSERT_TRUE(desk->next_page_tokens().contains("drafts"));
    v1::GetDeskRequest next = k.req;
    next.set_page_token(desk->next_page_tokens().at("drafts"));
    StatementRecorder next_recorder;
    absl::StatusOr<v1::Desk> page2 = store_->GetDesk(k.actor, next, now, absl::UTCTimeZone());
    ASSERT_TRUE(page2.ok()) << page2.status();
    EXPECT_GE(ExpectNoSeqScan(next_recorder.Take(), "applications"), 1);
    EXPECT_TRUE(page2->approved().empty());  // only the list the token continues
    std::vector<std::string> both = ids(desk->drafts());
    for (const std::string& id : ids(page2->drafts())) both.push_back(id);
    EXPECT_EQ(both, Ids("applications", "status = 1 AND " + who, recent, 2 * kMaxDeskRows));
    EXPECT_FALSE(desk->drafts().empty());
    EXPECT_FALSE(desk->expiring().empty());
    EXPECT_EQ(desk->calculations_today(),
              Counts(absl::StrCat("SELECT 'n', count(*) FROM calculations WHERE created_at >= '2026-12-07 00:00:00+00' "
                                  "AND created_at < '2026-12-08 00:00:00+00' AND ", who))["n"]);
    EXPECT_EQ(desk->replies_today(),
              Counts(absl::StrCat("SELECT 'n', count(*) FROM bank_replies r JOIN applications a ON a.id = "
                                  "r.application_id WHERE r.received_at >= '2026-12-07 00:00:00+00' AND "
                                  "r.received_at < '2026-12-08 00:00:00+00' AND ",
                                  k.who.empty() ? "TRUE" : absl::StrCat("a.specialist_id = '", k.who, "'")))["n"]);
  }
}

TEST_F(ListsPlanTest, ReportsOfAMonthAndAQuarterReadThePeriodOnAnIndexAndCountExactly) {
  struct Period {
    std::string from, to;  // inclusive days
  };
  for (const Period& period : {Period{"2026-03-01", "2026-03-31"}, Period{"2026-04-01", "2026-06-30"}}) {
    SCOPED_TRACE(period.from);
    v1::ReportPeriod rp;
    rp.set_from(period.from);
    rp.set_to(period.to);
    const std::string from = Quoted(period.from + " 00:00:00+00");
    const std::string to = absl::StrCat("('", period.to, " 00:00:00+00'::timestamptz + interval '1 day')");
    auto in = [&](const std::string& column) {
      return absl::StrCat(column, " >= ", from, " AND ", column, " < ", to);
    };

    // Applications: every one, one bank's, one project's.
    for (const auto& [bank, project] : std::vector<std::pair<std::string, std::string>>{
             {"", ""}, {BankId(7), ""}, {"", "ЖК 3"}}) {
      SCOPED_TRACE(bank + project);
      v1::ApplicationsReportRequest req;
      *req.mutable_period() = rp;
      req.set_bank_id(bank);
      req.set_project(project);
      req.set_page_size(kMaxReportRows);
      StatementRecorder recorder;
      absl::StatusOr<v1::ApplicationsReport> report = store_->ApplicationsReport(req, absl::UTCTimeZone());
      ASSERT_TRUE(report.ok()) << report.status();
      EXPECT_EQ(ExpectNoSeqScan(recorder.Take(), "applications", Reads::kPeriod), 2);
      std::string where = in("created_at");
      if (!bank.empty()) absl::StrAppend(&where, " AND bank_id = '", bank, "'");
      if (!project.empty()) absl::StrAppend(&where, " AND project = '", project, "'");
      std::map<std::string, int64_t> by_status;
      for (const auto& [status, n] : Counts("SELECT status::text, count(*) FROM applications WHERE " + where +
                                            " GROUP BY status")) {
        const std::string name = v1::ApplicationStatus_Name(static_cast<v1::ApplicationStatus>(std::stoi(status)));
        by_status[name.substr(std::string("APPLICATION_STATUS_").size())] = n;
      }
      std::map<std::string, int64_t> got(report->by_status().begin(), report->by_status().end());
      EXPECT_EQ(got, by_status);
      std::vector<std::string> ids;
      for (const auto& a : report->applications()) ids.push_back(a.id());
      EXPECT_EQ(ids, Ids("applications", where, "created_at, id", kMaxReportRows));
    }

    // Calculations: every one, one project's.
    for (const std::string project : {"", "ЖК 5"}) {
      SCOPED_TRACE(project);
      v1::CalculationsReportRequest req;
      *req.mutable_period() = rp;
      req.set_project(project);
      req.set_page_size(kMaxReportRows);
      StatementRecorder recorder;
      absl::StatusOr<v1::CalculationsReport> report = store_->CalculationsReport(req, absl::UTCTimeZone());
      ASSERT_TRUE(report.ok()) << report.status();
      EXPECT_EQ(ExpectNoSeqScan(recorder.Take(), "calculations", Reads::kPeriod), 1);
      std::string where = in("created_at");
      if (!project.empty()) absl::StrAppend(&where, " AND project = '", project, "'");
      std::vector<std::string> ids;
      for (const auto& c : report->calculations()) ids.push_back(c.id());
      EXPECT_EQ(ids, Ids("calculations", where, "created_at, id", kMaxReportRows));
    }

    // Banks: BORROWER applications first sent in the period, and their banks' first decisions.
    {
      v1::BankEfficiencyRequest req;
      *req.mutable_period() = rp;
      StatementRecorder recorder;
      absl::StatusOr<v1::BankEfficiency> report = store_->BankEfficiency(req, absl::UTCTimeZone());
      ASSERT_TRUE(report.ok()) << report.status();
      EXPECT_EQ(ExpectNoSeqScan(recorder.Take(), "applications", Reads::kPeriod), 1);
      const std::string sent = "FROM applications WHERE kind = 1 AND " + in("sent_at");
      const auto want_sent = Counts("SELECT bank_id::text, count(*) " + sent + " GROUP BY 1");
      const auto want_approved = Counts("SELECT bank_id::text, count(*) " + sent + " AND decision = 5 GROUP BY 1");
      const auto want_declined = Counts("SELECT bank_id::text, count(*) " + sent + " AND decision = 6 GROUP BY 1");
      ASSERT_EQ(report->rows_size(), kBanks);
      for (const auto& row : report->rows()) {
        SCOPED_TRACE(row.bank_name());
        EXPECT_EQ(row.sent(), At(want_sent, row.bank_id()));
        EXPECT_EQ(row.approved(), At(want_approved, row.bank_id()));
        EXPECT_EQ(row.declined(), At(want_declined, row.bank_id()));
        EXPECT_GT(row.approved(), 0);
      }
    }

    // Specialists' KPIs.
    {
      v1::SpecialistKpisRequest req;
      *req.mutable_period() = rp;
      StatementRecorder recorder;
      absl::StatusOr<v1::SpecialistKpis> report = store_->SpecialistKpis(req, absl::UTCTimeZone());
      ASSERT_TRUE(report.ok()) << report.status();
      const std::vector<StatementRecorder::Statement> sent = recorder.Take();
      EXPECT_EQ(ExpectNoSeqScan(sent, "calculations", Reads::kPeriod), 1);
      EXPECT_EQ(ExpectNoSeqScan(sent, "questionnaires", Reads::kPeriod), 1);
      EXPECT_EQ(ExpectNoSeqScan(sent, "applications", Reads::kPeriod), 1);
      const auto calcs = Counts("SELECT specialist_id, count(*) FROM calculations WHERE " + in("created_at") +
                                " GROUP BY 1");
      const auto questionnaires = Counts("SELECT specialist_id, count(*) FROM questionnaires WHERE " +
                                         in("created_at") + " GROUP BY 1");
      const auto apps = Counts("SELECT specialist_id, count(*) FROM applications WHERE " + in("created_at") +
                               " GROUP BY 1");
      const auto approvals = Counts("SELECT specialist_id, count(*) FROM applications WHERE decision = 5 AND " +
                                    in("decided_at") + " GROUP BY 1");
      const auto issued = Counts("SELECT specialist_id, count(*) FROM applications WHERE " + in("issued_at") +
                                 " GROUP BY 1");
      ASSERT_EQ(report->rows_size(), kSpecialists);
      for (const auto& row : report->rows()) {
        SCOPED_TRACE(row.specialist_id());
        EXPECT_EQ(row.calculations(), At(calcs, row.specialist_id()));
        EXPECT_EQ(row.questionnaires(), At(questionnaires, row.specialist_id()));
        EXPECT_EQ(row.applications(), At(apps, row.specialist_id()));
        EXPECT_EQ(row.approvals(), At(approvals, row.specialist_id()));
        EXPECT_EQ(row.issued(), At(issued, row.specialist_id()));
      }
    }
  }
}

}  // namespace
}  // namespace crm::mortgage
