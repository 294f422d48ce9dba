// The scenario runner on a real PostgreSQL with a ManualClock (T3, T4): the seed's flow stepped in the
// inbox's transactions, its durable timers (a waiting timeout fires once across two timer loops, a paused
// action runs at its time), the spam list, group chats, out of hours and versions.
#include "services/dialogs/scenarios/runner.h"

#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/calendar/calendar.h"
#include "libs/events/outbox.h"
#include "libs/pg/pool.h"
#include "libs/timers/timers.h"
#include "services/dialogs/scenarios/demo.h"
#include "services/dialogs/scenarios/scenarios_testing.h"
#include "services/dialogs/scenarios/spam.h"
#include "services/dialogs/scenarios/store.h"

namespace crm::dialogs::scenarios {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Monday 2026-12-07 12:00 in Moscow (09:00 UTC): inside the demo bot's hours.
const absl::Time kMonday12 = absl::FromCivil(absl::CivilSecond(2026, 12, 7, 9, 0, 0), absl::UTCTimeZone());

// The demo bot's hours and text as the telegram part keeps them (the runner reads a bot's through the
// provider set at wiring: telegram's BotStore::Hours).
constexpr char kOutOfHoursText[] = "Сейчас нерабочее время. Мы ответим вам в рабочие часы.";
BotHours DemoBotHours() {
  BotHours h;
  for (int d = 1; d <= 6; ++d) {
    auto* day = h.working_hours.Add();
    day->set_weekday(d), day->set_start_minute(d == 6 ? 600 : 540), day->set_end_minute(d == 6 ? 1020 : 1200);
  }
  h.out_of_hours_text = kOutOfHoursText;
  return h;
}

std::vector<v1::ActionKind> Kinds(const std::vector<v1::Action>& actions) {
  std::vector<v1::ActionKind> out;
  for (const v1::Action& a : actions) out.push_back(a.kind());
  return out;
}

class ScenarioRunnerTest : public ScenariosDbTest {
 protected:
  void SetUp() override {
    ScenariosDbTest::SetUp();
    auto cal = crm::calendar::WorkingCalendar::FiveDay("Europe/Moscow", "2026-12-31");
    ASSERT_TRUE(cal.ok()) << cal.status();
    calendar_ = std::make_unique<crm::calendar::WorkingCalendar>(*cal);
    runner_ = std::make_unique<ScenarioRunner>(clock_, *calendar_);
    runner_->SetSink([this](pqxx::transaction_base&, const DialogRef& d, const std::vector<v1::Action>& actions) {
      absl::MutexLock lock(&mu_);
      sunk_.push_back({d.dialog_id, actions});
      return absl::OkStatus();
    });
    runner_->SetBotHours([this](pqxx::transaction_base&, std::string_view bot_id) -> absl::StatusOr<BotHours> {
      absl::MutexLock lock(&mu_);
      hours_asked_.push_back(std::string(bot_id));
      return bot_id == kDemoBotId ? DemoBotHours() : BotHours();
    });
    ASSERT_TRUE(InstallDemoScenario(*pool_).ok());
  }

  std::vector<v1::Action> Input(const DialogRef& d, const v1::Input& in) {
    std::vector<v1::Action> out;
    absl::Status s = crm::pg::InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
      CRM_ASSIGN_OR_RETURN(out, runner_->OnInput(tx, d, in));
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }
  v1::ScenarioState State(const std::string& dialog) {
    v1::ScenarioState out;
    absl::Status s = crm::pg::InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
      CRM_ASSIGN_OR_RETURN(std::optional<v1::ScenarioState> st, ScenarioRunner::State(tx, dialog));
      if (st) out = *st;
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }
  // One FireDue pass of `store` with the runner as the handler of its kind.
  int Fire(crm::timers::TimerStore& store) {
    auto r = store.FireDue([this](pqxx::transaction_base& tx, const crm::timers::Timer& t) -> absl::Status {
      EXPECT_EQ(t.kind, kTimerKind);
      return runner_->OnTimer(tx, t);
    });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->fired : -1;
  }
  void AddScenario(const std::string& bot, const std::string& text) {
    v1::Scenario s;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &s));
    s.set_bot_id(bot);
    s.set_active(true);
    crm::events::OutboxWriter outbox("dialogs", clock_);
    ScenarioStore store(*pool_, clock_, outbox);
    ASSERT_TRUE(store.Create({}, s, "").ok());
  }

  static v1::Input Text(std::string t) {
    v1::Input in;
    in.set_kind(v1::INPUT_KIND_TEXT);
    in.set_text(std::move(t));
    return in;
  }
  static v1::Input Start() {
    v1::Input in;
    in.set_kind(v1::INPUT_KIND_START);
    return in;
  }
  static v1::Input Contact() {
    v1::Input in;
    in.set_kind(v1::INPUT_KIND_CONTACT);
    in.set_phone("+79990001122");
    return in;
  }

  ManualClock clock_{kMonday12};
  std::unique_ptr<crm::calendar::WorkingCalendar> calendar_;
  std::unique_ptr<ScenarioRunner> runner_;
  absl::Mutex mu_;
  std::vector<std::pair<std::string, std::vector<v1::Action>>> sunk_;
  std::vector<std::string> hours_asked_;  // the bots the runner asked the provider about
};

