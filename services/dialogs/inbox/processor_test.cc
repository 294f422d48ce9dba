// File: services/dialogs/inbox/processor_test.cc
// -----------------------------------------------------------------------------
// The inbox on real PostgreSQL (T2, T5, T7; issue 18): dialogs on their own database migrated as
// crm-dialogs migrates it, deals in process on another (ClientService for the phone search,
// InteractionService for D16; deals' ServiceTest harness, signed principals, no fakes of deals), the
// demo bot's scenario, a ManualClock. Updates are stored the way the intake stores them (StoreUpdate) and
// processed by Processor::DrainOnce; deals' queue by DealsSync::DrainOnce.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crm/deals/v1/clients.grpc.pb.h"
#include "gtest/gtest.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/calendar/calendar.h"
#include "libs/events/outbox.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "services/dialogs/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "libs/timers/timers.h"
#include "proto/crm/dialogs/v1/event_types.h"
#include "services/deals/clients.h"
#include "services/deals/deals_testing.h"
#include "services/deals/interactions/calendar_store.h"
#include "services/deals/interactions/interaction_store.h"
#include "services/deals/interactions/service.h"
#include "services/deals/interactions/wiring.h"
#include "services/dialogs/inbox/deals_sync.h"
#include "services/dialogs/inbox/processor.h"
#include "services/dialogs/inbox/service.h"
#include "services/dialogs/inbox/texts.h"
#include "services/dialogs/inbox/users.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/identity/v1/events.pb.h"
#include "libs/events/consumer.h"
#include "proto/crm/identity/v1/event_types.h"
#include "services/dialogs/inbox/wire.h"
#include "services/dialogs/scenarios/demo.h"
#include "services/dialogs/scenarios/runner.h"
#include "services/dialogs/scenarios/wire.h"
#include "services/dialogs/telegram/intake.h"
#include "services/dialogs/telegram/outgoing.h"
#include "services/dialogs/telegram/updates.h"
#include "services/dialogs/telegram/wire.h"
#include "services/dialogs/telegram/test_bot.h"

namespace crm::dialogs::inbox {
namespace {

namespace dv1 = crm::deals::v1;
namespace tg = crm::dialogs::telegram;
using crm::deals::fixture::User;

constexpr char kBot[] = "00000000-0000-7000-8000-00000000b075";  // scenarios::kDemoBotId
constexpr char kOperator1[] = "01930000-0000-7000-8000-0000000000e1";
constexpr char kOperator2[] = "01930000-0000-7000-8000-0000000000e2";
constexpr char kSupervisor[] = "01930000-0000-7000-8000-0000000000e3";
constexpr char kTeam[] = "01930000-0000-7000-8000-00000000a0a1";
constexpr int64_t kClient = 555001;  // the client's Telegram user id = their private chat's id

Principal Operator(const char* id) {
  return User(id, {"dialogs.read.own", "dialogs.operate"}, {kTeam});
}
Principal Supervisor() {
  return User(kSupervisor, {"dialogs.read.team", "dialogs.operate", "dialogs.supervise"}, {kTeam});
}

class InboxTest : public crm::deals::fixture::ServiceTest {
 protected:
  InboxTest() : ServiceTest("dinbox") {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ServiceTest::SetUp());
    std::vector<crm::pg::Migration> deals = crm::EventsMigrations();
    deals.insert(deals.end(), crm::DealsMigrations().begin(), crm::DealsMigrations().end());
    deals.insert(deals.end(), crm::deals::interactions::InteractionsMigrations().begin(), crm::deals::interactions::InteractionsMigrations().end());
    ASSERT_TRUE(crm::pg::Migrate(db_->dsn(), deals).ok());
    clients_ = std::make_unique<crm::deals::ClientStore>(*pool_, clock_);
    client_service_ = std::make_unique<crm::deals::ClientServiceImpl>(*clients_);
    interactions_ = std::make_unique<crm::deals::interactions::InteractionStore>(*pool_, clock_, absl::UTCTimeZone());
    calendars_ = std::make_unique<crm::deals::interactions::CalendarStore>(*pool_, clock_, absl::UTCTimeZone());
    interaction_service_ = std::make_unique<crm::deals::interactions::InteractionServiceImpl>(*interactions_, *calendars_);
    db_->Exec(absl::StrCat("INSERT INTO user_directory (user_id, team_ids, version) VALUES ('", kOperator1, "', '{",
                           kTeam, "}', 1), ('", kOperator2, "', '{", kTeam, "}', 1)"));
    auto channel = Serve({client_service_.get(), interaction_service_.get()});
    client_stub_ = dv1::ClientService::NewStub(channel);

