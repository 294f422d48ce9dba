// File: services/deals/listing_test.cc
// Issue 14 (D3): on 1 000 000 deals with fresh statistics, the statements the store sends for the list,
// the board and a board column — for each access scope (own, team, all) and each filter the API offers —
// have plans without a sequential scan of `deals` (EXPLAIN (FORMAT JSON) of exactly what was sent), and
// they return what the scope may see, checked against a plain query of access.h's definition.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/base/time.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/plan_testing.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "services/deals/deals.h"
#include "services/deals/listing.h"
#include "services/deals/sql.h"

namespace crm {
const std::vector<crm::pg::Migration>& DealsMigrations();
}  // namespace crm

namespace crm::deals {
namespace {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;

constexpr int kDeals = 1'000'000;
constexpr int kUsers = 100;
constexpr int kTeams = 10;
constexpr char kP1[] = "01900000-0000-7000-8000-00000000c001";
constexpr char kP2[] = "01900000-0000-7000-8000-00000000c002";
// Pipeline 1: four open stages, won, lost; pipeline 2: open, won, lost.
const std::vector<std::string> kP1Stages = {
    "01900000-0000-7000-8000-00000000d011", "01900000-0000-7000-8000-00000000d012",
    "01900000-0000-7000-8000-00000000d013", "01900000-0000-7000-8000-00000000d014",
    "01900000-0000-7000-8000-00000000d015", "01900000-0000-7000-8000-00000000d016"};
const std::vector<std::string> kP2Stages = {"01900000-0000-7000-8000-00000000d021",
                                            "01900000-0000-7000-8000-00000000d022",
                                            "01900000-0000-7000-8000-00000000d023"};

// User n (1..100) and team n (0..9): user n is in team n % 10.
std::string UserId(int n) { return absl::StrCat("01900000-0000-7000-8000-00000000", absl::Hex(0xa000 + n)); }
std::string TeamId(int n) { return absl::StrCat("01900000-0000-7000-8000-00000000", absl::Hex(0xe000 + n)); }

Principal User(const std::string& id, const std::string& perm, const std::string& team) {
  Principal p;
  p.set_kind(Principal::KIND_USER);
  p.set_id(id);
  p.add_permissions(perm);
  if (!team.empty()) p.add_team_ids(team);
  return p;
}

// The three scopes, with the condition access.h defines for each (a deal's team_ids are its
// responsible's teams) to check the store's answers against.
struct Caller {
  std::string name;
  Principal principal;
  std::string access;  // over the deals table, unaliased
};
std::vector<Caller> Callers() {
  return {
      {"own", User(UserId(1), "deals.read.own", TeamId(1)), absl::StrCat("responsible_id = '", UserId(1), "'")},
      {"team", User(UserId(2), "deals.read.team", TeamId(2)),
       absl::StrCat("(responsible_id = '", UserId(2), "' OR team_ids && '{", TeamId(2), "}')")},
      {"all", User(UserId(3), "deals.read.all", TeamId(3)), "TRUE"},
  };
}

// A filter and the same condition written plainly.
struct Filter {
  std::string name;
  v1::DealFilter filter;
  std::string where;  // over the deals table, unaliased; "TRUE" for none
};

class ListingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto db = pg::testing::TempDatabase::Create("listing");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = db->release();
    std::vector<pg::Migration> all = EventsMigrations();
    all.insert(all.end(), DealsMigrations().begin(), DealsMigrations().end());
    auto migrated = pg::Migrate(db_->dsn(), all);
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    pqxx::connection c(db_->dsn());
    {
      pqxx::work tx(c);
      tx.exec0(absl::StrCat("INSERT INTO pipelines (id, name) VALUES ('", kP1, "', 'Продажа'), ('", kP2,
                            "', 'Вторичка')"));
      for (size_t i = 0; i < kP1Stages.size(); ++i) {
        tx.exec0(absl::StrCat("INSERT INTO stages (id, pipeline_id, position, name, kind) VALUES ('", kP1Stages[i],
                              "', '", kP1, "', ", i + 1, ", 'Этап ", i + 1, "', ", i < 4 ? 1 : i - 2, ")"));
      }
      for (size_t i = 0; i < kP2Stages.size(); ++i) {
        tx.exec0(absl::StrCat("INSERT INTO stages (id, pipeline_id, position, name, kind) VALUES ('", kP2Stages[i],
                              "', '", kP2, "', ", i + 1, ", 'Этап ", i + 1, "', ", i + 1, ")"));
      }
      tx.exec0(
          "INSERT INTO field_definitions (code, name, type, options) VALUES ('object_type', 'Тип', 7, '{flat,house}')");
      for (int u = 1; u <= kUsers; ++u) {
        tx.exec0(absl::StrCat("INSERT INTO user_directory (user_id, team_ids, version) VALUES ('", UserId(u), "', '{",
                              TeamId(u % kTeams), "}', 1)"));
      }
      // Deal g: pipeline 2 for every fifth, a stage by g, the responsible user (g div 7 mod 100) + 1
      // with their team, one in 97 tagged vip, one in a thousand with «квартира» in its name, one in 53
      // with a custom field, one in 11 an upsell and one in 101 a renewal (D2), ten seconds apart (g = 1
      // oldest).
      const std::string p1 = absl::StrCat("'{", absl::StrJoin(kP1Stages, ","), "}'::uuid[]");
      const std::string p2 = absl::StrCat("'{", absl::StrJoin(kP2Stages, ","), "}'::uuid[]");
      tx.exec0(absl::StrCat(
          "INSERT INTO deals (id, name, pipeline_id, stage_id, status, responsible_id, team_ids, amount_minor, "
          "tags, fields, type_code, create_time, update_time, stage_enter_time) "
          "SELECT gen_random_uuid(), 'Сделка №' || g || CASE WHEN g % 1000 = 7 THEN ' квартира у моря' ELSE '' END, "
          "CASE WHEN g % 5 = 0 THEN '", kP2, "'::uuid ELSE '", kP1, "'::uuid END, "
          "CASE WHEN g % 5 = 0 THEN (", p2, ")[1 + (g / 5) % 3] ELSE (", p1, ")[1 + g % 6] END, "
          "CASE WHEN g % 5 = 0 THEN 1 + (g / 5) % 3 WHEN g % 6 = 4 THEN 2 WHEN g % 6 = 5 THEN 3 ELSE 1 END, "
          "('01900000-0000-7000-8000-00000000' || to_hex(40960 + 1 + (g / 7) % ", kUsers, "))::uuid, "
          "ARRAY[('01900000-0000-7000-8000-00000000' || to_hex(57344 + ((1 + (g / 7) % ", kUsers, ") % ", kTeams,
          ")))::uuid], (g % 997) * 10000, "
          "CASE WHEN g % 97 = 0 THEN '{vip}'::text[] ELSE '{}'::text[] END, "
          "CASE WHEN g % 53 = 0 THEN '{\"object_type\": {\"code\": \"object_type\", \"text\": \"flat\"}}'::jsonb "
          "ELSE '{}'::jsonb END, "
          "CASE WHEN g % 11 = 0 THEN 'upsell' WHEN g % 101 = 0 THEN 'renewal' END, "
          "t, t, t FROM generate_series(1, ", kDeals, ") g, "
          "LATERAL (SELECT timestamptz '2026-01-01 00:00:00+00' + g * interval '10 seconds' AS t) ts"));
      // A few copies of one deal (filter.copied_from_id).
      tx.exec0(
          "INSERT INTO deals (id, name, pipeline_id, stage_id, status, responsible_id, team_ids, copied_from_id) "
          "SELECT gen_random_uuid(), 'Копия', pipeline_id, stage_id, status, responsible_id, team_ids, id "
          "FROM (SELECT * FROM deals ORDER BY create_time DESC LIMIT 1) s, generate_series(1, 3)");
      tx.commit();
    }
    pqxx::nontransaction ntx(c);
    ntx.exec0("VACUUM ANALYZE");
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
    store_ = std::make_unique<DealStore>(*pool_, clock_);
  }

