// The intake (intake.h, poller.h) and the claim API (updates.h) on PostgreSQL, against the fake Bot API:
// a duplicate update has one effect; a wrong or missing secret is refused; concurrent deliveries share one
// transaction (group commit), each answered after it committed; two claimers over 1 000
// updates in 50 chats (half of them stored while claiming) get each update once, a chat's in order;
// long polling persists the offset with the batch.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include <atomic>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/base/clock.h"
#include "libs/events/outbox.h"
#include "services/dialogs/telegram/bot_api.h"
#include "services/dialogs/telegram/bots.h"
#include "services/dialogs/telegram/group_commit.h"
#include "services/dialogs/telegram/intake.h"
#include "services/dialogs/telegram/poller.h"
#include "services/dialogs/telegram/secrets.h"
#include "services/dialogs/telegram/telegram_testing.h"
#include "services/dialogs/telegram/updates.h"

namespace crm::dialogs::telegram {
namespace {

using testing::Admin;
using testing::Db;
using testing::FakeBotApi;

class IntakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = FakeBotApi::Start();
    ASSERT_NE(fake_, nullptr);
    d_ = Db::Make(6);
    ASSERT_NE(d_.pool, nullptr);
    api_ = std::make_unique<BotApi>(BotApiOptions{.base_url = fake_->url()});
    bots_ = std::make_unique<BotStore>(*d_.pool, *api_, box_, clock_, BotStoreOptions{.public_url = "http://127.0.0.1:1"});
    crm::dialogs::v1::CreateBotRequest req;
    req.mutable_bot()->set_name("Бот ЖК Северный");
    req.mutable_bot()->set_intake_mode(crm::dialogs::v1::INTAKE_MODE_POLLING);
    req.set_token(token_);
    auto bot = bots_->Create(Admin(), req, "");
    ASSERT_TRUE(bot.ok()) << bot.status();
    bot_id_ = bot->id();
    pqxx::connection c(d_.db->dsn());
    pqxx::work tx(c);
    pqxx::row r = tx.exec_params1("SELECT hook, secret_sealed FROM tg_bots WHERE id = $1::uuid", bot_id_);
    hook_ = r[0].as<std::string>();
    secret_ = *box_.Open(absl::StrCat("tg_bots.secret/", bot_id_), r[1].as<std::string>());
  }

  static std::string TextUpdate(int64_t update_id, int64_t chat_id) {
    return absl::StrCat(R"({"update_id":)", update_id, R"(,"message":{"message_id":)", update_id,
                        R"(,"date":1700000000,"from":{"id":)", chat_id, R"(,"is_bot":false,"first_name":"К"},)",
                        R"("chat":{"id":)", chat_id, R"(,"type":"private"},"text":"привет"}})");
  }

  std::unique_ptr<FakeBotApi> fake_;
  Db d_;
  crm::ManualClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  SecretBox box_{"test key"};
  crm::events::OutboxWriter outbox_{"dialogs", clock_};
  std::unique_ptr<BotApi> api_;
  std::unique_ptr<BotStore> bots_;
  const std::string token_ = "5550001:AAtestTOKENtestTOKEN";
  std::string bot_id_, hook_, secret_;
};

TEST_F(IntakeTest, DuplicateUpdateHasOneEffect) {
  WebhookIntake intake(*d_.pool, outbox_, box_, clock_);
  const std::string body = TextUpdate(700001, 4242);
  auto first = intake.Receive(hook_, secret_, body);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(*first);
  auto again = intake.Receive(hook_, secret_, body);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(*again);
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM tg_updates"), 1);
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM outbox WHERE type = 'crm.dialogs.update.received.v1'"), 1);
  EXPECT_EQ(d_.db->Count(absl::StrCat("SELECT count(*) FROM outbox WHERE topic = 'crm.dialogs.update.v1' AND aggregateid = '", bot_id_, ":4242'")), 1);
  // Waiting for the inbox through its own row; the intake writes nothing else (no chat row to lock).
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM tg_updates WHERE processed_at IS NULL AND chat_id = 4242"), 1);
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM tg_chats"), 0);
  EXPECT_EQ(d_.db->Count("SELECT update_id FROM tg_updates WHERE chat_id = 4242"), 700001);
}

