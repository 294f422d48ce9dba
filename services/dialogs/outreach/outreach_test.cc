// The outreach on real PostgreSQL with the fake Bot API (issue 18: T7's rest, T9): a template sent to a
// dialog and an outbound dialog started by template (no chat → FAILED_PRECONDITION naming client_id); a
// QR payload (and a typed code) referring a /start's dialog, a tampered payload refused; a mailing of 50
// recipients with a 429 on the fake — all sent, statuses right, the mailing DONE with its event; a robots
// notification delivered once when consumed twice. ManualClock; the sender driven pass by pass.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crm/robots/v1/events.pb.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/uuid.h"
#include "libs/calendar/calendar.h"
#include "libs/events/outbox.h"
#include "libs/pg/pool.h"
#include "proto/crm/dialogs/v1/mailing_event_types.h"
#include "proto/crm/robots/v1/event_types.h"
#include "services/deals/deals_testing.h"
#include "services/dialogs/inbox/processor.h"
#include "services/dialogs/inbox/store.h"
#include "services/dialogs/inbox/wire.h"
#include "services/dialogs/migrations.h"
#include "services/dialogs/outreach/mailings.h"
#include "services/dialogs/outreach/qr.h"
#include "services/dialogs/outreach/robots.h"
#include "services/dialogs/outreach/start_hook.h"
#include "services/dialogs/outreach/templates.h"
#include "services/dialogs/outreach/wire.h"
#include "services/dialogs/scenarios/runner.h"
#include "services/dialogs/scenarios/wire.h"
#include "services/dialogs/telegram/bot_api.h"
#include "services/dialogs/telegram/bots.h"
#include "services/dialogs/telegram/intake.h"
#include "services/dialogs/telegram/secrets.h"
#include "services/dialogs/telegram/sender.h"
#include "services/dialogs/telegram/telegram_testing.h"
#include "services/dialogs/telegram/updates.h"

namespace crm::dialogs::outreach {
namespace {

namespace tg = crm::dialogs::telegram;
using crm::deals::fixture::User;

constexpr char kOperator[] = "01930000-0000-7000-8000-0000000000e1";
constexpr char kSupervisor[] = "01930000-0000-7000-8000-0000000000e3";

Principal Operator() { return User(kOperator, {"dialogs.read.own", "dialogs.operate"}); }
Principal Supervisor() {
  return User(kSupervisor, {"dialogs.read.all", "dialogs.operate", "dialogs.supervise", "dialogs.admin"});
}

class OutreachTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = tg::testing::FakeBotApi::Start();
    ASSERT_NE(fake_, nullptr);
    auto db = crm::pg::testing::TempDatabase::Create("dialogs_out");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    auto m = crm::pg::Migrate(db_->dsn(), crm::dialogs::AllMigrations());
    ASSERT_TRUE(m.ok()) << m.status();
    auto pool = crm::pg::Pool::Create({.dsn = db_->dsn(), .size = 4});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
    api_ = std::make_unique<tg::BotApi>(tg::BotApiOptions{.base_url = fake_->url()});
    bots_ = std::make_unique<tg::BotStore>(*pool_, *api_, box_, clock_, tg::BotStoreOptions{.public_url = "http://127.0.0.1:1"});
    crm::dialogs::v1::CreateBotRequest req;
    req.mutable_bot()->set_name("Бот продаж");
    req.mutable_bot()->set_intake_mode(crm::dialogs::v1::INTAKE_MODE_POLLING);
    req.set_token(token_);
    auto bot = bots_->Create(tg::testing::Admin(), req, "");
    ASSERT_TRUE(bot.ok()) << bot.status();
    bot_id_ = bot->id();
    db_->Exec(absl::StrCat("INSERT INTO bot_operators (bot_id, user_id) VALUES ('", bot_id_, "', '", kOperator, "')"));
    calendar_ = std::make_unique<crm::calendar::WorkingCalendar>(
        crm::calendar::WorkingCalendar::FiveDay(absl::UTCTimeZone()));
    runner_ = std::make_unique<scenarios::ScenarioRunner>(clock_, *calendar_);
    processor_ = std::make_unique<inbox::Processor>(*pool_, clock_, outbox_, outgoing_, *runner_,
                                                    inbox::ProcessorOptions{.workers = 0});
    templates_ = std::make_unique<Templates>(*pool_, clock_, outbox_, outgoing_);
    qr_ = std::make_unique<QrCodes>(*pool_, clock_, "qr key");
    mailings_ = std::make_unique<Mailings>(*pool_, clock_, outbox_, outgoing_);
    robots_ = std::make_unique<RobotMessages>(clock_, outgoing_);
    sender_ = std::make_unique<tg::Sender>(*pool_, *api_, box_, outgoing_, tg::SenderLimits{});
    // As wire.cc wires them: the processor's hook and telegram's state hook.
    hook_ = [this](pqxx::transaction_base& tx, const v1::Dialog& d, const v1::Input& in, absl::Time now) {
      return qr_->OnClientInput(tx, d, in, now);
    };
    SetClientInputHook(&hook_);
    outgoing_.SetHook([this](pqxx::transaction_base& tx, const tg::OutgoingChange& c) -> absl::Status {
      CRM_RETURN_IF_ERROR(inbox::ApplyOutgoingChange(tx, c));
      CRM_RETURN_IF_ERROR(mailings_->ApplyOutgoingChange(tx, c));
      return RobotMessages::ApplyOutgoingChange(tx, c);
    });
  }
  void TearDown() override { SetClientInputHook(nullptr); }