    auto ddb = crm::pg::testing::TempDatabase::Create("dinboxd");
    ASSERT_TRUE(ddb.ok()) << ddb.status();
    ddb_ = std::move(*ddb);
    auto migrated = crm::pg::Migrate(ddb_->dsn(), crm::dialogs::AllMigrations());
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    auto dpool = crm::pg::Pool::Create({.dsn = ddb_->dsn(), .size = 6});
    ASSERT_TRUE(dpool.ok()) << dpool.status();
    dpool_ = std::move(*dpool);
    ddb_->Exec(absl::StrCat(telegram::InsertTestBotSql(kBot, "Демо-бот", "h"), "; INSERT INTO bot_operators (bot_id, user_id) VALUES ('", kBot, "', '",
                            kOperator1, "'), ('", kBot, "', '", kOperator2, "')"));
    ASSERT_TRUE(scenarios::InstallDemoScenario(*dpool_).ok());
    outbox_ = std::make_unique<crm::events::OutboxWriter>("dialogs", clock_);
    outgoing_ = std::make_unique<tg::Outgoing>(*outbox_, clock_);
    calendar_ = std::make_unique<crm::calendar::WorkingCalendar>(crm::calendar::WorkingCalendar::FiveDay(absl::UTCTimeZone()));
    runner_ = std::make_unique<scenarios::ScenarioRunner>(clock_, *calendar_);
    processor_ = std::make_unique<Processor>(*dpool_, clock_, *outbox_, *outgoing_, *runner_,
                                             ProcessorOptions{.workers = 0});
    sync_ = std::make_unique<DealsSync>(*dpool_, clock_, channel, &*gateway_key_);
    inbox_ = std::make_unique<Inbox>(*dpool_, clock_, *outbox_, *outgoing_);
  }

  // Stores `update` as the intake does and processes what is pending.
  void Deliver(const std::string& json) {
    auto u = tg::ParseUpdate(json);
    ASSERT_TRUE(u.ok()) << u.status() << " " << json;
    ASSERT_TRUE(crm::pg::InTransaction(*dpool_, [&](pqxx::work& tx) -> absl::Status {
                  return tg::StoreUpdate(tx, *outbox_, kBot, *u, clock_.Now()).status();
                }).ok());
    auto n = processor_->DrainOnce();
    ASSERT_TRUE(n.ok()) << n.status();
  }
  std::string Message(int64_t user, const std::string& body_fields) {
    const int64_t id = ++update_id_;
    return absl::StrCat(R"({"update_id":)", id, R"(,"message":{"message_id":)", id, R"(,"date":1795000000,)",
                        R"("chat":{"id":)", user, R"(,"type":"private"},"from":{"id":)", user,
                        R"(,"is_bot":false,"first_name":"Иван"},)", body_fields, "}}");
  }
  void Text(const std::string& text, int64_t user = kClient) {
    Deliver(Message(user, absl::StrCat(R"("text":")", text, R"(")")));
  }
  void Contact(const std::string& phone, int64_t contact_user, int64_t user = kClient) {
    Deliver(Message(user, absl::StrCat(R"("contact":{"phone_number":")", phone,
                                       R"(","first_name":"Иван","user_id":)", contact_user, "}")));
  }
  void Drain() {
    auto n = sync_->DrainOnce();
    ASSERT_TRUE(n.ok()) << n.status();
  }

  // identity's UserCreated (version 1) or UserUpdated as the consumer hands it to users.h.
  void ApplyUser(const std::string& id, const std::string& name, int64_t version,
                 const std::string& supervisor = "") {
    crm::identity::v1::User u;
    u.set_id(id);
    u.set_full_name(name);
    u.set_supervisor_id(supervisor);
    u.set_active(true);
    u.set_version(version);
    crm::events::v1::Envelope e;
    if (version == 1) {
      crm::identity::v1::UserCreated c;
      *c.mutable_user() = u;
      e.set_type(crm::identity::v1::kUserCreatedType);
      e.mutable_payload()->PackFrom(c);
    } else {
      crm::identity::v1::UserUpdated c;
      *c.mutable_user() = u;
      e.set_type(crm::identity::v1::kUserUpdatedType);
      e.mutable_payload()->PackFrom(c);
    }
    const std::string topic = crm::identity::v1::kUserTopic;
    ASSERT_TRUE(crm::pg::InTransaction(*dpool_, [&](pqxx::work& tx) -> absl::Status {
                  return ApplyUserEvent(tx, {.envelope = e, .topic = topic, .partition = 0, .offset = version});
                }).ok());
  }

  // dialog_teams (the team scope's lists) holds exactly one row per (team in team_ids, dialog) with the
  // dialog's listed columns, whoever wrote the dialog.
  void ExpectDialogTeamsInStep() {
    constexpr char kProjection[] =
        "SELECT DISTINCT t, d.number, d.closed, d.status, d.bot_id, d.project, d.topic, d.responsible_id, "
        "d.client_id FROM dialogs d CROSS JOIN LATERAL unnest(d.team_ids) t";
    constexpr char kSide[] =
        "SELECT team_id, number, closed, status, bot_id, project, topic, responsible_id, client_id "
        "FROM dialog_teams";
    EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM ((", kProjection, " EXCEPT ", kSide, ") UNION ALL (", kSide,
                                 " EXCEPT ", kProjection, ")) x")),
              0);
  }

