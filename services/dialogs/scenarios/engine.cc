// File: services/dialogs/scenarios/engine.cc
// The pure scenario engine (T3, T4); the rules are in engine.h.
#include "services/dialogs/scenarios/engine.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "libs/base/strings.h"

namespace crm::dialogs::scenarios {
namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp ToProto(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

const v1::Scenario& Pick(const v1::Scenario& current, const v1::Scenario* newest) {
  return newest != nullptr ? *newest : current;
}

// The key index of list name "keys[2]" in `stage`, or -1 (another list, or no such key).
int KeyIndexOf(const v1::Stage& stage, std::string_view name) {
  if (name.substr(0, 5) != "keys[" || name.back() != ']') return -1;
  int i = 0;
  if (!absl::SimpleAtoi(crm::AsAbsl(name.substr(5, name.size() - 6)), &i) || i < 0 || i >= stage.keys_size()) return -1;
  return i;
}

// The action list `name` of `stage` ("entry", "keys[2]", "unrecognized", "exhausted", "timeout").
const google::protobuf::RepeatedPtrField<v1::Action>* ListOf(const v1::Stage& stage, std::string_view name) {
  if (name == "entry") return &stage.entry_actions();
  if (name == "unrecognized") return &stage.unrecognized().actions();
  if (name == "exhausted") return &stage.unrecognized().exhausted_actions();
  if (name == "timeout") return &stage.reply_timeout().actions();
  const int i = KeyIndexOf(stage, name);
  return i < 0 ? nullptr : &stage.keys(i).actions();
}

// T9: `s` cut to kMaxTransitionInputBytes at a character boundary.
std::string CutInput(std::string_view s) {
  size_t n = std::min(s.size(), kMaxTransitionInputBytes);
  while (n < s.size() && n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n));
}

enum class Outcome { kDone, kLeft };  // kLeft: moved, paused, finished or closed — the caller stops

class Machine {
 public:
  Machine(const v1::Scenario& current, const v1::Scenario* newest, const v1::ScenarioState& state,
          const StepEnv& env)
      : sc_(&current), newest_(newest), env_(env) {
    out_.state = state;
  }

  StepResult Run(const v1::Input& input, int64_t timer_seq) {
    v1::ScenarioState& st = out_.state;
    if (st.closed()) return std::move(out_);
    if (input.kind() == v1::INPUT_KIND_TIMEOUT) {
      OnTimer(timer_seq);
      return std::move(out_);
    }
    OutOfHoursNotice();
    if (st.finished()) return std::move(out_);
    cause_ = v1::BOT_TRANSITION_CAUSE_START;
    if (st.stage().empty()) {
      StartScenario();
      return std::move(out_);
    }
    const v1::Stage* stage = FindStage(*sc_, st.stage());
    if (stage == nullptr) {  // cannot happen with validated versions; end the bot's part rather than loop
      Finish(false);
      return std::move(out_);
    }
    CancelTimers();
    std::string value;
    const int key = MatchKey(*stage, input, &value);
    const std::string at = st.stage();
    const size_t recorded = out_.transitions.size();
    Outcome o = Outcome::kDone;
    if (key >= 0) {
      st.set_failed_attempts(0);
      cause_ = v1::BOT_TRANSITION_CAUSE_KEY;
      key_kind_ = stage->keys(key).kind();
      input_ = CutInput(value);
      o = RunList(at, absl::StrCat("keys[", key, "]"), 0, false);
    } else if (input.kind() == v1::INPUT_KIND_START) {
      StartScenario();  // /start that no key takes: from the beginning
      return std::move(out_);
    } else {
      st.set_failed_attempts(st.failed_attempts() + 1);
      const v1::Unrecognized& u = stage->unrecognized();
      const bool exhausted = u.attempts() > 0 && st.failed_attempts() >= u.attempts();
      cause_ = v1::BOT_TRANSITION_CAUSE_UNRECOGNIZED;
      attempts_ = st.failed_attempts();
      if (exhausted) st.set_failed_attempts(0);
      o = RunList(at, "unrecognized", 0, false);
      if (exhausted && o == Outcome::kDone) o = Exhausted(at);
    }
    if (o == Outcome::kDone) StayInStage(at);
    if (out_.transitions.size() == recorded) Record(cause_, at, StageName(at), at);  // stayed in the stage
    return std::move(out_);
  }