  // A client's text message stored as the intake stores it, then processed.
  void Write(int64_t user, const std::string& text) {
    const int64_t id = ++update_id_;
    auto u = tg::ParseUpdate(absl::StrCat(R"({"update_id":)", id, R"(,"message":{"message_id":)", id,
                                          R"(,"date":1795000000,"chat":{"id":)", user,
                                          R"(,"type":"private"},"from":{"id":)", user,
                                          R"(,"is_bot":false,"first_name":"Иван"},"text":")", text, R"("}})"));
    ASSERT_TRUE(u.ok()) << u.status();
    ASSERT_TRUE(crm::pg::InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
                  return tg::StoreUpdate(tx, outbox_, bot_id_, *u, clock_.Now()).status();
                }).ok());
    auto n = processor_->DrainOnce();
    ASSERT_TRUE(n.ok()) << n.status();
  }
  std::string DialogOfChat(int64_t chat) {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    return tx.exec1(absl::StrCat("SELECT id::text FROM dialogs WHERE chat_id = ", chat, " ORDER BY number DESC LIMIT 1"))[0]
        .c_str();
  }
  std::string One(const std::string& sql) {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    return tx.exec1(sql)[0].c_str();
  }
  v1::Template Greeting() {
    v1::CreateTemplateRequest req;
    v1::Template* t = req.mutable_template_();
    t->set_bot_id(bot_id_);
    t->set_name("Приветствие");
    t->set_text("Здравствуйте, {{1}}! Проект: {{2}}.");
    v1::TemplateParameter* p = t->add_parameters();
    p->set_index(2);
    p->set_default_value("наш дом");
    (*p->mutable_project_values())["north"] = "ЖК «Северный»";
    t->add_inline_keyboard()->add_buttons()->set_text("Записаться");
    t->mutable_inline_keyboard(0)->mutable_buttons(0)->set_callback_data("visit");
    auto created = templates_->Create(Supervisor(), req, "");
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : v1::Template();
  }
  void Drain() {
    for (int i = 0; i < 100000; ++i) {
      auto next = sender_->SendDue(bot_id_);
      ASSERT_TRUE(next.ok()) << next.status();
      if (*next == absl::InfiniteFuture()) return;
      if (*next > clock_.Now()) clock_.Set(*next);
    }
    FAIL() << "the sender did not drain";
  }

  std::unique_ptr<tg::testing::FakeBotApi> fake_;
  std::unique_ptr<crm::pg::testing::TempDatabase> db_;
  std::unique_ptr<crm::pg::Pool> pool_;
  crm::ManualClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  tg::SecretBox box_{"test key"};
  crm::events::OutboxWriter outbox_{"dialogs", clock_};
  tg::Outgoing outgoing_{outbox_, clock_};
  std::unique_ptr<tg::BotApi> api_;
  std::unique_ptr<tg::BotStore> bots_;
  std::unique_ptr<crm::calendar::WorkingCalendar> calendar_;
  std::unique_ptr<scenarios::ScenarioRunner> runner_;
  std::unique_ptr<inbox::Processor> processor_;
  std::unique_ptr<Templates> templates_;
  std::unique_ptr<QrCodes> qr_;
  std::unique_ptr<Mailings> mailings_;
  std::unique_ptr<RobotMessages> robots_;
  std::unique_ptr<tg::Sender> sender_;
  ClientInputHook hook_;
  std::string bot_id_;
  int64_t update_id_ = 0;
  const std::string token_ = "5550003:AAoutreachTOKEN";
};