const DialogRef kDialog{.dialog_id = "d1", .bot_id = kDemoBotId, .client_key = "1001", .private_chat = true};

TEST_F(ScenarioRunnerTest, TheSeedsFlowInTheInboxsTransactions) {
  EXPECT_THAT(Kinds(Input(kDialog, Start())), ElementsAre(v1::ACTION_KIND_SEND_TEXT, v1::ACTION_KIND_REQUEST_PHONE));
  EXPECT_EQ(State("d1").stage(), kStageGreeting);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM timers WHERE kind = 'dialogs.scenario' AND state = 'pending' AND "
                       "key = 'dialogs.scenario:d1:1'"),
            1);
  EXPECT_THAT(Kinds(Input(kDialog, Contact())), ElementsAre(v1::ACTION_KIND_GO_TO_STAGE, v1::ACTION_KIND_SEND_MENU));
  EXPECT_EQ(db_->Count("SELECT count(*) FROM timers WHERE key = 'dialogs.scenario:d1:1' AND state = 'cancelled'"), 1);
  std::vector<v1::Action> routed = Input(kDialog, Text("Покупка квартиры"));
  EXPECT_THAT(Kinds(routed), ElementsAre(v1::ACTION_KIND_SET_TOPIC, v1::ACTION_KIND_DISTRIBUTE,
                                         v1::ACTION_KIND_GO_TO_STAGE, v1::ACTION_KIND_SEND_TEXT,
                                         v1::ACTION_KIND_FINISH));
  EXPECT_FALSE(routed[1].has_not_before());  // in working hours
  EXPECT_TRUE(State("d1").finished());
  EXPECT_EQ(db_->Count("SELECT count(*) FROM timers WHERE state = 'pending'"), 0);
  EXPECT_THAT(Input(kDialog, Text("ещё вопрос")), IsEmpty());
}