 private:
  // The attempts ran out: the exhausted actions, then CLOSE when the stage says so.
  Outcome Exhausted(const std::string& at) {
    cause_ = v1::BOT_TRANSITION_CAUSE_ATTEMPTS_EXHAUSTED;
    Outcome o = RunList(at, "exhausted", 0, false);
    if (o != Outcome::kDone) return o;
    const v1::Stage* stage = FindStage(*sc_, at);
    if (stage == nullptr || !stage->unrecognized().close()) return o;
    v1::Action close;
    close.set_kind(v1::ACTION_KIND_CLOSE);
    Emit(close);
    Close(v1::BOT_TRANSITION_CAUSE_CLOSE);
    return Outcome::kLeft;
  }

  void OnTimer(int64_t seq) {
    v1::ScenarioState& st = out_.state;
    if (st.finished() || st.stage().empty()) return;
    if (seq != 0 && seq == st.resume_timer()) {
      st.set_resume_timer(0);
      const std::string stage = st.resume_stage();
      const std::string list = st.resume_list();
      ResumeCause(stage, list);
      Outcome o = RunList(stage, list, st.resume_index(), true);
      if (o == Outcome::kDone && list == "unrecognized" && st.failed_attempts() == 0) o = Exhausted(stage);
      if (o == Outcome::kDone) AfterList(stage, list);
      return;
    }
    if (st.reply_timer() != 0 && (seq == 0 || seq == st.reply_timer())) {
      st.set_reply_timer(0);
      const std::string stage = st.stage();
      cause_ = v1::BOT_TRANSITION_CAUSE_REPLY_TIMEOUT;
      const size_t recorded = out_.transitions.size();
      RunList(stage, "timeout", 0, false);  // staying in the stage afterwards: the wait happened once
      if (out_.transitions.size() == recorded) Record(cause_, stage, StageName(stage), stage);
      return;
    }
    // A stale timer (cancelled, superseded): nothing.
  }

  void StartScenario() {
    v1::ScenarioState& st = out_.state;
    sc_ = &Pick(*sc_, newest_);
    newest_ = nullptr;
    st.set_scenario_id(sc_->id());
    st.set_scenario_version(sc_->version());
    for (const v1::Stage& s : sc_->stages()) {
      if (s.first()) {
        Enter(s.code());
        return;
      }
    }
    Finish(false);  // no first stage: refused by validation; hand the dialog over rather than stall
  }

  void OutOfHoursNotice() {
    if (env_.in_working_hours) return;
    const std::string& text = env_.out_of_hours_text;
    if (text.empty()) return;
    v1::ScenarioState& st = out_.state;
    const google::protobuf::Timestamp until = ToProto(env_.next_working_time);
    if (st.has_out_of_hours_notice_until() && st.out_of_hours_notice_until().seconds() == until.seconds() &&
        st.out_of_hours_notice_until().nanos() == until.nanos()) {
      return;
    }
    *st.mutable_out_of_hours_notice_until() = until;
    v1::Action a;
    a.set_kind(v1::ACTION_KIND_SEND_TEXT);
    a.set_text(text);
    Emit(a);
    Record(v1::BOT_TRANSITION_CAUSE_OUT_OF_HOURS, st.stage(), StageName(st.stage()), st.stage());
  }

  // The index of the key `input` matches (a text key's matching value in `*value`), or -1.
  int MatchKey(const v1::Stage& stage, const v1::Input& input, std::string* value) const {
    v1::KeyKind want = v1::KEY_KIND_UNSPECIFIED;
    switch (input.kind()) {
      case v1::INPUT_KIND_TEXT:
      case v1::INPUT_KIND_CALLBACK:
        want = v1::KEY_KIND_TEXT;
        break;
      case v1::INPUT_KIND_CONTACT:
        want = v1::KEY_KIND_CONTACT;
        break;
      case v1::INPUT_KIND_START:
        want = v1::KEY_KIND_START;
        break;
      default:
        return -1;
    }
    const std::string text = NormalizeKey(input.text());
    for (int i = 0; i < stage.keys_size(); ++i) {
      const v1::KeyHandler& k = stage.keys(i);
      if (k.kind() != want) continue;
      if (want != v1::KEY_KIND_TEXT) return i;
      for (const std::string& v : k.values()) {
        if (NormalizeKey(v) == text) {
          *value = v;
          return i;
        }
      }
    }
    return -1;
  }

