// File: services/telephony/requests/requests_plan_test.cc
// -----------------------------------------------------------------------------
// Plans of the call-request queue's reads at realistic size (P4; libs/pg/plan_testing.h): 1 000 000 requests
// (one a minute from 2024-01-01; 10 000 still queued, the rest done by 500 operators) and 990 000 attempts.
// Every list filter (none, state, source, type, operator, date, a second page) in both scopes (OWN: the
// caller's; ALL), the matcher's queue, the related-duplicate lookup, a request's attempts and related ones
// and the control panel's day have plans — for their values and the generic one — without a sequential
// scan of call_requests or call_request_attempts and without sorting more than a page.
#include <chrono>
#include <iostream>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "libs/base/clock.h"
#include "libs/base/time.h"
#include "libs/events/outbox.h"
#include "libs/pg/migrations.h"
#include "libs/pg/plan_testing.h"
#include "libs/pg/pool.h"
#include "libs/pg/statement_recorder.h"
#include "libs/pg/migrated_testing.h"
#include "libs/pg/testing.h"
#include "libs/rpc/testing/principals.h"
#include "services/telephony/migrations.h"
#include "services/telephony/requests/api.h"
#include "services/telephony/requests/queue.h"
#include "services/telephony/requests/sql.h"

namespace crm::telephony::requests {
namespace {

constexpr int kRequests = 1000000;
constexpr int kUsers = 500;
const std::vector<std::string> kTables = {"call_requests", "call_request_attempts"};

std::string UserId(int n) { return absl::StrFormat("01900002-0000-7000-8000-%012x", n); }
std::string RequestId(int64_t n) { return absl::StrFormat("01900005-0000-7000-8000-%012x", n); }
absl::Time Start() { return absl::FromCivil(absl::CivilSecond(2024, 1, 1, 0, 0, 0), absl::UTCTimeZone()); }

class RequestsPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crm::pg::testing::MakeMigratedDatabase("telreq_plan", crm::telephony::AllMigrations(), 2, db_, pool_);
    if (HasFatalFailure()) return;
    const auto start = std::chrono::steady_clock::now();
    pqxx::connection c(db_->dsn());
    {
      pqxx::work tx(c);
      crm::pg::testing::BulkLoad(tx, kTables, [&](pqxx::transaction_base& w) {
        // Request g: created 2024-01-01 + g minutes; source g % 4, type g % 6, priority 1 + g % 3, phone of
        // 500 000; every 100th QUEUED (no operator), the others DONE by user 1 + g % 500 (PROCESSED, or SPAM
        // for every 7th).
        w.exec0(absl::StrCat(
            "INSERT INTO call_requests (id, source, type, priority, phone, comment, due_time, state, outcome, "
            "operator_id, attempt_count, create_time, update_time, finish_time) "
            "SELECT ('01900005-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, "
            "(ARRAY['SITE', 'MISSED_CALL', 'TELEGRAM', 'MANUAL'])[1 + g % 4], "
            "(ARRAY['CALLBACK', 'MISSED', 'MORTGAGE', 'ONLINE_BOOKING', 'SALES', 'MORTGAGE_DESK'])[1 + g % 6], "
            "1 + g % 3, '+7916' || lpad((g % 500000)::text, 7, '0'), '', "
            "timestamptz '2024-01-01' + g * interval '1 minute', "
            "CASE WHEN g % 100 = 0 THEN 'QUEUED' ELSE 'DONE' END, "
            "CASE WHEN g % 100 = 0 THEN '' WHEN g % 7 = 0 THEN 'SPAM' ELSE 'PROCESSED' END, "
            "CASE WHEN g % 100 <> 0 THEN ('01900002-0000-7000-8000-' || lpad(to_hex(1 + g % ", kUsers,
            "), 12, '0'))::uuid END, CASE WHEN g % 100 = 0 THEN 0 ELSE 1 END, "
            "timestamptz '2024-01-01' + g * interval '1 minute', timestamptz '2024-01-01' + g * interval '1 minute', "
            "CASE WHEN g % 100 <> 0 THEN timestamptz '2024-01-01' + g * interval '1 minute' + interval '5 minutes' END "
            "FROM generate_series(1, ", kRequests, ") g"));
        w.exec0(absl::StrCat(
            "INSERT INTO call_request_attempts (request_id, operator_id, offer_time, deadline, result, result_time, "
            "outcome, finish_time) SELECT ('01900005-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, "
            "('01900002-0000-7000-8000-' || lpad(to_hex(1 + g % ", kUsers, "), 12, '0'))::uuid, "
            "timestamptz '2024-01-01' + g * interval '1 minute', "
            "timestamptz '2024-01-01' + g * interval '1 minute' + interval '35 seconds', 'ACCEPTED', "
            "timestamptz '2024-01-01' + g * interval '1 minute' + interval '10 seconds', "
            "CASE WHEN g % 7 = 0 THEN 'SPAM' ELSE 'PROCESSED' END, "
            "timestamptz '2024-01-01' + g * interval '1 minute' + interval '5 minutes' "
            "FROM generate_series(1, ", kRequests, ") g WHERE g % 100 <> 0"));
      });
      for (int u = 1; u <= 50; ++u) {
        tx.exec0(absl::StrCat("INSERT INTO call_operators (user_id, readiness, readiness_time, idle_since, "
                              "update_time) VALUES ('", UserId(u), "', 'AUTO_READY', now(), now(), now())"));
      }
      tx.commit();
    }
    pqxx::nontransaction ntx(c);
    ntx.exec0("VACUUM ANALYZE");
    std::cerr << "filled and analyzed in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s\n";
  }

