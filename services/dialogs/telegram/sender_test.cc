// The sender (sender.h, outgoing.h) against the fake Bot API on a ManualClock: the per-chat, per-group
// and per-bot paces are never exceeded and are met under backlog; a 429 burst is retried at exactly
// retry_after; migrate_to_chat_id moves the chat; a final error fails the row; callbacks go first;
// every state change reaches the hook and the outbox; Enqueue names every bad field.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "libs/base/clock.h"
#include "libs/events/outbox.h"
#include "services/dialogs/telegram/bot_api.h"
#include "services/dialogs/telegram/bots.h"
#include "services/dialogs/telegram/outgoing.h"
#include "services/dialogs/telegram/secrets.h"
#include "services/dialogs/telegram/sender.h"
#include "services/dialogs/telegram/telegram_testing.h"

namespace crm::dialogs::telegram {
namespace {

using testing::Admin;
using testing::Db;
using testing::FakeBotApi;

class SenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = FakeBotApi::Start();
    ASSERT_NE(fake_, nullptr);
    d_ = Db::Make(4);
    ASSERT_NE(d_.pool, nullptr);
    api_ = std::make_unique<BotApi>(BotApiOptions{.base_url = fake_->url()});
    bots_ = std::make_unique<BotStore>(*d_.pool, *api_, box_, clock_, BotStoreOptions{.public_url = "http://127.0.0.1:1"});
    crm::dialogs::v1::CreateBotRequest req;
    req.mutable_bot()->set_name("Бот");
    req.mutable_bot()->set_intake_mode(crm::dialogs::v1::INTAKE_MODE_POLLING);
    req.set_token(token_);
    auto bot = bots_->Create(Admin(), req, "");
    ASSERT_TRUE(bot.ok()) << bot.status();
    bot_id_ = bot->id();
    outgoing_.SetHook([this](pqxx::transaction_base&, const OutgoingChange& c) {
      changes_.push_back(c);
      return absl::OkStatus();
    });
    sender_ = std::make_unique<Sender>(*d_.pool, *api_, box_, outgoing_, SenderLimits{});
  }