  // Runs list `name` of stage `code` from `index`; `resumed`: the action at `index` already waited.
  Outcome RunList(const std::string& code, const std::string& name, int index, bool resumed) {
    const v1::Stage* stage = FindStage(*sc_, code);
    if (stage == nullptr) return Outcome::kDone;
    const auto* list = ListOf(*stage, name);
    if (list == nullptr) return Outcome::kDone;
    v1::ScenarioState& st = out_.state;
    for (int i = index; i < list->size(); ++i) {
      const v1::Action& a = (*list)[i];
      if (a.pause_seconds() > 0 && !(resumed && i == index)) {
        if (st.resume_timer() != 0) {  // another paused list (the entry's, when the wait ran out): superseded
          out_.timers.push_back(
              {.op = TimerOp::Op::kCancel, .which = TimerOp::Which::kResume, .seq = st.resume_timer()});
        }
        const int64_t seq = st.timer_seq() + 1;
        st.set_timer_seq(seq);
        st.set_resume_timer(seq);
        st.set_resume_stage(code);
        st.set_resume_list(name);
        st.set_resume_index(i);
        out_.timers.push_back({.op = TimerOp::Op::kStart,
                               .which = TimerOp::Which::kResume,
                               .seq = seq,
                               .due = env_.now + absl::Seconds(a.pause_seconds())});
        return Outcome::kLeft;
      }
      Emit(a);
      switch (a.kind()) {
        case v1::ACTION_KIND_GO_TO_STAGE:
          Enter(a.stage());
          if (a.finish()) Finish(a.keep_status());  // «Завершить после действия»: after the stage's entry
          return Outcome::kLeft;
        case v1::ACTION_KIND_CLOSE:
          Close(v1::BOT_TRANSITION_CAUSE_CLOSE);
          return Outcome::kLeft;
        case v1::ACTION_KIND_MARK_SPAM:
          Close(v1::BOT_TRANSITION_CAUSE_SPAM);
          return Outcome::kLeft;
        case v1::ACTION_KIND_FINISH:
          Finish(a.keep_status(), /*emit=*/false);
          return Outcome::kLeft;
        default:
          break;
      }
      if (a.finish()) {
        Finish(a.keep_status());
        return Outcome::kLeft;
      }
    }
    return Outcome::kDone;
  }

  // After list `name` of stage `code` ran to its end.
  void AfterList(const std::string& code, const std::string& name) {
    if (name == "entry") {
      const v1::Stage* stage = FindStage(*sc_, code);
      if (stage != nullptr && !stage->wait_for_reply()) Finish(false);
      return;
    }
    if (name == "timeout") return;
    StayInStage(code);
  }

  void StayInStage(const std::string& code) {
    v1::ScenarioState& st = out_.state;
    if (st.finished() || st.stage() != code) return;
    const v1::Stage* stage = FindStage(*sc_, code);
    if (stage != nullptr && stage->wait_for_reply()) ArmReply(*stage);
  }

  void Enter(const std::string& code) {
    v1::ScenarioState& st = out_.state;
    if (++entries_ > kMaxStageEntriesPerStep) {
      out_.bounded = true;
      Finish(false);
      return;
    }
    const std::string from = st.stage();
    const std::string from_name = StageName(from);  // in the version the dialog leaves
    if (newest_ != nullptr && newest_->version() != sc_->version() && FindStage(*newest_, code) != nullptr) {
      sc_ = newest_;
      st.set_scenario_version(sc_->version());
    }
    const v1::Stage* stage = FindStage(*sc_, code);
    if (stage == nullptr) {
      Finish(false);
      return;
    }
    CancelTimers();
    Record(cause_, from, from_name, code);
    // The stage's own entry actions move on for themselves.
    cause_ = v1::BOT_TRANSITION_CAUSE_GO_TO_STAGE;
    key_kind_ = v1::KEY_KIND_UNSPECIFIED;
    input_.clear();
    attempts_ = 0;
    st.set_stage(code);
    st.set_failed_attempts(0);
    st.set_transitions(st.transitions() + 1);
    const bool wait = stage->wait_for_reply();
    Outcome o = RunList(code, "entry", 0, false);
    if (st.finished() || st.stage() != code) return;  // moved on, finished or closed
    if (wait) {
      ArmReply(*FindStage(*sc_, code));  // also while paused: the wait counts from the entry
    } else if (o == Outcome::kDone) {
      Finish(false);
    }
  }

