// File: services/dialogs/inbox/inbox_plan_test.cc
// -----------------------------------------------------------------------------
// Plans of the inbox's lists at realistic size (issue 18; libs/pg/plan_testing.h): 1 000 000 dialogs over
// 20 bots and 500 operators in 50 teams (10 subordinates per supervisor), and 1 000 000 messages. Every
// statement ListDialogs sends — for each scope (all, own = assigned + the bots' queue, team, T6 supervisor =
// own + the subordinates') and each filter (none, open, status, bot, project, topic, responsible, client, a
// second page) — and ListMessages (first and second page) has plans, for its values and the generic one,
// without a sequential scan of dialogs, dialog_teams or dialog_messages, without a big sort, and — run — with
// no node throwing many rows away and a bounded count of buffers touched, however rare the filter is in the
// scope (the team scope with a bot its teams never see); and the answers are exact.
#include <chrono>
#include <functional>
#include <iostream>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "libs/base/clock.h"
#include "libs/events/outbox.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "services/dialogs/dialogs_testing.h"
#include "libs/pg/plan_testing.h"
#include "libs/pg/pool.h"
#include "libs/pg/statement_recorder.h"
#include "libs/pg/testing.h"
#include "libs/timers/timers.h"
#include "services/dialogs/inbox/service.h"
#include "services/dialogs/inbox/store.h"
#include "services/dialogs/inbox/wire.h"
#include "services/dialogs/scenarios/wire.h"
#include "services/dialogs/telegram/outgoing.h"
#include "services/dialogs/telegram/wire.h"
#include "services/dialogs/telegram/test_bot.h"

