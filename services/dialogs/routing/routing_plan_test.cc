// File: services/dialogs/routing/routing_plan_test.cc
// -----------------------------------------------------------------------------
// Plans of routing's reads at realistic size (issue 18, T6, T8; libs/pg/plan_testing.h): 1 000 000 dialogs over
// 20 bots, 1 000 000 assignments to 500 operators (one a minute from 2024-01-01) and 100 000 queue rows. The
// report (every bot, one bot) over a week, the timeline's pages (with 1 000 000 bot transitions, T9), the queue an offer reads and the bot's
// operators with their load have plans — for their values and the generic one — without a sequential scan of
// dialogs or dialog_assignments; the report reads only the period's rows (an index-only range scan of
// dialog_assignments_report) and sorts only them; its answer is exact (checked against the same data in C++).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "libs/base/clock.h"
#include "libs/base/time.h"
#include "libs/calendar/calendar.h"
#include "libs/events/outbox.h"
#include "libs/pg/migrations.h"
#include "libs/pg/plan_testing.h"
#include "libs/pg/pool.h"
#include "libs/pg/statement_recorder.h"
#include "libs/pg/testing.h"
#include "libs/rpc/testing/principals.h"
#include "services/dialogs/dialogs_testing.h"
#include "services/dialogs/inbox/wire.h"
#include "services/dialogs/routing/router.h"
#include "services/dialogs/routing/service.h"
#include "services/dialogs/routing/sql.h"
#include "services/dialogs/routing/wire.h"
#include "services/dialogs/scenarios/wire.h"
#include "services/dialogs/telegram/wire.h"
#include "services/dialogs/telegram/test_bot.h"