  std::string MustClient(const std::string& name, const std::string& phone) {
    grpc::ClientContext ctx;
    As(ctx, User(crm::deals::fixture::kHead, {"clients.read", "clients.write"}));
    dv1::CreateClientRequest req;
    req.mutable_client()->set_kind(dv1::Client::KIND_PERSON);
    req.mutable_client()->set_name(name);
    req.mutable_client()->add_phones(phone);
    req.set_allow_duplicate(true);
    dv1::Client out;
    grpc::Status s = client_stub_->CreateClient(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.id();
  }

  // The chat's open dialog as the supervisor sees it.
  v1::Dialog OpenDialog(int64_t chat = kClient) {
    pqxx::connection c(ddb_->dsn());
    pqxx::work tx(c);
    pqxx::result r = tx.exec_params("SELECT id::text FROM dialogs WHERE chat_id = $1 ORDER BY number DESC LIMIT 1", chat);
    if (r.empty()) return v1::Dialog();
    auto d = inbox_->GetDialog(User(kSupervisor, {"dialogs.read.all"}), r[0][0].c_str());
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : v1::Dialog();
  }
  int64_t Count(const std::string& sql, bool deals = false) {
    pqxx::connection c(deals ? db_->dsn() : ddb_->dsn());
    pqxx::work tx(c);
    return tx.exec1(sql)[0].as<int64_t>();
  }
  std::string LastOutgoingText() {
    pqxx::connection c(ddb_->dsn());
    pqxx::work tx(c);
    pqxx::result r = tx.exec("SELECT payload->>'text' FROM tg_outgoing WHERE method = 'sendMessage' ORDER BY id DESC LIMIT 1");
    return r.empty() ? "" : r[0][0].c_str();
  }
  // To the queue: /start, the own contact, the topic.
  v1::Dialog ToQueue(const std::string& phone = "79161234567") {
    Text("/start");
    Contact(phone, kClient);
    Text("Ипотека");
    return OpenDialog();
  }

  std::unique_ptr<crm::deals::ClientStore> clients_;
  std::unique_ptr<crm::deals::ClientServiceImpl> client_service_;
  std::unique_ptr<crm::deals::interactions::InteractionStore> interactions_;
  std::unique_ptr<crm::deals::interactions::CalendarStore> calendars_;
  std::unique_ptr<crm::deals::interactions::InteractionServiceImpl> interaction_service_;
  std::unique_ptr<dv1::ClientService::Stub> client_stub_;
  std::unique_ptr<crm::pg::testing::TempDatabase> ddb_;
  std::unique_ptr<crm::pg::Pool> dpool_;
  std::unique_ptr<crm::events::OutboxWriter> outbox_;
  std::unique_ptr<tg::Outgoing> outgoing_;
  std::unique_ptr<crm::calendar::WorkingCalendar> calendar_;
  std::unique_ptr<scenarios::ScenarioRunner> runner_;
  std::unique_ptr<Processor> processor_;
  std::unique_ptr<DealsSync> sync_;
  std::unique_ptr<Inbox> inbox_;
  int64_t update_id_ = 1000;
};

TEST_F(InboxTest, TheSeedsFlowQueuesTheDialogLinksTheClientAndRecordsInteractions) {
  const std::string client = MustClient("Иван Петров", "+7 916 123-45-67");
  Text("/start");
  v1::Dialog d = OpenDialog();
  EXPECT_EQ(d.status(), v1::DIALOG_STATUS_BOT);
  EXPECT_EQ(d.number().size(), 9u);
  EXPECT_EQ(d.bot_name(), "Демо-бот");
  EXPECT_EQ(Count("SELECT count(*) FROM tg_outgoing WHERE method = 'sendMessage'"), 2);  // greeting, phone request
  EXPECT_NE(LastOutgoingText().find("номером телефона"), std::string::npos);

  Contact("79161234567", kClient);
  d = OpenDialog();
  EXPECT_EQ(d.phone(), "+79161234567");
  EXPECT_EQ(d.client_link_state(), v1::CLIENT_LINK_STATE_PENDING);
  Drain();
  d = OpenDialog();
  EXPECT_EQ(d.client_link_state(), v1::CLIENT_LINK_STATE_LINKED);
  EXPECT_EQ(d.client_id(), client);
  EXPECT_NE(LastOutgoingText().find("тему обращения"), std::string::npos);

  Text("Ипотека");
  d = OpenDialog();
  EXPECT_EQ(d.status(), v1::DIALOG_STATUS_QUEUED);
  EXPECT_EQ(d.status_name(), "В очереди");
  EXPECT_EQ(d.topic(), "Ипотека");
  EXPECT_EQ(d.unread_count(), 3);

  // The operator of the bot sees it in the queue, takes it and answers.
  auto list = inbox_->ListDialogs(Operator(kOperator1), [] {
    v1::ListDialogsRequest r;
    r.set_open_only(true);
    return r;
  }());
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->dialogs_size(), 1);
  EXPECT_EQ(list->dialogs(0).id(), d.id());
  ApplyUser(kOperator1, "Ольга Операторова", 1);
  auto taken = inbox_->TakeDialog(Operator(kOperator1), d.id());
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(taken->status(), v1::DIALOG_STATUS_IN_WORK);
  EXPECT_EQ(taken->responsible_id(), kOperator1);
  EXPECT_EQ(taken->responsible_name(), "Ольга Операторова");
  v1::SendMessageRequest send;
  send.set_dialog_id(d.id());
  send.set_text("Здравствуйте! Подберём ипотеку.");
  auto sent = inbox_->SendMessage(Operator(kOperator1), send, "key-1");
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->outgoing_state(), "queued");
  EXPECT_EQ(LastOutgoingText(), "Здравствуйте! Подберём ипотеку.");
  auto again = inbox_->SendMessage(Operator(kOperator1), send, "key-1");  // a retried request: one message
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id(), sent->id());
  EXPECT_EQ(Count("SELECT count(*) FROM dialog_messages WHERE author_kind = 'OPERATOR'"), 1);

  // telegram's hook (wire.cc registers ApplyOutgoingChange): the message shows its outgoing state.
  outgoing_->SetHook(&ApplyOutgoingChange);
  ASSERT_TRUE(crm::pg::InTransaction(*dpool_, [&](pqxx::work& tx) -> absl::Status {
                return outgoing_->Changed(tx, {.id = sent->outgoing_id(), .bot_id = kBot, .chat_id = kClient,
                                               .method = tg::kSendMessage, .state = "sent",
                                               .telegram_message_id = 77, .time = clock_.Now()});
              }).ok());
  auto page = inbox_->ListMessages(Operator(kOperator1), [&] {
    v1::ListMessagesRequest r;
    r.set_dialog_id(d.id());
    r.set_page_size(1);
    return r;
  }());
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->messages_size(), 1);
  EXPECT_EQ(page->messages(0).id(), sent->id());  // newest first
  EXPECT_EQ(page->messages(0).outgoing_state(), "sent");
  EXPECT_EQ(page->messages(0).telegram_message_id(), 77);
  EXPECT_EQ(page->messages(0).author_name(), "Ольга Операторова");
  EXPECT_FALSE(page->next_page_token().empty());

  // Pipeline step 4: the client's three messages and the operator's reply are interactions in deals.
  Drain();
  EXPECT_EQ(Count("SELECT count(*) FROM deals_sync"), 0);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM interactions WHERE source = 'telegram' AND kind = 4 "
                               "AND client_id = '", client, "'"), /*deals=*/true),
            4);
  Drain();  // a repeat changes nothing
  EXPECT_EQ(Count("SELECT count(*) FROM interactions WHERE source = 'telegram'", true), 4);
  // MessageExchanged on crm.dialogs.dialog.v1 for every message (the client's 3, the bot's, the operator's).
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM outbox WHERE type = '", v1::kMessageReceivedType, "'")), 3);
  EXPECT_GE(Count(absl::StrCat("SELECT count(*) FROM outbox WHERE type = '", v1::kMessageSentType,
                               "' AND topic = '", v1::kDialogTopic, "'")),
            1);
}


