// The pure scenario engine (T3, T4): a table test over the seed's flow and every rule of engine.h, the
// validator naming every problem, export/import round trips, and a randomized test that no input sequence
// crashes the engine or loops.
#include "services/dialogs/scenarios/engine.h"

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status.h"
#include "services/dialogs/scenarios/demo.h"
#include "services/dialogs/scenarios/store.h"
#include "services/dialogs/scenarios/validate.h"

namespace crm::dialogs::scenarios {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAreArray;

const absl::Time kT0 = absl::FromUnixSeconds(1796000000);
// The bot's out-of-hours text (the bot owns it: services/dialogs/hours.h; the runner passes it in StepEnv).
constexpr char kOutOfHoursText[] = "Сейчас нерабочее время. Мы ответим в рабочие часы.";

v1::Input In(v1::InputKind kind, std::string text = "") {
  v1::Input in;
  in.set_kind(kind);
  in.set_text(std::move(text));
  return in;
}
v1::Input Text(std::string t) { return In(v1::INPUT_KIND_TEXT, std::move(t)); }
v1::Input Start() { return In(v1::INPUT_KIND_START); }
v1::Input Contact() {
  v1::Input in = In(v1::INPUT_KIND_CONTACT);
  in.set_phone("+79990001122");
  return in;
}
v1::Input Timeout() { return In(v1::INPUT_KIND_TIMEOUT); }

v1::Scenario Parse(const std::string& text) {
  v1::Scenario s;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &s)) << text;
  return s;
}

// "KIND:detail" for each action, so a table reads like the transcript.
std::vector<std::string> Show(const std::vector<v1::Action>& actions) {
  std::vector<std::string> out;
  for (const v1::Action& a : actions) {
    std::string name = v1::ActionKind_Name(a.kind()).substr(12);  // without "ACTION_KIND_"
    switch (a.kind()) {
      case v1::ACTION_KIND_SEND_TEXT:
      case v1::ACTION_KIND_REQUEST_PHONE:
        out.push_back(absl::StrCat(name, ":", a.text()));
        break;
      case v1::ACTION_KIND_SEND_MENU:
        out.push_back(absl::StrCat(name, ":", a.menu().text()));
        break;
      case v1::ACTION_KIND_SET_TOPIC:
        out.push_back(absl::StrCat(name, ":", a.topic()));
        break;
      case v1::ACTION_KIND_GO_TO_STAGE:
        out.push_back(absl::StrCat(name, ":", a.stage()));
        break;
      case v1::ACTION_KIND_FINISH:
        out.push_back(absl::StrCat(name, a.keep_status() ? ":keep" : ""));
        break;
      default:
        out.push_back(name);
    }
  }
  return out;
}

// A dialog driven through the engine as the runner would: state kept, timers tracked by number.
class Dialog {
 public:
  explicit Dialog(const v1::Scenario& s) : s_(s) {}

  std::vector<std::string> Send(const v1::Input& in, bool working = true) {
    StepEnv env{.now = now_, .in_working_hours = working, .next_working_time = now_ + absl::Hours(10),
                .out_of_hours_text = kOutOfHoursText};
    return Apply(Step(s_, newest_, state_, in, env));
  }
  // Fires the pending timer `seq` at its due.
  std::vector<std::string> Fire(int64_t seq) {
    auto it = pending_.find(seq);
    if (it != pending_.end()) {
      now_ = std::max(now_, it->second);
      pending_.erase(it);
    }
    StepEnv env{.now = now_};
    return Apply(Step(s_, newest_, state_, Timeout(), env, seq));
  }
  std::vector<std::string> FireReply() { return Fire(state_.reply_timer()); }

  const v1::ScenarioState& state() const { return state_; }
  const std::map<int64_t, absl::Time>& pending() const { return pending_; }
  void SetNewest(const v1::Scenario* n) { newest_ = n; }
  void Advance(absl::Duration d) { now_ += d; }
  absl::Time now() const { return now_; }
  const std::vector<v1::Action>& last() const { return last_; }
  // T9: every transition so far as "CAUSE from>to", with ":input" for a key's value and "#n" for failed
  // attempts; the seq numbers checked to run 1, 2, ...
  std::vector<std::string> history() const { return history_; }