namespace crm::dialogs::routing {
namespace {

constexpr int kDialogs = 1000000;
constexpr int kBots = 20;
constexpr int kUsers = 500;
constexpr int kBotDialogs = 250000;  // T9: dialogs 1..250 000 have 4 bot transitions each (1 000 000 rows)
const std::vector<std::string> kTables = {"dialogs", "dialog_assignments", "scenario_transitions"};

std::string Id(int kind, int64_t n) { return absl::StrFormat("0190%04x-0000-7000-8000-%012x", kind, n); }
std::string Bot(int n) { return Id(1, n); }
std::string UserId(int n) { return Id(2, n); }
std::string DialogId(int64_t n) { return Id(5, n); }
// Dialog g's data, as the SQL below makes it.
int BotOf(int64_t g) { return static_cast<int>(g % kBots); }
int UserOf(int64_t g) { return 1 + static_cast<int>((g / 3) % kUsers); }
bool Answered(int64_t g) { return g % 5 != 0; }
int64_t ReplySeconds(int64_t g) { return (g * 7) % 600; }
absl::Time Start() { return absl::FromCivil(absl::CivilSecond(2024, 1, 1, 0, 0, 0), absl::UTCTimeZone()); }

class RoutingPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crm::dialogs::testing::MakeDatabase("droute_plan", 2, db_, pool_);
    if (HasFatalFailure()) return;
    const auto start = std::chrono::steady_clock::now();
    pqxx::connection c(db_->dsn());
    {
      pqxx::work tx(c);
      for (int b = 0; b < kBots; ++b) {
        tx.exec0(telegram::InsertTestBotSql(Bot(b), absl::StrCat("Бот ", b), Bot(b)));
      }
      for (int u = 1; u <= kUsers; ++u) {
        tx.exec0(absl::StrCat("INSERT INTO bot_operators (bot_id, user_id) VALUES ('", Bot(u % kBots), "', '",
                              UserId(u), "')"));
      }
      crm::pg::testing::BulkLoad(tx, kTables, [&](pqxx::transaction_base& w) {
        // Dialog g: bot g % 20, created 2024-01-01 + g minutes; every 10th QUEUED (no responsible), the others
        // IN_WORK (1 in 5) or CLOSED, by user 1 + (g / 3) % 500.
        w.exec0(absl::StrCat(
            "INSERT INTO dialogs (id, number, bot_id, chat_id, tg_user_id, status, closed, responsible_id, "
            "queued_time, create_time, update_time) "
            "SELECT ('01900005-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, g, "
            "('01900001-0000-7000-8000-' || lpad(to_hex(g % ", kBots, "), 12, '0'))::uuid, g, g, "
            "CASE WHEN g % 10 = 0 THEN 'QUEUED' WHEN g % 5 = 1 THEN 'IN_WORK' ELSE 'CLOSED' END, "
            "g % 10 <> 0 AND g % 5 <> 1, "
            "CASE WHEN g % 10 <> 0 THEN ('01900002-0000-7000-8000-' || lpad(to_hex(1 + (g / 3) % ", kUsers,
            "), 12, '0'))::uuid END, timestamptz '2024-01-01' + g * interval '1 minute', "
            "timestamptz '2024-01-01' + g * interval '1 minute', timestamptz '2024-01-01' + g * interval '1 minute' "
            "FROM generate_series(1, ", kDialogs, ") g"));
        // One assignment per dialog at its creation (to its user; answered unless g % 5 = 0, after
        // (g * 7) % 600 working seconds); a QUEUED row before it for every 10th.
        w.exec0(absl::StrCat(
            "INSERT INTO dialog_assignments (dialog_id, bot_id, kind, to_user_id, time, reply_time, "
            "reply_working_seconds) SELECT ('01900005-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, "
            "('01900001-0000-7000-8000-' || lpad(to_hex(g % ", kBots, "), 12, '0'))::uuid, 'DISTRIBUTED', "
            "('01900002-0000-7000-8000-' || lpad(to_hex(1 + (g / 3) % ", kUsers, "), 12, '0'))::uuid, "
            "timestamptz '2024-01-01' + g * interval '1 minute', "
            "CASE WHEN g % 5 <> 0 THEN timestamptz '2024-01-01' + g * interval '1 minute' END, "
            "CASE WHEN g % 5 <> 0 THEN (g * 7) % 600 END FROM generate_series(1, ", kDialogs, ") g"));
        w.exec0(absl::StrCat(
            "INSERT INTO dialog_assignments (dialog_id, bot_id, kind, time) "
            "SELECT ('01900005-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, "
            "('01900001-0000-7000-8000-' || lpad(to_hex(g % ", kBots, "), 12, '0'))::uuid, 'QUEUED', "
            "timestamptz '2024-01-01' + g * interval '1 minute' FROM generate_series(10, ", kDialogs, ", 10) g"));
        // T9: the bot's part of dialog g — START, KEY, KEY, FINISH in the 4 seconds before its creation.
        w.exec0(absl::StrCat(
            "INSERT INTO scenario_transitions (dialog_id, seq, scenario_id, scenario_version, from_stage, "
            "from_stage_name, to_stage, to_stage_name, cause, key_kind, input, failed_attempts, time) "
            "SELECT '01900005-0000-7000-8000-' || lpad(to_hex(g), 12, '0'), s, "
            "'01900006-0000-7000-8000-000000000001', 1, CASE WHEN s = 1 THEN '' ELSE 'st' || (s - 1) END, '', "
            "CASE WHEN s = 4 THEN '' ELSE 'st' || s END, '', "
            "CASE s WHEN 1 THEN 'START' WHEN 4 THEN 'FINISH' ELSE 'KEY' END, "
            "CASE WHEN s IN (2, 3) THEN 'TEXT' ELSE '' END, '', 0, "
            "timestamptz '2024-01-01' + g * interval '1 minute' - (5 - s) * interval '1 second' "
            "FROM generate_series(1, ", kBotDialogs, ") g, generate_series(1, 4) s"));
        w.exec("SELECT setval('dialog_numbers', 1000001)");
      });
      tx.commit();
    }
    pqxx::nontransaction ntx(c);
    ntx.exec0("VACUUM ANALYZE");
    std::cerr << "filled and analyzed in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s\n";
  }

  // No sequential scan of dialogs or dialog_assignments; no sort of more than `max_sort` rows.
  int Expect(const std::vector<crm::pg::StatementRecorder::Statement>& sent, const std::string& table,
             const std::string& what, double max_sort = 5000) {
    return crm::pg::testing::ExpectNoSeqScan(
        db_->dsn(), sent,
        {.tables = {kTables.begin(), kTables.end()}, .reading = table, .max_sort_rows = max_sort, .what = what});
  }

  ManualClock clock_{absl::FromUnixSeconds(1796000000)};
  std::unique_ptr<crm::pg::testing::TempDatabase> db_;
  std::unique_ptr<crm::pg::Pool> pool_;
};