  std::string Enqueue(OutgoingMessage m) {
    m.bot_id = bot_id_;
    std::string id;
    absl::Status s = crm::pg::InTransaction(*d_.pool, [&](pqxx::work& tx) -> absl::Status {
      auto r = outgoing_.Enqueue(tx, m);
      if (!r.ok()) return r.status();
      id = *r;
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return id;
  }
  std::string Text(int64_t chat, std::string text) {
    return Enqueue({.chat_id = chat, .text = std::move(text)});
  }

  // Runs the sender until its queue is empty, moving the clock to each next due time.
  void Drain() {
    for (int i = 0; i < 100000; ++i) {
      auto next = sender_->SendDue(bot_id_);
      ASSERT_TRUE(next.ok()) << next.status();
      if (*next == absl::InfiniteFuture()) return;
      if (*next > clock_.Now()) clock_.Set(*next);
    }
    FAIL() << "the sender did not drain";
  }

  // (chat, sent_time) of the sent rows in send order.
  std::vector<std::pair<int64_t, absl::Time>> Sent() {
    std::vector<std::pair<int64_t, absl::Time>> out;
    pqxx::connection c(d_.db->dsn());
    pqxx::work tx(c);
    for (const auto& r : tx.exec("SELECT chat_id, (extract(epoch FROM sent_time) * 1000000)::bigint FROM tg_outgoing "
                                 "WHERE state = 'sent' AND method <> 'answerCallbackQuery' ORDER BY sent_time, id")) {
      out.emplace_back(r[0].as<int64_t>(), absl::FromUnixMicros(r[1].as<int64_t>()));
    }
    return out;
  }

  std::unique_ptr<FakeBotApi> fake_;
  Db d_;
  crm::ManualClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  SecretBox box_{"test key"};
  crm::events::OutboxWriter outbox_{"dialogs", clock_};
  Outgoing outgoing_{outbox_, clock_};
  std::unique_ptr<BotApi> api_;
  std::unique_ptr<BotStore> bots_;
  std::unique_ptr<Sender> sender_;
  std::vector<OutgoingChange> changes_;
  const std::string token_ = "5550002:AAsenderTOKENsender";
  std::string bot_id_;
};

TEST_F(SenderTest, LimitsNeverExceededAndMetUnderBacklog) {
  // 40 private chats × 3 messages and one group × 25: a backlog far above every limit.
  constexpr int64_t kGroup = -1001000000001;
  for (int round = 0; round < 3; ++round) {
    for (int chat = 0; chat < 40; ++chat) Text(7000 + chat, absl::StrCat("m", round));
  }
  for (int i = 0; i < 25; ++i) Text(kGroup, absl::StrCat("g", i));
  const absl::Time start = clock_.Now();
  const SenderLimits limits;
  Drain();
  auto sent = Sent();
  ASSERT_EQ(sent.size(), 145u);
  std::map<int64_t, std::vector<absl::Time>> by_chat;
  for (const auto& [chat, at] : sent) by_chat[chat].push_back(at);
  for (const auto& [chat, times] : by_chat) {
    if (chat > 0) {
      for (size_t i = 1; i < times.size(); ++i) {
        EXPECT_GE(times[i] - times[i - 1], limits.chat_window) << "chat " << chat;  // 1 in any second
      }
    } else {
      ASSERT_EQ(times.size(), 25u);
      for (size_t i = 20; i < times.size(); ++i) {
        EXPECT_GE(times[i] - times[i - 20], limits.group_window) << "group";  // 20 in any minute
      }
    }
  }
  for (size_t i = 30; i < sent.size(); ++i) {
    EXPECT_GE(sent[i].second - sent[i - 30].second, limits.bot_window) << "bot, send " << i;  // 30 in any second
  }
  // Under backlog the limits are met, not undershot: 30 at once, the 31st as soon as the window allows,
  // the group's 21st a minute (and the margin) after its first.
  EXPECT_EQ(sent[29].second, start);
  EXPECT_EQ(sent[30].second, start + limits.bot_window + limits.margin);
  EXPECT_EQ(by_chat[kGroup][20], by_chat[kGroup][0] + limits.group_window + limits.margin);
  // The fake saw every message, none refused.
  auto fake_sent = fake_->Get(token_, "sent");
  EXPECT_EQ(fake_sent.size(), 145u);
  for (const auto& s : fake_sent) EXPECT_TRUE(s["ok"].get<bool>());
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM outbox WHERE topic = 'crm.dialogs.outgoing.v1'"), 145 * 2);
}

// T1, two replicas: two senders on one database take turns at a bot (the advisory lock makes them; here
// they alternate at each clock step). Together they keep the per-bot and per-chat paces and send every row
// once — the paces are the database's (tg_send_paces), not each process's: with per-process windows the
// second replica's first pass sent 30 more in the same second, and chats' second messages at once.
TEST_F(SenderTest, TwoReplicasKeepTheLimitsTogether) {
  Sender other(*d_.pool, *api_, box_, outgoing_, SenderLimits{});
  for (int round = 0; round < 3; ++round) {
    for (int chat = 0; chat < 40; ++chat) Text(7000 + chat, absl::StrCat("m", round, "-", chat));
  }
  const SenderLimits limits;
  bool drained = false;
  for (int i = 0; i < 100000 && !drained; ++i) {
    auto a = sender_->SendDue(bot_id_);
    ASSERT_TRUE(a.ok()) << a.status();
    auto b = other.SendDue(bot_id_);
    ASSERT_TRUE(b.ok()) << b.status();
    const absl::Time next = std::min(*a, *b);
    drained = next == absl::InfiniteFuture();
    if (!drained && next > clock_.Now()) clock_.Set(next);
  }
  ASSERT_TRUE(drained);
  auto sent = Sent();
  ASSERT_EQ(sent.size(), 120u);
  std::map<int64_t, std::vector<absl::Time>> by_chat;
  for (const auto& [chat, at] : sent) by_chat[chat].push_back(at);
  for (const auto& [chat, times] : by_chat) {
    ASSERT_EQ(times.size(), 3u) << "chat " << chat;
    for (size_t i = 1; i < times.size(); ++i) {
      EXPECT_GE(times[i] - times[i - 1], limits.chat_window) << "chat " << chat;  // 1 in any second
    }
  }
  for (size_t i = limits.per_bot; i < sent.size(); ++i) {
    EXPECT_GE(sent[i].second - sent[i - limits.per_bot].second, limits.bot_window) << "bot, send " << i;
  }
  // Telegram saw each message once.
  auto fake_sent = fake_->Get(token_, "sent");
  ASSERT_EQ(fake_sent.size(), 120u);
  std::set<std::string> texts;
  for (const auto& s : fake_sent) texts.insert(s["text"].get<std::string>());
  EXPECT_EQ(texts.size(), 120u);
}

TEST_F(SenderTest, TooManyRequestsWaitsExactlyRetryAfter) {
  constexpr int64_t kChat = 4711;
  fake_->Control(token_, "fail", {{"chat_id", kChat}, {"error_code", 429}, {"retry_after", 7}, {"count", 2}});
  const std::string first = Text(kChat, "первое");
  const std::string second = Text(kChat, "второе");
  const absl::Time t0 = clock_.Now();
  Drain();
  std::vector<std::pair<std::string, absl::Time>> of_first;
  for (const OutgoingChange& c : changes_) {
    if (c.id == first) of_first.emplace_back(c.state, c.time);
  }
  ASSERT_EQ(of_first.size(), 4u);  // queued, retrying, retrying, sent
  EXPECT_EQ(of_first[1], std::make_pair(std::string("retrying"), t0));
  EXPECT_EQ(of_first[2], std::make_pair(std::string("retrying"), t0 + absl::Seconds(7)));
  EXPECT_EQ(of_first[3], std::make_pair(std::string("sent"), t0 + absl::Seconds(14)));
  // The chat's second message waited behind the first, then its own pace.
  auto sent = Sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].second, t0 + absl::Seconds(15) + SenderLimits().margin);
  EXPECT_EQ(d_.db->Count(absl::StrCat("SELECT attempts FROM tg_outgoing WHERE id = '", first, "'")), 3);
  auto fake_sent = fake_->Get(token_, "sent");
  ASSERT_EQ(fake_sent.size(), 4u);
  EXPECT_EQ(fake_sent[0]["error_code"].get<int>(), 429);
  EXPECT_EQ(fake_sent[3]["text"].get<std::string>(), "второе");
  (void)second;
}