TEST_F(InboxTest, SomeoneElsesContactIsRefusedAndLinksNothing) {
  MustClient("Иван Петров", "+79161234567");
  Text("/start");
  Contact("79161234567", /*contact_user=*/kClient + 1);  // a forwarded contact of another person
  v1::Dialog d = OpenDialog();
  EXPECT_EQ(d.phone(), "");
  EXPECT_EQ(d.client_link_state(), v1::CLIENT_LINK_STATE_UNSPECIFIED);
  EXPECT_EQ(LastOutgoingText(), texts::kForeignContact);
  EXPECT_EQ(Count("SELECT count(*) FROM deals_sync WHERE kind = 'link'"), 0);
  EXPECT_EQ(d.status(), v1::DIALOG_STATUS_BOT);  // the scenario still waits for the phone
  Contact("+7 (916) 123-45-67", kClient);  // then the client's own
  EXPECT_EQ(OpenDialog().phone(), "+79161234567");
}

TEST_F(InboxTest, SeveralClientsWithThePhoneBecomeCandidatesTheOperatorPicks) {
  const std::string a = MustClient("Иван Петров", "+79161234567");
  const std::string b = MustClient("Мария Петрова", "+79161234567");
  v1::Dialog d = ToQueue();
  Drain();
  d = OpenDialog();
  EXPECT_EQ(d.client_link_state(), v1::CLIENT_LINK_STATE_CANDIDATES);
  EXPECT_EQ(d.client_id(), "");
  EXPECT_EQ(std::set<std::string>(d.candidate_client_ids().begin(), d.candidate_client_ids().end()),
            (std::set<std::string>{a, b}));
  ASSERT_TRUE(inbox_->TakeDialog(Operator(kOperator1), d.id()).ok());
  v1::PickClientRequest pick;
  pick.set_id(d.id());
  pick.set_client_id(kOperator2);  // not a candidate
  auto refused = inbox_->PickClient(Operator(kOperator1), pick);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolations(refused.status())[0].field, "client_id");
  pick.set_client_id(b);
  pick.set_version(1);  // stale
  EXPECT_EQ(inbox_->PickClient(Operator(kOperator1), pick).status().code(), absl::StatusCode::kAborted);
  pick.set_version(0);
  auto picked = inbox_->PickClient(Operator(kOperator1), pick);
  ASSERT_TRUE(picked.ok()) << picked.status();
  EXPECT_EQ(picked->client_id(), b);
  EXPECT_EQ(picked->client_link_state(), v1::CLIENT_LINK_STATE_LINKED);
  // The parked interactions of the dialog go to deals, for the picked client.
  Drain();
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM interactions WHERE client_id = '", b, "'"), true), 3);
}