 private:
  std::vector<std::string> Apply(StepResult r) {
    for (const TimerOp& t : r.timers) {
      if (t.op == TimerOp::Op::kStart) {
        EXPECT_FALSE(pending_.count(t.seq)) << "timer " << t.seq << " started twice";
        pending_[t.seq] = t.due;
      } else {
        EXPECT_TRUE(pending_.count(t.seq)) << "cancel of a timer not pending: " << t.seq;
        pending_.erase(t.seq);
      }
    }
    for (const v1::BotTransition& t : r.transitions) {
      EXPECT_EQ(t.seq(), static_cast<int64_t>(history_.size()) + 1);
      EXPECT_EQ(t.time().seconds(), absl::ToUnixSeconds(now_));
      std::string h = absl::StrCat(v1::BotTransitionCause_Name(t.cause()).substr(21), " ", t.from_stage(), ">",
                                   t.to_stage());
      if (!t.input().empty()) absl::StrAppend(&h, ":", t.input());
      if (t.failed_attempts() != 0) absl::StrAppend(&h, "#", t.failed_attempts());
      history_.push_back(std::move(h));
    }
    EXPECT_EQ(r.state.history_seq(), static_cast<int64_t>(history_.size()));
    state_ = r.state;
    last_ = r.actions;
    return Show(r.actions);
  }

  const v1::Scenario& s_;
  const v1::Scenario* newest_ = nullptr;
  v1::ScenarioState state_;
  std::map<int64_t, absl::Time> pending_;
  absl::Time now_ = kT0;
  std::vector<v1::Action> last_;
  std::vector<std::string> history_;
};

const char kGreeting[] = "SEND_TEXT:Здравствуйте! Вас приветствует отдел продаж. Мы поможем с выбором квартиры, ипотекой и сервисом.";
const char kAskPhone[] = "REQUEST_PHONE:Чтобы мы могли вам помочь, поделитесь, пожалуйста, номером телефона.";
const char kMenu[] = "SEND_MENU:Спасибо! Выберите, пожалуйста, тему обращения:";
const char kWaiting[] = "SEND_TEXT:Спасибо! Ваш вопрос передан специалисту, он ответит вам в ближайшее время.";
const char kNotRouted[] =
    "SEND_TEXT:Не смогли направить Ваш вопрос специалисту по выбранной теме. Его рассмотрит специалист по общим вопросам.";

TEST(DemoScenarioTest, IsValidWithoutWarnings) {
  EXPECT_THAT(Validate(DemoScenario()), IsEmpty());
}

TEST(EngineSeedFlowTest, StartPhoneMenuTopicRoutedThenTheOperators) {
  v1::Scenario s = DemoScenario();
  Dialog d(s);
  EXPECT_THAT(d.Send(Start()), ElementsAre(kGreeting, kAskPhone));
  EXPECT_EQ(d.state().stage(), kStageGreeting);
  ASSERT_EQ(d.pending().size(), 1u);  // waiting 30 minutes for the phone
  EXPECT_EQ(d.pending().begin()->second, kT0 + absl::Minutes(30));
  EXPECT_EQ(d.last()[1].button_text(), "Отправить номер телефона");

  EXPECT_THAT(d.Send(Contact()), ElementsAre("GO_TO_STAGE:000000008", kMenu));
  EXPECT_EQ(d.state().stage(), kStageTopic);
  ASSERT_EQ(d.pending().size(), 1u);  // the phone wait cancelled, the menu's started
  EXPECT_EQ(d.last()[1].menu().rows_size(), 4);

  // A typed text matches a button case-insensitively after trimming.
  EXPECT_THAT(d.Send(Text("  ИПОТЕКА ")),
              ElementsAre("SET_TOPIC:Ипотека", "DISTRIBUTE", "GO_TO_STAGE:000000009", kWaiting, "FINISH"));
  EXPECT_TRUE(d.state().finished());
  EXPECT_FALSE(d.state().closed());
  EXPECT_THAT(d.pending(), IsEmpty());
  // The operators' dialog from now on: the bot stays silent.
  EXPECT_THAT(d.Send(Text("Здравствуйте, есть вопрос")), IsEmpty());
  EXPECT_THAT(d.Send(Start()), IsEmpty());
}

