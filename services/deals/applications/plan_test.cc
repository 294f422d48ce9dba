// File: services/deals/applications/plan_test.cc
// Issue 17: ListDealApplications on 1 000 000 deal applications (and 1 000 000 participant rows, 200 000
// clients) for every access scope (own, team, all, none) and every filter — by request, by client (a
// participant), by responsible ("me" and another's), by status, status with a responsible — with their
// next pages. With fresh statistics, every statement the store sends (StatementRecorder, ../sql.h) is
// EXPLAINed (ANALYZE, FORMAT JSON) with its values and as the generic plan: none may read a big table
// with a sequential scan, nor throw away more than kMaxDiscarded rows of one. The answers are checked
// against plain queries. Tables are filled with generate_series and their indexes built afterwards.
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/plan_testing.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "services/deals/applications/store.h"
#include "services/deals/applications/wiring.h"
#include "services/deals/interactions/wiring.h"
#include "services/deals/plan_test_base.h"
#include "services/deals/realty/wiring.h"
#include "services/deals/sql.h"

namespace crm {
const std::vector<crm::pg::Migration>& DealsMigrations();
}  // namespace crm

namespace crm::deals::applications {
namespace {

using crm::common::v1::Principal;

constexpr int kUsers = kPlanUsers;
constexpr int kTeams = kPlanTeams;
constexpr int kClients = 200'000;
constexpr int kRequests = 500'000;
constexpr int kApplications = 1'000'000;
constexpr int64_t kMaxDiscarded = 20'000;
const std::set<std::string> kBigTables = {"deal_applications", "deal_application_participants", "clients",
                                          "client_requests"};

constexpr char kClientRows[] = "a000";
constexpr char kRequestRows[] = "d000";
constexpr char kApplicationRows[] = "d500";
constexpr char kProject[] = "01900000-0000-7000-8000-0000000f0001";

class ApplicationsPlanTest : public PlanTestBase<ApplicationsPlanTest> {
 protected:
  static void SetUpTestSuite() {
    const absl::Time start = absl::Now();
    auto db = pg::testing::TempDatabase::Create("applications_plan");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = db->release();
    std::vector<pg::Migration> all = EventsMigrations();
    all.insert(all.end(), DealsMigrations().begin(), DealsMigrations().end());
    all.insert(all.end(), RealtyMigrations().begin(), RealtyMigrations().end());
    all.insert(all.end(), interactions::InteractionsMigrations().begin(), interactions::InteractionsMigrations().end());
    all.insert(all.end(), ApplicationsMigrations().begin(), ApplicationsMigrations().end());
    auto migrated = pg::Migrate(db_->dsn(), all);
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    pqxx::connection c(db_->dsn());
    {
      pqxx::work tx(c);
      InsertPlanStaff(tx);
      tx.exec0("SET LOCAL session_replication_role = replica");
      tx.exec0("SET LOCAL maintenance_work_mem = '256MB'");
      BulkLoad(tx, "clients",
               absl::StrCat("INSERT INTO clients (id, kind, name) SELECT ", RowIdSql(kClientRows, "g"),
                            ", 2, 'Клиент ' || g FROM generate_series(1, ", kClients, ") g"));
      BulkLoad(tx, "client_requests",
               absl::StrCat("INSERT INTO client_requests (id, client_id, project_id, responsible_id, create_time, "
                            "update_time) SELECT ",
                            RowIdSql(kRequestRows, "r"), ", ", RowIdSql(kClientRows, absl::StrCat("1 + (r - 1) % ", kClients)),
                            ", '", kProject, "', ", UserSql(absl::StrCat("1 + (r / 7) % ", kUsers)),
                            ", now(), now() FROM generate_series(1, ", kRequests, ") r"));
      // Application g: of request 1 + (g - 1) % kRequests (its client and responsible), status 1 + g % 4,
      // made a minute after g - 1; one participant, the request's client.
      BulkLoad(tx, "deal_applications",
               absl::StrCat("INSERT INTO deal_applications (id, request_id, client_id, project_id, status, responsible_id, "
                            "application_date, create_time, update_time) SELECT ",
                            RowIdSql(kApplicationRows, "g"), ", ", RowIdSql(kRequestRows, "x.r"), ", ",
                            RowIdSql(kClientRows, absl::StrCat("1 + (x.r - 1) % ", kClients)), ", '", kProject,
                            "', 1 + g % 4, ", UserSql(absl::StrCat("1 + (x.r / 7) % ", kUsers)),
                            ", DATE '2025-01-01', x.t, x.t FROM generate_series(1, ",
                            kApplications, ") g, LATERAL (SELECT 1 + (g - 1) % ", kRequests,
                            " AS r, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute' AS t) x"));
      BulkLoad(tx, "deal_application_participants",
               absl::StrCat("INSERT INTO deal_application_participants (application_id, pos, client_id, is_real, signer, "
                            "owner, share_numerator, share_denominator) SELECT a.id, 0, a.client_id, true, true, true, 1, 1 "
                            "FROM deal_applications a"));
      tx.commit();
    }
    pqxx::nontransaction ntx(c);
    ntx.exec0("VACUUM ANALYZE");
    std::cerr << "applications_plan_test: data loaded and analysed in " << absl::Now() - start << "\n";
  }