TEST_F(IntakeTest, WrongOrMissingSecretOrUnknownHookRefused) {
  WebhookIntake intake(*d_.pool, outbox_, box_, clock_);
  const std::string body = TextUpdate(1, 1);
  std::string wrong = secret_;
  wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
  EXPECT_EQ(intake.Receive(hook_, wrong, body).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(intake.Receive(hook_, "", body).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(intake.Receive(hook_, secret_ + "x", body).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(intake.Receive("no-such-hook", secret_, body).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM tg_updates"), 0);
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM outbox"), 0);
  // Malformed and oversized bodies with the right secret: INVALID_ARGUMENT naming the field.
  auto bad = intake.Receive(hook_, secret_, R"({"message":{}})");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("update_id"), std::string::npos);
  auto big = intake.Receive(hook_, secret_, std::string(kMaxUpdateBytes + 1, ' '));
  EXPECT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM tg_updates"), 0);
}

// Group commit (group_commit.h): four deliveries announced at once are stored in ONE transaction (one
// xmin), a redelivery within the batch once; each caller's answer comes after the commit (its row is
// visible to another connection when Store returns). The window is a minute: the batch closes because
// it is full, never by waiting.
TEST_F(IntakeTest, ConcurrentDeliveriesShareOneTransactionAnsweredAfterItsCommit) {
  GroupCommit group(*d_.pool, outbox_, clock_, {.window = absl::Minutes(1), .max_rows = 4});
  std::vector<Update> updates;
  for (int64_t id : {800001, 800002, 800003, 800003}) {
    auto u = ParseUpdate(TextUpdate(id, 9000 + id % 2));
    ASSERT_TRUE(u.ok()) << u.status();
    updates.push_back(*u);
  }
  std::vector<GroupCommit::Arrival> arrivals;
  for (int i = 0; i < 5; ++i) arrivals.push_back(group.Enter());  // the fifth is still on its way
  std::vector<absl::StatusOr<bool>> results(4, false);
  std::vector<int64_t> visible(4, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      results[i] = arrivals[i].Store(bot_id_, updates[i]);
      visible[i] = d_.db->Count(absl::StrCat("SELECT count(*) FROM tg_updates WHERE update_id = ",
                                             updates[i].update_id));
    });
  }
  for (auto& t : threads) t.join();
  int fresh = 0;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    fresh += *results[i] ? 1 : 0;
    EXPECT_EQ(visible[i], 1) << i;
  }
  EXPECT_EQ(fresh, 3);  // 800003 twice: stored once
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM tg_updates"), 3);
  EXPECT_EQ(d_.db->Count("SELECT count(DISTINCT xmin::text) FROM tg_updates"), 1);
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM outbox WHERE type = 'crm.dialogs.update.received.v1'"), 3);
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM tg_updates WHERE processed_at IS NULL"), 3);
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM tg_chats"), 0);
  // The last one comes alone (nobody else on the way: no wait) — a redelivery, no second effect.
  auto last = arrivals[4].Store(bot_id_, updates[0]);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_FALSE(*last);
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM tg_updates"), 3);
}