TEST(EngineSeedFlowTest, UnrecognisedKeyOneAttemptThenGeneralQuestions) {
  v1::Scenario s = DemoScenario();
  Dialog d(s);
  d.Send(Start());
  d.Send(Contact());
  EXPECT_THAT(d.Send(Text("хочу машиноместо")),
              ElementsAre(kNotRouted, "SET_TOPIC:Обращения к ГПП", "DISTRIBUTE", "GO_TO_STAGE:000000009", kWaiting,
                          "FINISH"));
  EXPECT_TRUE(d.state().finished());
}

TEST(EngineSeedFlowTest, ThirtyMinutesWithoutAReplyThenGeneralQuestions) {
  v1::Scenario s = DemoScenario();
  Dialog d(s);
  d.Send(Start());
  d.Send(Contact());
  const int64_t menu_wait = d.state().reply_timer();
  ASSERT_NE(menu_wait, 0);
  EXPECT_EQ(d.pending().at(menu_wait), kT0 + absl::Minutes(30));
  EXPECT_THAT(d.Fire(menu_wait - 1), IsEmpty());  // the phone stage's cancelled timer: stale
  EXPECT_THAT(d.Fire(menu_wait),
              ElementsAre("SET_TOPIC:Обращения к ГПП", "DISTRIBUTE", "GO_TO_STAGE:000000009", kWaiting, "FINISH"));
  EXPECT_THAT(d.Fire(menu_wait), IsEmpty());  // fires once
}

TEST(EngineSeedFlowTest, PhoneStageTwoAttemptsThenTheMenu) {
  v1::Scenario s = DemoScenario();
  Dialog d(s);
  d.Send(Start());
  const int64_t first_wait = d.state().reply_timer();
  EXPECT_THAT(d.Send(Text("89990001122")),
              ElementsAre("SEND_TEXT:Пожалуйста, нажмите кнопку «Отправить номер телефона» ниже."));
  EXPECT_EQ(d.state().failed_attempts(), 1);
  EXPECT_NE(d.state().reply_timer(), first_wait);  // the wait starts again after a reply
  EXPECT_FALSE(d.pending().count(first_wait));
  EXPECT_THAT(d.Send(Text("не хочу")),
              ElementsAre("SEND_TEXT:Пожалуйста, нажмите кнопку «Отправить номер телефона» ниже.",
                          "GO_TO_STAGE:000000008", kMenu));
  EXPECT_EQ(d.state().failed_attempts(), 0);
}

// T9: each step names its transitions and their causes (the runner stores them, the timeline shows them).
TEST(EngineHistoryTest, T9TheSeedsFlowNamesEachTransitionsCause) {
  v1::Scenario s = DemoScenario();
  Dialog d(s);
  d.Send(Start());
  d.Send(Text("89990001122"));  // not the contact button: attempt 1 of 2
  d.Send(Text("не хочу"));      // attempt 2: the exhausted actions go to the menu
  d.Send(Text("  ИПОТЕКА "));
  d.Send(Text("Здравствуйте, есть вопрос"));  // the operators' dialog: nothing
  EXPECT_THAT(d.history(), ElementsAre("START >000000001", "UNRECOGNIZED 000000001>000000001#1",
                                       "ATTEMPTS_EXHAUSTED 000000001>000000008#2",
                                       "KEY 000000008>000000009:Ипотека", "FINISH 000000009>"));

  Dialog e(s);
  e.Send(Contact(), /*working=*/false);  // out of hours: the notice, then the first stage
  e.Send(Contact());
  e.FireReply();
  EXPECT_THAT(e.history(), ElementsAre("OUT_OF_HOURS >", "START >000000001", "KEY 000000001>000000008",
                                       "REPLY_TIMEOUT 000000008>000000009", "FINISH 000000009>"));
}

TEST(EngineTest, StartWithoutAStartKeyRestartsTheScenario) {
  v1::Scenario s = DemoScenario();
  Dialog d(s);
  d.Send(Start());
  d.Send(Contact());
  EXPECT_THAT(d.Send(Start()), ElementsAre(kGreeting, kAskPhone));
  EXPECT_EQ(d.state().stage(), kStageGreeting);
  EXPECT_EQ(d.pending().size(), 1u);
}

TEST(EngineTest, AnyClientInputStartsTheFirstStageButATimerDoesNot) {
  v1::Scenario s = DemoScenario();
  Dialog d(s);
  EXPECT_THAT(d.Fire(1), IsEmpty());
  EXPECT_EQ(d.state().stage(), "");
  EXPECT_THAT(d.Send(Text("добрый день")), ElementsAre(kGreeting, kAskPhone));
}

