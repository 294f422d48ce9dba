// File: services/telephony/calls/calls_plan_test.cc
// -----------------------------------------------------------------------------
// Plans of the call log at realistic size (issue 19, P1; libs/pg/plan_testing.h): 1 000 000 calls, one every
// 30 s from 2024-01-01, of 200 employees, every 3rd with one of 100 000 clients, every 7th with one of
// 50 000 deals, 60 % inbound / 30 % outbound / 10 % internal, a quarter unanswered. Every ListCalls filter
// (none, client, deal, user, direction, missed, time range, missed of a user) in every scope (all with
// telephony.read.all, own with calls.operate) has plans — for its values and the generic one, run with
// ANALYZE — without a sequential scan of calls, without a sort of more than 5 000 rows and without a node
// throwing away more than 10 000 rows; the next page follows the first; two answers are checked exactly.
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
#include "libs/pg/migrations.h"
#include "libs/pg/plan_testing.h"
#include "libs/pg/pool.h"
#include "libs/pg/statement_recorder.h"
#include "libs/pg/migrated_testing.h"
#include "libs/pg/testing.h"
#include "libs/rpc/testing/principals.h"
#include "services/telephony/calls/pbx.h"
#include "services/telephony/calls/service.h"
#include "services/telephony/migrations.h"

namespace crm::telephony::calls {
namespace {

constexpr int kCalls = 1000000;
constexpr int kUsers = 200;
const std::vector<std::string> kTables = {"calls"};

std::string Id(int kind, int64_t n) { return absl::StrFormat("0190%04x-0000-7000-8000-%012x", kind, n); }
std::string UserId(int n) { return Id(2, n); }
std::string ClientId(int64_t n) { return Id(3, n); }
std::string DealId(int64_t n) { return Id(4, n); }

class CallsPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crm::pg::testing::MakeMigratedDatabase("tcalls_plan", crm::telephony::AllMigrations(), 2, db_, pool_);
    if (HasFatalFailure()) return;
    const auto start = std::chrono::steady_clock::now();
    pqxx::connection c(db_->dsn());
    {
      pqxx::work tx(c);
      crm::pg::testing::BulkLoad(tx, kTables, [&](pqxx::transaction_base& w) {
        // Call g: started 2024-01-01 + 30 g seconds; ended unless among the last 1 000; answered unless g % 4 = 0;
        // user 1 + g % 200; client (g / 3) % 100 000 when g % 3 = 0; deal (g / 7) % 50 000 when g % 7 = 0.
        w.exec0(absl::StrCat(
            "INSERT INTO calls (id, provider, call_key, direction, from_number, to_number, outside_number, line, "
            "state, answered, started_at, answered_at, ended_at, duration_seconds, user_id, identification, "
            "client_id, client_name, deal_id, create_time, update_time) "
            "SELECT ('0190000c-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'asterisk', 'k' || g, "
            "CASE WHEN g % 10 < 6 THEN 'inbound' WHEN g % 10 < 9 THEN 'outbound' ELSE 'internal' END, "
            "'+7916' || lpad((g % 10000000)::text, 7, '0'), '101', '+7916' || lpad((g % 10000000)::text, 7, '0'), "
            "'+74951234567', CASE WHEN g > ", kCalls - 1000, " THEN 'ringing' ELSE 'ended' END, g % 4 <> 0, "
            "t, CASE WHEN g % 4 <> 0 THEN t + interval '5 seconds' END, "
            "CASE WHEN g <= ", kCalls - 1000, " THEN t + interval '25 seconds' END, "
            "CASE WHEN g % 4 <> 0 THEN 20 ELSE 0 END, "
            "('01900002-0000-7000-8000-' || lpad(to_hex(1 + g % ", kUsers, "), 12, '0'))::uuid, "
            "CASE WHEN g % 3 = 0 THEN 'identified' ELSE 'none' END, "
            "CASE WHEN g % 3 = 0 THEN ('01900003-0000-7000-8000-' || lpad(to_hex((g / 3) % 100000), 12, '0'))::uuid END, "
            "CASE WHEN g % 3 = 0 THEN 'Клиент' ELSE '' END, "
            "CASE WHEN g % 7 = 0 THEN ('01900004-0000-7000-8000-' || lpad(to_hex((g / 7) % 50000), 12, '0'))::uuid END, "
            "t, t FROM generate_series(1, ", kCalls, ") g, "
            "LATERAL (SELECT timestamptz '2024-01-01 00:00:00+00' + g * interval '30 seconds' AS t) x"));
      });
      tx.commit();
    }
    pqxx::nontransaction ntx(c);
    ntx.exec0("VACUUM ANALYZE");
    std::cerr << "filled and analyzed in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s\n";
  }

  int Expect(const std::vector<crm::pg::StatementRecorder::Statement>& sent, const std::string& what) {
    return crm::pg::testing::ExpectNoSeqScan(db_->dsn(), sent,
                                             {.tables = {kTables.begin(), kTables.end()},
                                              .reading = "calls",
                                              .max_sort_rows = 5000,
                                              .max_removed_rows = 10000,
                                              .analyze = true,
                                              .analyze_generic = true,
                                              .what = what});
  }