namespace crm::dialogs::inbox {
namespace {

constexpr int kDialogs = 1000000;
constexpr int kMessages = 1000000;
constexpr int kBots = 20;
constexpr int kUsers = 500;
constexpr int kTeams = 50;
const std::vector<std::string> kTables = {"dialogs", "dialog_messages", "dialog_teams"};
// Every 10th user's supervisor: users 10..19 name user 1001, and so on.
constexpr int kSupervisorBase = 1000;
// What a page of any list may touch (shared buffers, hit + read). The team scope's old branch (team_ids &&
// …, GIN) walked the number index past every other team's dialogs: 37 000 buffers for a bot the team never
// sees; every branch now reads at most a page per team / subordinate, through indexes.
constexpr double kMaxBuffers = 6000;

std::string Id(int kind, int64_t n) { return absl::StrFormat("0190%04x-0000-7000-8000-%012x", kind, n); }
std::string Bot(int n) { return Id(1, n); }
std::string UserId(int n) { return Id(2, n); }
std::string Team(int n) { return Id(3, n); }
std::string Client(int n) { return Id(4, n); }

Principal Caller(int user, std::vector<std::string> perms) {
  Principal p;
  p.set_kind(Principal::KIND_USER);
  p.set_id(UserId(user));
  for (std::string& perm : perms) p.add_permissions(std::move(perm));
  p.add_team_ids(Team(user % kTeams));
  return p;
}

// Dialog g's responsible as the fill makes it (0: none, QUEUED and BOT dialogs).
int ResponsibleOf(int64_t g) { return (g / 20) % 100 > 1 ? 1 + (g / 3) % kUsers : 0; }

// The numbers of the newest `n` dialogs passing `keep`, by the fill's rules.
std::vector<std::string> Newest(const std::function<bool(int64_t)>& keep, int n) {
  std::vector<std::string> out;
  for (int64_t g = kDialogs; g >= 1 && static_cast<int>(out.size()) < n; --g) {
    if (keep(g)) out.push_back(FormatNumber(g));
  }
  return out;
}

std::vector<std::string> Numbers(const v1::ListDialogsResponse& page) {
  std::vector<std::string> out;
  for (const v1::Dialog& d : page.dialogs()) out.push_back(d.number());
  return out;
}

class InboxPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crm::dialogs::testing::MakeDatabase("dinbox_plan", 2, db_, pool_);
    if (HasFatalFailure()) return;
    const auto start = std::chrono::steady_clock::now();
    pqxx::connection c(db_->dsn());
    {
      pqxx::work tx(c);
      for (int b = 0; b < kBots; ++b) {
        tx.exec0(telegram::InsertTestBotSql(Bot(b), absl::StrCat("Бот ", b), Bot(b)));
      }
      // User 1 operates bots 1 and 2.
      tx.exec0(absl::StrCat("INSERT INTO bot_operators (bot_id, user_id) VALUES ('", Bot(1), "', '", UserId(1),
                            "'), ('", Bot(2), "', '", UserId(1), "')"));
      crm::pg::testing::BulkLoad(tx, kTables, [&](pqxx::transaction_base& w) {
        // Dialog g: bot g % 20; status by (g / 20) % 100: 0 QUEUED, 1 BOT, 2..21 IN_WORK, 22..51 PROCESSED, the rest
        // CLOSED; responsible (all but QUEUED and BOT) user 1 + (g / 3) % 500 with their team (user % 50);
        // client g % 300 000 for 60 %; project g % 30, topic g % 10.
        w.exec0(absl::StrCat(
            "INSERT INTO dialogs (id, number, bot_id, chat_id, tg_user_id, status, closed, client_id, phone, "
            "project, topic, responsible_id, team_ids, unread, last_message_time, create_time, update_time) "
            "SELECT ('01900005-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, g, "
            "('01900001-0000-7000-8000-' || lpad(to_hex(g % ", kBots, "), 12, '0'))::uuid, g, g, "
            "CASE WHEN (g / 20) % 100 = 0 THEN 'QUEUED' WHEN (g / 20) % 100 = 1 THEN 'BOT' WHEN (g / 20) % 100 < 22 THEN 'IN_WORK' "
            "WHEN (g / 20) % 100 < 52 THEN 'PROCESSED' ELSE 'CLOSED' END, (g / 20) % 100 >= 52, "
            "CASE WHEN g % 10 < 6 THEN ('01900004-0000-7000-8000-' || lpad(to_hex(g % 300000), 12, '0'))::uuid END, "
            "'', 'Проект ' || (g % 30), 'Тема ' || (g % 10), "
            "CASE WHEN (g / 20) % 100 > 1 THEN ('01900002-0000-7000-8000-' || lpad(to_hex(1 + (g / 3) % ", kUsers,
            "), 12, '0'))::uuid END, "
            "CASE WHEN (g / 20) % 100 > 1 THEN ARRAY[('01900003-0000-7000-8000-' || lpad(to_hex((1 + (g / 3) % ", kUsers,
            ") % ", kTeams, "), 12, '0'))::uuid] ELSE '{}' END, g % 3, now(), "
            "timestamptz '2024-01-01' + g * interval '1 minute', timestamptz '2024-01-01' + g * interval '1 minute' "
            "FROM generate_series(1, ", kDialogs, ") g"));
        // Messages: dialogs 1..200 000, five each.
        w.exec0(absl::StrCat(
            "INSERT INTO dialog_messages (id, dialog_id, direction, author_kind, text, create_time) "
            "SELECT ('01900006-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, "
            "('01900005-0000-7000-8000-' || lpad(to_hex(1 + (g - 1) / 5), 12, '0'))::uuid, 'IN', 'CLIENT', "
            "'сообщение ' || g, now() FROM generate_series(1, ", kMessages, ") g"));
        w.exec("SELECT setval('dialog_numbers', 1000001)");
        // The operators and their supervisors (T6: identity's User.supervisor_id, as users.h keeps it).
        w.exec0(absl::StrCat(
            "INSERT INTO user_directory (user_id, full_name, team_ids, supervisor_id, version) "
            "SELECT ('01900002-0000-7000-8000-' || lpad(to_hex(u), 12, '0'))::uuid, 'Оператор ' || u, "
            "ARRAY[('01900003-0000-7000-8000-' || lpad(to_hex(u % ", kTeams, "), 12, '0'))::uuid], "
            "('01900002-0000-7000-8000-' || lpad(to_hex(", kSupervisorBase, " + u / 10), 12, '0'))::uuid, 1 "
            "FROM generate_series(1, ", kUsers, ") u"));
      });
      tx.commit();
    }
    pqxx::nontransaction ntx(c);
    ntx.exec0("VACUUM ANALYZE");
    std::cerr << "filled and analyzed in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s\n";
  }

