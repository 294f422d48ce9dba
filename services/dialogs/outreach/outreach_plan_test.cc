// File: services/dialogs/outreach/outreach_plan_test.cc
// -----------------------------------------------------------------------------
// Plans of the outreach's lists and lookups at realistic size (issue 18, T9; libs/pg/plan_testing.h):
// 1 000 000 mailing recipients (three mailings of 600 000, 300 000, 100 000 in every state), 1 000 000
// dialogs over 20 bots, 1 000 000 messages, 200 000 chats. ListRecipients (all and by each state, two
// pages), the worker's next pending recipients and its chat lookups, robots' chat lookup, the message
// history (by client, bot, period, together, two pages) and a bot's chats (two pages): plans for their
// values and the generic ones without a sequential scan or a big sort, and exact answers.
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
#include "libs/pg/testing.h"
#include "services/dialogs/dialogs_testing.h"
#include "services/dialogs/inbox/wire.h"
#include "services/dialogs/outreach/mailings.h"
#include "services/dialogs/outreach/registers.h"
#include "services/dialogs/outreach/sql.h"
#include "services/dialogs/outreach/wire.h"
#include "services/dialogs/scenarios/wire.h"
#include "services/dialogs/telegram/outgoing.h"
#include "services/dialogs/telegram/wire.h"
#include "services/dialogs/telegram/test_bot.h"

namespace crm::dialogs::outreach {
namespace {

const std::vector<std::string> kTables = {"mailing_recipients", "dialogs", "dialog_messages", "tg_chats"};

std::string Id(int kind, int64_t n) { return absl::StrFormat("0190%04x-0000-7000-8000-%012x", kind, n); }
std::string Bot(int n) { return Id(1, n); }
std::string Client(int n) { return Id(4, n); }
std::string Mailing(int n) { return Id(7, n); }
constexpr char kTemplate[] = "01900008-0000-7000-8000-000000000001";
// 2024-01-01 00:00 UTC; message g was made g minutes after it.
constexpr int64_t kEpochMs = 1704067200000;

Principal Reader() {
  Principal p;
  p.set_kind(Principal::KIND_USER);
  p.set_id(Id(2, 1));
  p.add_permissions("dialogs.read.all");
  p.add_permissions("dialogs.supervise");
  return p;
}

class OutreachPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crm::dialogs::testing::MakeDatabase("dout_plan", 2, db_, pool_);
    if (HasFatalFailure()) return;
    const auto start = std::chrono::steady_clock::now();
    pqxx::connection c(db_->dsn());
    {
      pqxx::work tx(c);
      for (int b = 0; b < 20; ++b) {
        tx.exec0(telegram::InsertTestBotSql(Bot(b), absl::StrCat("Бот ", b), Bot(b)));
      }
      tx.exec0(absl::StrCat("INSERT INTO message_templates (id, bot_id, name, body, create_time, update_time) VALUES ('",
                            kTemplate, "', '", Bot(1), "', 'Шаблон', '', now(), now())"));
      for (int m = 1; m <= 3; ++m) {
        tx.exec0(absl::StrCat("INSERT INTO mailings (id, bot_id, template_id, name, state, total, pending, create_time, "
                              "update_time) VALUES ('", Mailing(m), "', '", Bot(1), "', '", kTemplate,
                              "', 'Рассылка', 'RUNNING', 0, 100000, timestamptz '2024-01-01' + interval '1 day' * ", m,
                              ", now())"));
      }
      crm::pg::testing::BulkLoad(tx, kTables, [&](pqxx::transaction_base& w) {
        // Recipients g: mailing 1 for g ≤ 600 000, 2 up to 900 000, 3 the rest; state by g % 10: 0–5 SENT,
        // 6 FAILED, 7 NO_CHAT, 8 QUEUED, 9 PENDING (and CANCELLED for mailing 3's 9s).
        w.exec0(
            "INSERT INTO mailing_recipients (mailing_id, seq, client_id, state, outgoing_id, update_time) "
            "SELECT ('01900007-0000-7000-8000-' || lpad(to_hex(CASE WHEN g <= 600000 THEN 1 WHEN g <= 900000 THEN 2 "
            "ELSE 3 END), 12, '0'))::uuid, g, ('01900004-0000-7000-8000-' || lpad(to_hex(g % 300000), 12, '0'))::uuid, "
            "CASE WHEN g % 10 < 6 THEN 'SENT' WHEN g % 10 = 6 THEN 'FAILED' WHEN g % 10 = 7 THEN 'NO_CHAT' "
            "WHEN g % 10 = 8 THEN 'QUEUED' WHEN g > 900000 THEN 'CANCELLED' ELSE 'PENDING' END, "
            "CASE WHEN g % 10 = 8 THEN ('01900009-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid END, now() "
            "FROM generate_series(1, 1000000) g");
        // Dialogs g: bot g % 20, chat g % 200 000 (five dialogs a chat), client g % 300 000 for 60 %.
        w.exec0(
            "INSERT INTO dialogs (id, number, bot_id, chat_id, tg_user_id, status, closed, client_id, project, "
            "last_message_time, create_time, update_time) "
            "SELECT ('01900005-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, g, "
            "('01900001-0000-7000-8000-' || lpad(to_hex(g % 20), 12, '0'))::uuid, g % 200000, g % 200000, "
            "CASE WHEN g > 800000 THEN 'IN_WORK' ELSE 'CLOSED' END, g <= 800000, "
            "CASE WHEN g % 10 < 6 THEN ('01900004-0000-7000-8000-' || lpad(to_hex(g % 300000), 12, '0'))::uuid END, "
            "'Проект ' || (g % 30), now(), now(), now() FROM generate_series(1, 1000000) g");
        // Messages g of dialog 1 + (g - 1) / 5, UUIDv7 ids at 2024-01-01 + g minutes.
        w.exec0(absl::StrCat(
            "INSERT INTO dialog_messages (id, dialog_id, direction, author_kind, text, create_time) "
            "SELECT (substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, "
            "('01900005-0000-7000-8000-' || lpad(to_hex(1 + (g - 1) / 5), 12, '0'))::uuid, 'IN', 'CLIENT', "
            "'сообщение ' || g, to_timestamp((", kEpochMs, " + g::bigint * 60000) / 1000.0) "
            "FROM generate_series(1, 1000000) g, LATERAL (SELECT lpad(to_hex(", kEpochMs,
            "::bigint + g::bigint * 60000), 12, '0') AS h) x"));
        w.exec0(
            "INSERT INTO tg_chats (bot_id, chat_id) SELECT ('01900001-0000-7000-8000-' || lpad(to_hex(c % 20), 12, "
            "'0'))::uuid, c FROM generate_series(0, 199999) c");
      });
      tx.commit();
    }
    pqxx::nontransaction ntx(c);
    ntx.exec0("VACUUM ANALYZE");
    std::cerr << "filled and analyzed in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s\n";
  }

