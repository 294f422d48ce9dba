// Issue 14: on 1 000 000 executions (and 100 000 rules) with fresh statistics, the statements robots sends
// for ListExecutions — for each scope (robots.read.all; robots.read on the caller's own deal) and each
// filter (deal, rule, both, and the next page) — and for ListRules (every rule, a pipeline, enabled only)
// have plans without a sequential scan of executions, rules or deal_facts: EXPLAIN (FORMAT JSON) of exactly
// what lists.h's Run sent, with its values and as the generic plan of a prepared statement. And they answer
// what a plain query of the same rows answers.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/base/time.h"
#include "libs/calendar/calendar.h"
#include "libs/events/outbox.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/plan_testing.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "services/robots/actions.h"
#include "services/robots/engine.h"
#include "services/robots/lists.h"
#include "services/robots/rule_store.h"

namespace crm {
const std::vector<crm::pg::Migration>& RobotsMigrations();
}  // namespace crm

namespace crm::robots {
namespace {

using crm::common::v1::Principal;

constexpr int kExecutions = 1'000'000;
constexpr int kRules = 100'000;
constexpr int kDeals = 100'000;
constexpr int kUsers = 100;
// Rules 2..1000 run on the deals; rule 1 is the busy one: a quarter of all executions.
constexpr int kRulesRunning = 1000;

std::string Id(const char* prefix, int n) { return absl::StrCat(prefix, absl::Hex(n, absl::kZeroPad12)); }
std::string RuleId(int n) { return Id("01930000-0000-7000-8000-", n); }
std::string DealId(int n) { return Id("01900000-0000-7000-9000-", n); }
std::string UserId(int n) { return Id("01900000-0000-7000-8000-", n); }
std::string PipelineId(int n) { return Id("01930000-0000-7000-a000-", n); }
// The same ids in SQL, of an integer expression.
std::string SqlId(const char* prefix, const std::string& n) {
  return absl::StrCat("'", prefix, "' || lpad(to_hex(", n, "), 12, '0')");
}

// A serialized message whose field 1 (string id in Rule and Execution) is `id_sql`, as bytea SQL.
std::string BodyWithId(const std::string& id_sql) {
  return absl::StrCat("'\\x0a24'::bytea || convert_to((", id_sql, ")::text, 'UTF8')");
}

Principal User(const std::string& id, std::vector<std::string> permissions) {
  Principal p;
  p.set_kind(Principal::KIND_USER);
  p.set_id(id);
  for (std::string& perm : permissions) p.add_permissions(std::move(perm));
  return p;
}

class ListsPlanTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto start = std::chrono::steady_clock::now();
    auto db = pg::testing::TempDatabase::Create("robots_lists");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = db->release();
    std::vector<pg::Migration> all = EventsMigrations();
    all.insert(all.end(), RobotsMigrations().begin(), RobotsMigrations().end());
    auto migrated = pg::Migrate(db_->dsn(), all);
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    pqxx::connection c(db_->dsn());
    {
      pqxx::work tx(c);
      // Rule g: in pipeline g mod 100 (every twentieth in none), every tenth disabled.
      const std::string rule_id = SqlId("01930000-0000-7000-8000-", "g");
      tx.exec0(absl::StrCat(
          "INSERT INTO rules (id, version, enabled, trigger_kind, pipeline_id, body, create_time, update_time) "
          "SELECT (",
          rule_id, ")::uuid, 1, g % 10 <> 0, 1, CASE WHEN g % 20 = 0 THEN '' ELSE ",
          SqlId("01930000-0000-7000-a000-", "g % 100"), " END, ", BodyWithId(rule_id),
          ", now(), now() FROM generate_series(1, ", kRules, ") g"));
      // Deal d (1..100 000): responsible user 1 + d mod 100.
      tx.exec0(absl::StrCat("INSERT INTO deal_facts (deal_id, responsible_id) SELECT ",
                            SqlId("01900000-0000-7000-9000-", "d"), ", ",
                            SqlId("01900000-0000-7000-8000-", absl::StrCat("1 + d % ", kUsers)),
                            " FROM generate_series(1, ", kDeals, ") d"));
      // Execution g: of deal 1 + (g div 10) mod 100 000 (ten each), of rule 1 for every fourth and one of
      // rules 2..1000 otherwise; two per timestamp, 20 seconds apart (g = 1 oldest).
      pg::testing::BulkLoad(tx, {"executions"}, [&](pqxx::transaction_base& w) {
        w.exec0(absl::StrCat(
            "INSERT INTO executions (id, rule_id, rule_version, deal_id, trigger_key, event_type, state, body, "
            "create_time) SELECT id, rule_id, 1, deal_id, 'event:' || g, 'crm.deals.deal.updated.v1', "
            "CASE WHEN g % 50 = 0 THEN 'WAITING' ELSE 'DONE' END, ",
            BodyWithId("id"), ", t FROM (SELECT gen_random_uuid() AS id, g, (CASE WHEN g % 4 = 0 THEN ",
            SqlId("01930000-0000-7000-8000-", "1"), " ELSE ",
            SqlId("01930000-0000-7000-8000-", absl::StrCat("2 + g % ", kRulesRunning - 1)), " END)::uuid AS rule_id, ",
            SqlId("01900000-0000-7000-9000-", absl::StrCat("1 + (g / 10) % ", kDeals)),
            " AS deal_id, timestamptz '2026-01-01 00:00:00+00' + (g / 2) * interval '20 seconds' AS t "
            "FROM generate_series(1, ",
            kExecutions, ") g) s"));
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
    calendar_ = std::make_unique<calendar::WorkingCalendar>(
        calendar::WorkingCalendar::FiveDay(*LoadTimeZone("Europe/Moscow")));
    rules_ = std::make_unique<RuleStore>(*pool_, clock_, nullptr, RuleStoreOptions{.refresh = absl::ZeroDuration()});
    // Lists never call deals: nobody listens there.
    deals_ = std::make_unique<DealsClient>(grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()),
                                           nullptr, calendar_.get(), calendar_->zone(),
                                           DealsClientOptions{.clock = &clock_});
    outbox_ = std::make_unique<events::OutboxWriter>("robots", clock_);
    engine_ = std::make_unique<Engine>(*pool_, clock_, *rules_, *deals_, nullptr, *outbox_,
                                       EngineOptions{.calendar = calendar_.get()});
  }

  // The first column (as text) of the rows of `sql`.
  std::vector<std::string> Column(const std::string& sql) {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    std::vector<std::string> out;
    for (const pqxx::row& r : tx.exec(sql)) out.push_back(r[0].as<std::string>());
    return out;
  }

  // Fails for each statement of `statements` that reads executions, rules or deal_facts with a sequential
  // scan or sorts more than kMaxPageSort rows (a page must come in its order from an index), in the plan
  // for its values and in the generic plan a prepared statement may settle on; returns how many
  // statements read `table`.
  int ExpectNoSeqScan(const std::vector<StatementRecorder::Statement>& statements, const std::string& table) {
    return pg::testing::ExpectNoSeqScan(
        db_->dsn(), statements,
        {.tables = {"executions", "rules", "deal_facts"}, .reading = table, .max_sort_rows = kMaxPageSort});
  }

  static constexpr double kMaxPageSort = 5000;
  static pg::testing::TempDatabase* db_;
  ManualClock clock_{absl::FromCivil(absl::CivilDay(2026, 6, 1), absl::UTCTimeZone())};
  std::unique_ptr<pg::Pool> pool_;
  std::unique_ptr<calendar::WorkingCalendar> calendar_;
  std::unique_ptr<RuleStore> rules_;
  std::unique_ptr<DealsClient> deals_;
  std::unique_ptr<events::OutboxWriter> outbox_;
  std::unique_ptr<Engine> engine_;
};

pg::testing::TempDatabase* ListsPlanTest::db_ = nullptr;

TEST_F(ListsPlanTest, ExecutionLogsOfEveryScopeAndFilterAreIndexBackedAndExact) {
  // Deal 4242's responsible is user 43; its ten executions (g = 42 410..42 419) include two of rule 1 and
  // one of rule 2 + 42 411 mod 999.
  const std::string deal = DealId(4242);
  const Principal reader_all = User(UserId(7), {"robots.read", "robots.read.all"});
  const Principal owner = User(UserId(43), {"robots.read"});
  struct Case {
    std::string name;
    Principal caller;
    bool own;
    std::string deal_id;
    std::string rule_id;
    int page_size;
  };
  const std::vector<Case> cases = {
      {"all / deal", reader_all, false, deal, "", 4},
      {"all / busy rule", reader_all, false, "", RuleId(1), 50},
      {"all / quiet rule", reader_all, false, "", RuleId(500), 50},
      {"all / deal and busy rule", reader_all, false, deal, RuleId(1), 1},
      {"all / deal and another rule", reader_all, false, deal, RuleId(2 + 42411 % (kRulesRunning - 1)), 1},
      {"own / deal", owner, true, deal, "", 4},
      {"own / deal and busy rule", owner, true, deal, RuleId(1), 1},
      {"own / deal and another rule", owner, true, deal, RuleId(2 + 42411 % (kRulesRunning - 1)), 1},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    StatementRecorder recorder;
    v1::ListExecutionsRequest req;
    req.set_deal_id(k.deal_id);
    req.set_rule_id(k.rule_id);
    req.set_page_size(k.page_size);
    auto first = engine_->ListExecutions(k.caller, req);
    ASSERT_TRUE(first.ok()) << first.status();
    std::vector<std::string> got;
    for (const auto& e : first->executions()) got.push_back(e.id());
    int calls = 1;
    if (!first->next_page_token().empty()) {  // and the next page, through its token
      req.set_page_token(first->next_page_token());
      auto second = engine_->ListExecutions(k.caller, req);
      ASSERT_TRUE(second.ok()) << second.status();
      for (const auto& e : second->executions()) got.push_back(e.id());
      ++calls;
    }
    EXPECT_EQ(calls, k.name.ends_with("another rule") ? 1 : 2);

    std::vector<std::string> where;
    if (!k.deal_id.empty()) where.push_back(absl::StrCat("deal_id = '", k.deal_id, "'"));
    if (!k.rule_id.empty()) where.push_back(absl::StrCat("rule_id = '", k.rule_id, "'"));
    EXPECT_EQ(got, Column(absl::StrCat("SELECT id::text FROM executions WHERE ", absl::StrJoin(where, " AND "),
                                       " ORDER BY create_time DESC, id DESC LIMIT ", 2 * k.page_size)));
    const std::vector<StatementRecorder::Statement> sent = recorder.Take();
    EXPECT_EQ(ExpectNoSeqScan(sent, "executions"), calls);
    if (k.own) {
      EXPECT_EQ(ExpectNoSeqScan(sent, "deal_facts"), calls);  // the owner check
    }
  }

  // What the own scope may not read.
  v1::ListExecutionsRequest other;
  other.set_deal_id(DealId(4243));  // user 44's
  EXPECT_EQ(engine_->ListExecutions(owner, other).status().code(), absl::StatusCode::kPermissionDenied);
  v1::ListExecutionsRequest by_rule;
  by_rule.set_rule_id(RuleId(1));
  EXPECT_EQ(engine_->ListExecutions(owner, by_rule).status().code(), absl::StatusCode::kPermissionDenied);
  v1::ListExecutionsRequest bad_token;
  bad_token.set_deal_id(deal);
  bad_token.set_page_token("yesterday");
  EXPECT_EQ(engine_->ListExecutions(reader_all, bad_token).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ListsPlanTest, RuleListsOfEveryFilterAreIndexBackedAndExact) {
  struct Case {
    std::string name;
    std::string pipeline_id;
    bool enabled_only;
    std::string where;
  };
  const std::vector<Case> cases = {
      {"every rule", "", false, "TRUE"},
      {"enabled", "", true, "enabled"},
      {"pipeline", PipelineId(17), false, absl::StrCat("pipeline_id = '", PipelineId(17), "'")},
      {"pipeline, enabled", PipelineId(17), true, absl::StrCat("pipeline_id = '", PipelineId(17), "' AND enabled")},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    StatementRecorder recorder;
    v1::ListRulesRequest req;
    req.set_pipeline_id(k.pipeline_id);
    req.set_enabled_only(k.enabled_only);
    req.set_page_size(50);
    auto first = rules_->List(req);
    ASSERT_TRUE(first.ok()) << first.status();
    std::vector<std::string> got;
    for (const auto& r : first->rules()) got.push_back(r.id());
    ASSERT_FALSE(first->next_page_token().empty());
    req.set_page_token(first->next_page_token());
    auto second = rules_->List(req);
    ASSERT_TRUE(second.ok()) << second.status();
    for (const auto& r : second->rules()) got.push_back(r.id());
    EXPECT_EQ(got, Column(absl::StrCat("SELECT id::text FROM rules WHERE ", k.where, " ORDER BY id LIMIT 100")));
    EXPECT_EQ(ExpectNoSeqScan(recorder.Take(), "rules"), 2);
  }
}

}  // namespace
}  // namespace crm::robots