// T9: every transition is stored with the step (the same transaction as the state): one rolled back leaves
// neither its state nor its entry; read back in order, a page at a time after a seq.
TEST_F(ScenarioRunnerTest, T9TransitionsCommitWithTheStepAndARolledBackOneLeavesNoEntry) {
  auto history = [this](int64_t after, int limit) {
    std::vector<std::string> out;
    absl::Status s = crm::pg::InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
      out.clear();
      CRM_ASSIGN_OR_RETURN(std::vector<v1::BotTransition> got, ScenarioRunner::Transitions(tx, "d1", after, limit));
      for (const v1::BotTransition& t : got) {
        out.push_back(absl::StrCat(t.seq(), " ", v1::BotTransitionCause_Name(t.cause()), " ", t.from_stage(), ">",
                                   t.to_stage(), " ", t.to_stage_name(), " ", v1::KeyKind_Name(t.key_kind()), " '",
                                   t.input(), "' v", t.scenario_version(), " @", t.time().seconds()));
      }
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  };
  const int64_t t0 = absl::ToUnixSeconds(kMonday12);
  Input(kDialog, Start());
  EXPECT_THAT(history(0, 50), ElementsAre(absl::StrCat("1 BOT_TRANSITION_CAUSE_START >000000001 Приветствие и ",
                                                       "запрос телефона KEY_KIND_UNSPECIFIED '' v1 @", t0)));
  // The contact's step fails after the runner stepped (the inbox's transaction rolls back): nothing stays.
  clock_.Advance(absl::Minutes(1));
  absl::Status failed = crm::pg::InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_RETURN_IF_ERROR(runner_->OnInput(tx, kDialog, Contact()).status());
    return absl::InternalError("the inbox failed after the runner stepped");
  });
  EXPECT_EQ(failed.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM scenario_transitions WHERE dialog_id = 'd1'"), 1);
  EXPECT_EQ(State("d1").stage(), kStageGreeting);
  EXPECT_EQ(State("d1").history_seq(), 1);
  // Again, committed: the key, then the menu's «Ипотека», then the end of the bot's part.
  Input(kDialog, Contact());
  clock_.Advance(absl::Minutes(1));
  Input(kDialog, Text("ипотека"));
  EXPECT_THAT(history(1, 50),
              ElementsAre(absl::StrCat("2 BOT_TRANSITION_CAUSE_KEY 000000001>000000008 Выбор темы обращения "
                                       "KEY_KIND_CONTACT '' v1 @", t0 + 60),
                          absl::StrCat("3 BOT_TRANSITION_CAUSE_KEY 000000008>000000009 Сообщение ожидания ответа "
                                       "KEY_KIND_TEXT 'Ипотека' v1 @", t0 + 120),
                          absl::StrCat("4 BOT_TRANSITION_CAUSE_FINISH 000000009>  KEY_KIND_UNSPECIFIED '' v1 @",
                                       t0 + 120)));
  const std::vector<std::string> page = history(2, 1);  // a page: at most `limit` after `after`
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].substr(0, 2), "3 ");
}

TEST_F(ScenarioRunnerTest, AWaitingTimeoutFiresOnceAcrossTwoTimerLoops) {
  Input(kDialog, Start());
  Input(kDialog, Contact());
  crm::timers::TimerStore a(*pool_, clock_, {.export_metrics = false});
  crm::timers::TimerStore b(*pool_, clock_, {.export_metrics = false});
  clock_.Advance(absl::Minutes(29));
  EXPECT_EQ(Fire(a) + Fire(b), 0);  // not yet
  clock_.Advance(absl::Minutes(1));
  int fired_a = 0;
  int fired_b = 0;
  std::thread ta([&] { fired_a = Fire(a); });
  std::thread tb([&] { fired_b = Fire(b); });
  ta.join();
  tb.join();
  EXPECT_EQ(fired_a + fired_b, 1);
  EXPECT_EQ(Fire(a) + Fire(b), 0);
  absl::MutexLock lock(&mu_);
  ASSERT_EQ(sunk_.size(), 1u);
  EXPECT_EQ(sunk_[0].first, "d1");
  ASSERT_FALSE(sunk_[0].second.empty());
  EXPECT_EQ(sunk_[0].second[0].topic(), "Обращения к ГПП");
  EXPECT_EQ(sunk_[0].second.back().kind(), v1::ACTION_KIND_FINISH);
}

TEST_F(ScenarioRunnerTest, AStaleTimerChangesNothing) {
  Input(kDialog, Start());
  Input(kDialog, Contact());
  Input(kDialog, Text("Ипотека"));  // answered: the menu's wait is cancelled
  crm::timers::TimerStore store(*pool_, clock_, {.export_metrics = false});
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(Fire(store), 0);
  // A timer that fires anyway (cancel raced with the claim) finds a moved-on state.
  ASSERT_TRUE(crm::pg::InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
                return runner_->OnTimer(tx, {.key = "k", .kind = kTimerKind, .payload = "d1\n2"});
              }).ok());
  absl::MutexLock lock(&mu_);
  EXPECT_THAT(sunk_, IsEmpty());
}

