// Plans of the scenarios part's reads at realistic size (issue 18; libs/pg/plan_testing.h): 1 000 000
// dialogs' scenario states (one per dialog: it grows with the business), 1 000 000 spam entries over
// 1 000 bots and 100 000 scenarios over 1 000 bots. Every statement ListScenarios (by bot, every bot,
// second pages), ListSpam (first and second pages) and the runner's state lookup send has plans — for
// their values and the generic one — without a sequential scan or a big sort, and their answers are
// exact.
#include <chrono>
#include <iostream>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/calendar/calendar.h"
#include "libs/events/outbox.h"
#include "libs/pg/plan_testing.h"
#include "libs/pg/statement_recorder.h"
#include "services/dialogs/scenarios/demo.h"
#include "services/dialogs/scenarios/runner.h"
#include "services/dialogs/scenarios/scenarios_testing.h"
#include "services/dialogs/scenarios/spam.h"
#include "services/dialogs/scenarios/store.h"

namespace crm::dialogs::scenarios {
namespace {

constexpr int kStates = 1000000;
constexpr int kSpam = 1000000;
constexpr int kScenarios = 100000;
constexpr int kBots = 1000;
const std::vector<std::string> kTables = {"scenarios", "scenario_versions", "scenario_states", "scenario_spam"};

class ScenariosPlanTest : public ScenariosDbTest {
 protected:
  void SetUp() override {
    ScenariosDbTest::SetUp();
    const auto start = std::chrono::steady_clock::now();
    pqxx::connection c(db_->dsn());
    {
      pqxx::work tx(c);
      crm::pg::testing::BulkLoad(tx, kTables, [&](pqxx::transaction_base& w) {
        // Scenario g of bot "bot-<g mod 1000>", named "s<g>"; its one version's body is empty (heads are
        // what the list reads; the body is parsed only for the page's rows).
        w.exec0(absl::StrCat(
            "INSERT INTO scenarios (id, bot_id, name, version, active, create_time, update_time) "
            "SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'bot-' || (g % ", kBots,
            "), 's' || lpad(g::text, 7, '0'), 1, false, now(), now() FROM generate_series(1, ", kScenarios, ") g"));
        w.exec0("INSERT INTO scenario_versions (scenario_id, version, body, create_time) "
                "SELECT id, 1, '\\x', now() FROM scenarios");
        w.exec0(absl::StrCat(
            "INSERT INTO scenario_states (dialog_id, bot_id, client_key, private_chat, scenario_id, version, stage, "
            "finished, state, update_time) SELECT 'd' || g, 'bot-' || (g % ", kBots,
            "), g::text, true, '00000000-0000-7000-8000-000000000001', 1, '000000008', g % 3 = 0, '\\x', now() "
            "FROM generate_series(1, ", kStates, ") g"));
        w.exec0(absl::StrCat(
            "INSERT INTO scenario_spam (bot_id, client_key, dialog_id, create_time) SELECT 'bot-' || (g % ", kBots,
            "), 'c' || g, 'd' || g, timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1, ",
            kSpam, ") g"));
      });
      tx.commit();
    }
    pqxx::nontransaction ntx(c);
    ntx.exec0("VACUUM ANALYZE");
    std::cerr << "filled and analyzed in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s\n";
  }

  int Expect(const std::vector<crm::pg::StatementRecorder::Statement>& sent, const std::string& table) {
    return crm::pg::testing::ExpectNoSeqScan(
        db_->dsn(), sent, {.tables = {kTables.begin(), kTables.end()}, .reading = table, .max_sort_rows = 1000});
  }

  ManualClock clock_{absl::FromUnixSeconds(1796000000)};
};

TEST_F(ScenariosPlanTest, EveryListAndLookupIsIndexBacked) {
  crm::events::OutboxWriter outbox("dialogs", clock_);
  ScenarioStore store(*pool_, clock_, outbox);
  SpamList spam(*pool_);
  crm::pg::StatementRecorder recorder;

  // ListScenarios by bot: bot-7 has scenarios 7, 1007, 2007, ... (100 of them), by name.
  v1::ListScenariosRequest by_bot;
  by_bot.set_bot_id("bot-7");
  by_bot.set_page_size(30);
  absl::StatusOr<v1::ListScenariosResponse> p1 = store.List(by_bot);
  ASSERT_TRUE(p1.ok()) << p1.status();
  ASSERT_EQ(p1->scenarios_size(), 30);
  EXPECT_EQ(p1->scenarios(0).name(), "s0000007");
  EXPECT_EQ(p1->scenarios(29).name(), "s0029007");
  by_bot.set_page_token(p1->next_page_token());
  absl::StatusOr<v1::ListScenariosResponse> p2 = store.List(by_bot);
  ASSERT_TRUE(p2.ok()) << p2.status();
  EXPECT_EQ(p2->scenarios(0).name(), "s0030007");
  // Every bot.
  v1::ListScenariosRequest all;
  all.set_page_size(50);
  absl::StatusOr<v1::ListScenariosResponse> a1 = store.List(all);
  ASSERT_TRUE(a1.ok()) << a1.status();
  EXPECT_EQ(a1->scenarios(0).name(), "s0000001");
  all.set_page_token(a1->next_page_token());
  EXPECT_EQ(store.List(all)->scenarios(0).name(), "s0000051");
  EXPECT_GE(Expect(recorder.Take(), "scenarios"), 4);

  // ListSpam of bot-42: clients 1000·k + 42, newest (largest) first.
  v1::ListSpamRequest sr;
  sr.set_bot_id("bot-42");
  sr.set_page_size(20);
  absl::StatusOr<v1::ListSpamResponse> s1 = spam.List(sr);
  ASSERT_TRUE(s1.ok()) << s1.status();
  ASSERT_EQ(s1->spam_entries_size(), 20);
  EXPECT_EQ(s1->spam_entries(0).client_key(), "c999042");
  EXPECT_EQ(s1->spam_entries(19).client_key(), "c980042");
  sr.set_page_token(s1->next_page_token());
  absl::StatusOr<v1::ListSpamResponse> s2 = spam.List(sr);
  ASSERT_TRUE(s2.ok()) << s2.status();
  EXPECT_EQ(s2->spam_entries(0).client_key(), "c979042");
  EXPECT_GE(Expect(recorder.Take(), "scenario_spam"), 2);

  // The runner's lookup of a dialog's state (a finished one: no actions, nothing else read).
  auto cal = crm::calendar::WorkingCalendar::FiveDay("Europe/Moscow", "");
  ASSERT_TRUE(cal.ok());
  ScenarioRunner runner(clock_, *cal);
  v1::Input in;
  in.set_kind(v1::INPUT_KIND_TEXT);
  in.set_text("привет");
  absl::Status st = crm::pg::InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
    // d3's state (its scenario is not stored: the lookup is what this checks), and a dialog without
    // state on a bot without an active scenario (the lock, then the bot's active scenario).
    CRM_ASSIGN_OR_RETURN(std::optional<v1::ScenarioState> s, ScenarioRunner::State(tx, "d3"));
    if (!s) return absl::NotFoundError("d3");
    (void)runner.OnInput(tx, {.dialog_id = "new-dialog", .bot_id = "bot-999"}, in);  // records the lock
    return absl::OkStatus();
  });
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_GE(Expect(recorder.Take(), "scenario_states"), 2);
}

}  // namespace
}  // namespace crm::dialogs::scenarios