TEST_F(InboxTest, NoClientWithThePhoneKeepsThePhone) {
  ToQueue("79161112233");
  Drain();
  v1::Dialog d = OpenDialog();
  EXPECT_EQ(d.phone(), "+79161112233");
  EXPECT_EQ(d.client_link_state(), v1::CLIENT_LINK_STATE_NONE);
  EXPECT_EQ(d.client_id(), "");
}

TEST_F(InboxTest, StopRevokesThePhoneAndTheClient) {
  const std::string client = MustClient("Иван Петров", "+79161234567");
  ToQueue();
  Drain();
  ASSERT_EQ(OpenDialog().client_id(), client);
  Text("/stop");
  v1::Dialog d = OpenDialog();
  EXPECT_EQ(d.phone(), "");
  EXPECT_EQ(d.client_id(), "");
  EXPECT_EQ(d.client_link_state(), v1::CLIENT_LINK_STATE_UNSPECIFIED);
  EXPECT_EQ(LastOutgoingText(), texts::kRevoked);
  // A new dialog of the client on the bot does not bring the revoked link back.
  ASSERT_TRUE(inbox_->TakeDialog(Operator(kOperator1), d.id()).ok());
  v1::SetDialogStatusRequest close;
  close.set_id(d.id());
  close.set_status(v1::DIALOG_STATUS_CLOSED);
  ASSERT_TRUE(inbox_->SetDialogStatus(Operator(kOperator1), close).ok());
  Text("/start");
  v1::Dialog next = OpenDialog();
  EXPECT_NE(next.id(), d.id());
  EXPECT_EQ(next.phone(), "");
}

TEST_F(InboxTest, ANewDialogCarriesTheClientsLink) {
  const std::string client = MustClient("Иван Петров", "+79161234567");
  v1::Dialog d = ToQueue();
  Drain();
  ASSERT_TRUE(inbox_->TakeDialog(Operator(kOperator1), d.id()).ok());
  v1::SetDialogStatusRequest close;
  close.set_id(d.id());
  close.set_status(v1::DIALOG_STATUS_CLOSED);
  auto closed = inbox_->SetDialogStatus(Operator(kOperator1), close);
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_TRUE(closed->closed());
  EXPECT_EQ(closed->status_name(), "Закрыт");
  Text("Снова я");
  v1::Dialog next = OpenDialog();
  EXPECT_NE(next.id(), d.id());
  EXPECT_EQ(next.client_id(), client);
  EXPECT_EQ(next.phone(), "+79161234567");
}

TEST_F(InboxTest, ASpamListedClientGetsNothing) {
  ddb_->Exec(absl::StrCat("INSERT INTO scenario_spam (bot_id, client_key, dialog_id, create_time) VALUES ('", kBot,
                          "', '", kClient, "', 'x', now())"));
  Text("/start");
  EXPECT_EQ(Count("SELECT count(*) FROM dialogs"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM tg_outgoing"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM tg_updates WHERE processed_at IS NULL"), 0);
}

