// The claim API's and the sender's reads (sql.h) are index-backed at a realistic size (README "Data and
// API decisions": plan tests at >= 1 000 000 rows for tables that grow with the business): 1 000 000
// updates of 10 000 chats (1 % unprocessed, in 100 chats) and 1 000 000 outgoing messages (20 000
// queued, 2 000 of them callback answers), 1 000 000 chats' send paces. EXPLAINed for the values and as
// generic plans: no Seq Scan, no big Sort, nothing read and thrown away in bulk.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "libs/pg/plan_testing.h"
#include "services/dialogs/telegram/sql.h"
#include "services/dialogs/telegram/telegram_testing.h"
#include "services/dialogs/telegram/test_bot.h"

namespace crm::dialogs::telegram {
namespace {

constexpr char kBot[] = "01930000-0000-7000-8000-00000000b001";
constexpr char kOtherBot[] = "01930000-0000-7000-8000-00000000b002";

TEST(TelegramPlanTest, ClaimAndSenderReadsAreIndexBackedAtAMillionRows) {
  testing::Db d = testing::Db::Make(2);
  ASSERT_NE(d.pool, nullptr);
  pqxx::connection c(d.db->dsn());
  {
    pqxx::work tx(c);
    for (const char* id : {kBot, kOtherBot}) {
      tx.exec(InsertTestBotSql(id, "b", id));
    }
    crm::pg::testing::BulkLoad(tx, {"tg_updates", "tg_chats", "tg_outgoing", "tg_send_paces"}, [&](pqxx::transaction_base& t) {
      // Updates: 10 000 chats × 100, over two bots; the last update of each chat is unprocessed in 1 chat of 100
      // (and its whole last percent in those).
      t.exec("INSERT INTO tg_updates (bot_id, update_id, chat_id, payload, received_at, processed_at) "
             "SELECT CASE WHEN g % 2 = 0 THEN '" + std::string(kBot) + "'::uuid ELSE '" + kOtherBot + "'::uuid END, "
             "g, 1000000 + g % 10000, '{\"update_id\":1}'::jsonb, now() - (1000000 - g) * interval '1 second', "
             "CASE WHEN g % 10000 < 100 AND g > 900000 THEN NULL ELSE now() END "
             "FROM generate_series(1, 1000000) g");
      t.exec("INSERT INTO tg_chats (bot_id, chat_id) "
             "SELECT CASE WHEN g % 2 = 0 THEN '" + std::string(kBot) + "'::uuid ELSE '" + kOtherBot + "'::uuid END, "
             "1000000 + g FROM generate_series(0, 9999) g");
      // Outgoing: 1 000 000 rows, 2 % queued (one in ten of those a callback answer), the rest sent.
      t.exec("INSERT INTO tg_outgoing (id, bot_id, chat_id, method, payload, state, not_before, create_time, "
             "update_time) SELECT ('01930000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, "
             "CASE WHEN g % 2 = 0 THEN '" + std::string(kBot) + "'::uuid ELSE '" + kOtherBot + "'::uuid END, "
             "2000000 + g % 50000, CASE WHEN g % 500 = 0 THEN 'answerCallbackQuery' ELSE 'sendMessage' END, "
             "'{}'::jsonb, CASE WHEN g % 50 = 0 THEN 'queued' ELSE 'sent' END, now(), now(), now() "
             "FROM generate_series(1, 1000000) g");
      // The sender's paces (T1, two replicas): one row per chat ever written to, 1 000 000 chats.
      t.exec("INSERT INTO tg_send_paces (bot_id, chat_id, sent) "
             "SELECT CASE WHEN g % 2 = 0 THEN '" + std::string(kBot) + "'::uuid ELSE '" + kOtherBot + "'::uuid END, "
             "2000000 + g, ARRAY[g::bigint] FROM generate_series(0, 999999) g");
    }, /*drop_constraints=*/false);
    tx.exec("ANALYZE tg_updates; ANALYZE tg_chats; ANALYZE tg_outgoing; ANALYZE tg_send_paces");
    tx.commit();
  }
  ASSERT_EQ(d.db->Count("SELECT count(*) FROM tg_updates"), 1000000);
  const std::string now = std::to_string(absl::ToUnixMicros(absl::Now()));
  using Statement = crm::pg::StatementRecorder::Statement;
  const crm::pg::testing::PlanExpectations claim{.tables = {"tg_updates", "tg_chats"},
                                                 .max_sort_rows = 1000,
                                                 .max_removed_rows = 1000,
                                                 .analyze = true,
                                                 .analyze_generic = true,
                                                 .what = "claim"};
  EXPECT_GE(crm::pg::testing::ExpectNoSeqScan(
                d.db->dsn(),
                {Statement{sql::kWaitingChats, {"64"}},
                 // Intake first (inbox/processor.h): the waiting updates received 2 s ago or earlier.
                 Statement{sql::kWaitingChatsReceivedBy, {"64", std::to_string(absl::ToUnixMicros(absl::Now()) - 2000000)}},
                 Statement{sql::kChatUpdates, {kBot, "1000098", "100"}},
                 Statement{sql::kMarkProcessed, {kBot, "999998", now}}},
                claim),
            4);
  const crm::pg::testing::PlanExpectations sender{.tables = {"tg_outgoing"},
                                                  .max_sort_rows = 1000,
                                                  .max_removed_rows = 1000,
                                                  .analyze = true,
                                                  .analyze_generic = true,
                                                  .what = "sender"};
  EXPECT_GE(crm::pg::testing::ExpectNoSeqScan(d.db->dsn(),
                                              {Statement{sql::kCallbacks, {kBot, now, "100"}}},
                                              sender),
            1);
  // A pass's paces: the bot's and its head chats' rows by primary key (two replicas share them).
  EXPECT_GE(crm::pg::testing::ExpectNoSeqScan(
                d.db->dsn(), {Statement{sql::kPaces, {kBot, "{0,2000002,2000004,2000006}"}}},
                {.tables = {"tg_send_paces"}, .max_sort_rows = 100, .max_removed_rows = 100, .analyze = true,
                 .analyze_generic = true, .what = "sender paces"}),
            1);
  // The heads read every queued row of the bot (20 000 here: a bot's whole backlog) from the queued
  // index — no Seq Scan over the million; PostgreSQL sorts that backlog (a bitmap scan and an in-memory
  // sort beat the index's order at this size), so the bound is the backlog, not a page. Left open
  // (README): the sender could keep the heads in memory instead of reading the backlog each pass.
  EXPECT_GE(crm::pg::testing::ExpectNoSeqScan(
                d.db->dsn(), {Statement{sql::kHeads, {kBot}}},
                {.tables = {"tg_outgoing"}, .max_sort_rows = 25000, .max_removed_rows = 2500, .analyze = true,
                 .analyze_generic = true, .what = "sender heads"}),
            1);
}

}  // namespace
}  // namespace crm::dialogs::telegram