// Two claimers, 1 000 updates in 50 chats; the second 500 are stored while the claimers run.
TEST_F(IntakeTest, TwoClaimersGetEachUpdateOnceAndAChatsInOrder) {
  constexpr int kChats = 50;
  constexpr int kUpdates = 1000;
  auto store = [&](int from, int to) {
    for (int i = from; i < to; i += 50) {
      absl::Status s = crm::pg::InTransaction(*d_.pool, [&](pqxx::work& tx) -> absl::Status {
        for (int k = i; k < std::min(to, i + 50); ++k) {
          auto u = ParseUpdate(TextUpdate(1000 + k, 9000 + k % kChats));
          if (!u.ok()) return u.status();
          auto inserted = StoreUpdate(tx, outbox_, bot_id_, *u, clock_.Now());
          if (!inserted.ok()) return inserted.status();
        }
        return absl::OkStatus();
      });
      ASSERT_TRUE(s.ok()) << s;
    }
  };
  store(0, kUpdates / 2);
  absl::Mutex mu;
  std::vector<std::pair<int64_t, int64_t>> handed;  // (chat, update) in commit order
  std::atomic<bool> writer_done{false};
  auto claimer = [&] {
    while (true) {
      bool got = false;
      absl::Status s = crm::pg::InTransaction(*d_.pool, [&](pqxx::work& tx) -> absl::Status {
        got = false;
        auto chat = ClaimChat(tx, 7);
        if (!chat.ok()) return chat.status();
        if (!chat->has_value()) return absl::OkStatus();
        got = true;
        for (const Update& u : (*chat)->updates) {
          if (absl::Status m = MarkProcessed(tx, (*chat)->bot_id, u.update_id, clock_.Now()); !m.ok()) return m;
        }
        // Logged under the chat's lock, before the commit: the log's order is the hand-out order.
        absl::MutexLock lock(&mu);
        for (const Update& u : (*chat)->updates) handed.emplace_back((*chat)->chat_id, u.update_id);
        return absl::OkStatus();
      });
      ASSERT_TRUE(s.ok()) << s;
      if (!got && writer_done) {
        // One more look after the writer finished: nothing may be left waiting.
        bool more = false;
        ASSERT_TRUE(crm::pg::InTransaction(*d_.pool, [&](pqxx::work& tx) -> absl::Status {
          more = tx.exec("SELECT 1 FROM tg_updates WHERE processed_at IS NULL LIMIT 1").size() > 0;
          return absl::OkStatus();
        }).ok());
        if (!more) return;
      }
    }
  };
  std::thread a(claimer), b(claimer);
  store(kUpdates / 2, kUpdates);
  writer_done = true;
  a.join();
  b.join();
  ASSERT_EQ(handed.size(), static_cast<size_t>(kUpdates));
  std::map<int64_t, int> times;
  std::map<int64_t, int64_t> last_of_chat;
  for (const auto& [chat, update] : handed) {
    ++times[update];
    EXPECT_GT(update, last_of_chat[chat]) << "chat " << chat << " out of order";
    last_of_chat[chat] = update;
  }
  EXPECT_EQ(times.size(), static_cast<size_t>(kUpdates));
  for (const auto& [update, n] : times) EXPECT_EQ(n, 1) << "update " << update;
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM tg_updates WHERE processed_at IS NULL"), 0);
  // Marking twice is refused.
  absl::Status twice = crm::pg::InTransaction(*d_.pool, [&](pqxx::work& tx) -> absl::Status {
    return MarkProcessed(tx, bot_id_, 1000, clock_.Now());
  });
  EXPECT_EQ(twice.code(), absl::StatusCode::kFailedPrecondition);
}