TEST_F(SenderTest, MigrateToChatIdMovesTheChatAndResends) {
  constexpr int64_t kOld = -4001;
  constexpr int64_t kNew = -1001234567890;
  fake_->Control(token_, "migrate", {{"chat_id", kOld}, {"to", kNew}});
  Text(kOld, "один");
  Text(kOld, "два");
  Drain();
  EXPECT_EQ(d_.db->Count(absl::StrCat("SELECT count(*) FROM tg_outgoing WHERE state = 'sent' AND chat_id = ", kNew)), 2);
  EXPECT_EQ(d_.db->Count(absl::StrCat("SELECT migrated_to FROM tg_chats WHERE chat_id = ", kOld)), kNew);
  int delivered = 0;
  for (const auto& s : fake_->Get(token_, "sent")) delivered += s["ok"].get<bool>() && s["chat_id"].get<int64_t>() == kNew;
  EXPECT_EQ(delivered, 2);
}

TEST_F(SenderTest, FinalErrorFailsTheRowWithCodeAndText) {
  fake_->Control(token_, "fail", {{"chat_id", 99}, {"error_code", 403},
                                  {"description", "Forbidden: bot was blocked by the user"}});
  const std::string id = Text(99, "привет");
  Drain();
  pqxx::connection c(d_.db->dsn());
  pqxx::work tx(c);
  pqxx::row r = tx.exec_params1("SELECT state, error_code, error FROM tg_outgoing WHERE id = $1::uuid", id);
  EXPECT_EQ(r[0].as<std::string>(), "failed");
  EXPECT_EQ(r[1].as<int>(), 403);
  EXPECT_EQ(r[2].as<std::string>(), "Forbidden: bot was blocked by the user");
  ASSERT_FALSE(changes_.empty());
  EXPECT_EQ(changes_.back().state, "failed");
  EXPECT_EQ(changes_.back().error_code, 403);
}

TEST_F(SenderTest, CallbacksAnsweredFirstAndHtmlEscapedKeyboardsSent) {
  auto press = fake_->Control(token_, "press", {{"user_id", 31}, {"data", "topic:1"}});
  const std::string query_id = press["callback_query"]["id"].get<std::string>();
  Enqueue({.chat_id = 31, .text = "<b>Выберите</b> тему & жмите",
           .inline_keyboard = {{{.text = "Продажи", .callback_data = "topic:1"}, {.text = "Сайт", .url = "https://example.ru"}}}});
  Enqueue({.chat_id = 31, .text = "Поделитесь телефоном",
           .reply_keyboard = {{{.text = "Отправить номер", .request_contact = true}}}, .one_time_keyboard = true});
  Enqueue({.chat_id = 31, .kind = OutgoingMessage::Kind::kAnswerCallback, .callback_query_id = query_id});
  Drain();
  auto sent = fake_->Get(token_, "sent");
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0]["method"], "answerCallbackQuery");
  EXPECT_EQ(sent[1]["text"], "&lt;b&gt;Выберите&lt;/b&gt; тему &amp; жмите");
  EXPECT_EQ(sent[1]["params"]["parse_mode"], "HTML");
  EXPECT_EQ(sent[1]["params"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"], "topic:1");
  EXPECT_EQ(sent[1]["params"]["reply_markup"]["inline_keyboard"][0][1]["url"], "https://example.ru");
  EXPECT_EQ(sent[2]["params"]["reply_markup"]["keyboard"][0][0]["request_contact"], true);
  EXPECT_EQ(fake_->Get(token_, "state")["unanswered_callbacks"], 0);
}

TEST_F(SenderTest, EnqueueNamesEveryBadField) {
  absl::Status s = crm::pg::InTransaction(*d_.pool, [&](pqxx::work& tx) -> absl::Status {
    return outgoing_
        .Enqueue(tx, {.bot_id = bot_id_, .chat_id = -5, .text = "",
                      .reply_keyboard = {{{.text = "x", .request_contact = true}}},
                      .inline_keyboard = {{{.text = "y", .callback_data = std::string(65, 'a')}}}})
        .status();
  });
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  const std::string m(s.message());
  EXPECT_NE(m.find("text"), std::string::npos);
  EXPECT_NE(m.find("(and 2 more)"), std::string::npos) << m;  // text, the two keyboards, request_contact
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM tg_outgoing"), 0);
}

}  // namespace
}  // namespace crm::dialogs::telegram