TEST_F(InboxTest, AnUpdateThatCannotBeProcessedIsSkippedAndDoesNotBlockTheChat) {
  // A fault injected in the database: storing the text "boom" fails (a permanent error, not a conflict).
  ddb_->Exec("CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.text = 'boom' THEN "
             "RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$; CREATE TRIGGER boom BEFORE INSERT ON "
             "dialog_messages FOR EACH ROW EXECUTE FUNCTION boom()");
  Text("/start");
  const std::string boom = Message(kClient, R"("text":"boom")");
  const std::string after = Message(kClient, R"("text":"Добрый день")");
  for (const std::string& json : {boom, after}) {
    auto u = tg::ParseUpdate(json);
    ASSERT_TRUE(u.ok());
    ASSERT_TRUE(crm::pg::InTransaction(*dpool_, [&](pqxx::work& tx) -> absl::Status {
                  return tg::StoreUpdate(tx, *outbox_, kBot, *u, clock_.Now()).status();
                }).ok());
  }
  auto n = processor_->DrainOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(Count("SELECT count(*) FROM dialog_messages WHERE text = 'Добрый день'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM dialog_messages WHERE text = 'boom'"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM tg_updates WHERE processed_at IS NULL"), 0);
}

TEST_F(InboxTest, DuringABurstOfDeliveriesOnlyUpdatesOlderThanIntakeFirstAreProcessed) {
  // Intake first (processor.h): a delivery just now makes a burst; the chat whose update is 3 s old is
  // processed, the one received just now waits until the burst ends.
  Processor processor(*dpool_, clock_, *outbox_, *outgoing_, *runner_,
                      ProcessorOptions{.workers = 0, .intake_first = absl::Seconds(2)});
  absl::Time last_delivery = absl::InfinitePast();
  processor.SetLastDelivery([&] { return last_delivery; });
  auto store = [&](int64_t user) {
    auto u = tg::ParseUpdate(Message(user, R"("text":"/start")"));
    ASSERT_TRUE(u.ok()) << u.status();
    ASSERT_TRUE(crm::pg::InTransaction(*dpool_, [&](pqxx::work& tx) -> absl::Status {
                  return tg::StoreUpdate(tx, *outbox_, kBot, *u, clock_.Now()).status();
                }).ok());
  };
  store(kClient);
  clock_.Advance(absl::Seconds(3));
  store(kClient + 1);
  last_delivery = clock_.Now();
  auto n = processor.DrainOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM dialogs WHERE chat_id = ", kClient)), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM tg_updates WHERE processed_at IS NULL"), 1);
  clock_.Advance(kBurstGap);  // no delivery since: the burst is over
  n = processor.DrainOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(Count("SELECT count(*) FROM tg_updates WHERE processed_at IS NULL"), 0);
}

TEST_F(InboxTest, UserNamesFollowIdentitysEvents) {
  v1::Dialog d = ToQueue();
  ASSERT_TRUE(inbox_->TakeDialog(Operator(kOperator2), d.id()).ok());
  EXPECT_EQ(OpenDialog().responsible_name(), "");  // not heard of yet
  ApplyUser(kOperator2, "Пётр Первый", 1);
  ApplyUser(kOperator2, "Пётр Второй", 3);
  ApplyUser(kOperator2, "Пётр Старый", 2);  // older than what is known: ignored
  EXPECT_EQ(OpenDialog().responsible_name(), "Пётр Второй");
}

TEST_F(InboxTest, ADuplicateUpdateHasOneEffect) {
  const std::string update = Message(kClient, R"("text":"/start")");
  Deliver(update);
  Deliver(update);
  EXPECT_EQ(Count("SELECT count(*) FROM dialog_messages WHERE author_kind = 'CLIENT'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM tg_outgoing"), 2);
}