TEST_F(OutreachTest, TemplateSentToADialogAndAnOutboundDialogStarted) {
  const v1::Template t = Greeting();
  ASSERT_FALSE(t.id().empty());
  // Editing takes dialogs.admin; a second template of that name is refused.
  v1::CreateTemplateRequest again;
  *again.mutable_template_() = t;
  EXPECT_EQ(templates_->Create(Operator(), again, "").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(templates_->Create(Supervisor(), again, "").status().code(), absl::StatusCode::kAlreadyExists);

  constexpr int64_t kChat = 700001;
  Write(kChat, "/start");
  const std::string dialog = DialogOfChat(kChat);
  const std::string client = NewUuidV7();
  db_->Exec(absl::StrCat("UPDATE dialogs SET status = 'IN_WORK', responsible_id = '", kOperator, "', client_id = '",
                         client, "', project = 'north' WHERE id = '", dialog, "'"));
  v1::SendTemplateRequest send;
  send.set_dialog_id(dialog);
  send.set_template_id(t.id());
  // {{1}} has no value anywhere: refused naming it, nothing queued.
  auto missing = templates_->SendTemplate(Operator(), send, "k1");
  ASSERT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolations(missing.status()).at(0).field, "parameters[0]");
  send.add_parameters("Иван");
  auto sent = templates_->SendTemplate(Operator(), send, "k2");
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->text(), "Здравствуйте, Иван! Проект: ЖК «Северный».");
  EXPECT_EQ(sent->outgoing_state(), "queued");
  // The same key again: the same message, one outgoing row.
  auto repeat = templates_->SendTemplate(Operator(), send, "k2");
  ASSERT_TRUE(repeat.ok());
  EXPECT_EQ(repeat->id(), sent->id());
  EXPECT_EQ(One(absl::StrCat("SELECT count(*) FROM tg_outgoing WHERE chat_id = ", kChat,
                             " AND payload::text LIKE '%ЖК «Северный»%' AND payload::text LIKE '%visit%'")),
            "1");
  Drain();
  EXPECT_EQ(One(absl::StrCat("SELECT outgoing_state FROM dialog_messages WHERE id = '", sent->id(), "'")), "sent");

  // StartDialog: a client without a chat on the bot is refused naming client_id.
  v1::StartDialogRequest start;
  start.set_bot_id(bot_id_);
  start.set_client_id(NewUuidV7());
  start.set_template_id(t.id());
  start.add_parameters("Пётр");
  auto none = templates_->StartDialog(Operator(), start, "s1");
  ASSERT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(none.status().message().find("client_id"), std::string_view::npos) << none.status();
  // The known client after their dialog closed: a new dialog, the caller's, with the message queued.
  db_->Exec(absl::StrCat("UPDATE dialogs SET status = 'CLOSED', closed = true WHERE id = '", dialog, "'"));
  start.set_client_id(client);
  auto started = templates_->StartDialog(Operator(), start, "s2");
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_NE(started->dialog().id(), dialog);
  EXPECT_EQ(started->dialog().chat_id(), kChat);
  EXPECT_EQ(started->dialog().status(), v1::DIALOG_STATUS_IN_WORK);
  EXPECT_EQ(started->dialog().responsible_id(), kOperator);
  EXPECT_EQ(started->dialog().client_id(), client);
  EXPECT_EQ(started->dialog().project(), "north");
  EXPECT_EQ(started->message().text(), "Здравствуйте, Пётр! Проект: ЖК «Северный».");
}

