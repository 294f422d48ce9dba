// File: services/deals/interactions/plan_test.cc
// Issue 17: every list of D15/D16 on an index at a realistic size — ListInteractions on 1 000 000
// interactions and ListClientRequests on 1 000 000 requests, for every access scope (own, team, all,
// and none) and every filter they offer, with their next pages, and «Задачи на сегодня» (each section
// and its count, with and without projects, one's own). With fresh statistics, every statement the
// stores send (StatementRecorder, ../sql.h) is EXPLAINed (ANALYZE, FORMAT JSON) with its values and as
// the generic plan a prepared statement may settle on: none may read a big table with a sequential scan,
// nor throw away more than kMaxDiscarded rows of one. The answers are checked against plain queries of
// what each list promises. The tables are filled with generate_series and their indexes built
// afterwards (libs/pg/plan_testing.h's BulkLoad).
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
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
#include "services/deals/interactions/interaction_store.h"
#include "services/deals/interactions/request_store.h"
#include "services/deals/interactions/wiring.h"
#include "services/deals/sql.h"
#include "services/deals/plan_test_base.h"

namespace crm {
const std::vector<crm::pg::Migration>& DealsMigrations();
}  // namespace crm

namespace crm::deals::interactions {
namespace {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;

constexpr int kUsers = kPlanUsers;
constexpr int kTeams = kPlanTeams;
constexpr int kProjects = 20;
constexpr int kClients = 200'000;
constexpr int kDeals = 50'000;
constexpr int kRequests = 1'000'000;
constexpr int kInteractions = 1'000'000;
constexpr int64_t kMaxDiscarded = 20'000;
const std::set<std::string> kBigTables = {"interactions", "client_requests", "clients", "deals"};

constexpr char kPipeline[] = "01900000-0000-7000-8000-00000000c001";
constexpr char kStage[] = "01900000-0000-7000-8000-00000000d011";
constexpr char kClientRows[] = "a000";
constexpr char kDealRows[] = "8100";
constexpr char kRequestRows[] = "d000";
constexpr char kInteractionRows[] = "d100";
constexpr char kProjectRows[] = "f000";

class InteractionsPlanTest : public PlanTestBase<InteractionsPlanTest> {
 protected:
  static void SetUpTestSuite() {
    const absl::Time start = absl::Now();
    auto db = pg::testing::TempDatabase::Create("interactions_plan");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = db->release();
    std::vector<pg::Migration> all = EventsMigrations();
    all.insert(all.end(), DealsMigrations().begin(), DealsMigrations().end());
    all.insert(all.end(), InteractionsMigrations().begin(), InteractionsMigrations().end());
    auto migrated = pg::Migrate(db_->dsn(), all);
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    pqxx::connection c(db_->dsn());
    {
      pqxx::work tx(c);
      tx.exec0(absl::StrCat("INSERT INTO pipelines (id, name) VALUES ('", kPipeline, "', 'Продажа')"));
      tx.exec0(absl::StrCat("INSERT INTO stages (id, pipeline_id, position, name, kind) VALUES ('", kStage, "', '",
                            kPipeline, "', 1, 'Новая', 1)"));
      InsertPlanStaff(tx);
      tx.exec0("SET LOCAL session_replication_role = replica");
      tx.exec0("SET LOCAL maintenance_work_mem = '256MB'");
      BulkLoad(tx, "clients",
               absl::StrCat("INSERT INTO clients (id, kind, name) SELECT ", RowIdSql(kClientRows, "g"),
                            ", 2, 'Клиент ' || g FROM generate_series(1, ", kClients, ") g"));
      BulkLoad(tx, "deals",
               absl::StrCat("INSERT INTO deals (id, name, pipeline_id, stage_id, status, responsible_id, client_id, "
                            "create_time, update_time, stage_enter_time) SELECT ",
                            RowIdSql(kDealRows, "d"), ", 'Сделка ' || d, '", kPipeline, "', '", kStage, "', 1, ",
                            UserSql(absl::StrCat("1 + d % ", kUsers)), ", ", RowIdSql(kClientRows, "d"),
                            ", now(), now(), now() FROM generate_series(1, ", kDeals, ") d"));
      // Request r: of client 1 + (r - 1) % kClients, in project r % 20, held by user 1 + (r / 7) % 100,
      // at stage 1 + r % 5, made a minute after request r - 1.
      BulkLoad(tx, "client_requests",
               absl::StrCat("INSERT INTO client_requests (id, client_id, project_id, unit_kind, responsible_id, "
                            "stage, create_time, update_time) SELECT ",
                            RowIdSql(kRequestRows, "r"), ", ", RowIdSql(kClientRows, absl::StrCat("1 + (r - 1) % ", kClients)),
                            ", ", RowIdSql(kProjectRows, absl::StrCat("r % ", kProjects)), ", 1, ",
                            UserSql(absl::StrCat("1 + (r / 7) % ", kUsers)), ", 1 + r % 5, t, t FROM generate_series(1, ",
                            kRequests, ") r, LATERAL (SELECT timestamptz '2024-01-01 00:00:00+00' + r * interval "
                            "'1 minute' AS t) x"));
      // Interaction g: of request 1 + (g - 1) / 2 (its client, project and responsible), every 20th on a
      // deal; kind 1 + g % 4; occurring a minute after g - 1 from 2024-01-01 (to late 2025); planned from
      // kNow on or forgotten (one in 100: overdue), cancelled one in 20, done otherwise; the first of a
      // request of the first 200 000 (one per client and project) primary.
      BulkLoad(
          tx, "interactions",
          absl::StrCat(
              "INSERT INTO interactions (id, kind, status, client_id, request_id, deal_id, project_id, is_primary, "
              "responsible_id, planned_time, done_time, occur_time, create_time, update_time) SELECT ",
              RowIdSql(kInteractionRows, "g"), ", 1 + g % 4, s.status, ",
              RowIdSql(kClientRows, absl::StrCat("1 + (x.r - 1) % ", kClients)), ", ", RowIdSql(kRequestRows, "x.r"),
              ", CASE WHEN g % 20 = 0 THEN ", RowIdSql(kDealRows, absl::StrCat("1 + (g / 20) % ", kDeals)),
              " END, ", RowIdSql(kProjectRows, absl::StrCat("x.r % ", kProjects)),
              ", g % 2 = 1 AND x.r <= ", kClients, ", ", UserSql(absl::StrCat("1 + (x.r / 7) % ", kUsers)),
              ", x.t, CASE WHEN s.status = 2 THEN x.t END, x.t, x.t, x.t FROM generate_series(1, ", kInteractions,
              ") g, LATERAL (SELECT 1 + (g - 1) / 2 AS r, timestamptz '2024-01-01 00:00:00+00' + g * interval "
              "'1 minute' AS t) x, LATERAL (SELECT CASE WHEN g % 20 = 3 THEN 3 WHEN x.t >= '",
              absl::FormatTime("%Y-%m-%d %H:%M:%S+00", kNow, absl::UTCTimeZone()),
              "' OR g % 100 = 1 THEN 1 ELSE 2 END AS status) s"));
      tx.commit();
    }
    pqxx::nontransaction ntx(c);
    ntx.exec0("VACUUM ANALYZE");
    std::cerr << "interactions_plan_test: data loaded and analysed in " << absl::Now() - start << "\n";
  }