  int Expect(const std::vector<crm::pg::StatementRecorder::Statement>& sent, const std::string& table,
             const std::string& what) {
    return crm::pg::testing::ExpectNoSeqScan(
        db_->dsn(), sent,
        {.tables = {kTables.begin(), kTables.end()}, .reading = table, .max_sort_rows = 2000, .what = what});
  }

  ManualClock clock_{absl::FromUnixSeconds(1796000000)};
  std::unique_ptr<crm::pg::testing::TempDatabase> db_;
  std::unique_ptr<crm::pg::Pool> pool_;
};

TEST_F(OutreachPlanTest, EveryListAndLookupIsIndexBacked) {
  crm::events::OutboxWriter outbox("dialogs", clock_);
  telegram::Outgoing outgoing(outbox, clock_);
  Mailings mailings(*pool_, clock_, outbox, outgoing);
  Registers registers(*pool_);

  // ListRecipients of the big mailing: all, and by each state; two pages each.
  for (v1::RecipientState state :
       {v1::RECIPIENT_STATE_UNSPECIFIED, v1::RECIPIENT_STATE_PENDING, v1::RECIPIENT_STATE_QUEUED,
        v1::RECIPIENT_STATE_SENT, v1::RECIPIENT_STATE_FAILED, v1::RECIPIENT_STATE_NO_CHAT}) {
    const std::string what = absl::StrCat("ListRecipients state ", v1::RecipientState_Name(state));
    crm::pg::StatementRecorder recorder;
    v1::ListRecipientsRequest req;
    req.set_mailing_id(Mailing(1));
    req.set_state(state);
    req.set_page_size(100);
    auto first = mailings.ListRecipients(Reader(), req);
    ASSERT_TRUE(first.ok()) << what << ": " << first.status();
    ASSERT_EQ(first->recipients_size(), 100) << what;
    req.set_page_token(first->next_page_token());
    auto second = mailings.ListRecipients(Reader(), req);
    ASSERT_TRUE(second.ok()) << what;
    ASSERT_EQ(second->recipients_size(), 100) << what;
    EXPECT_GT(second->recipients(0).seq(), first->recipients(99).seq()) << what;
    if (state == v1::RECIPIENT_STATE_FAILED) {
      EXPECT_EQ(second->recipients(0).seq(), 1006) << what;
    }
    EXPECT_GE(Expect(recorder.Take(), "mailing_recipients", what), 2) << what;
  }
  // The worker's and robots' lookups.
  {
    const std::vector<crm::pg::StatementRecorder::Statement> lookups = {
        {sql::kNextPending, {Mailing(2), "1000"}},
        {sql::kClientChatOnBot, {Client(1234), Bot(14)}},
        {sql::kClientLastChat, {Client(1234)}},
    };
    EXPECT_EQ(Expect({lookups[0]}, "mailing_recipients", "the worker's next pending"), 1);
    EXPECT_EQ(Expect({lookups[1], lookups[2]}, "dialogs", "the client's chat"), 2);
  }

  // The message history: by client, bot, period, all three; two pages.
  struct Filter {
    const char* name;
    v1::ListMessageHistoryRequest req;
  };
  std::vector<Filter> filters;
  {
    Filter f{"client", {}};
    f.req.set_client_id(Client(1234));  // dialogs 1234, 301234, 601234, 901234: their 20 messages? 5 each of ≤ 200 000
    filters.push_back(f);
  }
  {
    Filter f{"bot", {}};
    f.req.set_bot_id(Bot(7));
    filters.push_back(f);
  }
  {
    Filter f{"period", {}};
    *f.req.mutable_from() = ToProtoTimestamp(absl::FromUnixMillis(kEpochMs) + absl::Minutes(500000));
    *f.req.mutable_to() = ToProtoTimestamp(absl::FromUnixMillis(kEpochMs) + absl::Minutes(500300));
    filters.push_back(f);
  }
  {
    Filter f{"bot and period", {}};
    f.req.set_bot_id(Bot(7));
    *f.req.mutable_from() = ToProtoTimestamp(absl::FromUnixMillis(kEpochMs) + absl::Minutes(100000));
    *f.req.mutable_to() = ToProtoTimestamp(absl::FromUnixMillis(kEpochMs) + absl::Minutes(900000));
    filters.push_back(f);
  }
  for (Filter& f : filters) {
    const std::string what = absl::StrCat("ListMessageHistory by ", f.name);
    crm::pg::StatementRecorder recorder;
    f.req.set_page_size(50);
    auto first = registers.History(Reader(), f.req);
    ASSERT_TRUE(first.ok()) << what << ": " << first.status();
    for (int i = 1; i < first->messages_size(); ++i) {
      EXPECT_GT(first->messages(i - 1).message().id(), first->messages(i).message().id()) << what;
    }
    if (!first->next_page_token().empty()) {
      f.req.set_page_token(first->next_page_token());
      ASSERT_TRUE(registers.History(Reader(), f.req).ok()) << what;
    }
    EXPECT_GE(Expect(recorder.Take(), "dialog_messages", what), 1) << what;
  }
  // Exact: the period [500 000, 500 300) minutes holds messages 500 000..500 299, newest first.
  {
    v1::ListMessageHistoryRequest req = filters[2].req;
    req.clear_page_token();
    req.set_page_size(200);
    auto r = registers.History(Reader(), req);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->messages_size(), 200);
    EXPECT_EQ(r->messages(0).message().text(), "сообщение 500299");
    req.set_page_token(r->next_page_token());
    auto rest = registers.History(Reader(), req);
    ASSERT_TRUE(rest.ok());
    ASSERT_EQ(rest->messages_size(), 100);
    EXPECT_EQ(rest->messages(99).message().text(), "сообщение 500000");
    EXPECT_TRUE(rest->next_page_token().empty());
  }

  // A bot's chats, two pages, each with its last dialog.
  {
    crm::pg::StatementRecorder recorder;
    v1::ListBotChatsRequest req;
    req.set_bot_id(Bot(3));
    req.set_page_size(100);
    auto first = registers.BotChats(Reader(), req);
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_EQ(first->chats_size(), 100);
    EXPECT_EQ(first->chats(0).chat_id(), 3);
    EXPECT_EQ(first->chats(0).last_dialog_id(), Id(5, 800003));  // dialogs 3, 200 003, … 800 003
    req.set_page_token(first->next_page_token());
    auto second = registers.BotChats(Reader(), req);
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(second->chats(0).chat_id(), 2003);
    EXPECT_GE(Expect(recorder.Take(), "tg_chats", "ListBotChats"), 2);
  }
}

}  // namespace
}  // namespace crm::dialogs::outreach