TEST_F(RoutingPlanTest, ReportTimelineQueueAndLoadAreIndexBacked) {
  const auto cal = crm::calendar::WorkingCalendar::FiveDay(absl::UTCTimeZone());
  crm::events::OutboxWriter outbox("dialogs", clock_);
  Router router(cal, BotHoursProvider(), outbox);
  Routing routing(*pool_, clock_, router);
  const Principal supervisor = crm::rpc::testing::UserPrincipal(UserId(900), {"dialogs.supervise", "dialogs.read.all"});

  // The report over one week (10 080 assignments): every bot, then bot 3. It sorts the period's rows for the
  // percentiles — a week's, not the table's.
  const int64_t g0 = 200000, g1 = g0 + 7 * 24 * 60;  // [g0, g1) minutes after the start
  for (const std::string& bot : {std::string(), Bot(3)}) {
    v1::GetResponseReportRequest req;
    *req.mutable_from_time() = ToProtoTimestamp(Start() + absl::Minutes(g0));
    *req.mutable_to_time() = ToProtoTimestamp(Start() + absl::Minutes(g1));
    req.set_bot_id(bot);
    crm::pg::StatementRecorder recorder;
    auto report = routing.Report(supervisor, req);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_GE(Expect(recorder.Take(), "dialog_assignments", absl::StrCat("report, bot '", bot, "'"), 20000), 1);
    // Exact: the same data computed here.
    std::map<std::pair<std::string, std::string>, std::pair<int, std::vector<int64_t>>> want;
    for (int64_t g = g0; g < g1; ++g) {
      if (!bot.empty() && Bot(BotOf(g)) != bot) continue;
      auto& cell = want[{UserId(UserOf(g)), Bot(BotOf(g))}];
      ++cell.first;
      if (Answered(g)) cell.second.push_back(ReplySeconds(g));
    }
    ASSERT_EQ(report->rows_size(), static_cast<int>(want.size()));
    int i = 0;
    for (auto& [key, cell] : want) {
      const v1::ResponseReportRow& row = report->rows(i++);
      EXPECT_EQ(row.user_id(), key.first);
      EXPECT_EQ(row.bot_id(), key.second);
      EXPECT_EQ(row.dialogs_taken(), cell.first);
      std::vector<int64_t>& v = cell.second;
      EXPECT_EQ(row.dialogs_answered(), static_cast<int>(v.size()));
      std::sort(v.begin(), v.end());
      auto disc = [&](double p) -> int64_t {  // percentile_disc: the first value whose cumulative share ≥ p
        if (v.empty()) return 0;
        size_t k = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
        return v[std::max<size_t>(k, 1) - 1];
      };
      EXPECT_EQ(row.median_first_reply_working_seconds(), disc(0.5)) << key.first;
      EXPECT_EQ(row.p90_first_reply_working_seconds(), disc(0.9)) << key.first;
    }
  }

  // The timeline of one dialog, two pages of 3: the bot's 4 transitions (T9, the primary key of
  // scenario_transitions) before routing's 2 rows (dialog_assignments_dialog), exact.
  {
    crm::pg::StatementRecorder recorder;
    v1::GetDialogTimelineRequest req;
    req.set_id(DialogId(123450));
    req.set_page_size(3);
    auto p1 = routing.Timeline(supervisor, req);
    ASSERT_TRUE(p1.ok()) << p1.status();
    req.set_page_token(p1->next_page_token());
    auto p2 = routing.Timeline(supervisor, req);
    ASSERT_TRUE(p2.ok()) << p2.status();
    std::vector<std::string> got;
    for (const auto* page : {&*p1, &*p2}) {
      for (const v1::TimelineEntry& e : page->entries()) {
        got.push_back(e.has_assignment()
                          ? v1::AssignmentKind_Name(e.assignment().kind())
                          : absl::StrCat(v1::BotTransitionCause_Name(e.bot_transition().cause()), " ",
                                         e.bot_transition().seq()));
      }
    }
    EXPECT_EQ(got, (std::vector<std::string>{"BOT_TRANSITION_CAUSE_START 1", "BOT_TRANSITION_CAUSE_KEY 2",
                                             "BOT_TRANSITION_CAUSE_KEY 3", "BOT_TRANSITION_CAUSE_FINISH 4",
                                             "ASSIGNMENT_KIND_DISTRIBUTED", "ASSIGNMENT_KIND_QUEUED"}));
    EXPECT_EQ(p2->next_page_token(), "");
    EXPECT_EQ(p2->first_queued_time().seconds(), p1->first_queued_time().seconds());  // the summary on every page
    const std::vector<crm::pg::StatementRecorder::Statement> sent = recorder.Take();
    EXPECT_GE(Expect(sent, "dialog_assignments", "timeline"), 4);
    EXPECT_GE(Expect(sent, "scenario_transitions", "timeline (T9)", 100), 2);
  }

  // What the router reads: the bot's oldest due queued dialogs (dialogs_queue) and its operators' load
  // (dialogs_responsible_open per operator).
  const std::vector<crm::pg::StatementRecorder::Statement> router_reads = {
      {sql::kQueuedOfBot, {Bot(3), FormatRfc3339Utc(Start() + absl::Hours(24 * 365)), absl::StrCat(kOfferBatch)}},
      {sql::kOperatorsOfBot, {Bot(3)}},
      {sql::kOpenOfOperator, {UserId(7)}},
  };
  EXPECT_GE(Expect(router_reads, "dialogs", "router"), 3);
}

}  // namespace
}  // namespace crm::dialogs::routing