// The claim (updates.h) holds a chat while its transaction is open: another claimer gets the next
// waiting chat, never waits, and an update stored into the held chat meanwhile is left for the next claim,
// which hands out that update alone. The oldest waiting update's chat comes first.
TEST_F(IntakeTest, AHeldChatIsSkippedAndWhatArrivesMeanwhileGoesToTheNextClaim) {
  auto store = [&](int64_t update_id, int64_t chat_id) {
    clock_.Advance(absl::Seconds(1));
    ASSERT_TRUE(crm::pg::InTransaction(*d_.pool, [&](pqxx::work& tx) -> absl::Status {
                  auto u = ParseUpdate(TextUpdate(update_id, chat_id));
                  if (!u.ok()) return u.status();
                  return StoreUpdate(tx, outbox_, bot_id_, *u, clock_.Now()).status();
                }).ok());
  };
  store(501, 7001);  // chat 7001 waits longest
  store(502, 7002);
  pqxx::connection c1(d_.db->dsn()), c2(d_.db->dsn());
  pqxx::work first(c1);
  auto a = ClaimChat(first);
  ASSERT_TRUE(a.ok() && a->has_value()) << a.status();
  EXPECT_EQ((*a)->chat_id, 7001);
  store(503, 7001);  // arrives while 7001 is held
  {
    pqxx::work second(c2);
    auto b = ClaimChat(second);
    ASSERT_TRUE(b.ok() && b->has_value()) << b.status();
    EXPECT_EQ((*b)->chat_id, 7002);
    ASSERT_EQ((*b)->updates.size(), 1u);
    ASSERT_TRUE(MarkProcessed(second, (*b)->bot_id, 502, clock_.Now()).ok());
    second.commit();
  }
  ASSERT_EQ((*a)->updates.size(), 1u);
  EXPECT_EQ((*a)->updates[0].update_id, 501);
  ASSERT_TRUE(MarkProcessed(first, (*a)->bot_id, 501, clock_.Now()).ok());
  first.commit();
  // The claims made the bot's chats known (the T9 register), once each.
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM tg_chats WHERE chat_id IN (7001, 7002)"), 2);
  pqxx::work third(c2);
  auto next = ClaimChat(third);
  ASSERT_TRUE(next.ok() && next->has_value()) << next.status();
  EXPECT_EQ((*next)->chat_id, 7001);
  ASSERT_EQ((*next)->updates.size(), 1u);
  EXPECT_EQ((*next)->updates[0].update_id, 503);
}

TEST_F(IntakeTest, PollingStoresTheBatchAndPersistsTheOffset) {
  auto burst = fake_->Control(token_, "burst", {{"count", 30}, {"chats", 3}});
  const int64_t last = burst["last_update_id"].get<int64_t>();
  Poller poller(*d_.pool, *api_, outbox_, clock_);
  auto r = poller.PollOnce(bot_id_, token_, absl::ZeroDuration());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->received, 30);
  EXPECT_EQ(r->stored, 30);
  EXPECT_EQ(d_.db->Count("SELECT poll_offset FROM tg_bots"), last + 1);
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM tg_updates"), 30);
  // The next round confirms the batch at the fake and gets nothing new.
  auto again = poller.PollOnce(bot_id_, token_, absl::ZeroDuration());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->received, 0);
  EXPECT_EQ(fake_->Get(token_, "state")["confirmed_offset"].get<int64_t>(), last + 1);
  // The same batch fetched again (as after a crash before the offset was confirmed): stored once.
  const int64_t last2 = fake_->Control(token_, "burst", {{"count", 5}, {"chats", 1}})["last_update_id"].get<int64_t>();
  auto fetched = poller.PollOnce(bot_id_, token_, absl::ZeroDuration());
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(fetched->stored, 5);
  d_.db->Exec(absl::StrCat("UPDATE tg_bots SET poll_offset = ", last + 1));
  auto refetched = poller.PollOnce(bot_id_, token_, absl::ZeroDuration());
  ASSERT_TRUE(refetched.ok()) << refetched.status();
  EXPECT_EQ(refetched->received, 5);
  EXPECT_EQ(refetched->stored, 0);
  EXPECT_EQ(d_.db->Count("SELECT poll_offset FROM tg_bots"), last2 + 1);
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM tg_updates"), 35);
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM outbox WHERE type = 'crm.dialogs.update.received.v1'"), 35);
  // A webhook set: getUpdates is refused (409) as FAILED_PRECONDITION.
  ASSERT_TRUE(api_->Call(token_, "setWebhook", {{"url", "http://127.0.0.1:1/x"}}).ok());
  EXPECT_EQ(poller.PollOnce(bot_id_, token_, absl::ZeroDuration()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace crm::dialogs::telegram
