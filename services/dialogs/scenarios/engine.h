// File: services/dialogs/scenarios/engine.h
// -----------------------------------------------------------------------------
// The chat-bot scenario engine (T3, T4), PURE: no I/O, no clock, no randomness. One input of a dialog
// (a text, a callback, a shared contact, /start, a timer) and where the dialog is in its scenario give the
// actions to apply, the next state and the timers to start or cancel. The runner (runner.h) persists the
// state and the timers; the dry run (DryRun below) loops it in memory.
//
// Rules (services/dialogs/README.md "Scenarios" decides and explains them):
//   - An unstarted dialog enters the first stage on any client input (not on a timer).
//   - Entering a stage resets the failed attempts, cancels pending timers and runs the entry actions; a
//     stage that does not wait for a reply ends the bot's part (FINISH) once they ran; one that waits
//     arms its waiting-for-reply timer (period_seconds > 0).
//   - A client input cancels the pending timers (it is the reply; paused actions are superseded), then:
//     a matching key runs its actions; else the failed attempts count up, and on reaching `attempts`
//     the exhausted actions run (then CLOSE when `close`), otherwise the unrecognised actions run.
//     Staying in the stage re-arms the waiting timer. /start without a START key restarts the scenario.
//   - A list runs in order; an action with pause_seconds > 0 stops the list and starts a "resume" timer;
//     when it fires the list goes on from that action (a newer paused list supersedes an older one).
//     GO_TO_STAGE, CLOSE, MARK_SPAM, FINISH and an
//     action with `finish` end the list (validation refuses actions after them).
//   - A finished dialog (the operators') only gets the out-of-hours notice; a closed one gets nothing.
//   - Out of hours (T4): the first client input of a non-working period gets the out-of-hours text; the
//     scenario runs on, and DISTRIBUTE carries not_before = the next working period's start.
//   - Versions: a dialog runs the version it entered its stage with; entering a stage moves it to the
//     newest version when that version has the stage.
//   - At most kMaxStageEntriesPerStep stage entries per step (validation refuses go-to cycles without
//     input; this bounds anything else): past it the bot's part ends (FINISH) and `bounded` is set.
//   - T9, the bot's history: each step names what it did as BotTransitions (scenarios.proto), numbered on
//     from state.history_seq — an entry per stage entered (cause START, KEY, UNRECOGNIZED,
//     ATTEMPTS_EXHAUSTED, REPLY_TIMEOUT for what ran the list, GO_TO_STAGE for a stage's own entry actions,
//     or a resumed paused list's cause) and per leaving (FINISH, CLOSE, SPAM: to_stage ""); an input or a
//     waiting timeout that left the dialog in its stage gives one entry from = to; the out-of-hours notice
//     gives OUT_OF_HOURS (from = to). A resumed paused list that did not move gives none, a stale timer none.
//
// Example:
//   StepResult r = Step(version, &newest, state, input, {.now = now, .in_working_hours = true});
//   for (const v1::Action& a : r.actions) Apply(a);       // in order
//   for (const TimerOp& t : r.timers) Schedule(t);        // start / cancel, keyed by t.seq
//   Save(r.state);
#ifndef CRM_SERVICES_DIALOGS_SCENARIOS_ENGINE_H_
#define CRM_SERVICES_DIALOGS_SCENARIOS_ENGINE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "crm/dialogs/v1/scenarios.pb.h"

namespace crm::dialogs::scenarios {

namespace v1 = ::crm::dialogs::v1;

inline constexpr int kMaxStageEntriesPerStep = 16;
// T9: a key's value kept in a BotTransition is cut to this many bytes (at a character boundary).
inline constexpr size_t kMaxTransitionInputBytes = 64;

// "Now" as the engine sees it.
struct StepEnv {
  absl::Time now = absl::UnixEpoch();
  bool in_working_hours = true;
  // Outside working hours: the start of the next working period (the out-of-hours notice is sent once
  // per period, DISTRIBUTE waits for it).
  absl::Time next_working_time = absl::InfinitePast();
  // The bot's out-of-hours text (hours.h: the bot owns it); "" = no notice.
  std::string out_of_hours_text;
};

// A timer to start or cancel. Timers are numbered per dialog (state.timer_seq); the runner keys them
// "dialogs.scenario:<dialog>:<seq>".
struct TimerOp {
  enum class Op { kStart, kCancel };
  enum class Which { kReply, kResume };
  Op op = Op::kStart;
  Which which = Which::kReply;
  int64_t seq = 0;
  absl::Time due;  // kStart
};

struct StepResult {
  std::vector<v1::Action> actions;
  v1::ScenarioState state;
  std::vector<TimerOp> timers;
  std::vector<v1::BotTransition> transitions;  // T9: in order, seq and time (env.now) set
  bool bounded = false;  // kMaxStageEntriesPerStep was reached
};

// One step. `current` is the version state.scenario_version names (for an unstarted dialog: the one to
// start with); `newest` the scenario's newest version (nullptr = current). `timer_seq` is the number of
// the timer that fired for INPUT_KIND_TIMEOUT (0 = "the waiting-for-reply timer", as the dry run says
// it); a stale number (cancelled or superseded) changes nothing.
StepResult Step(const v1::Scenario& current, const v1::Scenario* newest, const v1::ScenarioState& state,
                const v1::Input& input, const StepEnv& env, int64_t timer_seq = 0);

// A key's text as keys compare it: trimmed, lower-cased (ASCII and Cyrillic).
std::string NormalizeKey(std::string_view text);

// The stage with `code`, or nullptr.
const v1::Stage* FindStage(const v1::Scenario& scenario, std::string_view code);

// The dry run: each input stepped in order at `start` (+ the waits: a TIMEOUT input moves time to the
// waiting timer's due; paused actions are resumed at their due right after the input that paused them).
// `out_of_hours`: every input comes outside the bot's hours, which get `out_of_hours_text`.
v1::DryRunScenarioResponse DryRun(const v1::Scenario& scenario, const std::vector<v1::Input>& inputs,
                                  absl::Time start, bool out_of_hours, std::string_view out_of_hours_text);

}  // namespace crm::dialogs::scenarios

#endif  // CRM_SERVICES_DIALOGS_SCENARIOS_ENGINE_H_