TEST_F(OutreachTest, QrPayloadAndTypedCodeReferTheDialog) {
  v1::CreateQrCodeRequest req;
  req.set_bot_id(bot_id_);
  req.set_project("north");
  auto qr = qr_->Create(Operator(), req, "q1");
  ASSERT_TRUE(qr.ok()) << qr.status();
  EXPECT_LE(qr->payload().size(), 64u);
  EXPECT_EQ(qr->deep_link(), absl::StrCat("https://t.me/", qr->bot_username(), "?start=", qr->payload()));
  EXPECT_FALSE(qr->bot_username().empty());
  EXPECT_EQ(qr->code().size(), 6u);
  // One code per bot, operator and project.
  auto same = qr_->Create(Operator(), req, "q2");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->id(), qr->id());
  // Another operator's code takes dialogs.supervise.
  req.set_operator_id(kSupervisor);
  EXPECT_EQ(qr_->Create(Operator(), req, "q3").status().code(), absl::StatusCode::kPermissionDenied);
  auto png = qr_->Image(Operator(), qr->id());
  ASSERT_TRUE(png.ok()) << png.status();
  EXPECT_EQ(png->content_type(), "image/png");
  EXPECT_EQ(png->data().substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));

  // A tampered payload refers nothing.
  std::string tampered = qr->payload();
  tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
  Write(800001, absl::StrCat("/start ", tampered));
  EXPECT_EQ(One("SELECT count(*) FROM dialog_referrals"), "0");
  // The signed one: the dialog takes the project; routing is offered the operator first.
  Write(800002, absl::StrCat("/start ", qr->payload()));
  const std::string dialog = DialogOfChat(800002);
  EXPECT_EQ(One(absl::StrCat("SELECT project FROM dialogs WHERE id = '", dialog, "'")), "north");
  std::string preferred;
  ASSERT_TRUE(crm::pg::InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
                CRM_ASSIGN_OR_RETURN(preferred, PreferredOperator(tx, dialog));
                return absl::OkStatus();
              }).ok());
  EXPECT_EQ(preferred, kOperator);
  // The typed code (any case) in another chat.
  Write(800003, "/start");
  std::string lower = qr->code();
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  Write(800003, lower);
  EXPECT_EQ(One(absl::StrCat("SELECT via || ':' || operator_id FROM dialog_referrals WHERE dialog_id = '",
                             DialogOfChat(800003), "'")),
            absl::StrCat("code:", kOperator));
}

TEST_F(OutreachTest, MailingOfFiftyWithA429AllSent) {
  const v1::Template t = Greeting();
  v1::CreateMailingRequest req;
  req.set_bot_id(bot_id_);
  req.set_template_id(t.id());
  req.add_parameters("клиент");
  std::vector<std::string> clients;
  for (int i = 0; i < 50; ++i) {
    clients.push_back(NewUuidV7());
    req.add_client_ids(clients.back());
    if (i == 49) continue;  // the last one never wrote to the bot
    db_->Exec(absl::StrCat("INSERT INTO dialogs (id, bot_id, chat_id, status, closed, client_id, project, create_time, "
                           "update_time) VALUES ('", NewUuidV7(), "', '", bot_id_, "', ", 900000 + i, ", 'CLOSED', true, '",
                           clients.back(), "', '", i % 2 ? "north" : "", "', now(), now())"));
  }
  req.add_client_ids(clients[0]);  // a repeat counts once
  EXPECT_EQ(mailings_->Create(Operator(), req, "m1").status().code(), absl::StatusCode::kPermissionDenied);
  auto m = mailings_->Create(Supervisor(), req, "m1");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->progress().total(), 50);
  EXPECT_EQ(m->progress().pending(), 50);
  fake_->Control(token_, "fail", {{"chat_id", 900007}, {"error_code", 429}, {"retry_after", 3}, {"count", 1}});
  auto n = mailings_->DrainOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 50);
  auto mid = mailings_->Get(Supervisor(), m->id());
  ASSERT_TRUE(mid.ok());
  EXPECT_EQ(mid->progress().queued(), 49);
  EXPECT_EQ(mid->progress().no_chat(), 1);
  Drain();
  auto done = mailings_->Get(Supervisor(), m->id());
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state(), v1::MAILING_STATE_DONE);
  EXPECT_EQ(done->progress().sent(), 49);
  EXPECT_EQ(done->progress().queued(), 0);
  EXPECT_EQ(done->progress().failed(), 0);
  // Per recipient: 49 SENT (the 429's one too, after retry_after), the last NO_CHAT.
  v1::ListRecipientsRequest list;
  list.set_mailing_id(m->id());
  list.set_state(v1::RECIPIENT_STATE_SENT);
  list.set_page_size(30);
  auto page1 = mailings_->ListRecipients(Supervisor(), list);
  ASSERT_TRUE(page1.ok()) << page1.status();
  ASSERT_EQ(page1->recipients_size(), 30);
  list.set_page_token(page1->next_page_token());
  auto page2 = mailings_->ListRecipients(Supervisor(), list);
  ASSERT_TRUE(page2.ok());
  EXPECT_EQ(page2->recipients_size(), 19);
  EXPECT_TRUE(page2->next_page_token().empty());
  list.set_state(v1::RECIPIENT_STATE_NO_CHAT);
  list.clear_page_token();
  auto no_chat = mailings_->ListRecipients(Supervisor(), list);
  ASSERT_TRUE(no_chat.ok());
  ASSERT_EQ(no_chat->recipients_size(), 1);
  EXPECT_EQ(no_chat->recipients(0).client_id(), clients[49]);
  // The fake saw the 429 and then the retry; the project-dependent parameter per chat.
  auto fake_sent = fake_->Get(token_, "sent");
  EXPECT_EQ(fake_sent.size(), 50u);
  EXPECT_EQ(One("SELECT count(*) FROM tg_outgoing WHERE state = 'sent' AND payload::text LIKE '%ЖК «Северный»%'"), "24");
  EXPECT_EQ(One(absl::StrCat("SELECT string_agg(type, ',' ORDER BY id) FROM outbox WHERE topic = '",
                             v1::kMailingTopic, "'")),
            absl::StrCat(v1::kMailingCreatedType, ",", v1::kMailingFinishedType));
  list.set_page_size(-1);
  EXPECT_EQ(mailings_->ListRecipients(Supervisor(), list).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(OutreachTest, MailingCancelledKeepsWhatWasQueued) {
  const v1::Template t = Greeting();
  mailings_ = std::make_unique<Mailings>(*pool_, clock_, outbox_, outgoing_, MailingOptions{.window = 2});
  v1::CreateMailingRequest req;
  req.set_bot_id(bot_id_);
  req.set_template_id(t.id());
  req.add_parameters("клиент");
  for (int i = 0; i < 5; ++i) {
    const std::string c = NewUuidV7();
    req.add_client_ids(c);
    db_->Exec(absl::StrCat("INSERT INTO dialogs (id, bot_id, chat_id, status, client_id, create_time, update_time) "
                           "VALUES ('", NewUuidV7(), "', '", bot_id_, "', ", 910000 + i, ", 'PROCESSED', '", c,
                           "', now(), now())"));
  }
  auto m = mailings_->Create(Supervisor(), req, "c1");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(mailings_->DrainOnce().ok());  // the window: 2 queued
  auto cancelled = mailings_->Cancel(Supervisor(), m->id());
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->state(), v1::MAILING_STATE_CANCELLED);
  EXPECT_EQ(cancelled->progress().cancelled(), 3);
  EXPECT_EQ(cancelled->progress().queued(), 2);
  Drain();
  auto after = mailings_->Get(Supervisor(), m->id());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->progress().sent(), 2);
  EXPECT_EQ(after->state(), v1::MAILING_STATE_CANCELLED);
}