  int Expect(const std::vector<crm::pg::StatementRecorder::Statement>& sent, const std::string& table,
             const std::string& what, double max_sort = 1000) {
    return crm::pg::testing::ExpectNoSeqScan(
        db_->dsn(), sent,
        {.tables = {kTables.begin(), kTables.end()}, .reading = table, .max_sort_rows = max_sort, .what = what});
  }

  ManualClock clock_{Start() + absl::Minutes(900000)};
  std::unique_ptr<crm::pg::testing::TempDatabase> db_;
  std::unique_ptr<crm::pg::Pool> pool_;
};

TEST_F(RequestsPlanTest, ListsMatcherAndPanelAreIndexBacked) {
  crm::events::OutboxWriter outbox("telephony", clock_);
  Queue queue(outbox, QueueOptions{});
  CallRequests api(*pool_, clock_, queue, absl::UTCTimeZone());
  const Principal head = crm::rpc::testing::UserPrincipal(UserId(900), {kReadAll});
  const Principal op = crm::rpc::testing::UserPrincipal(UserId(7), {kOperate});

  struct Filter {
    std::string name;
    void (*set)(v1::ListCallRequestsRequest&);
  };
  const std::vector<Filter> filters = {
      {"none", [](v1::ListCallRequestsRequest&) {}},
      {"state QUEUED", [](v1::ListCallRequestsRequest& r) { r.set_state(v1::REQUEST_STATE_QUEUED); }},
      {"state DONE", [](v1::ListCallRequestsRequest& r) { r.set_state(v1::REQUEST_STATE_DONE); }},
      {"source", [](v1::ListCallRequestsRequest& r) { r.set_source(v1::REQUEST_SOURCE_TELEGRAM); }},
      {"type", [](v1::ListCallRequestsRequest& r) { r.set_type(v1::REQUEST_TYPE_MORTGAGE); }},
      {"operator", [](v1::ListCallRequestsRequest& r) { r.set_operator_id(UserId(7)); }},
      {"date", [](v1::ListCallRequestsRequest& r) {
         *r.mutable_from_time() = ToProtoTimestamp(Start() + absl::Minutes(300000));
         *r.mutable_to_time() = ToProtoTimestamp(Start() + absl::Minutes(300000 + 24 * 60));
       }},
      {"all filters", [](v1::ListCallRequestsRequest& r) {
         r.set_state(v1::REQUEST_STATE_DONE);
         r.set_source(v1::REQUEST_SOURCE_SITE);
         r.set_type(v1::REQUEST_TYPE_CALLBACK);
         *r.mutable_from_time() = ToProtoTimestamp(Start() + absl::Minutes(300000));
         *r.mutable_to_time() = ToProtoTimestamp(Start() + absl::Minutes(400000));
       }},
  };
  for (const auto& [scope_name, scope, caller] :
       {std::tuple<std::string, v1::ListCallRequestsRequest::Scope, Principal>{
            "ALL", v1::ListCallRequestsRequest::SCOPE_ALL, head},
        {"OWN", v1::ListCallRequestsRequest::SCOPE_OWN, op}}) {
    for (const Filter& f : filters) {
      if (scope == v1::ListCallRequestsRequest::SCOPE_OWN && f.name == "operator") continue;  // OWN is that filter
      v1::ListCallRequestsRequest req;
      req.set_scope(scope);
      f.set(req);
      crm::pg::StatementRecorder recorder;
      auto page = api.List(caller, req);
      ASSERT_TRUE(page.ok()) << page.status();
      // The second page, from the token.
      if (!page->next_page_token().empty()) {
        req.set_page_token(page->next_page_token());
        auto next = api.List(caller, req);
        ASSERT_TRUE(next.ok()) << next.status();
        if (next->requests_size() > 0 && page->requests_size() > 0) {
          EXPECT_LT(next->requests(0).create_time().seconds(),
                    page->requests(page->requests_size() - 1).create_time().seconds() + 1);
        }
      }
      EXPECT_GE(Expect(recorder.Take(), "call_requests", absl::StrCat("list ", scope_name, ", ", f.name)), 1);
      if (scope == v1::ListCallRequestsRequest::SCOPE_OWN) {
        for (const v1::CallRequest& r : page->requests()) EXPECT_EQ(r.operator_id(), UserId(7));
      }
    }
  }

  const std::string now = FormatRfc3339Utc(clock_.Now());
  const std::string day_from = FormatRfc3339Utc(Start() + absl::Hours(24 * 400));
  const std::string day_to = FormatRfc3339Utc(Start() + absl::Hours(24 * 401));
  // The matcher's queue (call_requests_queue), the related-duplicate lookup, a request's attempts and
  // related ones.
  EXPECT_GE(Expect({{sql::kDueRequests, {now, "51"}},
                    {sql::kOpenRelated, {"+79160012345", ""}},
                    {sql::kOpenRelated, {"+79160012345", RequestId(77)}},
                    {sql::kRequestById, {RequestId(123456)}},
                    {sql::kRelatedOf, {RequestId(123456), RequestId(123400)}}},
                   "call_requests", "matcher and request"),
            5);
  EXPECT_GE(Expect({{sql::kAttemptsOf, {RequestId(123456)}}}, "call_request_attempts", "attempts"), 1);
  // The control panel's day.
  EXPECT_GE(Expect({{sql::kCreatedIn, {day_from, day_to}}, {sql::kOpenNow, {now}}}, "call_requests", "panel",
                   20000),
            2);
  EXPECT_GE(Expect({{sql::kFinishedIn, {day_from, day_to}}, {sql::kOperatorsIn, {day_from, day_to}}},
                   "call_request_attempts", "panel", 5000),
            2);

  // And the matcher works at this size: 50 ready operators get the 50 first due requests.
  auto made = api.MatchNow();
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(*made, 50);
}

}  // namespace
}  // namespace crm::telephony::requests