  // The ids of the first `limit` deals matching `where`, newest first, read plainly.
  std::vector<std::string> Expected(const std::string& where, int limit) {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    std::vector<std::string> ids;
    for (const pqxx::row& r : tx.exec(absl::StrCat("SELECT id::text FROM deals WHERE ", where,
                                                   " ORDER BY create_time DESC, id DESC LIMIT ", limit))) {
      ids.push_back(r[0].as<std::string>());
    }
    return ids;
  }

  // Fails for each statement in `statements` that reads `deals` with a sequential scan, in the plan
  // for its values and in the generic plan a prepared statement settles on; returns how many statements
  // read `deals`.
  int ExpectNoSeqScanOfDeals(const std::vector<StatementRecorder::Statement>& statements, const std::string& what) {
    return pg::testing::ExpectNoSeqScan(db_->dsn(), statements, {.tables = {"deals"}, .what = what});
  }

  static std::vector<Filter> Filters() {
    std::vector<Filter> out;
    out.push_back({"none", {}, "TRUE"});
    {
      Filter f{"pipeline", {}, absl::StrCat("pipeline_id = '", kP2, "'")};
      f.filter.set_pipeline_id(kP2);
      out.push_back(f);
    }
    {
      Filter f{"one stage", {}, absl::StrCat("stage_id = '", kP1Stages[1], "'")};
      f.filter.add_stage_ids(kP1Stages[1]);
      out.push_back(f);
    }
    {
      Filter f{"two stages", {}, absl::StrCat("stage_id IN ('", kP1Stages[0], "', '", kP1Stages[2], "')")};
      f.filter.add_stage_ids(kP1Stages[0]);
      f.filter.add_stage_ids(kP1Stages[2]);
      out.push_back(f);
    }
    {
      Filter f{"one responsible", {}, absl::StrCat("responsible_id = '", UserId(12), "'")};
      f.filter.add_responsible_ids(UserId(12));
      out.push_back(f);
    }
    {
      Filter f{"three responsibles", {},
               absl::StrCat("responsible_id IN ('", UserId(12), "', '", UserId(22), "', '", UserId(3), "')")};
      f.filter.add_responsible_ids(UserId(12));
      f.filter.add_responsible_ids(UserId(22));
      f.filter.add_responsible_ids(UserId(3));
      out.push_back(f);
    }
    {
      Filter f{"mine", {}, ""};  // set per caller
      f.filter.set_mine(true);
      out.push_back(f);
    }
    {
      Filter f{"tag", {}, "tags && '{vip}'"};
      f.filter.add_tags("vip");
      out.push_back(f);
    }
    {
      Filter f{"query", {}, "name ILIKE '%квартира%'"};
      f.filter.set_query("квартира");
      out.push_back(f);
    }
    {
      Filter f{"amount", {}, "amount_minor BETWEEN 5000000 AND 5100000"};
      f.filter.set_amount_min(5'000'000);
      f.filter.set_amount_max(5'100'000);
      out.push_back(f);
    }
    {
      Filter f{"created", {}, "create_time >= '2026-02-01 00:00:00+00' AND create_time < '2026-02-02 00:00:00+00'"};
      *f.filter.mutable_created_after() = ToProtoTimestamp(absl::FromCivil(absl::CivilDay(2026, 2, 1), absl::UTCTimeZone()));
      *f.filter.mutable_created_before() = ToProtoTimestamp(absl::FromCivil(absl::CivilDay(2026, 2, 2), absl::UTCTimeZone()));
      out.push_back(f);
    }
    {
      Filter f{"won", {}, "status = 2"};
      f.filter.add_statuses(v1::Deal::STATUS_WON);
      out.push_back(f);
    }
    {
      Filter f{"custom field", {}, "fields @> '{\"object_type\": {\"text\": \"flat\"}}'"};
      v1::FieldValue* v = f.filter.add_fields();
      v->set_code("object_type");
      v->set_text("flat");
      out.push_back(f);
    }
    {
      // D3 (issue 16): the same through the query-string form.
      Filter f{"custom field as code:value", {}, "fields @> '{\"object_type\": {\"text\": \"flat\"}}'"};
      f.filter.add_custom_fields("object_type:flat");
      out.push_back(f);
    }
    {
      Filter f{"type", {}, "type_code = 'upsell'"};  // D2
      f.filter.add_type_codes("upsell");
      out.push_back(f);
    }
    {
      Filter f{"two types", {}, "type_code IN ('upsell', 'renewal')"};
      f.filter.add_type_codes("upsell");
      f.filter.add_type_codes("renewal");
      out.push_back(f);
    }
    {
      Filter f{"copies", {}, "copied_from_id IS NOT NULL"};
      out.push_back(f);  // copied_from_id set in the test, once the source is known
    }
    return out;
  }