  void ArmReply(const v1::Stage& stage) {
    v1::ScenarioState& st = out_.state;
    if (stage.reply_timeout().period_seconds() <= 0 || st.reply_timer() != 0) return;
    const int64_t seq = st.timer_seq() + 1;
    st.set_timer_seq(seq);
    st.set_reply_timer(seq);
    out_.timers.push_back({.op = TimerOp::Op::kStart,
                           .which = TimerOp::Which::kReply,
                           .seq = seq,
                           .due = env_.now + absl::Seconds(stage.reply_timeout().period_seconds())});
  }

  void CancelTimers() {
    v1::ScenarioState& st = out_.state;
    if (st.reply_timer() != 0) {
      out_.timers.push_back({.op = TimerOp::Op::kCancel, .which = TimerOp::Which::kReply, .seq = st.reply_timer()});
      st.set_reply_timer(0);
    }
    if (st.resume_timer() != 0) {
      out_.timers.push_back(
          {.op = TimerOp::Op::kCancel, .which = TimerOp::Which::kResume, .seq = st.resume_timer()});
      st.set_resume_timer(0);
    }
    st.clear_resume_stage();
    st.clear_resume_list();
    st.clear_resume_index();
  }

  void Finish(bool keep_status, bool emit = true) {
    v1::ScenarioState& st = out_.state;
    if (st.finished()) return;
    Record(v1::BOT_TRANSITION_CAUSE_FINISH, st.stage(), StageName(st.stage()), "");
    CancelTimers();
    st.set_finished(true);
    if (emit) {
      v1::Action a;
      a.set_kind(v1::ACTION_KIND_FINISH);
      a.set_keep_status(keep_status);
      Emit(a);
    }
  }

  // `cause`: CLOSE or SPAM.
  void Close(v1::BotTransitionCause cause) {
    v1::ScenarioState& st = out_.state;
    Record(cause, st.stage(), StageName(st.stage()), "");
    CancelTimers();
    st.set_finished(true);
    st.set_closed(true);
  }

  void Emit(const v1::Action& a) {
    v1::Action& out = out_.actions.emplace_back(a);
    if (a.kind() == v1::ACTION_KIND_DISTRIBUTE && !env_.in_working_hours) {
      *out.mutable_not_before() = ToProto(env_.next_working_time);
    }
  }

  // T9: the cause of a paused list's moves when it resumes.
  void ResumeCause(const std::string& code, const std::string& list) {
    if (list == "entry") {
      cause_ = v1::BOT_TRANSITION_CAUSE_GO_TO_STAGE;
    } else if (list == "unrecognized") {
      cause_ = v1::BOT_TRANSITION_CAUSE_UNRECOGNIZED;
    } else if (list == "exhausted") {
      cause_ = v1::BOT_TRANSITION_CAUSE_ATTEMPTS_EXHAUSTED;
    } else if (list == "timeout") {
      cause_ = v1::BOT_TRANSITION_CAUSE_REPLY_TIMEOUT;
    } else if (const v1::Stage* stage = FindStage(*sc_, code); stage != nullptr && KeyIndexOf(*stage, list) >= 0) {
      cause_ = v1::BOT_TRANSITION_CAUSE_KEY;
      key_kind_ = stage->keys(KeyIndexOf(*stage, list)).kind();
    }
  }

  std::string StageName(const std::string& code) const {
    const v1::Stage* stage = code.empty() ? nullptr : FindStage(*sc_, code);
    return stage != nullptr ? stage->name() : std::string();
  }

  // T9: appends the next BotTransition (numbered on from state.history_seq) with this input's context.
  void Record(v1::BotTransitionCause cause, const std::string& from, const std::string& from_name,
              const std::string& to) {
    v1::ScenarioState& st = out_.state;
    st.set_history_seq(st.history_seq() + 1);
    v1::BotTransition& t = out_.transitions.emplace_back();
    t.set_seq(st.history_seq());
    t.set_scenario_id(sc_->id());
    t.set_scenario_version(sc_->version());
    t.set_from_stage(from);
    t.set_from_stage_name(from_name);
    t.set_to_stage(to);
    t.set_to_stage_name(StageName(to));
    t.set_cause(cause);
    t.set_key_kind(key_kind_);
    t.set_input(input_);
    t.set_failed_attempts(attempts_);
    *t.mutable_time() = ToProto(env_.now);
  }