TEST_F(ScenarioRunnerTest, APausedActionRunsAtItsTime) {
  AddScenario("bot-p", R"pb(
    name: "pause"
    stages { code: "A" name: "A" first: true wait_for_reply: true
             entry_actions { kind: ACTION_KIND_SEND_TEXT text: "Минутку…" }
             entry_actions { kind: ACTION_KIND_SEND_TEXT text: "Готово!" pause_seconds: 10 } }
  )pb");
  const DialogRef d{.dialog_id = "p1", .bot_id = "bot-p", .client_key = "7", .private_chat = true};
  std::vector<v1::Action> first = Input(d, Text("привет"));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].text(), "Минутку…");
  crm::timers::TimerStore store(*pool_, clock_, {.export_metrics = false});
  clock_.Advance(absl::Seconds(9));
  EXPECT_EQ(Fire(store), 0);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Fire(store), 1);
  EXPECT_EQ(Fire(store), 0);
  absl::MutexLock lock(&mu_);
  ASSERT_EQ(sunk_.size(), 1u);
  ASSERT_EQ(sunk_[0].second.size(), 1u);
  EXPECT_EQ(sunk_[0].second[0].text(), "Готово!");
}

TEST_F(ScenarioRunnerTest, WithoutASinkATimerIsRetriedLater) {
  runner_->SetSink(nullptr);
  Input(kDialog, Start());
  crm::timers::TimerStore store(*pool_, clock_, {.export_metrics = false});
  clock_.Advance(absl::Minutes(30));
  EXPECT_EQ(Fire(store), 0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM timers WHERE state = 'pending' AND attempts = 1"), 1);
  EXPECT_EQ(State("d1").stage(), kStageGreeting);  // rolled back with the failed run
}

TEST_F(ScenarioRunnerTest, SpamIsClosedAndNeverStartedAgainForThatClient) {
  AddScenario("bot-s", R"pb(
    name: "spam"
    stages { code: "A" name: "A" first: true wait_for_reply: true
             entry_actions { kind: ACTION_KIND_SEND_TEXT text: "Здравствуйте" }
             keys { kind: KEY_KIND_TEXT values: "реклама" actions { kind: ACTION_KIND_MARK_SPAM } } }
  )pb");
  const DialogRef d{.dialog_id = "s1", .bot_id = "bot-s", .client_key = "666", .private_chat = true};
  Input(d, Start());
  EXPECT_THAT(Kinds(Input(d, Text("Реклама"))), ElementsAre(v1::ACTION_KIND_MARK_SPAM));
  EXPECT_TRUE(State("s1").closed());
  bool spam = false;
  ASSERT_TRUE(crm::pg::InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
                CRM_ASSIGN_OR_RETURN(spam, ScenarioRunner::IsSpam(tx, "bot-s", "666"));
                return absl::OkStatus();
              }).ok());
  EXPECT_TRUE(spam);
  EXPECT_THAT(Input({.dialog_id = "s2", .bot_id = "bot-s", .client_key = "666"}, Start()), IsEmpty());
  EXPECT_THAT(Kinds(Input({.dialog_id = "s3", .bot_id = "bot-s", .client_key = "777"}, Start())),
              ElementsAre(v1::ACTION_KIND_SEND_TEXT));
  // The list (newest first), and taking the client off it: they are started again.
  SpamList list(*pool_);
  v1::ListSpamRequest req;
  req.set_bot_id("bot-s");
  absl::StatusOr<v1::ListSpamResponse> listed = list.List(req);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->spam_entries_size(), 1);
  EXPECT_EQ(listed->spam_entries(0).client_key(), "666");
  EXPECT_EQ(listed->spam_entries(0).dialog_id(), "s1");
  EXPECT_EQ(listed->spam_entries(0).create_time().seconds(), absl::ToUnixSeconds(kMonday12));
  v1::RemoveSpamRequest remove;
  remove.set_bot_id("bot-s");
  remove.set_client_key("666");
  EXPECT_TRUE(list.Remove(remove).ok());
  EXPECT_EQ(list.Remove(remove).code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Kinds(Input({.dialog_id = "s4", .bot_id = "bot-s", .client_key = "666"}, Start())),
              ElementsAre(v1::ACTION_KIND_SEND_TEXT));
}