const char kPaused[] = R"pb(
  bot_id: "b" name: "pauses"
  stages {
    code: "A" name: "A" first: true wait_for_reply: true
    entry_actions { kind: ACTION_KIND_SEND_TEXT text: "one" }
    entry_actions { kind: ACTION_KIND_SEND_TEXT text: "two" pause_seconds: 10 }
    entry_actions { kind: ACTION_KIND_SEND_TEXT text: "three" }
    entry_actions { kind: ACTION_KIND_SEND_TEXT text: "four" pause_seconds: 5 }
    keys { kind: KEY_KIND_TEXT values: "go" actions { kind: ACTION_KIND_GO_TO_STAGE stage: "B" } }
    keys { kind: KEY_KIND_TEXT values: "spam" actions { kind: ACTION_KIND_MARK_SPAM } }
    unrecognized {
      actions { kind: ACTION_KIND_SEND_TEXT text: "again?" }
      attempts: 2 close: true
      exhausted_actions { kind: ACTION_KIND_SEND_TEXT text: "bye" }
    }
    reply_timeout { period_seconds: 60 actions { kind: ACTION_KIND_SEND_TEXT text: "still there?" } }
  }
  stages {
    code: "B" name: "B" wait_for_reply: true
    entry_actions { kind: ACTION_KIND_SEND_TEXT text: "in B" }
    entry_actions { kind: ACTION_KIND_DISTRIBUTE }
    keys { kind: KEY_KIND_TEXT values: "done" actions { kind: ACTION_KIND_SET_PROJECT project: "p" finish: true keep_status: true } }
  }
)pb";

TEST(EngineTest, APausedActionRunsAtItsTimeOnADurableTimer) {
  v1::Scenario s = Parse(kPaused);
  ASSERT_THAT(Validate(s), IsEmpty());
  Dialog d(s);
  EXPECT_THAT(d.Send(Text("hi")), ElementsAre("SEND_TEXT:one"));
  const int64_t resume = d.state().resume_timer();
  ASSERT_NE(resume, 0);
  EXPECT_EQ(d.pending().at(resume), kT0 + absl::Seconds(10));
  EXPECT_EQ(d.pending().at(d.state().reply_timer()), kT0 + absl::Seconds(60));  // the wait counts from entry
  EXPECT_THAT(d.Fire(resume), ElementsAre("SEND_TEXT:two", "SEND_TEXT:three"));
  const int64_t resume2 = d.state().resume_timer();
  EXPECT_EQ(d.pending().at(resume2), kT0 + absl::Seconds(15));
  EXPECT_THAT(d.Fire(resume), IsEmpty());  // once
  EXPECT_THAT(d.Fire(resume2), ElementsAre("SEND_TEXT:four"));
  EXPECT_EQ(d.state().resume_timer(), 0);
  EXPECT_THAT(d.FireReply(), ElementsAre("SEND_TEXT:still there?"));
  EXPECT_EQ(d.state().reply_timer(), 0);  // the wait happens once
  EXPECT_EQ(d.state().stage(), "A");
}

TEST(EngineTest, AClientInputSupersedesPausedActions) {
  v1::Scenario s = Parse(kPaused);
  Dialog d(s);
  d.Send(Text("hi"));
  const int64_t resume = d.state().resume_timer();
  EXPECT_THAT(d.Send(Text("go")), ElementsAre("GO_TO_STAGE:B", "SEND_TEXT:in B", "DISTRIBUTE"));
  EXPECT_FALSE(d.pending().count(resume));
  EXPECT_THAT(d.Fire(resume), IsEmpty());
  EXPECT_THAT(d.Send(Text("DONE")), ElementsAre("SET_PROJECT", "FINISH:keep"));
  EXPECT_TRUE(d.state().finished());
}

// T9: a key's value is kept cut to 64 bytes at a character boundary (a 2-byte Cyrillic letter is not split).
TEST(EngineHistoryTest, T9AKeysValueIsCutAtACharacterBoundary) {
  std::string value = "a";
  for (int i = 0; i < 40; ++i) value += "я";  // 81 bytes
  v1::Scenario s = Parse(absl::StrCat(R"pb(bot_id: "b" name: "long" stages { code: "A" name: "A" first: true
      wait_for_reply: true keys { kind: KEY_KIND_TEXT values: ")pb", value, R"pb(" actions { kind: ACTION_KIND_CLOSE } } })pb"));
  Dialog d(s);
  d.Send(Text("hi"));
  d.Send(Text(value));
  ASSERT_EQ(d.history().size(), 2u);
  EXPECT_EQ(d.history()[1], absl::StrCat("CLOSE A>:", value.substr(0, 63)));  // "a" + 31 letters
}