  void SetUp() override {
    PlanTestBase::SetUp();
    ASSERT_TRUE(absl::LoadTimeZone("Europe/Moscow", &zone_));
  }

  int64_t Count(const std::string& sql) { return db_->Count(sql); }

  // Fails for each statement whose plan (for its values and generic) reads a big table with a
  // sequential scan or throws away more than kMaxDiscarded rows of one; how many read a big table.
  int ExpectIndexBacked(const std::vector<StatementRecorder::Statement>& statements, const std::string& what) {
    return pg::testing::ExpectNoSeqScan(
        db_->dsn(), statements,
        {.tables = kBigTables, .max_removed_rows = kMaxDiscarded, .analyze = true, .analyze_generic = true, .what = what});
  }

  static inline const absl::Time kNow = absl::FromCivil(absl::CivilMinute(2025, 11, 1, 12, 0), absl::UTCTimeZone());
  ManualClock clock_{kNow};
  absl::TimeZone zone_;
};

std::string Ts(absl::Time t) { return absl::StrCat("'", absl::FormatTime("%Y-%m-%d %H:%M:%E6S+00", t, absl::UTCTimeZone()), "'"); }

// A filter of ListInteractions and the same condition written plainly over interactions i.
struct InteractionFilter {
  std::string name;
  v1::ListInteractionsRequest req;
  std::string where;
};

std::vector<InteractionFilter> InteractionFilters(const ScopeCaller& caller, absl::Time now) {
  std::vector<InteractionFilter> out;
  out.push_back({"none", {}, "TRUE"});
  const auto add = [&](std::string name, std::string where, auto&& set) {
    InteractionFilter f{std::move(name), {}, std::move(where)};
    set(f.req);
    out.push_back(std::move(f));
  };
  // Client 1001's (requests 1001, 201001, …; user 1 + 143 % 100 = 44's and others).
  add("client", absl::StrCat("i.client_id = '", RowId(kClientRows, 1001), "'"),
      [](auto& r) { r.set_client_id(RowId(kClientRows, 1001)); });
  add("request", absl::StrCat("i.request_id = '", RowId(kRequestRows, 7), "'"),
      [](auto& r) { r.set_request_id(RowId(kRequestRows, 7)); });
  add("deal", absl::StrCat("i.deal_id = '", RowId(kDealRows, 41), "'"), [](auto& r) { r.set_deal_id(RowId(kDealRows, 41)); });
  add("project", absl::StrCat("i.project_id = '", RowId(kProjectRows, 3), "'"),
      [](auto& r) { r.set_project_id(RowId(kProjectRows, 3)); });
  add("mine", absl::StrCat("i.responsible_id = '", caller.principal.id(), "'"), [](auto& r) { r.set_responsible("me"); });
  add("another's", absl::StrCat("i.responsible_id = '", UserId(12), "'"), [](auto& r) { r.set_responsible(UserId(12)); });
  add("meetings", "i.kind = 2", [](auto& r) { r.set_kind(v1::Interaction::MEETING); });
  add("planned", "i.status = 1", [](auto& r) { r.set_status(v1::Interaction::PLANNED); });
  add("done", "i.status = 2", [](auto& r) { r.set_status(v1::Interaction::DONE); });
  add("cancelled", "i.status = 3", [](auto& r) { r.set_status(v1::Interaction::CANCELLED); });
  add("overdue", absl::StrCat("i.status = 1 AND i.occur_time < ", Ts(now)), [](auto& r) { r.set_overdue(true); });
  const absl::Time week = absl::FromCivil(absl::CivilDay(2025, 6, 2), absl::UTCTimeZone());
  add("a week", absl::StrCat("i.occur_time >= ", Ts(week), " AND i.occur_time < ", Ts(week + absl::Hours(24 * 7))),
      [&](auto& r) {
        *r.mutable_from_time() = ToProtoTimestamp(week);
        *r.mutable_to_time() = ToProtoTimestamp(week + absl::Hours(24 * 7));
      });
  add("project's planned", absl::StrCat("i.project_id = '", RowId(kProjectRows, 3), "' AND i.status = 1"), [](auto& r) {
    r.set_project_id(RowId(kProjectRows, 3));
    r.set_status(v1::Interaction::PLANNED);
  });
  add("client's calls", absl::StrCat("i.client_id = '", RowId(kClientRows, 1001), "' AND i.kind = 1"), [](auto& r) {
    r.set_client_id(RowId(kClientRows, 1001));
    r.set_kind(v1::Interaction::CALL);
  });
  add("my overdue", absl::StrCat("i.responsible_id = '", caller.principal.id(), "' AND i.status = 1 AND i.occur_time < ",
                                 Ts(now)),
      [](auto& r) {
        r.set_responsible("me");
        r.set_overdue(true);
      });
  return out;
}

TEST_F(InteractionsPlanTest, InteractionsOfEveryScopeAndFilterAreIndexBackedAndExact) {
  InteractionStore store(*pool_, clock_, zone_);
  for (const ScopeCaller& caller : ScopeCallers("interactions")) {
    for (InteractionFilter f : InteractionFilters(caller, kNow)) {
      SCOPED_TRACE(absl::StrCat(caller.name, " / ", f.name));
      StatementRecorder recorder;
      f.req.set_page_size(50);
      auto first = store.List(caller.principal, f.req);
      ASSERT_TRUE(first.ok()) << first.status();
      std::vector<std::string> got;
      for (const auto& x : first->interactions()) got.push_back(x.id());
      if (!first->next_page_token().empty()) {
        f.req.set_page_token(first->next_page_token());
        auto second = store.List(caller.principal, f.req);
        ASSERT_TRUE(second.ok()) << second.status();
        for (const auto& x : second->interactions()) got.push_back(x.id());
      }
      EXPECT_EQ(got, Column(absl::StrCat("SELECT i.id::text FROM interactions i WHERE ", Sees(caller, "i.responsible_id"),
                                         " AND (", f.where, ") ORDER BY i.occur_time DESC, i.id DESC LIMIT 100")));
      if (caller.name != "none") {
        EXPECT_GE(ExpectIndexBacked(recorder.Take(), caller.name + " / " + f.name), 1);
      }
    }
  }
}

TEST_F(InteractionsPlanTest, RequestsOfEveryScopeAndFilterAreIndexBackedAndExact) {
  RequestStore store(*pool_, clock_);
  for (const ScopeCaller& caller : ScopeCallers("interactions")) {
    std::vector<std::pair<std::string, v1::ListClientRequestsRequest>> filters;
    std::vector<std::string> wheres;
    const auto add = [&](std::string name, std::string where, auto&& set) {
      v1::ListClientRequestsRequest req;
      set(req);
      filters.emplace_back(std::move(name), req);
      wheres.push_back(std::move(where));
    };
    add("none", "TRUE", [](auto&) {});
    add("client", absl::StrCat("r.client_id = '", RowId(kClientRows, 1001), "'"),
        [](auto& r) { r.set_client_id(RowId(kClientRows, 1001)); });
    add("project", absl::StrCat("r.project_id = '", RowId(kProjectRows, 3), "'"),
        [](auto& r) { r.set_project_id(RowId(kProjectRows, 3)); });
    add("mine", absl::StrCat("r.responsible_id = '", caller.principal.id(), "'"), [](auto& r) { r.set_responsible("me"); });
    add("another's", absl::StrCat("r.responsible_id = '", UserId(12), "'"), [](auto& r) { r.set_responsible(UserId(12)); });
    for (int stage = 1; stage <= 5; ++stage) {
      add(absl::StrCat("stage ", stage), absl::StrCat("r.stage = ", stage),
          [&](auto& r) { r.set_stage(static_cast<v1::ClientRequest::Stage>(stage)); });
    }
    add("project's refused", absl::StrCat("r.project_id = '", RowId(kProjectRows, 3), "' AND r.stage = 5"), [](auto& r) {
      r.set_project_id(RowId(kProjectRows, 3));
      r.set_stage(v1::ClientRequest::REFUSED);
    });
    for (size_t n = 0; n < filters.size(); ++n) {
      auto& [name, req] = filters[n];
      SCOPED_TRACE(absl::StrCat(caller.name, " / ", name));
      StatementRecorder recorder;
      req.set_page_size(50);
      auto first = store.List(caller.principal, req);
      ASSERT_TRUE(first.ok()) << first.status();
      std::vector<std::string> got;
      for (const auto& r : first->requests()) got.push_back(r.id());
      if (!first->next_page_token().empty()) {
        req.set_page_token(first->next_page_token());
        auto second = store.List(caller.principal, req);
        ASSERT_TRUE(second.ok()) << second.status();
        for (const auto& r : second->requests()) got.push_back(r.id());
      }
      EXPECT_EQ(got, Column(absl::StrCat("SELECT r.id::text FROM client_requests r WHERE ",
                                         Sees(caller, "r.responsible_id"), " AND (", wheres[n],
                                         ") ORDER BY r.create_time DESC, r.id DESC LIMIT 100")));
      if (caller.name != "none") {
        EXPECT_GE(ExpectIndexBacked(recorder.Take(), caller.name + " / " + name), 1);
      }
    }
  }
}

TEST_F(InteractionsPlanTest, TodaysTasksOfEveryScopeAreIndexBackedAndExact) {
  InteractionStore store(*pool_, clock_, zone_);
  const absl::CivilDay day = absl::ToCivilDay(kNow, zone_);
  const absl::Time day_start = absl::FromCivil(day, zone_);
  const absl::Time day_end = absl::FromCivil(day + 1, zone_);
  for (const ScopeCaller& caller : ScopeCallers("interactions")) {
    for (const auto& [name, projects, mine] : std::vector<std::tuple<std::string, std::vector<int>, bool>>{
             {"every project", {}, false}, {"two projects", {3, 7}, false}, {"mine", {}, true}}) {
      SCOPED_TRACE(absl::StrCat(caller.name, " / ", name));
      v1::GetTodayTasksRequest req;
      std::string cond = absl::StrCat(Sees(caller, "i.responsible_id"), " AND i.kind IN (1, 2)");
      if (!projects.empty()) {
        std::vector<std::string> ids;
        for (int p : projects) {
          req.add_project_ids(RowId(kProjectRows, p));
          ids.push_back(absl::StrCat("'", RowId(kProjectRows, p), "'"));
        }
        absl::StrAppend(&cond, " AND i.project_id IN (", absl::StrJoin(ids, ", "), ")");
      }
      if (mine) {
        req.set_responsible("me");
        absl::StrAppend(&cond, " AND i.responsible_id = '", caller.principal.id(), "'");
      }
      StatementRecorder recorder;
      auto today = store.Today(caller.principal, req);
      ASSERT_TRUE(today.ok()) << today.status();
      const std::string planned = absl::StrCat(cond, " AND i.status = 1 AND i.occur_time >= ", Ts(std::max(day_start, kNow)),
                                               " AND i.occur_time < ", Ts(day_end));
      const std::string done = absl::StrCat(cond, " AND i.status = 2 AND i.occur_time >= ", Ts(day_start),
                                            " AND i.occur_time < ", Ts(day_end));
      const std::string overdue = absl::StrCat(cond, " AND i.status = 1 AND i.occur_time < ", Ts(kNow));
      const auto ids = [](const auto& list) {
        std::vector<std::string> out;
        for (const auto& x : list) out.push_back(x.id());
        return out;
      };
      const auto want = [&](const std::string& where) {
        return Column(absl::StrCat("SELECT i.id::text FROM interactions i WHERE ", where,
                                   " ORDER BY i.occur_time, i.id LIMIT 100"));
      };
      EXPECT_EQ(ids(today->planned()), want(planned));
      EXPECT_EQ(ids(today->done()), want(done));
      EXPECT_EQ(ids(today->overdue()), want(overdue));
      EXPECT_EQ(today->planned_count(), Count(absl::StrCat("SELECT count(*) FROM interactions i WHERE ", planned)));
      EXPECT_EQ(today->done_count(), Count(absl::StrCat("SELECT count(*) FROM interactions i WHERE ", done)));
      EXPECT_EQ(today->overdue_count(), Count(absl::StrCat("SELECT count(*) FROM interactions i WHERE ", overdue)));
      if (caller.name != "none") {
        EXPECT_TRUE(today->done_count() > 0 || caller.name == "own" || mine) << today->ShortDebugString();
        EXPECT_GE(ExpectIndexBacked(recorder.Take(), caller.name + " / " + name), 1);
      }
    }
  }
}

}  // namespace
}  // namespace crm::deals::interactions
