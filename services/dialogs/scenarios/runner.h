// File: services/dialogs/scenarios/runner.h
// -----------------------------------------------------------------------------
// The scenario runtime the inbox calls (T3, T4): one input of a dialog, inside the inbox's own
// transaction, gives the actions the inbox applies (send, set topic/project, distribute, close, spam,
// finish). The runner keeps where each dialog is in its scenario (table scenario_states, keyed by dialog
// id), steps the pure engine (engine.h) and schedules or cancels its durable timers (libs/timers, kind
// "dialogs.scenario") in the SAME transaction: the dialog's messages, its scenario state and its timers
// commit together or not at all.
//
// Contract:
//   - OnInput(tx, dialog, input): locks the dialog's state row (FOR UPDATE; a dialog's inputs are stepped
//     one at a time), starts the bot's active scenario for a dialog without state (no active scenario:
//     no actions — the inbox routes the dialog itself), steps, persists, returns the actions in order.
//     A client on the bot's spam list gets no actions (the inbox should not open a dialog for them:
//     IsSpam). Throws nothing; errors are statuses, and the caller rolls back.
//   - MARK_SPAM puts (bot, client) on the spam list in the same transaction.
//   - T9: every BotTransition the step makes (engine.h: stage entered or left, with its cause) is appended
//     to the dialog's history (scenario_transitions) in the same transaction as the state: a rolled-back
//     step leaves no entry. Transitions(...) reads the history back a page at a time.
//   - Outside a private chat request_contact cannot work (Telegram): REQUEST_PHONE becomes SEND_TEXT with
//     its text, and request_contact is cleared on menu buttons.
//   - Out of hours (T4): the BOT's week schedule and out-of-hours text (services/dialogs/hours.h), read
//     in the same transaction through the provider set at wiring (SetBotHours: telegram's
//     BotStore::Hours), in the company's zone with the company's holidays (libs/calendar). No provider,
//     an unknown bot or no schedule = always working.
//   - Timers: "dialogs.scenario:<dialog>:<seq>" (single-use keys), payload "<dialog>\n<seq>". The timer
//     loop's handler (OnTimer, registered by WireScenarios) steps the dialog with a TIMEOUT input inside the
//     firing transaction and hands the actions to the ActionSink the inbox registered (SetSink), in that
//     same transaction. A stale timer (the client answered meanwhile) changes nothing. No sink yet:
//     FAILED_PRECONDITION, and the timer is retried later (libs/timers' backoff).
//
// Example (the inbox, in the chat's transaction):
//   CRM_ASSIGN_OR_RETURN(std::vector<v1::Action> actions,
//       runner.OnInput(tx, {.dialog_id = d.id, .bot_id = bot, .client_key = from_id, .private_chat = true},
//                      input));
//   for (const v1::Action& a : actions) CRM_RETURN_IF_ERROR(Apply(tx, d, a));
//   // and once, at wiring: runner.SetBotHours(&telegram::BotStore::Hours); runner.SetSink([&](pqxx::transaction_base& tx, const DialogRef& d,
//   //                                          const std::vector<v1::Action>& actions) { ... });
#ifndef CRM_SERVICES_DIALOGS_SCENARIOS_RUNNER_H_
#define CRM_SERVICES_DIALOGS_SCENARIOS_RUNNER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crm/dialogs/v1/scenarios.pb.h"
#include "services/dialogs/hours.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm {
class Clock;
}  // namespace crm
namespace crm::calendar {
class WorkingCalendar;
}  // namespace crm::calendar
namespace crm::timers {
struct Timer;
}  // namespace crm::timers

namespace crm::dialogs::scenarios {

namespace v1 = ::crm::dialogs::v1;

inline constexpr char kTimerKind[] = "dialogs.scenario";

// The dialog an input belongs to, as the inbox knows it.
struct DialogRef {
  std::string dialog_id;
  std::string bot_id;
  std::string client_key;  // the client's Telegram user id (the spam list's key)
  bool private_chat = true;
};

// Where timer-driven actions go: the inbox applies them in the firing transaction.
using ActionSink = std::function<absl::Status(pqxx::transaction_base&, const DialogRef&,
                                              const std::vector<v1::Action>&)>;

class ScenarioRunner {
 public:
  // `clock` and `company` (the company's zone and holidays) must outlive the runner.
  ScenarioRunner(const Clock& clock, const crm::calendar::WorkingCalendar& company);

  absl::StatusOr<std::vector<v1::Action>> OnInput(pqxx::transaction_base& tx, const DialogRef& dialog,
                                                  const v1::Input& input);

  // The handler of timer kind kTimerKind.
  absl::Status OnTimer(pqxx::transaction_base& tx, const crm::timers::Timer& timer);

  // Registers where timer-driven actions go (once, before the timer loops run; a second call replaces).
  void SetSink(ActionSink sink);

  // The dialog's state, nullopt when the scenario has not started for it.
  static absl::StatusOr<std::optional<v1::ScenarioState>> State(pqxx::transaction_base& tx,
                                                               std::string_view dialog_id);
  // T9: the dialog's transitions with seq > `after_seq`, oldest first, at most `limit` (index-backed: the
  // primary key (dialog_id, seq)).
  static absl::StatusOr<std::vector<v1::BotTransition>> Transitions(pqxx::transaction_base& tx,
                                                                    std::string_view dialog_id, int64_t after_seq,
                                                                    int limit);
  // Whether `client_key` is on `bot_id`'s spam list.
  static absl::StatusOr<bool> IsSpam(pqxx::transaction_base& tx, std::string_view bot_id,
                                     std::string_view client_key);

  // Where the bot's working hours and out-of-hours text come from (once, at wiring; a second call replaces).
  void SetBotHours(BotHoursProvider provider);
  // The bot's hours through that provider (none set: empty, always working).
  absl::StatusOr<BotHours> HoursOf(pqxx::transaction_base& tx, std::string_view bot_id) const;

 private:
  absl::StatusOr<std::vector<v1::Action>> Run(pqxx::transaction_base& tx, const DialogRef& dialog,
                                              const v1::Input& input, int64_t timer_seq, bool from_timer);

  const Clock& clock_;
  const crm::calendar::WorkingCalendar& company_;
  mutable absl::Mutex mu_;
  ActionSink sink_ ABSL_GUARDED_BY(mu_);
  BotHoursProvider bot_hours_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crm::dialogs::scenarios

#endif  // CRM_SERVICES_DIALOGS_SCENARIOS_RUNNER_H_