// T9: staying, leaving by a key's «finish», closing after the attempts and spam are each recorded.
TEST(EngineHistoryTest, T9StayingLeavingClosingAndSpamAreRecorded) {
  v1::Scenario s = Parse(kPaused);
  Dialog d(s);
  d.Send(Text("hi"));
  d.FireReply();  // the wait ran out, the stage stays
  d.Send(Text("x"));
  d.Send(Text("y"));  // attempts used up: bye, close
  EXPECT_THAT(d.history(), ElementsAre("START >A", "REPLY_TIMEOUT A>A", "UNRECOGNIZED A>A#1", "CLOSE A>#2"));

  Dialog e(s);
  e.Send(Text("hi"));
  e.Send(Text("go"));
  e.Send(Text("done"));  // a key's action with «finish»
  EXPECT_THAT(e.history(), ElementsAre("START >A", "KEY A>B:go", "FINISH B>:done"));

  Dialog f(s);
  f.Send(Text("hi"));
  f.Send(Text("spam"));
  EXPECT_THAT(f.history(), ElementsAre("START >A", "SPAM A>:spam"));
}

TEST(EngineTest, AttemptsRunOutThenExhaustedActionsAndClose) {
  v1::Scenario s = Parse(kPaused);
  Dialog d(s);
  d.Send(Text("hi"));
  EXPECT_THAT(d.Send(Text("x")), ElementsAre("SEND_TEXT:again?"));
  EXPECT_THAT(d.Send(Text("y")), ElementsAre("SEND_TEXT:again?", "SEND_TEXT:bye", "CLOSE"));
  EXPECT_TRUE(d.state().closed());
  EXPECT_THAT(d.pending(), IsEmpty());
  EXPECT_THAT(d.Send(Text("hello?")), IsEmpty());
  EXPECT_THAT(d.Send(Start()), IsEmpty());  // closed is closed
}

TEST(EngineTest, MarkSpamClosesForGood) {
  v1::Scenario s = Parse(kPaused);
  Dialog d(s);
  d.Send(Text("hi"));
  EXPECT_THAT(d.Send(Text("spam")), ElementsAre("MARK_SPAM"));
  EXPECT_TRUE(d.state().closed());
  EXPECT_THAT(d.pending(), IsEmpty());
  EXPECT_THAT(d.Send(Start()), IsEmpty());
}

TEST(EngineTest, OutOfHoursNoticeOncePerPeriodAndDistributeWaitsForTheNextOne) {
  v1::Scenario s = DemoScenario();
  Dialog d(s);
  const std::string notice = absl::StrCat("SEND_TEXT:", kOutOfHoursText);
  EXPECT_THAT(d.Send(Start(), /*working=*/false), ElementsAre(notice, kGreeting, kAskPhone));
  EXPECT_THAT(d.Send(Contact(), false), ElementsAre("GO_TO_STAGE:000000008", kMenu));  // once per period
  d.Send(Text("Ипотека"), false);
  ASSERT_EQ(d.last()[1].kind(), v1::ACTION_KIND_DISTRIBUTE);
  EXPECT_EQ(d.last()[1].not_before().seconds(), absl::ToUnixSeconds(kT0 + absl::Hours(10)));
  // The operators' dialog still tells a client writing in the next non-working period.
  d.Advance(absl::Hours(24));
  EXPECT_THAT(d.Send(Text("алло"), false), ElementsAre(notice));
  EXPECT_THAT(d.Send(Text("алло"), true), IsEmpty());
}

TEST(EngineTest, ADialogKeepsItsVersionUntilItLeavesTheStage) {
  v1::Scenario v1s = Parse(kPaused);
  v1s.set_version(1);
  v1::Scenario v2s = v1s;
  v2s.set_version(2);
  v2s.mutable_stages(0)->mutable_keys(0)->mutable_values(0)->assign("вперёд");  // "go" renamed
  v2s.mutable_stages(1)->mutable_entry_actions(0)->set_text("in B v2");
  Dialog d(v1s);
  d.Send(Text("hi"));
  d.SetNewest(&v2s);
  // Still in stage A of version 1: "go" is its key.
  EXPECT_THAT(d.Send(Text("go")), ElementsAre("GO_TO_STAGE:B", "SEND_TEXT:in B v2", "DISTRIBUTE"));
  EXPECT_EQ(d.state().scenario_version(), 2);
}