  const v1::Scenario* sc_;
  const v1::Scenario* newest_;
  StepEnv env_;
  StepResult out_;
  int entries_ = 0;
  // T9: what the running list runs for — the cause of the transitions it makes — and the input behind it.
  v1::BotTransitionCause cause_ = v1::BOT_TRANSITION_CAUSE_UNSPECIFIED;
  v1::KeyKind key_kind_ = v1::KEY_KIND_UNSPECIFIED;
  std::string input_;  // a text key's matching value, cut
  int attempts_ = 0;   // the unrecognised inputs counted with this one
};

// Appends the UTF-8 of code point `cp`.
void AppendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

std::string NormalizeKey(std::string_view text) {
  const absl::string_view t = absl::StripAsciiWhitespace(crm::AsAbsl(text));
  std::string out;
  out.reserve(t.size());
  size_t i = 0;
  while (i < t.size()) {
    const unsigned char c = static_cast<unsigned char>(t[i]);
    // Two-byte sequences cover Cyrillic (U+0400..U+04FF); everything else is copied as it is.
    if (c >= 0xC0 && c < 0xE0 && i + 1 < t.size()) {
      char32_t cp = ((c & 0x1F) << 6) | (static_cast<unsigned char>(t[i + 1]) & 0x3F);
      if (cp >= 0x0410 && cp <= 0x042F) cp += 0x20;       // А..Я → а..я
      else if (cp >= 0x0400 && cp <= 0x040F) cp += 0x50;  // Ѐ..Џ (Ё) → ѐ..џ (ё)
      AppendUtf8(out, cp);
      i += 2;
      continue;
    }
    out.push_back(static_cast<char>(absl::ascii_tolower(c)));
    ++i;
  }
  return out;
}

const v1::Stage* FindStage(const v1::Scenario& scenario, std::string_view code) {
  for (const v1::Stage& s : scenario.stages()) {
    if (s.code() == code) return &s;
  }
  return nullptr;
}

StepResult Step(const v1::Scenario& current, const v1::Scenario* newest, const v1::ScenarioState& state,
                const v1::Input& input, const StepEnv& env, int64_t timer_seq) {
  if (newest != nullptr && newest->version() == current.version()) newest = nullptr;
  Machine m(current, newest, state, env);
  return m.Run(input, timer_seq);
}

v1::DryRunScenarioResponse DryRun(const v1::Scenario& scenario, const std::vector<v1::Input>& inputs,
                                  absl::Time start, bool out_of_hours, std::string_view out_of_hours_text) {
  v1::DryRunScenarioResponse out;
  v1::ScenarioState state;
  absl::Time now = start;
  absl::Time reply_due = absl::InfiniteFuture();
  absl::Time resume_due = absl::InfiniteFuture();
  auto apply_timers = [&](const StepResult& r) {
    for (const TimerOp& t : r.timers) {
      absl::Time& due = t.which == TimerOp::Which::kReply ? reply_due : resume_due;
      due = t.op == TimerOp::Op::kStart ? t.due : absl::InfiniteFuture();
    }
  };
  for (const v1::Input& input : inputs) {
    v1::DryRunStep& step = *out.add_steps();
    *step.mutable_input() = input;
    step.set_stage_before(state.stage());
    if (input.kind() == v1::INPUT_KIND_TIMEOUT && state.reply_timer() != 0 && reply_due != absl::InfiniteFuture()) {
      now = std::max(now, reply_due);
    }
    StepEnv env{.now = now, .in_working_hours = !out_of_hours, .next_working_time = start + absl::Hours(24),
                .out_of_hours_text = std::string(out_of_hours_text)};
    StepResult r = Step(scenario, nullptr, state, input, env, 0);
    apply_timers(r);
    for (v1::Action& a : r.actions) *step.add_actions() = std::move(a);
    for (v1::BotTransition& t : r.transitions) *step.add_transitions() = std::move(t);
    state = std::move(r.state);
    // Paused actions: resumed at their due, right after the input that paused them.
    for (int guard = 0; state.resume_timer() != 0 && guard < 1000; ++guard) {
      now = std::max(now, resume_due);
      env.now = now;
      v1::Input timer;
      timer.set_kind(v1::INPUT_KIND_TIMEOUT);
      StepResult next = Step(scenario, nullptr, state, timer, env, state.resume_timer());
      apply_timers(next);
      for (v1::Action& a : next.actions) *step.add_actions() = std::move(a);
      for (v1::BotTransition& t : next.transitions) *step.add_transitions() = std::move(t);
      state = std::move(next.state);
    }
    step.set_stage_after(state.stage());
    step.set_finished(state.finished());
    step.set_closed(state.closed());
  }
  *out.mutable_state() = state;
  return out;
}

}  // namespace crm::dialogs::scenarios