  static pg::testing::TempDatabase* db_;
  ManualClock clock_{absl::FromCivil(absl::CivilDay(2026, 6, 1), absl::UTCTimeZone())};
  std::unique_ptr<pg::Pool> pool_;
  std::unique_ptr<DealStore> store_;
};

pg::testing::TempDatabase* ListingTest::db_ = nullptr;

TEST_F(ListingTest, ListsOfEveryScopeAndFilterAreIndexBackedAndExact) {
  const std::string source = [&] {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    return tx.exec1("SELECT copied_from_id::text FROM deals WHERE copied_from_id IS NOT NULL LIMIT 1")[0]
        .as<std::string>();
  }();
  for (const Caller& caller : Callers()) {
    for (Filter f : Filters()) {
      if (f.name == "mine") f.where = absl::StrCat("responsible_id = '", caller.principal.id(), "'");
      if (f.name == "copies") {
        f.filter.set_copied_from_id(source);
        f.where = absl::StrCat("copied_from_id = '", source, "'");
      }
      SCOPED_TRACE(absl::StrCat(caller.name, " / ", f.name));
      StatementRecorder recorder;
      v1::ListDealsRequest req;
      *req.mutable_filter() = f.filter;
      req.set_page_size(60);
      auto first = store_->List(caller.principal, req);
      ASSERT_TRUE(first.ok()) << first.status();
      std::vector<std::string> got;
      for (const auto& card : first->deals()) got.push_back(card.id());
      // And the next page, through its token.
      if (!first->next_page_token().empty()) {
        req.set_page_token(first->next_page_token());
        auto second = store_->List(caller.principal, req);
        ASSERT_TRUE(second.ok()) << second.status();
        for (const auto& card : second->deals()) got.push_back(card.id());
      }
      const std::vector<std::string> want = Expected(absl::StrCat(caller.access, " AND (", f.where, ")"), 120);
      EXPECT_EQ(got, want);
      EXPECT_GE(ExpectNoSeqScanOfDeals(recorder.Take(), caller.name + " / " + f.name), 1);
    }
  }
}