  int ExpectIndexBacked(const std::vector<StatementRecorder::Statement>& statements, const std::string& what) {
    return pg::testing::ExpectNoSeqScan(
        db_->dsn(), statements,
        {.tables = kBigTables, .max_removed_rows = kMaxDiscarded, .analyze = true, .analyze_generic = true, .what = what});
  }

  ManualClock clock_{absl::FromUnixSeconds(1'800'000'000)};
};

TEST_F(ApplicationsPlanTest, ApplicationsOfEveryScopeAndFilterAreIndexBackedAndExact) {
  ApplicationStore store(*pool_, clock_, absl::UTCTimeZone());
  for (const ScopeCaller& caller : ScopeCallers("applications")) {
    std::vector<std::pair<std::string, v1::ListDealApplicationsRequest>> filters;
    std::vector<std::string> wheres;
    const auto add = [&](std::string name, std::string where, auto&& set) {
      v1::ListDealApplicationsRequest req;
      set(req);
      filters.emplace_back(std::move(name), req);
      wheres.push_back(std::move(where));
    };
    add("none", "TRUE", [](auto&) {});
    add("request", absl::StrCat("a.request_id = '", RowId(kRequestRows, 1001), "'"),
        [](auto& r) { r.set_request_id(RowId(kRequestRows, 1001)); });
    add("client", absl::StrCat("a.client_id = '", RowId(kClientRows, 1002), "'"),  // the one participant
        [](auto& r) { r.set_client_id(RowId(kClientRows, 1002)); });
    add("mine", absl::StrCat("a.responsible_id = '", caller.principal.id(), "'"), [](auto& r) { r.set_responsible("me"); });
    add("another's", absl::StrCat("a.responsible_id = '", UserId(12), "'"), [](auto& r) { r.set_responsible(UserId(12)); });
    for (int status = 1; status <= 4; ++status) {
      add(absl::StrCat("status ", status), absl::StrCat("a.status = ", status),
          [&](auto& r) { r.set_status(static_cast<v1::DealApplication::Status>(status)); });
    }
    add("mine submitted", absl::StrCat("a.responsible_id = '", caller.principal.id(), "' AND a.status = 2"), [](auto& r) {
      r.set_responsible("me");
      r.set_status(v1::DealApplication::SUBMITTED);
    });
    for (size_t n = 0; n < filters.size(); ++n) {
      auto& [name, req] = filters[n];
      SCOPED_TRACE(absl::StrCat(caller.name, " / ", name));
      StatementRecorder recorder;
      req.set_page_size(50);
      auto first = store.List(caller.principal, req);
      ASSERT_TRUE(first.ok()) << first.status();
      std::vector<std::string> got;
      for (const auto& a : first->applications()) {
        got.push_back(a.id());
        EXPECT_EQ(a.participants_size(), 1);
      }
      if (!first->next_page_token().empty()) {
        req.set_page_token(first->next_page_token());
        auto second = store.List(caller.principal, req);
        ASSERT_TRUE(second.ok()) << second.status();
        for (const auto& a : second->applications()) got.push_back(a.id());
      }
      EXPECT_EQ(got, Column(absl::StrCat("SELECT a.id::text FROM deal_applications a WHERE ", Sees(caller, "a.responsible_id"), " AND (",
                                         wheres[n], ") ORDER BY a.create_time DESC, a.id DESC LIMIT 100")));
      if (caller.name != "none") {
        EXPECT_GE(ExpectIndexBacked(recorder.Take(), caller.name + " / " + name), 1);
      }
    }
  }
}

}  // namespace
}  // namespace crm::deals::applications