TEST_F(OutreachTest, RobotsNotificationDeliveredOnceWhenConsumedTwice) {
  const std::string client = NewUuidV7();
  db_->Exec(absl::StrCat("INSERT INTO dialogs (id, bot_id, chat_id, status, client_id, create_time, update_time) "
                         "VALUES ('", NewUuidV7(), "', '", bot_id_, "', 950001, 'PROCESSED', '", client,
                         "', now(), now())"));
  crm::robots::v1::Notification n;
  n.set_client_id(client);
  n.set_subject("Заявка");
  n.set_text("Ваша заявка взята в обработку");
  crm::events::v1::Envelope e;
  e.set_id(NewUuidV7());
  e.set_type(crm::robots::v1::kTelegramType);
  e.mutable_payload()->PackFrom(n);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(crm::pg::InTransaction(*pool_, [&](pqxx::work& tx) { return robots_->Handle(tx, e); }).ok());
  }
  EXPECT_EQ(One("SELECT count(*) FROM tg_outgoing WHERE chat_id = 950001"), "1");
  Drain();
  EXPECT_EQ(One(absl::StrCat("SELECT state FROM robot_deliveries WHERE event_id = '", e.id(), "'")), "SENT");
  auto sent = fake_->Get(token_, "sent");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]["text"].get<std::string>(), "Заявка\n\nВаша заявка взята в обработку");
  // A client without a chat, and an employee's notification: recorded as undeliverable with the reason.
  n.set_client_id(NewUuidV7());
  e.set_id(NewUuidV7());
  e.mutable_payload()->PackFrom(n);
  ASSERT_TRUE(crm::pg::InTransaction(*pool_, [&](pqxx::work& tx) { return robots_->Handle(tx, e); }).ok());
  EXPECT_EQ(One(absl::StrCat("SELECT state || ': ' || reason FROM robot_deliveries WHERE event_id = '", e.id(), "'")),
            "UNDELIVERABLE: the client has no Telegram chat with the company's bots");
  // In-app notifications are not the dialogs service's.
  e.set_id(NewUuidV7());
  e.set_type(crm::robots::v1::kInAppType);
  ASSERT_TRUE(crm::pg::InTransaction(*pool_, [&](pqxx::work& tx) { return robots_->Handle(tx, e); }).ok());
  EXPECT_EQ(One("SELECT count(*) FROM robot_deliveries"), "2");
}

}  // namespace
}  // namespace crm::dialogs::outreach