TEST(EngineTest, AGoToCycleIsBoundedAtRunTime) {
  v1::Scenario s = Parse(R"pb(
    bot_id: "b" name: "loop"
    stages { code: "A" name: "A" first: true entry_actions { kind: ACTION_KIND_GO_TO_STAGE stage: "B" } }
    stages { code: "B" name: "B" entry_actions { kind: ACTION_KIND_SEND_TEXT text: "b" }
             entry_actions { kind: ACTION_KIND_GO_TO_STAGE stage: "A" } }
  )pb");
  EXPECT_FALSE(ErrorsAsStatus(Validate(s)).ok());  // refused on write …
  StepResult r = Step(s, nullptr, v1::ScenarioState(), Text("hi"), StepEnv{.now = kT0});  // … bounded if run
  EXPECT_TRUE(r.bounded);
  EXPECT_TRUE(r.state.finished());
  EXPECT_LE(r.actions.size(), 3u * kMaxStageEntriesPerStep + 1);
  EXPECT_EQ(r.actions.back().kind(), v1::ACTION_KIND_FINISH);
}

TEST(EngineTest, KeysNormaliseCyrillicAndAscii) {
  EXPECT_EQ(NormalizeKey("  Покупка КВАРТИРЫ \n"), "покупка квартиры");
  EXPECT_EQ(NormalizeKey("ЁЛКА Yes"), "ёлка yes");
  EXPECT_EQ(NormalizeKey("😀 ОК"), "😀 ок");
}

std::vector<std::pair<std::string, std::string>> Errors(const v1::Scenario& s) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const v1::Problem& p : Validate(s)) {
    out.push_back({p.field(), p.severity() == v1::SEVERITY_ERROR ? "error" : "warning"});
  }
  return out;
}

TEST(ValidateTest, NamesEveryProblemAtOnce) {
  v1::Scenario s = Parse(R"pb(
    name: "bad"
    stages {
      code: "A" name: "A" wait_for_reply: true
      entry_actions {
        kind: ACTION_KIND_SEND_MENU
        menu {
          text: "m" keyboard: KEYBOARD_KIND_INLINE
          rows { buttons { text: "x" callback_data: "0123456789012345678901234567890123456789012345678901234567890123456789" } }
          rows { buttons { text: "phone" callback_data: "p" request_contact: true } }
        }
      }
      keys { kind: KEY_KIND_TEXT values: "a"
             actions { kind: ACTION_KIND_SEND_TEXT text: "t" }
             actions { kind: ACTION_KIND_GO_TO_STAGE stage: "NOPE" } }
      keys { kind: KEY_KIND_TEXT values: " A " actions { kind: ACTION_KIND_GO_TO_STAGE stage: "C" }
             actions { kind: ACTION_KIND_SEND_TEXT text: "after" } }
    }
    stages { code: "A" name: "dup" }
    stages { code: "C" name: "C" entry_actions { kind: ACTION_KIND_GO_TO_STAGE stage: "D" } }
    stages { code: "D" name: "D" entry_actions { kind: ACTION_KIND_GO_TO_STAGE stage: "C" } }
    stages { code: "E" name: "E" wait_for_reply: true
             entry_actions { kind: ACTION_KIND_SEND_MENU menu { text: "r" keyboard: KEYBOARD_KIND_REPLY
                             rows { buttons { text: "Телефон" request_contact: true } } } } }
  )pb");
  EXPECT_THAT(Errors(s), UnorderedElementsAreArray({
      Pair("scenario.bot_id", "error"),
      Pair("scenario.stages[1].code", "error"),
      Pair("scenario.stages", "error"),  // no first stage
      Pair("scenario.stages[0].entry_actions[0].menu.rows[0].buttons[0].callback_data", "error"),
      Pair("scenario.stages[0].entry_actions[0].menu.rows[1].buttons[0].request_contact", "error"),
      Pair("scenario.stages[0].keys[0].actions[1].stage", "error"),
      Pair("scenario.stages[0].keys[1].values[0]", "error"),  // " A " is "a" of keys[0]
      Pair("scenario.stages[0].keys[1].actions[1]", "error"),  // after a go-to
      Pair("scenario.stages[3].entry_actions[0].stage", "error"),  // C → D → C without input
  }));
  absl::Status st = ErrorsAsStatus(Validate(s));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolations(st).size(), 9u);
}

