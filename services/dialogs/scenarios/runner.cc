// File: services/dialogs/scenarios/runner.cc
#include "services/dialogs/scenarios/runner.h"

#include <pqxx/pqxx>
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/calendar/calendar.h"
#include "libs/pg/prepared.h"
#include "libs/pg/statement_recorder.h"
#include "libs/timers/timers.h"
#include "services/dialogs/scenarios/engine.h"
#include "services/dialogs/scenarios/spam.h"
#include "services/dialogs/scenarios/sql.h"
#include "services/dialogs/scenarios/store.h"

namespace crm::dialogs::scenarios {
namespace {

using sql::kLockState;
using sql::kReadState;
using sql::kUpsertState;

constexpr char kCausePrefix[] = "BOT_TRANSITION_CAUSE_";
constexpr char kKeyKindPrefix[] = "KEY_KIND_";

// T9: enum values as scenario_transitions keeps them (the name without its prefix; '' = unspecified).
template <typename Enum>
std::string ShortName(const std::string& full, std::string_view prefix, Enum value) {
  if (value == Enum{}) return "";
  return full.substr(prefix.size());
}

absl::Status RecordTransitions(pqxx::transaction_base& tx, const std::string& dialog_id,
                               const std::vector<v1::BotTransition>& transitions) {
  for (const v1::BotTransition& t : transitions) {
    crm::pg::ExecPrepared(tx, sql::kInsertTransition, dialog_id, t.seq(), t.scenario_id(), t.scenario_version(),
                          t.from_stage(), t.from_stage_name(), t.to_stage(), t.to_stage_name(),
                          ShortName(v1::BotTransitionCause_Name(t.cause()), kCausePrefix, t.cause()),
                          ShortName(v1::KeyKind_Name(t.key_kind()), kKeyKindPrefix, t.key_kind()), t.input(),
                          t.failed_attempts(), FormatRfc3339Utc(FromProtoTimestamp(t.time())));
  }
  return absl::OkStatus();
}

std::string TimerKey(std::string_view dialog_id, int64_t seq) {
  return absl::StrCat(kTimerKind, ":", AsAbsl(dialog_id), ":", seq);
}

absl::StatusOr<v1::ScenarioState> ParseState(const pqxx::field& f) {
  pqxx::binarystring b(f);
  v1::ScenarioState s;
  if (!s.ParseFromString(std::string(b.str()))) return absl::DataLossError("a stored scenario state does not parse");
  return s;
}

// request_contact works in private chats only (Telegram): elsewhere the phone is typed.
void ForGroupChat(v1::Action& a) {
  if (a.kind() == v1::ACTION_KIND_REQUEST_PHONE) {
    a.set_kind(v1::ACTION_KIND_SEND_TEXT);
    a.clear_button_text();
  }
  for (v1::ButtonRow& row : *a.mutable_menu()->mutable_rows()) {
    for (v1::Button& b : *row.mutable_buttons()) b.set_request_contact(false);
  }
}

}  // namespace

ScenarioRunner::ScenarioRunner(const Clock& clock, const crm::calendar::WorkingCalendar& company)
    : clock_(clock), company_(company) {}

void ScenarioRunner::SetSink(ActionSink sink) {
  absl::MutexLock lock(&mu_);
  sink_ = std::move(sink);
}

void ScenarioRunner::SetBotHours(BotHoursProvider provider) {
  absl::MutexLock lock(&mu_);
  bot_hours_ = std::move(provider);
}

absl::StatusOr<BotHours> ScenarioRunner::HoursOf(pqxx::transaction_base& tx, std::string_view bot_id) const {
  BotHoursProvider provider;
  {
    absl::MutexLock lock(&mu_);
    provider = bot_hours_;
  }
  if (!provider) return BotHours();
  return provider(tx, bot_id);
}

absl::StatusOr<std::vector<v1::Action>> ScenarioRunner::OnInput(pqxx::transaction_base& tx, const DialogRef& dialog,
                                                                const v1::Input& input) {
  if (dialog.dialog_id.empty()) return InvalidFieldError("dialog_id", "is required");
  if (input.kind() == v1::INPUT_KIND_TIMEOUT) return InvalidFieldError("input.kind", "timeouts come from timers");
  return Run(tx, dialog, input, 0, false);
}

absl::StatusOr<std::vector<v1::Action>> ScenarioRunner::Run(pqxx::transaction_base& tx, const DialogRef& given,
                                                            const v1::Input& input, int64_t timer_seq,
                                                            bool from_timer) {
  DialogRef dialog = given;
  crm::pg::RecordStatement(kLockState, {dialog.dialog_id});
  pqxx::result row = crm::pg::ExecPrepared(tx, kLockState, dialog.dialog_id);
  v1::ScenarioState state;
  std::optional<v1::Scenario> current;
  std::optional<v1::Scenario> newest;
  if (row.empty()) {
    if (from_timer) return std::vector<v1::Action>();
    CRM_ASSIGN_OR_RETURN(current, ScenarioStore::LoadActive(tx, dialog.bot_id));
    if (!current) return std::vector<v1::Action>();
  } else {
    CRM_ASSIGN_OR_RETURN(state, ParseState(row[0][0]));
    dialog.bot_id = row[0][1].as<std::string>();
    dialog.client_key = row[0][2].as<std::string>();
    dialog.private_chat = row[0][3].as<bool>();
    CRM_ASSIGN_OR_RETURN(current, ScenarioStore::LoadVersion(tx, state.scenario_id(), state.scenario_version()));
    CRM_ASSIGN_OR_RETURN(newest, ScenarioStore::LoadVersion(tx, state.scenario_id(), 0));
  }
  if (!from_timer && !dialog.client_key.empty()) {
    CRM_ASSIGN_OR_RETURN(bool spam, IsSpam(tx, dialog.bot_id, dialog.client_key));
    if (spam) return std::vector<v1::Action>();
  }
  const absl::Time now = clock_.Now();
  StepEnv env{.now = now};
  CRM_ASSIGN_OR_RETURN(BotHours hours, HoursOf(tx, dialog.bot_id));
  env.in_working_hours = InWorkingHours(hours.working_hours, company_, now, &env.next_working_time);
  env.out_of_hours_text = std::move(hours.out_of_hours_text);
  StepResult r = Step(*current, newest ? &*newest : nullptr, state, input, env, timer_seq);
  for (const TimerOp& t : r.timers) {
    const std::string key = TimerKey(dialog.dialog_id, t.seq);
    if (t.op == TimerOp::Op::kStart) {
      CRM_RETURN_IF_ERROR(crm::timers::TimerStore::Schedule(tx, key, kTimerKind, t.due,
                                                            absl::StrCat(dialog.dialog_id, "\n", t.seq))
                              .status());
    } else {
      CRM_RETURN_IF_ERROR(crm::timers::TimerStore::Cancel(tx, key).status());
    }
  }
  const std::string at = FormatRfc3339Utc(now);
  for (v1::Action& a : r.actions) {
    if (!dialog.private_chat) ForGroupChat(a);
    if (a.kind() == v1::ACTION_KIND_MARK_SPAM && !dialog.client_key.empty()) {
      CRM_RETURN_IF_ERROR(SpamList::Add(tx, dialog.bot_id, dialog.client_key, dialog.dialog_id, now));
    }
  }
  CRM_RETURN_IF_ERROR(RecordTransitions(tx, dialog.dialog_id, r.transitions));  // T9, with the state
  const std::string body = r.state.SerializeAsString();
  crm::pg::ExecPrepared(tx, kUpsertState, dialog.dialog_id, dialog.bot_id, dialog.client_key, dialog.private_chat,
                        r.state.scenario_id(), r.state.scenario_version(), r.state.stage(), r.state.finished(),
                        pqxx::binarystring(body.data(), body.size()), at);
  if (from_timer && !r.actions.empty()) {
    ActionSink sink;
    {
      absl::MutexLock lock(&mu_);
      sink = sink_;
    }
    if (!sink) return absl::FailedPreconditionError("no action sink registered for scenario timers (the inbox sets it)");
    CRM_RETURN_IF_ERROR(sink(tx, dialog, r.actions));
  }
  return std::move(r.actions);
}

absl::Status ScenarioRunner::OnTimer(pqxx::transaction_base& tx, const crm::timers::Timer& timer) {
  std::vector<std::string> parts = absl::StrSplit(timer.payload, '\n');
  int64_t seq = 0;
  if (parts.size() != 2 || parts[0].empty() || !absl::SimpleAtoi(parts[1], &seq) || seq <= 0) {
    return absl::DataLossError(absl::StrCat("a ", kTimerKind, " timer with a bad payload: ", timer.key));
  }
  v1::Input input;
  input.set_kind(v1::INPUT_KIND_TIMEOUT);
  return Run(tx, {.dialog_id = parts[0]}, input, seq, true).status();
}

absl::StatusOr<std::optional<v1::ScenarioState>> ScenarioRunner::State(pqxx::transaction_base& tx,
                                                                      std::string_view dialog_id) {
  crm::pg::RecordStatement(kReadState, {std::string(dialog_id)});
  pqxx::result r = crm::pg::ExecPrepared(tx, kReadState, std::string(dialog_id));
  if (r.empty()) return std::optional<v1::ScenarioState>();
  CRM_ASSIGN_OR_RETURN(v1::ScenarioState s, ParseState(r[0][0]));
  return std::optional<v1::ScenarioState>(std::move(s));
}

absl::StatusOr<std::vector<v1::BotTransition>> ScenarioRunner::Transitions(pqxx::transaction_base& tx,
                                                                         std::string_view dialog_id,
                                                                         int64_t after_seq, int limit) {
  std::vector<v1::BotTransition> out;
  crm::pg::RecordStatement(sql::kTransitionsOfDialog, {std::string(dialog_id), std::to_string(after_seq),
                                                       std::to_string(limit)});
  for (const auto& r : crm::pg::ExecPrepared(tx, sql::kTransitionsOfDialog, std::string(dialog_id), after_seq, limit)) {
    v1::BotTransition& t = out.emplace_back();
    t.set_seq(r[0].as<int64_t>());
    t.set_scenario_id(r[1].c_str());
    t.set_scenario_version(r[2].as<int64_t>());
    t.set_from_stage(r[3].c_str());
    t.set_from_stage_name(r[4].c_str());
    t.set_to_stage(r[5].c_str());
    t.set_to_stage_name(r[6].c_str());
    v1::BotTransitionCause cause = v1::BOT_TRANSITION_CAUSE_UNSPECIFIED;
    if (!v1::BotTransitionCause_Parse(absl::StrCat(kCausePrefix, r[7].c_str()), &cause)) {
      return absl::DataLossError(absl::StrCat("a stored transition cause is unknown: ", r[7].c_str()));
    }
    t.set_cause(cause);
    v1::KeyKind kind = v1::KEY_KIND_UNSPECIFIED;
    if (*r[8].c_str() != '\0' && !v1::KeyKind_Parse(absl::StrCat(kKeyKindPrefix, r[8].c_str()), &kind)) {
      return absl::DataLossError(absl::StrCat("a stored transition key kind is unknown: ", r[8].c_str()));
    }
    t.set_key_kind(kind);
    t.set_input(r[9].c_str());
    t.set_failed_attempts(r[10].as<int>());
    *t.mutable_time() = ToProtoTimestamp(absl::FromUnixMicros(r[11].as<int64_t>()));
  }
  return out;
}

absl::StatusOr<bool> ScenarioRunner::IsSpam(pqxx::transaction_base& tx, std::string_view bot_id,
                                            std::string_view client_key) {
  return SpamList::Contains(tx, bot_id, client_key);
}

}  // namespace crm::dialogs::scenarios