  // No sequential scan, no sort of more than 5 000 rows (the own scope's queue branch sorts the QUEUED
  // dialogs of the caller's bots: 1 000 here, 3 700 as the generic plan guesses) and — run (ANALYZE,
  // rolled back), for the values and as the generic plan — no node throwing away more than 10 000 rows and
  // no more than kMaxBuffers buffers touched.
  int Expect(const std::vector<crm::pg::StatementRecorder::Statement>& sent, const std::string& table,
             const std::string& what) {
    return crm::pg::testing::ExpectNoSeqScan(db_->dsn(), sent,
                                             {.tables = {kTables.begin(), kTables.end()},
                                              .reading = table,
                                              .max_sort_rows = 5000,
                                              .max_removed_rows = 10000,
                                              .max_buffers = kMaxBuffers,
                                              .analyze = true,
                                              .analyze_generic = true,
                                              .what = what});
  }

  ManualClock clock_{absl::FromUnixSeconds(1796000000)};
  std::unique_ptr<crm::pg::testing::TempDatabase> db_;
  std::unique_ptr<crm::pg::Pool> pool_;
};

TEST_F(InboxPlanTest, EveryListScopeAndFilterIsIndexBacked) {
  crm::events::OutboxWriter outbox("dialogs", clock_);
  telegram::Outgoing outgoing(outbox, clock_);
  Inbox inbox(*pool_, clock_, outbox, outgoing);
  struct Scope {
    const char* name;
    Principal caller;
  };
  const std::vector<Scope> scopes = {
      {"all", Caller(7, {"dialogs.read.all"})},
      {"own", Caller(1, {"dialogs.read.own"})},
      {"team", Caller(3, {"dialogs.read.team"})},
      {"supervisor", Caller(kSupervisorBase + 1, {"dialogs.read.own", "dialogs.supervise"})},
  };
  struct Filter {
    const char* name;
    v1::ListDialogsRequest req;
  };
  std::vector<Filter> filters;
  filters.push_back({"none", {}});
  {
    Filter f{"open", {}};
    f.req.set_open_only(true);
    filters.push_back(f);
  }
  {
    Filter f{"status", {}};
    f.req.set_status(v1::DIALOG_STATUS_QUEUED);
    filters.push_back(f);
  }
  {
    Filter f{"bot", {}};
    f.req.set_bot_id(Bot(1));
    filters.push_back(f);
  }
  {
    Filter f{"project", {}};
    f.req.set_project("Проект 7");
    filters.push_back(f);
  }
  {
    Filter f{"topic", {}};
    f.req.set_topic("Тема 3");
    f.req.set_open_only(true);
    filters.push_back(f);
  }
  {
    Filter f{"responsible", {}};
    f.req.set_responsible(UserId(3));
    filters.push_back(f);
  }
  {
    Filter f{"client", {}};
    f.req.set_client_id(Client(1234));
    filters.push_back(f);
  }
  for (const Scope& scope : scopes) {
    for (const Filter& filter : filters) {
      const std::string what = absl::StrCat("ListDialogs scope ", scope.name, ", filter ", filter.name);
      crm::pg::StatementRecorder recorder;
      v1::ListDialogsRequest req = filter.req;
      req.set_page_size(50);
      absl::StatusOr<v1::ListDialogsResponse> page = inbox.ListDialogs(scope.caller, req);
      ASSERT_TRUE(page.ok()) << what << ": " << page.status();
      for (int i = 1; i < page->dialogs_size(); ++i) {
        EXPECT_GT(page->dialogs(i - 1).number(), page->dialogs(i).number()) << what;
      }
      if (!page->next_page_token().empty()) {
        req.set_page_token(page->next_page_token());
        absl::StatusOr<v1::ListDialogsResponse> next = inbox.ListDialogs(scope.caller, req);
        ASSERT_TRUE(next.ok()) << what << ": " << next.status();
        if (next->dialogs_size() > 0) {
          EXPECT_LT(next->dialogs(0).number(), page->dialogs(49).number()) << what;
        }
      }
      EXPECT_GE(Expect(recorder.Take(), "dialogs", what), 1) << what;
    }
  }
  // Exact answers of two: the client's dialogs (g % 300 000 == 1234, g % 10 < 6), and the queue of user 1.
  {
    v1::ListDialogsRequest req;
    req.set_client_id(Client(1234));
    auto r = inbox.ListDialogs(scopes[0].caller, req);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->dialogs_size(), 4);  // 1234, 301234, 601234, 901234
    EXPECT_EQ(r->dialogs(0).number(), "000901234");
  }
  {
    v1::ListDialogsRequest req;
    req.set_status(v1::DIALOG_STATUS_QUEUED);
    req.set_page_size(200);
    auto r = inbox.ListDialogs(scopes[1].caller, req);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->dialogs_size(), 200);
    for (const v1::Dialog& d : r->dialogs()) {
      EXPECT_TRUE(d.bot_id() == Bot(1) || d.bot_id() == Bot(2)) << d.number();
    }
  }

  // Exact pages of the scopes read through dialog_teams and user_directory: the team scope (user 3, team 3:
  // the responsibles u with u % 50 == 3) with a project and with a bot its team rarely or never has, and the
  // T6 supervisor (user 1001: the responsibles 10..19) with a bot.
  const auto in_team = [](int64_t g) { return ResponsibleOf(g) != 0 && ResponsibleOf(g) % kTeams == 3; };
  const auto subordinate = [](int64_t g) { return ResponsibleOf(g) / 10 == 1; };
  struct Exact {
    const char* what;
    const Principal& caller;
    std::function<bool(int64_t)> keep;
    v1::ListDialogsRequest req;
  };
  std::vector<Exact> exact = {
      {"team, project", scopes[2].caller, [&](int64_t g) { return in_team(g) && g % 30 == 7; }, {}},
      {"team, bot", scopes[2].caller, [&](int64_t g) { return in_team(g) && g % kBots == 1; }, {}},
      {"team, bot 2", scopes[2].caller, [&](int64_t g) { return in_team(g) && g % kBots == 2; }, {}},
      {"supervisor, bot", scopes[3].caller, [&](int64_t g) { return subordinate(g) && g % kBots == 1; }, {}},
      {"supervisor, open", scopes[3].caller, [&](int64_t g) { return subordinate(g) && (g / 20) % 100 < 52; }, {}},
  };
  exact[0].req.set_project("Проект 7");
  exact[1].req.set_bot_id(Bot(1));
  exact[2].req.set_bot_id(Bot(2));
  exact[3].req.set_bot_id(Bot(1));
  exact[4].req.set_open_only(true);
  for (Exact& e : exact) {
    e.req.set_page_size(50);
    auto r = inbox.ListDialogs(e.caller, e.req);
    ASSERT_TRUE(r.ok()) << e.what << ": " << r.status();
    EXPECT_EQ(Numbers(*r), Newest(e.keep, 50)) << e.what;
  }

  // ListMessages, first and second page: dialog 777's five messages.
  crm::pg::StatementRecorder recorder;
  v1::ListMessagesRequest m;
  m.set_dialog_id(Id(5, 777));
  m.set_page_size(3);
  auto first = inbox.ListMessages(scopes[0].caller, m);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->messages_size(), 3);
  EXPECT_EQ(first->messages(0).id(), Id(6, 3885));
  m.set_page_token(first->next_page_token());
  auto second = inbox.ListMessages(scopes[0].caller, m);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->messages_size(), 2);
  EXPECT_EQ(second->messages(1).id(), Id(6, 3881));
  EXPECT_GE(Expect(recorder.Take(), "dialog_messages", "ListMessages"), 2);
}

}  // namespace
}  // namespace crm::dialogs::inbox