TEST_F(ScenarioRunnerTest, TheSpamListFollowsThePageRule) {
  ASSERT_TRUE(crm::pg::InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
                for (int i = 0; i < 5; ++i) {
                  CRM_RETURN_IF_ERROR(SpamList::Add(tx, "b", absl::StrCat("c", i), "d", kMonday12 + absl::Seconds(i % 2)));
                }
                return absl::OkStatus();
              }).ok());
  SpamList list(*pool_);
  v1::ListSpamRequest req;
  req.set_bot_id("b");
  req.set_page_size(2);
  std::vector<std::string> keys;
  for (int page = 0; page < 5; ++page) {
    absl::StatusOr<v1::ListSpamResponse> r = list.List(req);
    ASSERT_TRUE(r.ok()) << r.status();
    for (const v1::SpamEntry& e : r->spam_entries()) keys.push_back(e.client_key());
    if (r->next_page_token().empty()) break;
    req.set_page_token(r->next_page_token());
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"c3", "c1", "c4", "c2", "c0"}));  // newest first, then by client
  req.set_page_size(-1);
  req.set_page_token("x");
  req.clear_bot_id();
  absl::Status bad = list.List(req).status();
  ASSERT_EQ(FieldViolations(bad).size(), 3u);
}

TEST_F(ScenarioRunnerTest, AGroupChatGetsNoContactButton) {
  const DialogRef group{.dialog_id = "g1", .bot_id = kDemoBotId, .client_key = "1", .private_chat = false};
  std::vector<v1::Action> a = Input(group, Start());
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[1].kind(), v1::ACTION_KIND_SEND_TEXT);
  EXPECT_EQ(a[1].text(), "Чтобы мы могли вам помочь, поделитесь, пожалуйста, номером телефона.");
}

TEST_F(ScenarioRunnerTest, OutOfHoursTheNoticeAndDistributionWaitsForTheNextPeriod) {
  clock_.Set(kMonday12 + absl::Hours(10));  // 22:00 in Moscow
  std::vector<v1::Action> a = Input(kDialog, Start());
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].text(), kOutOfHoursText);  // the bot's text
  EXPECT_EQ(hours_asked_.back(), kDemoBotId);
  Input(kDialog, Contact());
  std::vector<v1::Action> routed = Input(kDialog, Text("Ипотека"));
  ASSERT_EQ(routed[1].kind(), v1::ACTION_KIND_DISTRIBUTE);
  // Tuesday 09:00 in Moscow = 06:00 UTC.
  EXPECT_EQ(routed[1].not_before().seconds(),
            absl::ToUnixSeconds(absl::FromCivil(absl::CivilSecond(2026, 12, 8, 6, 0, 0), absl::UTCTimeZone())));
}

TEST_F(ScenarioRunnerTest, WithoutTheBotsHoursAlwaysWorking) {
  runner_->SetBotHours(nullptr);
  clock_.Set(kMonday12 + absl::Hours(10));  // 22:00 in Moscow
  std::vector<v1::Action> a = Input(kDialog, Start());
  ASSERT_EQ(a.size(), 2u);  // the greeting and the phone request, no notice
  EXPECT_NE(a[0].text(), kOutOfHoursText);
}

TEST_F(ScenarioRunnerTest, NoActiveScenarioNoActions) {
  EXPECT_THAT(Input({.dialog_id = "n1", .bot_id = "no-such-bot", .client_key = "1"}, Start()), IsEmpty());
  EXPECT_EQ(db_->Count("SELECT count(*) FROM scenario_states"), 0);
}

TEST_F(ScenarioRunnerTest, ADialogMovesToTheNewVersionWhenItLeavesItsStage) {
  Input(kDialog, Start());
  crm::events::OutboxWriter outbox("dialogs", clock_);
  ScenarioStore store(*pool_, clock_, outbox);
  absl::StatusOr<v1::Scenario> s = store.Get(kDemoScenarioId, 0);
  ASSERT_TRUE(s.ok()) << s.status();
  s->mutable_stages(1)->mutable_entry_actions(0)->mutable_menu()->set_text("Тема обращения?");
  s->mutable_stages(0)->clear_keys();  // the contact key gone in version 2
  ASSERT_TRUE(store.Update({}, *s).ok());
  // Still in the greeting stage of version 1: the contact is its key; the menu comes from version 2.
  std::vector<v1::Action> a = Input(kDialog, Contact());
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[1].menu().text(), "Тема обращения?");
  EXPECT_EQ(State("d1").scenario_version(), 2);
}

}  // namespace
}  // namespace crm::dialogs::scenarios