TEST_F(InboxTest, EveryCallbackIsAnsweredAndItsDataIsTheInput) {
  Text("/start");
  const int64_t id = ++update_id_;
  Deliver(absl::StrCat(R"({"update_id":)", id, R"(,"callback_query":{"id":"cb1","from":{"id":)", kClient,
                       R"(,"is_bot":false,"first_name":"Иван"},"message":{"message_id":5,"date":1795000000,)",
                       R"("chat":{"id":)", kClient, R"(,"type":"private"}},"data":"menu:1"}})"));
  EXPECT_EQ(Count("SELECT count(*) FROM tg_outgoing WHERE method = 'answerCallbackQuery' "
                  "AND payload->>'callback_query_id' = 'cb1'"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM dialog_messages WHERE callback_data = 'menu:1'"), 1);
}

TEST_F(InboxTest, OfTwoOperatorsTakingAtOnceExactlyOneWins) {
  for (int round = 0; round < 10; ++round) {
    const int64_t user = kClient + 100 + round;
    Text("/start", user);
    Contact(absl::StrCat("7916555", 1000 + round), user, user);
    Text("Ипотека", user);
    const v1::Dialog d = OpenDialog(user);
    ASSERT_EQ(d.status(), v1::DIALOG_STATUS_QUEUED);
    std::atomic<int> wins{0}, losses{0};
    std::string loser_message;
    std::vector<std::thread> threads;
    for (const char* op : {kOperator1, kOperator2}) {
      threads.emplace_back([&, op] {
        auto r = inbox_->TakeDialog(Operator(op), d.id());
        if (r.ok()) {
          ++wins;
        } else {
          EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
          loser_message = std::string(r.status().message());
          ++losses;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(wins.load(), 1);
    EXPECT_EQ(losses.load(), 1);
    EXPECT_NE(loser_message.find(d.number()), std::string::npos) << loser_message;
    const v1::Dialog after = OpenDialog(user);
    auto repeat = inbox_->TakeDialog(Operator(after.responsible_id() == kOperator1 ? kOperator1 : kOperator2), d.id());
    EXPECT_TRUE(repeat.ok()) << repeat.status();  // idempotent for the winner
  }
}

TEST_F(InboxTest, VisibilityFollowsResponsibleQueueAndTeam) {
  v1::Dialog d = ToQueue();
  const Principal stranger = User("01930000-0000-7000-8000-0000000000e9", {"dialogs.read.own", "dialogs.operate"});
  EXPECT_EQ(inbox_->GetDialog(stranger, d.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(inbox_->TakeDialog(stranger, d.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(inbox_->GetDialog(Operator(kOperator2), d.id()).ok());  // the bot's queue
  ASSERT_TRUE(inbox_->TakeDialog(Operator(kOperator1), d.id()).ok());
  // Taken: the other operator loses it, the supervisor of the team keeps it.
  EXPECT_EQ(inbox_->GetDialog(Operator(kOperator2), d.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(inbox_->GetDialog(Supervisor(), d.id()).ok());
  v1::ListDialogsRequest mine;
  mine.set_responsible("me");
  auto list = inbox_->ListDialogs(Operator(kOperator1), mine);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->dialogs_size(), 1);
  EXPECT_EQ(list->unread_count(), 0);
  Text("Есть вопрос");
  list = inbox_->ListDialogs(Operator(kOperator1), mine);
  EXPECT_EQ(list->unread_count(), 1);
  auto read = inbox_->MarkRead(Operator(kOperator1), d.id());
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->unread_count(), 0);
  // Another operator's dialog is not theirs to answer.
  v1::SendMessageRequest send;
  send.set_dialog_id(d.id());
  send.set_text("Ответ");
  EXPECT_TRUE(inbox_->SendMessage(Supervisor(), send, "").ok());  // a supervisor may
}

// T6: a supervisor sees their subordinates' dialogs by identity's link (User.supervisor_id), sharing no team:
// in lists and one by one, and answers them; another supervisor does not; the link moves with UserUpdated.
TEST_F(InboxTest, T6SupervisorSeesTheDialogsOfTheUsersNamingThem) {
  constexpr char kBoss[] = "01930000-0000-7000-8000-0000000000e4";
  constexpr char kOtherBoss[] = "01930000-0000-7000-8000-0000000000e5";
  const std::vector<std::string> perms = {"dialogs.read.own", "dialogs.operate", "dialogs.supervise"};
  const Principal boss = User(kBoss, perms), other_boss = User(kOtherBoss, perms);
  ApplyUser(kOperator1, "Ольга", 1, kBoss);
  v1::Dialog d = ToQueue();
  ASSERT_TRUE(inbox_->TakeDialog(Operator(kOperator1), d.id()).ok());
  const auto listed = [&](const Principal& who) {
    auto list = inbox_->ListDialogs(who, v1::ListDialogsRequest());
    EXPECT_TRUE(list.ok()) << list.status();
    std::vector<std::string> ids;
    if (list.ok()) {
      for (const v1::Dialog& x : list->dialogs()) ids.push_back(x.id());
    }
    return ids;
  };
  const std::vector<std::string> just_d = {d.id()};
  // «Взять в работу»: the other operator loses it, the operator's supervisor (by the link) keeps it.
  EXPECT_EQ(inbox_->GetDialog(Operator(kOperator2), d.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(inbox_->GetDialog(boss, d.id()).ok());
  EXPECT_EQ(listed(boss), just_d);
  EXPECT_EQ(inbox_->GetDialog(other_boss, d.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(listed(other_boss).empty());
  v1::SendMessageRequest send;
  send.set_dialog_id(d.id());
  send.set_text("Здравствуйте, я руководитель Ольги");
  EXPECT_TRUE(inbox_->SendMessage(boss, send, "").ok());
  EXPECT_EQ(inbox_->SendMessage(other_boss, send, "").status().code(), absl::StatusCode::kNotFound);
  v1::SetDialogStatusRequest done;
  done.set_id(d.id());
  done.set_status(v1::DIALOG_STATUS_PROCESSED);
  EXPECT_EQ(inbox_->SetDialogStatus(other_boss, done).status().code(), absl::StatusCode::kNotFound);

  // The operator moves to another supervisor: the dialogs go with them.
  ApplyUser(kOperator1, "Ольга", 2, kOtherBoss);
  EXPECT_EQ(inbox_->GetDialog(boss, d.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(listed(boss).empty());
  EXPECT_TRUE(inbox_->GetDialog(other_boss, d.id()).ok());
  EXPECT_EQ(listed(other_boss), just_d);
  EXPECT_TRUE(inbox_->SetDialogStatus(other_boss, done).ok());
  ApplyUser(kOperator1, "Ольга", 1, kBoss);  // an older version changes nothing
  EXPECT_EQ(inbox_->GetDialog(boss, d.id()).status().code(), absl::StatusCode::kNotFound);
  // Without dialogs.supervise the link shows nothing.
  EXPECT_EQ(inbox_->GetDialog(User(kOtherBoss, {"dialogs.read.own"}), d.id()).status().code(),
            absl::StatusCode::kNotFound);
  ExpectDialogTeamsInStep();
}

// The team scope's side table follows every write of a dialog: taken with the taker's teams, another
// team's member sees nothing of it, a teammate sees it in lists with each filter.
TEST_F(InboxTest, TeamListsFollowDialogTeams) {
  constexpr char kOtherTeam[] = "01930000-0000-7000-8000-00000000a0a2";
  v1::Dialog d = ToQueue();
  ExpectDialogTeamsInStep();
  ASSERT_TRUE(inbox_->TakeDialog(Operator(kOperator1), d.id()).ok());
  ExpectDialogTeamsInStep();
  const Principal mate = User("01930000-0000-7000-8000-0000000000e6", {"dialogs.read.team"}, {kOtherTeam, kTeam});
  const Principal stranger = User("01930000-0000-7000-8000-0000000000e7", {"dialogs.read.team"}, {kOtherTeam});
  v1::ListDialogsRequest by_status;
  by_status.set_status(v1::DIALOG_STATUS_IN_WORK);
  by_status.set_bot_id(kBot);
  auto seen = inbox_->ListDialogs(mate, by_status);
  ASSERT_TRUE(seen.ok()) << seen.status();
  ASSERT_EQ(seen->dialogs_size(), 1);
  EXPECT_EQ(seen->dialogs(0).id(), d.id());
  EXPECT_EQ(inbox_->ListDialogs(stranger, by_status)->dialogs_size(), 0);
  v1::SetDialogStatusRequest done;
  done.set_id(d.id());
  done.set_status(v1::DIALOG_STATUS_PROCESSED);
  ASSERT_TRUE(inbox_->SetDialogStatus(Operator(kOperator1), done).ok());
  ExpectDialogTeamsInStep();
  EXPECT_EQ(inbox_->ListDialogs(mate, by_status)->dialogs_size(), 0);  // no longer IN_WORK
  by_status.set_status(v1::DIALOG_STATUS_PROCESSED);
  EXPECT_EQ(inbox_->ListDialogs(mate, by_status)->dialogs_size(), 1);
}

TEST_F(InboxTest, BadRequestsNameEveryField) {
  v1::ListDialogsRequest list;
  list.set_page_size(-1);
  list.set_bot_id("bot");
  list.set_page_token("x");
  auto r = inbox_->ListDialogs(Operator(kOperator1), list);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::string> fields;
  for (const FieldViolation& v : FieldViolations(r.status())) fields.push_back(v.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"page_size", "page_token", "bot_id"}));
  v1::SendMessageRequest send;
  send.set_file_url("ftp://x");
  auto s = inbox_->SendMessage(Operator(kOperator1), send, "");
  fields.clear();
  for (const FieldViolation& v : FieldViolations(s.status())) fields.push_back(v.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"dialog_id", "file_url"}));
  v1::SetDialogStatusRequest status;
  status.set_id("01930000-0000-7000-8000-0000000000e9");
  status.set_status(v1::DIALOG_STATUS_QUEUED);
  EXPECT_EQ(FieldViolations(inbox_->SetDialogStatus(Operator(kOperator1), status).status())[0].field, "status");
}

TEST_F(InboxTest, ListsPageByNumberNewestFirst) {
  for (int i = 0; i < 5; ++i) Text("/start", kClient + 200 + i);
  v1::ListDialogsRequest req;
  req.set_page_size(2);
  std::vector<std::string> numbers;
  for (int page = 0; page < 5; ++page) {
    auto r = inbox_->ListDialogs(User(kSupervisor, {"dialogs.read.all"}), req);
    ASSERT_TRUE(r.ok()) << r.status();
    for (const v1::Dialog& d : r->dialogs()) numbers.push_back(d.number());
    if (r->next_page_token().empty()) break;
    req.set_page_token(r->next_page_token());
  }
  ASSERT_EQ(numbers.size(), 5u);
  EXPECT_TRUE(std::is_sorted(numbers.rbegin(), numbers.rend())) << numbers[0];
  EXPECT_EQ(std::set<std::string>(numbers.begin(), numbers.end()).size(), 5u);
}

}  // namespace
}  // namespace crm::dialogs::inbox