  ManualClock clock_{absl::FromUnixSeconds(1796000000)};
  std::unique_ptr<crm::pg::testing::TempDatabase> db_;
  std::unique_ptr<crm::pg::Pool> pool_;
};

TEST_F(CallsPlanTest, EveryListFilterOfEveryScopeIsIndexBacked) {
  PbxRegistry pbx;
  Calls calls(*pool_, clock_, pbx, "asterisk");
  struct Scope {
    const char* name;
    Principal caller;
  };
  const std::vector<Scope> scopes = {
      {"all", crm::rpc::testing::UserPrincipal(UserId(7), {kReadAll})},
      {"own", crm::rpc::testing::UserPrincipal(UserId(5), {kOperate})},
  };
  struct Filter {
    const char* name;
    v1::ListCallsRequest req;
  };
  std::vector<Filter> filters;
  filters.push_back({"none", {}});
  {
    Filter f{"client", {}};
    f.req.set_client_id(ClientId(1234));
    filters.push_back(f);
  }
  {
    Filter f{"deal", {}};
    f.req.set_deal_id(DealId(4321));
    filters.push_back(f);
  }
  {
    Filter f{"user", {}};
    f.req.set_user(UserId(5));
    filters.push_back(f);
  }
  {
    Filter f{"direction", {}};
    f.req.set_direction(v1::CALL_DIRECTION_OUTBOUND);
    filters.push_back(f);
  }
  {
    Filter f{"missed", {}};
    f.req.set_missed_only(true);
    filters.push_back(f);
  }
  {
    Filter f{"time range", {}};
    *f.req.mutable_from_time() = ToProtoTimestamp(absl::FromUnixSeconds(1704067200 + 86400 * 100));  // day 100
    *f.req.mutable_to_time() = ToProtoTimestamp(absl::FromUnixSeconds(1704067200 + 86400 * 107));
    filters.push_back(f);
  }
  {
    Filter f{"missed of a user", {}};
    f.req.set_missed_only(true);
    f.req.set_user("me");
    filters.push_back(f);
  }
  for (const Scope& scope : scopes) {
    for (const Filter& filter : filters) {
      const std::string what = absl::StrCat("ListCalls scope ", scope.name, ", filter ", filter.name);
      crm::pg::StatementRecorder recorder;
      v1::ListCallsRequest req = filter.req;
      req.set_page_size(50);
      absl::StatusOr<v1::ListCallsResponse> page = calls.ListCalls(scope.caller, req);
      ASSERT_TRUE(page.ok()) << what << ": " << page.status();
      for (int i = 1; i < page->calls_size(); ++i) {
        EXPECT_GE(FromProtoTimestamp(page->calls(i - 1).start_time()), FromProtoTimestamp(page->calls(i).start_time()))
            << what;
      }
      if (!page->next_page_token().empty()) {
        req.set_page_token(page->next_page_token());
        absl::StatusOr<v1::ListCallsResponse> next = calls.ListCalls(scope.caller, req);
        ASSERT_TRUE(next.ok()) << what << ": " << next.status();
        if (next->calls_size() > 0) {
          EXPECT_LT(FromProtoTimestamp(next->calls(0).start_time()), FromProtoTimestamp(page->calls(49).start_time()))
              << what;
        }
      }
      EXPECT_GE(Expect(recorder.Take(), what), 1) << what;
    }
  }
  // Exact: client 1234's calls are g = 3 (1234 + 100 000 k) for k = 0..3 (g ≤ 1 000 000): 4, newest first.
  {
    v1::ListCallsRequest req;
    req.set_client_id(ClientId(1234));
    auto r = calls.ListCalls(scopes[0].caller, req);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->calls_size(), 4);
    EXPECT_EQ(r->calls(0).call_key(), absl::StrCat("k", 3 * (1234 + 300000)));
  }
  // User 5's missed inbound calls in the first day (2 880 calls, g = 1..2 879): g % 200 = 4, g % 4 = 0,
  // g % 10 < 6 → g ≡ 4 (mod 200) and g % 4 = 0 and g % 10 < 6: g = 4, 204, ... (every 200; all ≡ 0 mod 4;
  // last digit 4 → inbound): 15 of them (4 … 2 804).
  {
    v1::ListCallsRequest req;
    req.set_missed_only(true);
    *req.mutable_to_time() = ToProtoTimestamp(absl::FromUnixSeconds(1704067200 + 86400));
    req.set_page_size(200);
    auto r = calls.ListCalls(scopes[1].caller, req);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->calls_size(), 15);
    EXPECT_EQ(r->calls(0).call_key(), "k2804");
    EXPECT_TRUE(r->calls(0).missed());
  }
}

}  // namespace
}  // namespace crm::telephony::calls