// Creates append deltas; the fold moves them into the totals in one transaction: every scope's board
// counts the same before and after (migration 0011).
TEST_F(ListingTest, FoldingTheTotalsChangesNoBoard) {
  v1::GetBoardRequest req;
  req.set_pipeline_id(kP1);
  std::map<std::string, std::vector<std::pair<int64_t, int64_t>>> before;
  for (const Caller& caller : Callers()) {
    auto board = store_->GetBoard(caller.principal, req);
    ASSERT_TRUE(board.ok()) << board.status();
    for (const auto& col : board->columns()) before[caller.name].emplace_back(col.count(), col.sum().amount_minor());
  }
  ASSERT_GT(db_->Count("SELECT count(*) FROM deal_stage_deltas"), 0);
  auto moved = FoldStageTotals(*pool_, 7);  // several statements
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_GT(*moved, 7);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM deal_stage_deltas"), 0);
  for (const Caller& caller : Callers()) {
    auto board = store_->GetBoard(caller.principal, req);
    ASSERT_TRUE(board.ok()) << board.status();
    std::vector<std::pair<int64_t, int64_t>> after;
    for (const auto& col : board->columns()) after.emplace_back(col.count(), col.sum().amount_minor());
    EXPECT_EQ(after, before[caller.name]) << caller.name;
  }
}