TEST(ValidateTest, UnreachableStagesAreWarnings) {
  v1::Scenario s = DemoScenario();
  v1::Stage* orphan = s.add_stages();
  orphan->set_code("X");
  orphan->set_name("orphan");
  EXPECT_THAT(Errors(s), ElementsAre(Pair("scenario.stages[3]", "warning")));
  EXPECT_TRUE(ErrorsAsStatus(Validate(s)).ok());
}

TEST(ExportTest, RoundTripsExactly) {
  v1::Scenario s = DemoScenario();
  s.set_id("00000000-0000-7000-8000-000000000001");
  s.set_version(3);
  absl::StatusOr<std::string> json = ExportJson(s);
  ASSERT_TRUE(json.ok()) << json.status();
  absl::StatusOr<v1::Scenario> back = ParseExport(*json, "json");
  ASSERT_TRUE(back.ok()) << back.status();
  v1::Scenario def = DemoScenario();
  EXPECT_EQ(back->SerializeAsString(), def.SerializeAsString());
  EXPECT_EQ(*ExportJson(*back), *json);
  EXPECT_EQ(ParseExport("{\"stages\": 5}", "json").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseExport("{\"nope\": 1}", "json").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DryRunTest, TheSeedsFlowTranscript) {
  std::vector<v1::Input> inputs = {Start(), Contact(), Text("Обращение в сервисную службу")};
  v1::DryRunScenarioResponse r = DryRun(DemoScenario(), inputs, kT0, false, "");
  ASSERT_EQ(r.steps_size(), 3);
  EXPECT_EQ(r.steps(0).stage_before(), "");
  EXPECT_EQ(r.steps(0).stage_after(), kStageGreeting);
  EXPECT_EQ(r.steps(1).stage_after(), kStageTopic);
  EXPECT_EQ(r.steps(2).stage_after(), kStageWaiting);
  EXPECT_TRUE(r.steps(2).finished());
  EXPECT_EQ(r.steps(2).actions(0).topic(), "Обращение в сервисную службу");
  // T9: each step's transitions as the runner would record them.
  ASSERT_EQ(r.steps(2).transitions_size(), 2);
  EXPECT_EQ(r.steps(2).transitions(0).cause(), v1::BOT_TRANSITION_CAUSE_KEY);
  EXPECT_EQ(r.steps(2).transitions(0).input(), "Обращение в сервисную службу");
  EXPECT_EQ(r.steps(2).transitions(1).cause(), v1::BOT_TRANSITION_CAUSE_FINISH);
  EXPECT_EQ(r.steps(2).transitions(1).seq(), 4);
  // A timeout input: the client stays silent in the menu.
  v1::DryRunScenarioResponse t = DryRun(DemoScenario(), {Start(), Contact(), Timeout()}, kT0, false, "");
  EXPECT_EQ(t.steps(2).actions(0).topic(), "Обращения к ГПП");
  // Paused actions come after the input that paused them.
  v1::DryRunScenarioResponse p = DryRun(Parse(kPaused), {Text("hi")}, kT0, false, "");
  EXPECT_THAT(Show({p.steps(0).actions().begin(), p.steps(0).actions().end()}),
              ElementsAre("SEND_TEXT:one", "SEND_TEXT:two", "SEND_TEXT:three", "SEND_TEXT:four"));
  // Out of hours: the bot's text first, once; DISTRIBUTE waits for the next working period.
  v1::DryRunScenarioResponse o =
      DryRun(DemoScenario(), {Start(), Contact(), Text("Ипотека")}, kT0, true, kOutOfHoursText);
  EXPECT_EQ(o.steps(0).actions(0).text(), kOutOfHoursText);
  EXPECT_NE(o.steps(1).actions(0).text(), kOutOfHoursText);
  EXPECT_TRUE(o.steps(2).actions(1).has_not_before());
}

// Random scenarios (valid or not) and random inputs: the engine never crashes, never runs away, and its
// timer bookkeeping stays consistent (every cancel names a pending timer, numbers are never reused).
TEST(EngineRandomTest, NoInputSequenceCrashesOrLoops) {
  std::mt19937 rng(20261207);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  const std::vector<std::string> words = {"a", "b", "Ипотека", " A ", "x", ""};
  for (int round = 0; round < 3000; ++round) {
    v1::Scenario s;
    s.set_bot_id("b");
    s.set_name("random");
    s.set_version(1);
    const int stages = 1 + pick(5);
    auto random_actions = [&](google::protobuf::RepeatedPtrField<v1::Action>* list) {
      const int n = pick(4);
      for (int i = 0; i < n; ++i) {
        v1::Action* a = list->Add();
        a->set_kind(static_cast<v1::ActionKind>(1 + pick(10)));
        a->set_text("t");
        a->set_topic("topic");
        a->set_stage(absl::StrCat("S", pick(stages + 1)));  // sometimes unknown
        if (pick(4) == 0) a->set_pause_seconds(1 + pick(30));
        a->set_finish(pick(8) == 0);
      }
    };
    for (int i = 0; i < stages; ++i) {
      v1::Stage* st = s.add_stages();
      st->set_code(absl::StrCat("S", i));
      st->set_name("s");
      st->set_first(i == 0 || pick(6) == 0);
      st->set_wait_for_reply(pick(4) != 0);
      random_actions(st->mutable_entry_actions());
      for (int k = pick(3); k > 0; --k) {
        v1::KeyHandler* key = st->add_keys();
        key->set_kind(static_cast<v1::KeyKind>(pick(4)));
        key->add_values(words[pick(words.size())]);
        random_actions(key->mutable_actions());
      }
      st->mutable_unrecognized()->set_attempts(pick(3));
      st->mutable_unrecognized()->set_close(pick(3) == 0);
      random_actions(st->mutable_unrecognized()->mutable_actions());
      random_actions(st->mutable_unrecognized()->mutable_exhausted_actions());
      st->mutable_reply_timeout()->set_period_seconds(pick(3) * 60);
      random_actions(st->mutable_reply_timeout()->mutable_actions());
    }
    Validate(s);  // never crashes either
    v1::ScenarioState state;
    std::set<int64_t> pending;
    std::set<int64_t> used;
    absl::Time now = kT0;
    for (int step = 0; step < 40; ++step) {
      v1::Input in;
      int64_t seq = 0;
      switch (pick(6)) {
        case 0: in = Start(); break;
        case 1: in = Contact(); break;
        case 2: in = In(v1::INPUT_KIND_OTHER); break;
        case 3:
          in = Timeout();
          seq = pending.empty() || pick(4) == 0 ? pick(50) : *std::next(pending.begin(), pick(pending.size()));
          break;
        default: in = Text(words[pick(words.size())]);
      }
      now += absl::Seconds(pick(100));
      StepResult r = Step(s, nullptr, state, in, StepEnv{.now = now, .in_working_hours = pick(5) != 0,
                                                          .next_working_time = now + absl::Hours(1)},
                          seq);
      ASSERT_LE(r.actions.size(), static_cast<size_t>(5 * (kMaxStageEntriesPerStep + 2)))
          << "round " << round << " step " << step;
      for (const TimerOp& t : r.timers) {
        if (t.op == TimerOp::Op::kStart) {
          ASSERT_TRUE(used.insert(t.seq).second) << "timer number reused: " << t.seq;
          ASSERT_GE(t.due, now);
          pending.insert(t.seq);
        } else {
          ASSERT_EQ(pending.erase(t.seq), 1u) << "cancel of a timer not pending: " << t.seq;
        }
      }
      if (in.kind() == v1::INPUT_KIND_TIMEOUT) {
        const int64_t fired = seq == 0 ? state.reply_timer() : seq;  // 0: "the waiting timer" (dry run)
        if (fired != 0 && (fired == state.reply_timer() || fired == state.resume_timer())) pending.erase(fired);
      }
      state = r.state;
      if (state.closed()) {
        ASSERT_TRUE(state.finished());
      }
      for (int64_t p : pending) {
        ASSERT_TRUE(p == state.reply_timer() || p == state.resume_timer())
            << "a pending timer the state forgot: " << p << " round " << round << " step " << step << " input "
            << in.ShortDebugString() << " seq " << seq << "\nstate " << state.ShortDebugString() << "\n"
            << s.DebugString();
      }
    }
  }
}

}  // namespace
}  // namespace crm::dialogs::scenarios