TEST_F(ListingTest, BoardsOfEveryScopeAreIndexBackedAndCountExactly) {
  for (const Caller& caller : Callers()) {
    for (const std::string filter : {"none", "tag", "mine", "custom field", "type"}) {
      SCOPED_TRACE(absl::StrCat(caller.name, " / ", filter));
      v1::GetBoardRequest req;
      req.set_pipeline_id(kP1);
      req.set_cards_per_stage(20);
      std::string where = "TRUE";
      if (filter == "tag") {
        req.mutable_filter()->add_tags("vip");
        where = "tags && '{vip}'";
      } else if (filter == "mine") {
        req.mutable_filter()->set_mine(true);
        where = absl::StrCat("responsible_id = '", caller.principal.id(), "'");
      } else if (filter == "custom field") {
        req.mutable_filter()->add_custom_fields("object_type:flat");
        where = "fields @> '{\"object_type\": {\"text\": \"flat\"}}'";
      } else if (filter == "type") {
        req.mutable_filter()->add_type_codes("upsell");
        where = "type_code = 'upsell'";
      }
      StatementRecorder recorder;
      auto board = store_->GetBoard(caller.principal, req);
      ASSERT_TRUE(board.ok()) << board.status();
      EXPECT_GE(ExpectNoSeqScanOfDeals(recorder.Take(), caller.name + " board / " + filter), 1);

      // Counts and sums against a plain GROUP BY, and each column's first cards.
      std::map<std::string, std::pair<int64_t, int64_t>> want;
      {
        pqxx::connection c(db_->dsn());
        pqxx::work tx(c);
        for (const pqxx::row& r : tx.exec(absl::StrCat("SELECT stage_id::text, count(*), sum(amount_minor) FROM deals "
                                                       "WHERE pipeline_id = '", kP1, "' AND ", caller.access, " AND (",
                                                       where, ") GROUP BY stage_id"))) {
          want[r[0].as<std::string>()] = {r[1].as<int64_t>(), r[2].as<int64_t>()};
        }
      }
      ASSERT_EQ(board->columns_size(), static_cast<int>(kP1Stages.size()));
      int64_t total = 0;
      for (const auto& col : board->columns()) {
        EXPECT_EQ(col.count(), want[col.stage().id()].first) << col.stage().name();
        EXPECT_EQ(col.sum().amount_minor(), want[col.stage().id()].second) << col.stage().name();
        total += col.count();
        std::vector<std::string> cards;
        for (const auto& card : col.cards()) cards.push_back(card.id());
        EXPECT_EQ(cards, Expected(absl::StrCat("stage_id = '", col.stage().id(), "' AND ", caller.access, " AND (",
                                               where, ")"),
                                  20))
            << col.stage().name();
      }
      EXPECT_GT(total, 0);

      // More cards of one column.
      v1::ListStageDealsRequest more;
      more.set_pipeline_id(kP1);
      more.set_stage_id(kP1Stages[3]);
      *more.mutable_filter() = req.filter();
      auto page = store_->ListStageDeals(caller.principal, more);
      ASSERT_TRUE(page.ok()) << page.status();
      EXPECT_GE(ExpectNoSeqScanOfDeals(recorder.Take(), caller.name + " column / " + filter), 1);
      std::vector<std::string> cards;
      for (const auto& card : page->deals()) cards.push_back(card.id());
      EXPECT_EQ(cards, Expected(absl::StrCat("stage_id = '", kP1Stages[3], "' AND ", caller.access, " AND (", where,
                                             ")"),
                                static_cast<int>(cards.size())));
      EXPECT_FALSE(cards.empty());
    }
  }
}

}  // namespace
}  // namespace crm::deals
