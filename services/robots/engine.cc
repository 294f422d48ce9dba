#include "services/robots/engine.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "crm/robots/v1/events.pb.h"
#include "libs/base/clock.h"
#include "libs/base/money.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/calendar/calendar.h"
#include "libs/events/consumer.h"
#include "libs/events/outbox.h"
#include "libs/log/log.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/pg/sql_time.h"
#include "libs/mail/mail.h"
#include "libs/rpc/call.h"
#include "libs/rpc/client.h"
#include "proto/crm/common/v1/common.pb.h"
#include "services/robots/actions.h"
#include "services/robots/digest.h"
#include "services/robots/lists.h"
#include "services/robots/notify.h"
#include "services/robots/rule_store.h"
#include "services/robots/rules.h"
#include "libs/timers/timers.h"
#include "services/robots/triggers.h"

namespace crm::robots {
namespace {

namespace dv1 = ::crm::deals::v1;
using crm::mail::MailMessage;
using crm::common::v1::Principal;
using v1::Action;
using v1::Execution;
using v1::Rule;
using v1::Trigger;

constexpr char kDealTopic[] = "crm.deals.deal.v1";
constexpr char kTaskTopic[] = "crm.deals.task.v1";
constexpr const char* kCallTopic = crm::telephony::v1::kCallTopic;
constexpr const char* kDialogTopic = crm::dialogs::v1::kDialogTopic;

// R4: one row per touch (triggers.h), so a redelivered call or task counts once.
constexpr char kInsertTouchSql[] =
    "INSERT INTO deal_touches (deal_id, touch_key, kind, touch_time) VALUES ($1, $2, $3, ";

constexpr char kPending[] = "PENDING";
constexpr char kDone[] = "DONE";
constexpr char kFailed[] = "FAILED";
constexpr char kRetrying[] = "RETRYING";
constexpr char kPlanned[] = "PLANNED";

// A bigint of Unix microseconds as timestamptz.
std::string TimeOf(int n) { return pg::TimeOfMicros(n); }

std::string Bytes(const pqxx::field& f) {
  pqxx::binarystring b(f);
  return b.str();
}

// What robots know of one deal besides the deal itself.
struct StoredFacts {
  std::optional<dv1::Deal> deal;
  std::optional<absl::Time> last_comment;
  int64_t touches = 0;
};

absl::StatusOr<StoredFacts> LoadStoredFacts(pqxx::transaction_base& tx, const std::string& deal_id) {
  StoredFacts out;
  pqxx::result r = pg::ExecPrepared(tx,
      "SELECT deal, (extract(epoch FROM last_comment_time) * 1000000)::bigint, touches FROM deal_facts "
      "WHERE deal_id = $1",
      deal_id);
  if (r.empty()) return out;
  if (!r[0][0].is_null()) {
    dv1::Deal d;
    if (!d.ParseFromString(Bytes(r[0][0]))) return absl::DataLossError("a stored deal does not parse");
    out.deal = std::move(d);
  }
  if (!r[0][1].is_null()) out.last_comment = absl::FromUnixMicros(r[0][1].as<int64_t>());
  out.touches = r[0][2].as<int64_t>();
  return out;
}

// Counters a predicate "counter.<name>" reads: the responsible's, then the deal's own (which win).
absl::Status LoadCounters(pqxx::transaction_base& tx, const std::string& deal_id, const std::string& responsible_id,
                          std::map<std::string, int64_t, std::less<>>& out) {
  pqxx::result r = pg::ExecPrepared(tx,
      "SELECT name, value FROM counters WHERE scope = $1 UNION ALL SELECT name, value FROM counters WHERE scope = $2",
      absl::StrCat("user:", responsible_id), absl::StrCat("deal:", deal_id));
  for (const auto& row : r) out[row[0].as<std::string>()] = row[1].as<int64_t>();
  return absl::OkStatus();
}

Facts MakeFacts(const dv1::Deal* deal, const StoredFacts& stored, absl::Time now, const absl::TimeZone& zone) {
  Facts f;
  f.deal = deal;
  f.now = now;
  f.zone = zone;
  if (deal != nullptr) {
    f.has_open_task = deal->has_next_task_time();
    const absl::Time stage_enter =
        deal->has_stage_enter_time() ? FromProtoTimestamp(deal->stage_enter_time()) : absl::InfinitePast();
    // One definition of "a comment in the stage" (issue 16): deals' Deal.comment_since_stage_entry — a
    // comment at or after the deal entered its stage, or sent with the move. A comment robots saw after
    // the snapshot of `deal` (its timeline event) counts by the same rule.
    std::optional<absl::Time> last = stored.last_comment;
    if (deal->has_last_comment_time()) {
      const absl::Time in_deal = FromProtoTimestamp(deal->last_comment_time());
      last = last.has_value() ? std::max(*last, in_deal) : in_deal;
    }
    f.has_comment_since_stage = deal->comment_since_stage_entry() || (last.has_value() && *last >= stage_enter);
  }
  f.counters["touches"] = stored.touches;
  return f;
}

// deals' answer to a repeated idempotency key with another request (libs/pg/idempotency.h).
bool UsedKey(const absl::Status& s) {
  if (s.code() != absl::StatusCode::kInvalidArgument) return false;
  for (const FieldViolation& v : FieldViolations(s)) {
    if (v.field == "idempotency-key" && v.description.find("different request") != std::string::npos) return true;
  }
  return false;
}

int MaxDepth(const Rule& r, int default_depth) { return r.has_max_depth() ? r.max_depth() : default_depth; }

bool IsDigestAction(const Action& a) {
  return a.action_case() == Action::kNotify || a.action_case() == Action::kStartReport;
}

std::string ActionName(const Action& a) {
  const auto* field = Action::descriptor()->FindFieldByNumber(a.action_case());
  return field == nullptr ? "none" : field->name();
}

// The value of a date / datetime custom field as an instant (a date at 00:00 in `zone`); nullopt if unset.
std::optional<absl::Time> DateFieldValue(const dv1::Deal& deal, std::string_view field, const absl::TimeZone& zone) {
  constexpr std::string_view kCustom = "custom.";
  if (field.substr(0, kCustom.size()) != kCustom) return std::nullopt;
  const std::string_view code = field.substr(kCustom.size());
  for (const auto& f : deal.fields()) {
    if (f.code() != code) continue;
    if (f.has_time()) return FromProtoTimestamp(f.time());
    if (f.has_text()) {
      absl::CivilDay day;
      if (absl::ParseCivilTime(AsAbsl(f.text()), &day)) return absl::FromCivil(day, zone);
    }
  }
  return std::nullopt;
}

// The user a person spec of a task ("responsible", "supervisor", "role:<code>", "user:<id>") names for
// `deal`: the first one robots' copy of identity's users gives; "" for an empty spec or nobody found.
absl::StatusOr<std::string> PersonOf(pqxx::transaction_base& tx, std::string_view spec, const dv1::Deal& deal) {
  if (spec.empty()) return std::string();
  if (spec == "responsible") return deal.responsible_id();
  if (spec.substr(0, 5) == "user:") return std::string(spec.substr(5));
  CRM_ASSIGN_OR_RETURN(std::vector<Recipient> people,
                       ResolveRecipients(tx, {std::string(spec)}, deal.responsible_id()));
  return people.empty() ? std::string() : people.front().user_id;
}

// An execution decided while handling an event, written with the event's others in one statement.
struct Pending {
  Execution exec;
  std::string trigger_key;
  bool coalescing = false;
  bool cancellable = false;       // its rule's delay has a cancel_when
  std::optional<absl::Time> due;  // set for WAITING
  bool inserted = false;          // set by InsertAll: false when its key had an execution already
};

}  // namespace

// ---------------------------------------------------------------------------------------------------

class Engine::Impl {
 public:
  Impl(pg::Pool& pool, const Clock& clock, RuleStore& rules, DealsClient& deals, Mailer* mailer,
       const events::OutboxWriter& outbox, EngineOptions options)
      : pool_(pool), clock_(clock), rules_(rules), deals_(deals), mailer_(mailer), outbox_(outbox),
        options_(std::move(options)), digests_(options_.digest_window) {}

  absl::Status OnEvent(pqxx::transaction_base& tx, const events::ConsumedEvent& consumed);
  // What one event says about one deal.
  absl::Status OnDealEvent(pqxx::transaction_base& tx, const events::v1::Envelope& env, DealEvent& e);
  absl::Status OnTimer(pqxx::transaction_base& tx, const timers::Timer& timer);
  absl::StatusOr<Execution> DryRun(const Principal& caller, const v1::DryRunRequest& req);
  absl::StatusOr<v1::ListExecutionsResponse> List(const Principal& caller, const v1::ListExecutionsRequest& req);

  std::function<void()> wake_;
  std::atomic<bool> due_now_{false};

 private:
  const absl::TimeZone& zone() const { return options_.calendar->zone(); }

  absl::Status UpdateFacts(pqxx::transaction_base& tx, const DealEvent& e, absl::Time when);
  // Sends what a digest timer's recipient and channel had held (digest.h), as one message.
  absl::Status SendDigest(pqxx::transaction_base& tx, const timers::Timer& timer);
  absl::Status CancelMoot(pqxx::transaction_base& tx, const std::string& deal_id, const Facts& facts);
  absl::Status ArmDates(pqxx::transaction_base& tx, const RuleIndex& index, const dv1::Deal& deal);
  // Decides what `rule` does about the event: an execution added to `out` (written by InsertAll).
  absl::Status Start(pqxx::transaction_base& tx, const Rule& rule, const DealEvent& e, const Facts& facts,
                     const events::v1::Envelope& env, std::vector<Pending>& out);
  // Inserts every execution of `batch` not there yet (one statement) and the step timers of the WAITING
  // ones (one more).
  absl::Status InsertAll(pqxx::transaction_base& tx, std::vector<Pending>& batch);
  // InsertAll of one execution; `exec` gets its id and times. Returns whether it was inserted.
  absl::StatusOr<bool> Insert(pqxx::transaction_base& tx, Execution& exec, const std::string& trigger_key,
                              bool coalescing, std::optional<absl::Time> due);
  absl::Status Save(pqxx::transaction_base& tx, const Execution& exec, const std::string& timer_key);
  absl::Status Finish(pqxx::transaction_base& tx, Execution& exec, Execution::State state);
  // Runs (or resumes) an execution's step; `attempt` is 1 for its first run, n + 1 for its n-th retry.
  absl::Status RunStep(pqxx::transaction_base& tx, const std::string& execution_id, int attempt);
  absl::Status RunDate(pqxx::transaction_base& tx, const timers::Timer& timer);
  absl::Status RunSchedule(pqxx::transaction_base& tx, const timers::Timer& timer);
  // A SCHEDULE rule with a measure (R6, R8): the measure per scope, the condition on it, a digest each.
  absl::Status RunMeasure(pqxx::transaction_base& tx, const Rule& rule, const timers::Timer& timer);
  absl::Status RecordMoves(pqxx::transaction_base& tx, const DealEvent& e, const events::v1::Envelope& env,
                           absl::Time when);
  // Runs one action; a non-OK status is the action's failure (IsTransient says whether to retry).
  // `result` is its line in the log (kept across attempts: create_task's acting user).
  absl::StatusOr<std::string> RunAction(pqxx::transaction_base& tx, const Rule& rule, Execution& exec, int index,
                                        const dv1::Deal* deal, Execution::ActionResult* result);
  absl::StatusOr<std::string> Notify(pqxx::transaction_base& tx, const Rule& rule, const Execution& exec, int index,
                                     const dv1::Deal* deal);
  std::map<std::string, std::string, std::less<>> Vars(pqxx::transaction_base& tx, const Rule& rule,
                                                       const Execution& exec, const dv1::Deal* deal);
  absl::Time DelayEnd(const v1::Delay& d, absl::Time from) const;

  pg::Pool& pool_;
  const Clock& clock_;
  RuleStore& rules_;
  DealsClient& deals_;
  Mailer* mailer_;
  const events::OutboxWriter& outbox_;
  EngineOptions options_;
  DigestGate digests_;
};

// A channel as the execution log names it.
const char* ChannelName(int channel) {
  switch (channel) {
    case v1::Notify::IN_APP:
      return "in-app";
    case v1::Notify::EMAIL:
      return "e-mail";
    case v1::Notify::TELEGRAM:
      return "telegram";
    default:
      return "channel";
  }
}

absl::Time Engine::Impl::DelayEnd(const v1::Delay& d, absl::Time from) const {
  const absl::Duration len = absl::Seconds(d.duration().seconds()) + absl::Nanoseconds(d.duration().nanos());
  return d.working_time() ? options_.calendar->AddWorkingTime(from, len) : from + len;
}

absl::Status Engine::Impl::UpdateFacts(pqxx::transaction_base& tx, const DealEvent& e, absl::Time when) {
  std::string body;
  int64_t version = 0;
  std::string responsible;
  if (e.deal.has_value()) {
    body = e.deal->SerializeAsString();
    version = e.deal->version();
    responsible = e.deal->responsible_id();
  }
  // R4: a touch counts once by what it was (a task, a call, a message), however often its event comes.
  bool touched = false;
  if (e.touch && !e.touch_key.empty()) {
    touched = !pg::ExecPrepared(tx, absl::StrCat(kInsertTouchSql, TimeOf(4), ") ON CONFLICT DO NOTHING RETURNING 1"),
                                e.deal_id, e.touch_key, e.touch_key.substr(0, e.touch_key.find(':')),
                                absl::ToUnixMicros(when))
                    .empty();
  }
  const absl::Time comment_time = e.comment_time.value_or(when);
  const pqxx::binarystring bytes(body.data(), body.size());
  pg::ExecPrepared(tx,
      absl::StrCat(
          "INSERT INTO deal_facts AS f (deal_id, last_comment_time, touches, deal, deal_version, responsible_id) "
          "VALUES ($1, CASE WHEN $2 THEN ", TimeOf(3), " END, CASE WHEN $4 THEN 1 ELSE 0 END, "
          "CASE WHEN $5 THEN $6::bytea END, $7, $8) ON CONFLICT (deal_id) DO UPDATE SET "
          "last_comment_time = CASE WHEN $2 THEN GREATEST(f.last_comment_time, EXCLUDED.last_comment_time) "
          "ELSE f.last_comment_time END, touches = f.touches + EXCLUDED.touches, "
          "deal = CASE WHEN $5 AND EXCLUDED.deal_version >= f.deal_version THEN EXCLUDED.deal ELSE f.deal END, "
          "responsible_id = CASE WHEN $5 AND EXCLUDED.deal_version >= f.deal_version THEN EXCLUDED.responsible_id "
          "ELSE f.responsible_id END, deal_version = GREATEST(f.deal_version, EXCLUDED.deal_version)"),
      e.deal_id, e.comment, absl::ToUnixMicros(comment_time), touched, e.deal.has_value(), bytes, version,
      responsible);
  return absl::OkStatus();
}

absl::Status Engine::Impl::CancelMoot(pqxx::transaction_base& tx, const std::string& deal_id, const Facts& facts) {
  pqxx::result r = pg::ExecPrepared(tx,
      "SELECT e.id, v.body, e.timer_key, e.body FROM executions e JOIN rule_versions v ON v.rule_id = e.rule_id "
      "AND v.version = e.rule_version WHERE e.deal_id = $1 AND e.state = 'WAITING' AND e.cancellable",
      deal_id);
  for (const auto& row : r) {
    Rule rule;
    if (!rule.ParseFromString(Bytes(row[1]))) return absl::DataLossError("a stored rule does not parse");
    if (!rule.has_delay() || !rule.delay().has_cancel_when()) continue;
    Evaluation ev = Evaluate(rule.delay().cancel_when(), facts);
    if (!ev.result) continue;
    Execution exec;
    if (!exec.ParseFromString(Bytes(row[3]))) return absl::DataLossError("a stored execution does not parse");
    if (!row[2].is_null()) CRM_RETURN_IF_ERROR(timers::TimerStore::Cancel(tx, row[2].as<std::string>()).status());
    exec.clear_predicates();
    for (auto& p : ev.predicates) *exec.add_predicates() = std::move(p);
    CRM_RETURN_IF_ERROR(Finish(tx, exec, Execution::CANCELLED));
  }
  return absl::OkStatus();
}

absl::Status Engine::Impl::ArmDates(pqxx::transaction_base& tx, const RuleIndex& index, const dv1::Deal& deal) {
  const std::vector<const Rule*>& rules = index.OfKind(Trigger::DATE_FIELD_REACHED);
  if (rules.empty()) return absl::OkStatus();
  const absl::Time now = clock_.Now();
  std::map<std::string, std::string> armed;  // rule id -> its timer key for this deal
  for (const auto& row : pg::ExecPrepared(tx, "SELECT rule_id::text, timer_key FROM date_timers WHERE deal_id = $1 "
                                        "FOR UPDATE", deal.id())) {
    armed[row[0].as<std::string>()] = row[1].as<std::string>();
  }
  for (const Rule* rule : rules) {
    const Trigger& t = rule->trigger();
    if (!t.pipeline_id().empty() && t.pipeline_id() != deal.pipeline_id()) continue;
    if (!t.stage_id().empty() && t.stage_id() != deal.stage_id()) continue;
    std::optional<absl::Time> value = DateFieldValue(deal, t.field(), zone());
    const auto had = armed.find(rule->id());
    const std::string old_key = had == armed.end() ? "" : had->second;
    const absl::Time due = value.has_value()
                               ? *value + absl::Seconds(t.offset().seconds()) + absl::Nanoseconds(t.offset().nanos())
                               : absl::InfinitePast();
    const std::string key =
        value.has_value() ? absl::StrCat("date:", rule->id(), ":", deal.id(), ":", absl::ToUnixSeconds(due)) : "";
    if (value.has_value() && key == old_key) continue;  // armed already (or fired) for this very date
    if (!value.has_value() || due < now) {  // cleared, or a reminder whose time has passed: nothing to arm
      if (!old_key.empty()) {
        CRM_RETURN_IF_ERROR(timers::TimerStore::Cancel(tx, old_key).status());
        pg::ExecPrepared(tx, "DELETE FROM date_timers WHERE rule_id = $1::uuid AND deal_id = $2", rule->id(), deal.id());
      }
      continue;
    }
    if (!old_key.empty()) CRM_RETURN_IF_ERROR(timers::TimerStore::Cancel(tx, old_key).status());
    CRM_RETURN_IF_ERROR(
        timers::TimerStore::Schedule(tx, key, kDateTimerKind, due, absl::StrCat(rule->id(), ":", deal.id())).status());
    pg::ExecPrepared(tx,
        "INSERT INTO date_timers (rule_id, deal_id, timer_key) VALUES ($1::uuid, $2, $3) "
        "ON CONFLICT (rule_id, deal_id) DO UPDATE SET timer_key = EXCLUDED.timer_key",
        rule->id(), deal.id(), key);
    if (due <= now) due_now_ = true;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> Engine::Impl::Insert(pqxx::transaction_base& tx, Execution& exec, const std::string& trigger_key,
                                          bool coalescing, std::optional<absl::Time> due) {
  std::vector<Pending> one(1);
  one[0] = {.exec = std::move(exec), .trigger_key = trigger_key, .coalescing = coalescing, .due = due};
  CRM_RETURN_IF_ERROR(InsertAll(tx, one));
  exec = std::move(one[0].exec);
  return one[0].inserted;
}

absl::Status Engine::Impl::InsertAll(pqxx::transaction_base& tx, std::vector<Pending>& batch) {
  if (batch.empty()) return absl::OkStatus();
  const absl::Time now = clock_.Now();
  const std::string now_us = absl::StrCat(absl::ToUnixMicros(now));
  std::vector<std::string> params;
  std::string sql =
      "INSERT INTO executions (id, rule_id, rule_version, deal_id, trigger_key, event_type, state, depth, coalescing, "
      "timer_key, body, create_time, due_time, finish_time, cancellable) VALUES ";
  for (size_t i = 0; i < batch.size(); ++i) {
    Execution& exec = batch[i].exec;
    exec.set_id(NewUuidV7());
    *exec.mutable_create_time() = ToProtoTimestamp(now);
    const bool waiting = exec.state() == Execution::WAITING;
    if (waiting) {
      *exec.mutable_due_time() = ToProtoTimestamp(*batch[i].due);
      *exec.mutable_planned_time() = ToProtoTimestamp(*batch[i].due);
    } else {
      *exec.mutable_finish_time() = ToProtoTimestamp(now);
    }
    const size_t n = params.size();
    auto p = [n](int k) { return absl::StrCat("$", n + k); };
    absl::StrAppend(&sql, i == 0 ? "" : ", ", "(", p(1), "::uuid, ", p(2), "::uuid, ", p(3), "::bigint, ", p(4), ", ",
                    p(5), ", ", p(6), ", ", p(7), ", ", p(8), "::int, ", p(9), "::boolean, NULLIF(", p(10), ", ''), decode(",
                    p(11), ", 'hex'), timestamptz 'epoch' + ", p(12), "::bigint * interval '1 microsecond', ",
                    waiting ? absl::StrCat("timestamptz 'epoch' + ", p(13), "::bigint * interval '1 microsecond'")
                            : absl::StrCat("NULLIF(", p(13), ", '')::timestamptz"),
                    ", ",
                    waiting ? absl::StrCat("NULLIF(", p(14), ", '')::timestamptz")
                            : absl::StrCat("timestamptz 'epoch' + ", p(14), "::bigint * interval '1 microsecond'"),
                    ", ", p(15), "::boolean)");
    params.push_back(exec.id());
    params.push_back(exec.rule_id());
    params.push_back(absl::StrCat(exec.rule_version()));
    params.push_back(exec.deal_id());
    params.push_back(batch[i].trigger_key);
    params.push_back(exec.event_type());
    params.push_back(Execution::State_Name(exec.state()));
    params.push_back(absl::StrCat(exec.depth()));
    params.push_back(batch[i].coalescing ? "true" : "false");
    params.push_back(waiting ? absl::StrCat("step:", exec.id()) : "");
    params.push_back(absl::BytesToHexString(exec.SerializeAsString()));
    params.push_back(now_us);
    params.push_back(waiting ? absl::StrCat(absl::ToUnixMicros(*batch[i].due)) : "");
    params.push_back(waiting ? "" : now_us);
    params.push_back(waiting && batch[i].cancellable ? "true" : "false");
  }
  sql += " ON CONFLICT (rule_id, deal_id, trigger_key) DO NOTHING RETURNING id::text";
  pqxx::result inserted = tx.exec_params(sql, pqxx::prepare::make_dynamic_params(params));
  std::set<std::string> ids;
  for (const auto& row : inserted) ids.insert(row[0].as<std::string>());
  std::vector<timers::TimerStore::NewTimer> timers;
  for (Pending& p : batch) {
    p.inserted = ids.count(p.exec.id()) > 0;
    if (p.exec.state() != Execution::WAITING || !p.inserted) continue;
    timers.push_back({.key = absl::StrCat("step:", p.exec.id()), .kind = kStepTimerKind, .due = *p.due,
                      .payload = p.exec.id()});
    if (*p.due <= now) due_now_ = true;
  }
  return timers::TimerStore::CreateAll(tx, timers);
}

absl::Status Engine::Impl::Save(pqxx::transaction_base& tx, const Execution& exec, const std::string& timer_key) {
  const std::string body = exec.SerializeAsString();
  const pqxx::binarystring bytes(body.data(), body.size());
  const bool finished = exec.has_finish_time();
  pg::ExecPrepared(tx,
      absl::StrCat("UPDATE executions SET state = $2, body = $3, timer_key = NULLIF($4, ''), due_time = CASE WHEN $5 "
                   "THEN ", TimeOf(6), " ELSE due_time END, finish_time = CASE WHEN $7 THEN ", TimeOf(8),
                   " END WHERE id = $1::uuid"),
      exec.id(), Execution::State_Name(exec.state()), bytes, timer_key, exec.has_due_time(),
      absl::ToUnixMicros(exec.has_due_time() ? FromProtoTimestamp(exec.due_time()) : absl::UnixEpoch()), finished,
      absl::ToUnixMicros(finished ? FromProtoTimestamp(exec.finish_time()) : absl::UnixEpoch()));
  return absl::OkStatus();
}

absl::Status Engine::Impl::Finish(pqxx::transaction_base& tx, Execution& exec, Execution::State state) {
  exec.set_state(state);
  *exec.mutable_finish_time() = ToProtoTimestamp(clock_.Now());
  CRM_RETURN_IF_ERROR(Save(tx, exec, ""));
  pqxx::result r = pg::ExecPrepared(tx, "SELECT responsible_id FROM deal_facts WHERE deal_id = $1", exec.deal_id());
  events::NewEvent event{.aggregate_type = "execution",
                         .aggregate_id = exec.id(),
                         .type = "crm.robots.execution.finished.v1",
                         .payload = &exec,
                         .actor = rpc::ServicePrincipal("robots")};
  if (!r.empty() && !r[0][0].as<std::string>().empty()) event.visible_to_user_ids = {r[0][0].as<std::string>()};
  return outbox_.Append(tx, event).status();
}

absl::Status Engine::Impl::Start(pqxx::transaction_base& tx, const Rule& rule, const DealEvent& e, const Facts& facts,
                                 const events::v1::Envelope& env, std::vector<Pending>& out) {
  Execution exec;
  exec.set_rule_id(rule.id());
  exec.set_rule_version(rule.version());
  exec.set_deal_id(e.deal_id);
  exec.set_event_id(env.id());
  exec.set_event_type(env.type());
  exec.set_depth(env.automation_depth());
  if (env.automation_depth() > MaxDepth(rule, options_.default_max_depth)) {
    exec.set_state(Execution::SKIPPED_DEPTH);
    out.push_back({.exec = std::move(exec), .trigger_key = env.id()});
    return absl::OkStatus();
  }
  const absl::Time at = env.has_time() ? FromProtoTimestamp(env.time()) : clock_.Now();
  const absl::Duration window =
      absl::Seconds(rule.coalesce_window().seconds()) + absl::Nanoseconds(rule.coalesce_window().nanos());
  const bool delayed = rule.has_delay() && (rule.delay().duration().seconds() > 0 || rule.delay().duration().nanos() > 0);
  if (window > absl::ZeroDuration()) {
    // A redelivered event of the burst has its execution already: it must not cancel the one waiting.
    if (!pg::ExecPrepared(tx, "SELECT 1 FROM executions WHERE rule_id = $1::uuid AND deal_id = $2 AND trigger_key = $3",
                        rule.id(), e.deal_id, env.id())
             .empty()) {
      return absl::OkStatus();
    }
    // A new event of the burst: the earlier waiting execution gives way to this one.
    pqxx::result r = pg::ExecPrepared(tx,
        "SELECT id, timer_key, body FROM executions WHERE rule_id = $1::uuid AND deal_id = $2 AND state = 'WAITING' "
        "AND coalescing FOR UPDATE",
        rule.id(), e.deal_id);
    for (const auto& row : r) {
      Execution earlier;
      if (!earlier.ParseFromString(Bytes(row[2]))) return absl::DataLossError("a stored execution does not parse");
      if (!row[1].is_null()) CRM_RETURN_IF_ERROR(timers::TimerStore::Cancel(tx, row[1].as<std::string>()).status());
      CRM_RETURN_IF_ERROR(Finish(tx, earlier, Execution::COALESCED));
    }
    const absl::Time due = delayed ? DelayEnd(rule.delay(), clock_.Now() + window) : clock_.Now() + window;
    exec.set_state(Execution::WAITING);
    out.push_back({.exec = std::move(exec), .trigger_key = env.id(), .coalescing = true,
                   .cancellable = rule.has_delay() && rule.delay().has_cancel_when(), .due = due});
    return absl::OkStatus();
  }
  if (delayed) {
    exec.set_state(Execution::WAITING);
    out.push_back({.exec = std::move(exec), .trigger_key = env.id(),
                   .cancellable = rule.delay().has_cancel_when(), .due = DelayEnd(rule.delay(), at)});
    return absl::OkStatus();
  }
  Evaluation ev = Evaluate(rule.condition(), facts);
  for (auto& p : ev.predicates) *exec.add_predicates() = std::move(p);
  if (!ev.result) {
    exec.set_state(Execution::NOT_MATCHED);
    out.push_back({.exec = std::move(exec), .trigger_key = env.id()});
    return absl::OkStatus();
  }
  for (int i = 0; i < rule.actions_size(); ++i) {
    auto* a = exec.add_actions();
    a->set_index(i);
    a->set_action(ActionName(rule.actions(i)));
    a->set_state(kPending);
  }
  exec.set_state(Execution::WAITING);
  out.push_back({.exec = std::move(exec), .trigger_key = env.id(), .due = clock_.Now()});
  return absl::OkStatus();
}

absl::Status Engine::Impl::OnEvent(pqxx::transaction_base& tx, const events::ConsumedEvent& consumed) {
  // One event may concern several deals (a finished interaction touches its client's open deals).
  CRM_ASSIGN_OR_RETURN(std::vector<DealEvent> decoded, DecodeEvents(consumed.envelope));
  for (DealEvent& e : decoded) CRM_RETURN_IF_ERROR(OnDealEvent(tx, consumed.envelope, e));
  return absl::OkStatus();
}

absl::Status Engine::Impl::OnDealEvent(pqxx::transaction_base& tx, const events::v1::Envelope& env, DealEvent& e) {
  const absl::Time when = env.has_time() ? FromProtoTimestamp(env.time()) : clock_.Now();
  CRM_RETURN_IF_ERROR(UpdateFacts(tx, e, when));
  CRM_RETURN_IF_ERROR(RecordMoves(tx, e, env, when));
  CRM_ASSIGN_OR_RETURN(StoredFacts stored, LoadStoredFacts(tx, e.deal_id));
  // The deal as this event leaves it; for events without one (tasks, calls), as the last deal event did.
  const dv1::Deal* deal = e.deal.has_value() ? &*e.deal : (stored.deal.has_value() ? &*stored.deal : nullptr);
  Facts facts = MakeFacts(deal, stored, clock_.Now(), zone());
  if (deal != nullptr) CRM_RETURN_IF_ERROR(LoadCounters(tx, e.deal_id, deal->responsible_id(), facts.counters));
  CRM_RETURN_IF_ERROR(CancelMoot(tx, e.deal_id, facts));
  CRM_ASSIGN_OR_RETURN(std::shared_ptr<const RuleIndex> index, rules_.Current());
  // A bulk import marked "skip automation" arms no date reminders and runs only rules that ask for such
  // changes (include_skipped_imports).
  // Dates are armed from the newest deal robots know (by version), so a redelivered or late event never
  // undoes a later change of the date.
  if (e.deal.has_value() && !env.skip_automation()) {
    CRM_RETURN_IF_ERROR(ArmDates(tx, *index, stored.deal.has_value() ? *stored.deal : *e.deal));
  }
  std::vector<Pending> batch;
  for (const Rule* rule : MatchRules(*index, e, deal)) {
    if (env.skip_automation() && !rule->trigger().include_skipped_imports()) continue;
    CRM_RETURN_IF_ERROR(Start(tx, *rule, e, facts, env, batch));
  }
  return InsertAll(tx, batch);
}

std::map<std::string, std::string, std::less<>> Engine::Impl::Vars(pqxx::transaction_base& tx, const Rule& rule,
                                                                    const Execution& exec, const dv1::Deal* deal) {
  std::map<std::string, std::string, std::less<>> vars;
  vars["rule.name"] = rule.name();
  if (deal != nullptr) {
    vars["deal.id"] = deal->id();
    vars["deal.name"] = deal->name();
    vars["deal.url"] = options_.deal_url_prefix + deal->id();
    vars["deal.amount"] = absl::StrCat(
        FormatDecimal(Money{.minor = deal->amount().amount_minor(), .currency = deal->amount().currency()}), " ",
        deal->amount().currency());
    absl::StatusOr<std::vector<Recipient>> resp = ResolveRecipients(tx, {"responsible"}, deal->responsible_id());
    if (resp.ok() && !resp->empty()) {
      vars["responsible.name"] = (*resp)[0].full_name;
      vars["responsible.email"] = (*resp)[0].email;
      vars["responsible.phone"] = (*resp)[0].phone;
    }
  }
  for (const auto& [name, value] : exec.measures()) vars[absl::StrCat("measure.", name)] = absl::StrCat(value);
  if (const auto revenue = exec.measures().find("revenue"); revenue != exec.measures().end()) {
    // The revenue as money in the plan's currency: «12 500 000 сум».
    vars["measure.revenue_amount"] = MoneyText(revenue->second, rule.trigger().measure().currency());
    vars["measure.currency"] = rule.trigger().measure().currency();
  }
  if (deal == nullptr && !exec.responsible_id().empty()) {
    absl::StatusOr<std::vector<Recipient>> who = ResolveRecipients(tx, {"responsible"}, exec.responsible_id());
    if (who.ok() && !who->empty()) vars["responsible.name"] = (*who)[0].full_name;
  }
  if (exec.selected_deal_ids_size() > 0 || (deal == nullptr && exec.measures().empty())) {
    // The selected deals' names as robots last saw them, in one query.
    std::map<std::string, std::string> names;
    if (exec.selected_deal_ids_size() > 0) {
      const std::string ids = absl::StrCat("{", absl::StrJoin(exec.selected_deal_ids(), ","), "}");
      for (const auto& row :
           pg::ExecPrepared(tx, "SELECT deal_id, deal FROM deal_facts WHERE deal_id = ANY($1::text[]) AND deal IS NOT NULL",
                          ids)) {
        dv1::Deal d;
        if (d.ParseFromString(Bytes(row[1]))) names[row[0].as<std::string>()] = d.name();
      }
    }
    std::vector<std::string> lines;
    for (const std::string& id : exec.selected_deal_ids()) {
      const auto name = names.find(id);
      lines.push_back(absl::StrCat("— ", name == names.end() ? id : absl::StrCat("«", name->second, "»"), " ",
                                   options_.deal_url_prefix, id));
    }
    vars["deals.count"] = absl::StrCat(exec.selected_deal_ids_size());
    vars["deals.list"] = lines.empty() ? "нет" : absl::StrJoin(lines, "\n");
  }
  return vars;
}

absl::StatusOr<std::string> Engine::Impl::Notify(pqxx::transaction_base& tx, const Rule& rule, const Execution& exec,
                                                 int index, const dv1::Deal* deal) {
  const v1::Notify& n = rule.actions(index).notify();
  std::vector<std::string> specs;
  bool to_client = false;  // "client": the deal's client, through the Telegram bot
  for (const std::string& r : n.recipients()) {
    if (r == "client") {
      to_client = true;
    } else {
      specs.push_back(r);
    }
  }
  CRM_ASSIGN_OR_RETURN(std::vector<Recipient> to,
                       ResolveRecipients(tx, specs, deal != nullptr ? deal->responsible_id() : exec.responsible_id()));
  const std::string client_id = to_client && deal != nullptr ? deal->client_id() : "";
  if (to.empty() && client_id.empty()) return std::string("no recipients found");
  const auto vars = Vars(tx, rule, exec, deal);
  const std::string subject = RenderTemplate(n.subject().empty() ? rule.name() : n.subject(), vars);
  const std::string text = RenderTemplate(n.text(), vars);
  std::vector<std::string> done;
  // One notification event: to an employee (seen on their live stream) or to the deal's client.
  auto publish = [&](const char* type, const Recipient* user, const std::string& client) -> absl::Status {
    v1::Notification note;
    if (user != nullptr) {
      note.set_recipient_user_id(user->user_id);
      note.set_recipient_name(user->full_name);
    }
    note.set_client_id(client);
    note.set_subject(subject);
    note.set_text(text);
    note.set_deal_id(exec.deal_id());
    note.set_rule_id(rule.id());
    note.set_execution_id(exec.id());
    *note.mutable_time() = ToProtoTimestamp(clock_.Now());
    events::NewEvent event{.aggregate_type = "notification",
                           .aggregate_id = user != nullptr ? user->user_id : client,
                           .type = type,
                           .payload = &note,
                           .actor = rpc::ServicePrincipal("robots")};
    if (user != nullptr) event.visible_to_user_ids = {user->user_id};
    return outbox_.Append(tx, event).status();
  };
  if (!client_id.empty()) {
    CRM_RETURN_IF_ERROR(publish(kTelegramType, nullptr, client_id));
    done.push_back("telegram to the client");
  } else if (to_client) {
    done.push_back("the deal has no client to write to");
  }
  for (int c : n.channels()) {
    // Each person gets it now, or in their next digest when they had a message on this channel within
    // the window (digest.h).
    std::vector<const Recipient*> candidates;
    std::vector<DigestItem> items;
    for (const Recipient& r : to) {
      if (c == v1::Notify::EMAIL && r.email.empty()) continue;
      candidates.push_back(&r);
      items.push_back(DigestItem{.recipient = r.user_id,
                                 .channel = c,
                                 .recipient_name = r.full_name,
                                 .email = r.email,
                                 .deal_id = exec.deal_id(),
                                 .rule_id = rule.id(),
                                 .execution_id = exec.id(),
                                 .subject = subject,
                                 .text = text});
    }
    CRM_ASSIGN_OR_RETURN(const std::vector<bool> send_now, digests_.Admit(tx, items, clock_.Now()));
    std::vector<const Recipient*> now;
    int held = 0;
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (send_now[i]) {
        now.push_back(candidates[i]);
      } else {
        ++held;
      }
    }
    if (held > 0) done.push_back(absl::StrCat(ChannelName(c), ": ", held, " held for the digest"));
    if (c == v1::Notify::IN_APP || c == v1::Notify::TELEGRAM) {
      for (const Recipient* r : now) {
        CRM_RETURN_IF_ERROR(publish(c == v1::Notify::IN_APP ? kInAppType : kTelegramType, r, ""));
      }
      if (!now.empty()) done.push_back(absl::StrCat(ChannelName(c), " to ", now.size()));
    } else if (c == v1::Notify::EMAIL) {
      if (mailer_ == nullptr) {  // a deployment without SMTP: the other channels still go
        crm::log::Warn("robots: an e-mail notification was not sent: SMTP is not configured (SMTP_URL)",
                       {{"execution", exec.id()}});
        done.push_back("e-mail not sent: SMTP is not configured");
        continue;
      }
      MailMessage m{.from = options_.mail_from, .subject = subject, .text = text,
                    .message_id = absl::StrCat("<", exec.id(), ".", index, "@robots.crm>")};
      for (const Recipient* r : now) m.to.push_back(r->email);
      if (m.to.empty()) {
        if (held == 0) done.push_back("e-mail: no addresses");
        continue;
      }
      CRM_RETURN_IF_ERROR(mailer_->Send(m));
      done.push_back(absl::StrCat("e-mail to ", absl::StrJoin(m.to, ", ")));
    }
  }
  return absl::StrJoin(done, "; ");
}

absl::StatusOr<std::string> Engine::Impl::RunAction(pqxx::transaction_base& tx, const Rule& rule, Execution& exec,
                                                    int index, const dv1::Deal* deal,
                                                    Execution::ActionResult* result) {
  const Action& a = rule.actions(index);
  switch (a.action_case()) {
    case Action::kNotify:
      return Notify(tx, rule, exec, index, deal);
    case Action::kStartReport: {
      v1::ReportRequested req;
      req.set_report(a.start_report().report());
      *req.mutable_recipients() = a.start_report().recipients();
      req.set_rule_id(rule.id());
      req.set_execution_id(exec.id());
      *req.mutable_deal_ids() = exec.selected_deal_ids();
      *req.mutable_time() = ToProtoTimestamp(clock_.Now());
      CRM_RETURN_IF_ERROR(outbox_
                              .Append(tx, {.aggregate_type = "report",
                                           .aggregate_id = rule.id(),
                                           .type = "crm.robots.report.requested.v1",
                                           .payload = &req,
                                           .actor = rpc::ServicePrincipal("robots")})
                              .status());
      return absl::StrCat("report ", a.start_report().report(), " requested");
    }
    case Action::kIncrementCounter: {
      if (deal == nullptr) return absl::FailedPreconditionError("no deal to count for");
      const std::string scope = a.increment_counter().scope() == "deal"
                                    ? absl::StrCat("deal:", deal->id())
                                    : absl::StrCat("user:", deal->responsible_id());
      pqxx::row r = pg::ExecPrepared1(tx,
          "INSERT INTO counters AS c (scope, name, value) VALUES ($1, $2, 1) ON CONFLICT (scope, name) "
          "DO UPDATE SET value = c.value + 1 RETURNING value",
          scope, a.increment_counter().name());
      return absl::StrCat(a.increment_counter().name(), " of ", scope, " = ", r[0].as<int64_t>());
    }
    default: {
      if (deal == nullptr) return absl::FailedPreconditionError("no deal to act on");
      Action rendered = a;
      // The actions with a template; the others read none.
      if (a.has_create_task() || a.has_add_comment() || a.has_complete_tasks()) {
        const auto vars = Vars(tx, rule, exec, deal);
        if (rendered.has_create_task()) {
          rendered.mutable_create_task()->set_title(RenderTemplate(a.create_task().title(), vars));
        }
        if (rendered.has_add_comment()) {
          rendered.mutable_add_comment()->set_text(RenderTemplate(a.add_comment().text(), vars));
        }
        if (rendered.has_complete_tasks()) {
          rendered.mutable_complete_tasks()->set_title(RenderTemplate(a.complete_tasks().title(), vars));
          rendered.mutable_complete_tasks()->set_result(
              a.complete_tasks().result().empty()
                  ? absl::StrCat("Закрыто роботом «", rule.name(), "»")
                  : RenderTemplate(a.complete_tasks().result(), vars));
        }
      }
      std::string creator;
      if (a.has_create_task()) {
        // Who does it and who set it, as people: robots' copy of identity's users knows the roles.
        CRM_ASSIGN_OR_RETURN(const std::string who, PersonOf(tx, a.create_task().responsible(), *deal));
        rendered.mutable_create_task()->set_responsible(who.empty() ? "" : absl::StrCat("user:", who));
        if (result != nullptr && !result->acting_user_id().empty()) {
          creator = result->acting_user_id();  // resolved by an earlier attempt: the very same request
        } else {
          CRM_ASSIGN_OR_RETURN(creator, PersonOf(tx, a.create_task().creator(), *deal));
          if (result != nullptr) result->set_acting_user_id(creator);
        }
      }
      ActionContext ctx{.deal_id = deal->id(),
                        .deal = deal,
                        .idempotency_key = absl::StrCat(exec.id(), ":", index),
                        .depth = exec.depth() + 1,
                        .on_behalf_of_user_id = IsUuid(rule.updated_by()) ? rule.updated_by() : "",
                        .creator_user_id = creator,
                        // The planned time, not now: a retry must send the very same request.
                        .now = exec.has_planned_time() ? FromProtoTimestamp(exec.planned_time()) : clock_.Now()};
      return deals_.Apply(rendered, ctx);
    }
  }
}

absl::Status Engine::Impl::RunStep(pqxx::transaction_base& tx, const std::string& execution_id, int attempt) {
  pqxx::result r = pg::ExecPrepared(tx, "SELECT body, state FROM executions WHERE id = $1::uuid FOR UPDATE", execution_id);
  if (r.empty() || r[0][1].as<std::string>() != "WAITING") return absl::OkStatus();  // cancelled or done
  Execution exec;
  if (!exec.ParseFromString(Bytes(r[0][0]))) return absl::DataLossError("a stored execution does not parse");
  CRM_ASSIGN_OR_RETURN(Rule rule, RuleStore::GetVersion(tx, exec.rule_id(), exec.rule_version()));
  const absl::Time now = clock_.Now();

  // Retries: a failure (of loading the deal or of an action) re-arms the step with backoff, or fails it.
  auto retry_or_fail = [&](int action_index, const absl::Status& error) -> absl::Status {
    int attempts = 1;
    if (action_index >= 0) {
      auto* a = exec.mutable_actions(action_index);
      a->set_attempts(a->attempts() + 1);
      a->set_detail(std::string(error.message()));
      attempts = a->attempts();
    } else {
      attempts = attempt;
    }
    if (!IsTransient(error) || attempts >= options_.max_attempts) {
      if (action_index >= 0) exec.mutable_actions(action_index)->set_state(kFailed);
      crm::log::Warn("robots: execution failed", {{"execution", exec.id()}, {"error", error}});
      return Finish(tx, exec, Execution::FAILED);
    }
    if (action_index >= 0) exec.mutable_actions(action_index)->set_state(kRetrying);
    absl::Duration backoff = options_.initial_backoff;
    for (int i = 1; i < attempts && backoff < options_.max_backoff; ++i) backoff *= 2;
    backoff = std::min(backoff, options_.max_backoff);
    const std::string key = absl::StrCat("step:", exec.id(), ":retry:", attempt);
    *exec.mutable_due_time() = ToProtoTimestamp(now + backoff);
    CRM_RETURN_IF_ERROR(timers::TimerStore::Schedule(tx, key, kStepTimerKind, now + backoff, exec.id()).status());
    crm::log::Info("robots: action will be retried",
                   {{"execution", exec.id()}, {"attempt", attempts}, {"error", error}, {"backoff", backoff}});
    return Save(tx, exec, key);
  };

  // The deal: as it is now for a step still to be decided (delayed, coalesced); as the last event
  // showed it for one decided when its event came (the actions read what they change afresh); none for
  // a schedule's digest.
  std::optional<dv1::Deal> deal;
  if (!exec.deal_id().empty() && exec.actions_size() > 0) {
    CRM_ASSIGN_OR_RETURN(StoredFacts stored, LoadStoredFacts(tx, exec.deal_id()));
    deal = std::move(stored.deal);
  }
  if (!exec.deal_id().empty() && !deal.has_value()) {
    absl::StatusOr<dv1::Deal> d = deals_.GetDeal(exec.deal_id());
    if (!d.ok()) {
      if (d.status().code() == absl::StatusCode::kNotFound) {
        exec.add_predicates()->set_predicate(absl::StrCat("deal ", exec.deal_id(), " no longer exists"));
        return Finish(tx, exec, Execution::CANCELLED);
      }
      return retry_or_fail(-1, absl::Status(d.status().code(), absl::StrCat("loading the deal: ", d.status().message())));
    }
    deal = std::move(*d);
  }
  if (exec.actions_size() == 0) {
    // A delayed or coalesced step: decided now, on the deal as it is now.
    CRM_ASSIGN_OR_RETURN(StoredFacts stored, LoadStoredFacts(tx, exec.deal_id()));
    Facts facts = MakeFacts(deal.has_value() ? &*deal : nullptr, stored, now, zone());
    if (deal.has_value()) CRM_RETURN_IF_ERROR(LoadCounters(tx, deal->id(), deal->responsible_id(), facts.counters));
    if (rule.has_delay() && rule.delay().has_cancel_when()) {
      Evaluation cancel = Evaluate(rule.delay().cancel_when(), facts);
      if (cancel.result) {
        for (auto& p : cancel.predicates) *exec.add_predicates() = std::move(p);
        return Finish(tx, exec, Execution::CANCELLED);
      }
    }
    Evaluation ev = Evaluate(rule.condition(), facts);
    for (auto& p : ev.predicates) *exec.add_predicates() = std::move(p);
    if (!ev.result) return Finish(tx, exec, Execution::NOT_MATCHED);
    for (int i = 0; i < rule.actions_size(); ++i) {
      auto* a = exec.add_actions();
      a->set_index(i);
      a->set_action(ActionName(rule.actions(i)));
      a->set_state(kPending);
    }
  }
  for (int i = 0; i < exec.actions_size(); ++i) {
    auto* result = exec.mutable_actions(i);
    if (result->state() == kDone) continue;
    const int index = result->index();
    if (index < 0 || index >= rule.actions_size()) return absl::DataLossError("an execution names a missing action");
    absl::StatusOr<std::string> detail =
        RunAction(tx, rule, exec, index, deal.has_value() ? &*deal : nullptr, exec.mutable_actions(i));
    if (!detail.ok() && UsedKey(detail.status())) {
      // deals remembers this action's key with another request: an earlier attempt did it (and then the
      // step's transaction was lost), with a deal or template that has changed since. Done, once.
      detail = absl::StrCat("done by an earlier attempt (idempotency key ", exec.id(), ":", index, ")");
    }
    if (!detail.ok()) return retry_or_fail(i, detail.status());
    result->set_state(kDone);
    result->set_attempts(result->attempts() + 1);
    result->set_detail(*detail);
  }
  return Finish(tx, exec, Execution::DONE);
}

absl::Status Engine::Impl::RunDate(pqxx::transaction_base& tx, const timers::Timer& timer) {
  std::vector<std::string> parts = absl::StrSplit(timer.payload, ':');
  if (parts.size() != 2) return absl::DataLossError(absl::StrCat("date timer ", timer.key, ": bad payload"));
  pqxx::result r = pg::ExecPrepared(tx, "SELECT 1 FROM date_timers WHERE rule_id = $1::uuid AND deal_id = $2 AND timer_key = $3",
                                  parts[0], parts[1], timer.key);
  if (r.empty()) return absl::OkStatus();  // re-armed meanwhile
  CRM_ASSIGN_OR_RETURN(Rule rule, RuleStore::GetVersion(tx, parts[0], 0));
  if (!rule.enabled() || rule.trigger().kind() != Trigger::DATE_FIELD_REACHED) return absl::OkStatus();
  Execution exec;
  exec.set_rule_id(rule.id());
  exec.set_rule_version(rule.version());
  exec.set_deal_id(parts[1]);
  exec.set_event_id(timer.key);
  exec.set_event_type("crm.robots.date_reached");
  exec.set_state(Execution::WAITING);
  CRM_ASSIGN_OR_RETURN(bool inserted, Insert(tx, exec, timer.key, false, clock_.Now()));
  if (!inserted) return absl::OkStatus();
  // Decide and act now, in this same savepoint: the step timer just made fires as a no-op.
  CRM_RETURN_IF_ERROR(timers::TimerStore::Cancel(tx, absl::StrCat("step:", exec.id())).status());
  return RunStep(tx, exec.id(), 1);
}

absl::Status Engine::Impl::RecordMoves(pqxx::transaction_base& tx, const DealEvent& e,
                                       const events::v1::Envelope& env, absl::Time when) {
  if (!e.deal.has_value()) return absl::OkStatus();
  const dv1::Deal& d = *e.deal;
  if (e.entered_stage) {
    pg::ExecPrepared(tx, absl::StrCat("INSERT INTO stage_entries (deal_id, pipeline_id, stage_id, responsible_id, event_id, "
                                "entered_at) VALUES ($1, $2, $3, $4, $5, ", TimeOf(6), ") ON CONFLICT DO NOTHING"),
                   d.id(), d.pipeline_id(), d.stage_id(), d.responsible_id(), env.id(), absl::ToUnixMicros(when));
  }
  if (e.won) {
    pg::ExecPrepared(tx, absl::StrCat("INSERT INTO deal_wins (deal_id, pipeline_id, responsible_id, amount_minor, event_id, "
                                "won_at, currency) VALUES ($1, $2, $3, $4, $5, ", TimeOf(6), ", $7) ON CONFLICT DO NOTHING"),
                   d.id(), d.pipeline_id(), d.responsible_id(), d.amount().amount_minor(), env.id(),
                   absl::ToUnixMicros(when), d.amount().currency());
  }
  return absl::OkStatus();
}

absl::Status Engine::Impl::RunMeasure(pqxx::transaction_base& tx, const Rule& rule, const timers::Timer& timer) {
  const v1::Measure& m = rule.trigger().measure();
  const absl::Time end = clock_.Now();
  const absl::Duration period = absl::Seconds(m.period().seconds()) + absl::Nanoseconds(m.period().nanos());
  const int64_t from_us = absl::ToUnixMicros(end - period), to_us = absl::ToUnixMicros(end);
  const std::string& pipeline = rule.trigger().pipeline_id();
  // The scopes: the whole pipeline, or every manager who moved or won a deal in the period or holds the
  // manager role (a manager with no records at all is the one a target rule is for).
  std::vector<std::string> scopes = {""};
  if (m.per_responsible()) {
    scopes.clear();
    pqxx::result r = pg::ExecPrepared(tx,
        absl::StrCat("SELECT responsible_id FROM stage_entries WHERE pipeline_id = $1 AND entered_at >= ", TimeOf(2),
                     " AND entered_at <= ", TimeOf(3),
                     " AND responsible_id <> '' UNION SELECT responsible_id FROM deal_wins WHERE pipeline_id = $1 "
                     "AND won_at >= ", TimeOf(2), " AND won_at <= ", TimeOf(3),
                     " AND responsible_id <> '' UNION SELECT id::text FROM robot_users WHERE active AND "
                     "'manager' = ANY(role_codes) ORDER BY 1"),
        pipeline, from_us, to_us);
    for (const auto& row : r) scopes.push_back(row[0].as<std::string>());
  }
  const std::string window = absl::StrCat(" AND entered_at >= ", TimeOf(2), " AND entered_at <= ", TimeOf(3),
                                          " AND ($4 = '' OR responsible_id = $4)");
  for (const std::string& who : scopes) {
    std::map<std::string, int64_t, std::less<>> values;
    values["base"] = pg::ExecPrepared1(tx, absl::StrCat("SELECT count(DISTINCT deal_id) FROM stage_entries WHERE pipeline_id = "
                                                  "$1 AND stage_id = $5", window),
                                     pipeline, from_us, to_us, who, m.from_stage_id())[0]
                         .as<int64_t>();
    values["converted"] =
        pg::ExecPrepared1(tx, absl::StrCat("SELECT count(DISTINCT deal_id) FROM stage_entries b WHERE pipeline_id = $1 AND "
                                     "stage_id = $5", window,
                                     " AND EXISTS (SELECT 1 FROM stage_entries t WHERE t.deal_id = b.deal_id AND "
                                     "t.stage_id = $6 AND t.entered_at >= b.entered_at AND t.entered_at <= ",
                                     TimeOf(3), ")"),
                        pipeline, from_us, to_us, who, m.from_stage_id(), m.to_stage_id())[0]
            .as<int64_t>();
    values["conversion_percent"] = values["base"] == 0 ? 0 : values["converted"] * 100 / values["base"];
    values["entered"] = pg::ExecPrepared1(tx, absl::StrCat("SELECT count(DISTINCT deal_id) FROM stage_entries WHERE "
                                                     "pipeline_id = $1 AND stage_id = $5", window),
                                        pipeline, from_us, to_us, who, m.to_stage_id())[0]
                            .as<int64_t>();
    // Revenue in the plan's currency only (R8: 40 000 000 сум is not 40 000 000 ₽).
    pqxx::row won = pg::ExecPrepared1(tx,
        absl::StrCat("SELECT count(*), coalesce(sum(amount_minor) FILTER (WHERE $5 = '' OR currency = $5), 0)::bigint "
                     "FROM deal_wins WHERE pipeline_id = $1 AND won_at >= ", TimeOf(2), " AND won_at <= ", TimeOf(3),
                     " AND ($4 = '' OR responsible_id = $4)"),
        pipeline, from_us, to_us, who, m.currency());
    values["won"] = won[0].as<int64_t>();
    values["revenue"] = won[1].as<int64_t>();

    Facts facts;
    facts.now = end;
    facts.zone = zone();
    facts.counters = values;
    Evaluation ev = Evaluate(rule.condition(), facts);
    Execution digest;
    digest.set_rule_id(rule.id());
    digest.set_rule_version(rule.version());
    digest.set_event_id(timer.key);
    digest.set_event_type("crm.robots.schedule_occurred");
    digest.set_responsible_id(who);
    for (const auto& [k, v] : values) (*digest.mutable_measures())[k] = v;
    for (auto& p : ev.predicates) *digest.add_predicates() = std::move(p);
    const std::string key = who.empty() ? timer.key : absl::StrCat(timer.key, ":", who);
    if (!ev.result) {
      digest.set_state(Execution::NOT_MATCHED);
      CRM_RETURN_IF_ERROR(Insert(tx, digest, key, false, std::nullopt).status());
      continue;
    }
    for (int i = 0; i < rule.actions_size(); ++i) {
      if (!IsDigestAction(rule.actions(i))) continue;  // a measure has no deal to act on
      auto* a = digest.add_actions();
      a->set_index(i);
      a->set_action(ActionName(rule.actions(i)));
      a->set_state(kPending);
    }
    digest.set_state(Execution::WAITING);
    CRM_ASSIGN_OR_RETURN(bool inserted, Insert(tx, digest, key, false, end));
    if (!inserted) continue;
    CRM_RETURN_IF_ERROR(timers::TimerStore::Cancel(tx, absl::StrCat("step:", digest.id())).status());
    CRM_RETURN_IF_ERROR(RunStep(tx, digest.id(), 1));
  }
  return absl::OkStatus();
}

absl::Status Engine::Impl::RunSchedule(pqxx::transaction_base& tx, const timers::Timer& timer) {
  CRM_ASSIGN_OR_RETURN(Rule rule, RuleStore::GetVersion(tx, timer.payload, 0));
  if (!rule.enabled() || rule.trigger().kind() != Trigger::SCHEDULE) return absl::OkStatus();
  if (rule.trigger().has_measure()) return RunMeasure(tx, rule, timer);
  Execution digest;
  digest.set_rule_id(rule.id());
  digest.set_rule_version(rule.version());
  digest.set_event_id(timer.key);
  digest.set_event_type("crm.robots.schedule_occurred");
  const absl::Time now = clock_.Now();
  std::vector<dv1::Deal> selected;
  if (!rule.trigger().pipeline_id().empty()) {
    CRM_ASSIGN_OR_RETURN(std::vector<dv1::Deal> deals,
                         deals_.ListOpenDeals(rule.trigger().pipeline_id(), options_.schedule_deal_limit));
    for (dv1::Deal& d : deals) {
      CRM_ASSIGN_OR_RETURN(StoredFacts stored, LoadStoredFacts(tx, d.id()));
      Facts facts = MakeFacts(&d, stored, now, zone());
      CRM_RETURN_IF_ERROR(LoadCounters(tx, d.id(), d.responsible_id(), facts.counters));
      if (Evaluate(rule.condition(), facts).result) selected.push_back(std::move(d));
    }
  }
  for (const dv1::Deal& d : selected) digest.add_selected_deal_ids(d.id());
  bool per_deal = false;
  for (int i = 0; i < rule.actions_size(); ++i) {
    if (IsDigestAction(rule.actions(i))) {
      auto* a = digest.add_actions();
      a->set_index(i);
      a->set_action(ActionName(rule.actions(i)));
      a->set_state(kPending);
    } else {
      per_deal = true;
    }
  }
  if (per_deal) {
    for (const dv1::Deal& d : selected) {
      Execution each;
      each.set_rule_id(rule.id());
      each.set_rule_version(rule.version());
      each.set_deal_id(d.id());
      each.set_event_id(timer.key);
      each.set_event_type(digest.event_type());
      for (int i = 0; i < rule.actions_size(); ++i) {
        if (IsDigestAction(rule.actions(i))) continue;
        auto* a = each.add_actions();
        a->set_index(i);
        a->set_action(ActionName(rule.actions(i)));
        a->set_state(kPending);
      }
      each.set_state(Execution::WAITING);
      CRM_RETURN_IF_ERROR(Insert(tx, each, timer.key, false, now).status());
    }
  }
  if (digest.actions_size() == 0) {
    digest.set_state(selected.empty() ? Execution::NOT_MATCHED : Execution::DONE);
    return Insert(tx, digest, timer.key, false, std::nullopt).status();
  }
  digest.set_state(Execution::WAITING);
  CRM_ASSIGN_OR_RETURN(bool inserted, Insert(tx, digest, timer.key, false, now));
  if (!inserted) return absl::OkStatus();
  CRM_RETURN_IF_ERROR(timers::TimerStore::Cancel(tx, absl::StrCat("step:", digest.id())).status());
  return RunStep(tx, digest.id(), 1);
}

// A digest event lists at most this many notifications (the text names the first 50).
constexpr int kMaxDigestItems = 500;

absl::Status Engine::Impl::SendDigest(pqxx::transaction_base& tx, const timers::Timer& timer) {
  CRM_ASSIGN_OR_RETURN(const std::vector<DigestItem> items, digests_.Flush(tx, timer.payload, clock_.Now()));
  if (items.empty()) return absl::OkStatus();
  const DigestItem& first = items.front();
  const std::string subject = DigestSubject(items);
  const std::string text = DigestText(items, options_.deal_url_prefix);
  if (first.channel == v1::Notify::EMAIL) {
    if (mailer_ == nullptr || first.email.empty()) return absl::OkStatus();
    return mailer_->Send(MailMessage{.from = options_.mail_from,
                                     .to = {first.email},
                                     .subject = subject,
                                     .text = text,
                                     .message_id = absl::StrCat("<digest.", timer.id, "@robots.crm>")});
  }
  v1::Notification note;
  note.set_recipient_user_id(first.recipient);
  note.set_recipient_name(first.recipient_name);
  note.set_subject(subject);
  note.set_text(text);
  note.set_digest_total(static_cast<int32_t>(items.size()));
  for (const DigestItem& item : items) {
    if (note.digest_size() == kMaxDigestItems) break;
    v1::Notification::DigestItem* d = note.add_digest();
    d->set_deal_id(item.deal_id);
    d->set_rule_id(item.rule_id);
    d->set_execution_id(item.execution_id);
    d->set_subject(item.subject);
  }
  *note.mutable_time() = ToProtoTimestamp(clock_.Now());
  events::NewEvent event{.aggregate_type = "notification",
                         .aggregate_id = first.recipient,
                         .type = first.channel == v1::Notify::IN_APP ? kInAppType : kTelegramType,
                         .payload = &note,
                         .actor = rpc::ServicePrincipal("robots")};
  event.visible_to_user_ids = {first.recipient};
  return outbox_.Append(tx, event).status();
}

absl::Status Engine::Impl::OnTimer(pqxx::transaction_base& tx, const timers::Timer& timer) {
  if (timer.kind == kStepTimerKind) {
    // "step:<id>" first, then "step:<id>:retry:<n>" for the n-th retry.
    int attempt = 1;
    if (const size_t at = timer.key.rfind(":retry:"); at != std::string::npos) {
      if (absl::SimpleAtoi(AsAbsl(std::string_view(timer.key).substr(at + 7)), &attempt)) ++attempt;
    }
    return RunStep(tx, timer.payload, attempt);
  }
  if (timer.kind == kDateTimerKind) return RunDate(tx, timer);
  if (timer.kind == kScheduleTimerKind) return RunSchedule(tx, timer);
  if (timer.kind == kDigestTimerKind) return SendDigest(tx, timer);
  return absl::UnimplementedError(absl::StrCat("unknown timer kind ", timer.kind));
}

absl::StatusOr<Execution> Engine::Impl::DryRun(const Principal& caller, const v1::DryRunRequest& req) {
  CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "robots.manage"));
  // Every violation at once: the rule (its id, or the inline rule's fields) and the deal id.
  std::vector<FieldViolation> violations;
  if (!req.rule_id().empty()) {
    if (!IsUuid(req.rule_id())) violations.push_back({"rule_id", "not a UUID"});
  } else if (req.has_rule()) {
    for (FieldViolation& v : FieldViolations(ValidateRule(req.rule()))) violations.push_back(std::move(v));
  } else {
    violations.push_back({"rule_id", "a rule_id or a rule is required"});
  }
  if (req.deal_id().empty()) {
    violations.push_back({"deal_id", "required"});
  } else if (!IsUuid(req.deal_id())) {
    violations.push_back({"deal_id", "not a UUID"});
  }
  if (!violations.empty()) return InvalidFieldsError(violations);
  Rule rule = req.rule();
  if (!req.rule_id().empty()) {
    CRM_ASSIGN_OR_RETURN(rule, rules_.Get(req.rule_id(), 0));
  }
  CRM_ASSIGN_OR_RETURN(dv1::Deal deal, deals_.GetDeal(req.deal_id()));
  Execution exec;
  exec.set_rule_id(rule.id());
  exec.set_rule_version(rule.version());
  exec.set_deal_id(deal.id());
  exec.set_state(Execution::DRY_RUN);
  *exec.mutable_create_time() = ToProtoTimestamp(clock_.Now());
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(StoredFacts stored, LoadStoredFacts(tx, deal.id()));
    Facts facts = MakeFacts(&deal, stored, clock_.Now(), zone());
    CRM_RETURN_IF_ERROR(LoadCounters(tx, deal.id(), deal.responsible_id(), facts.counters));
    for (const auto& [name, value] : facts.counters) (*exec.mutable_counters())[name] = value;
    Evaluation ev = Evaluate(rule.condition(), facts);
    for (auto& p : ev.predicates) *exec.add_predicates() = std::move(p);
    if (!ev.result) return absl::OkStatus();
    const auto vars = Vars(tx, rule, exec, &deal);
    for (int i = 0; i < rule.actions_size(); ++i) {
      const Action& a = rule.actions(i);
      auto* r = exec.add_actions();
      r->set_index(i);
      r->set_action(ActionName(a));
      r->set_state(kPlanned);
      std::string detail;
      if (a.has_create_task()) {
        detail = absl::StrCat("task «", RenderTemplate(a.create_task().title(), vars), "»");
        absl::StatusOr<std::string> creator = PersonOf(tx, a.create_task().creator(), deal);
        if (creator.ok() && !creator->empty()) {
          absl::StatusOr<std::vector<Recipient>> who =
              ResolveRecipients(tx, {absl::StrCat("user:", *creator)}, deal.responsible_id());
          absl::StrAppend(&detail, ", creator ", who.ok() && !who->empty() ? (*who)[0].full_name : *creator);
        }
      }
      if (a.has_complete_tasks()) {
        detail = absl::StrCat("complete open tasks «", RenderTemplate(a.complete_tasks().title(), vars), "»");
      }
      if (a.has_add_tag()) detail = absl::StrCat("tag «", a.add_tag().tag(), "»");
      if (a.has_add_comment()) detail = absl::StrCat("comment «", RenderTemplate(a.add_comment().text(), vars), "»");
      if (a.has_set_field()) detail = absl::StrCat(a.set_field().field(), " = ", a.set_field().value());
      if (a.has_move_stage()) detail = absl::StrCat("to stage ", a.move_stage().stage_id());
      if (a.has_change_responsible()) detail = absl::StrCat("responsible ", a.change_responsible().user_id());
      if (a.has_copy_deal()) detail = absl::StrCat("copy to pipeline ", a.copy_deal().pipeline_id());
      if (a.has_notify()) {
        std::vector<std::string> specs(a.notify().recipients().begin(), a.notify().recipients().end());
        absl::StatusOr<std::vector<Recipient>> to = ResolveRecipients(tx, specs, deal.responsible_id());
        std::vector<std::string> names;
        if (to.ok()) {
          for (const Recipient& p : *to) names.push_back(p.full_name.empty() ? p.user_id : p.full_name);
        }
        detail = absl::StrCat("notify ", absl::StrJoin(names, ", "), ": ", RenderTemplate(a.notify().text(), vars));
      }
      if (a.has_start_report()) detail = absl::StrCat("report ", a.start_report().report());
      if (a.has_increment_counter()) detail = absl::StrCat("counter ", a.increment_counter().name(), " + 1");
      r->set_detail(detail);
    }
    return absl::OkStatus();
  }));
  return exec;
}

absl::StatusOr<v1::ListExecutionsResponse> Engine::Impl::List(const Principal& caller,
                                                               const v1::ListExecutionsRequest& req) {
  CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "robots.read"));
  std::vector<FieldViolation> violations = ListExecutionsViolations(req);
  if (!violations.empty()) return InvalidFieldsError(violations);
  const int size = PageSize(req.page_size(), violations);
  CRM_ASSIGN_OR_RETURN(const ListStatement page, ExecutionsPageStatement(req, size + 1));
  const bool all = rpc::HasPermission(caller, "robots.read.all");
  const std::string me = caller.id().empty() ? caller.on_behalf_of_user_id() : caller.id();
  v1::ListExecutionsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    out.Clear();
    if (!all) {
      if (req.deal_id().empty()) return absl::PermissionDeniedError("missing permission robots.read.all");
      pqxx::result owner = Run(tx, DealOwnerStatement(req.deal_id()));
      if (owner.empty() || owner[0][0].as<std::string>() != me) {
        return absl::PermissionDeniedError("the deal's log is its responsible's (or needs robots.read.all)");
      }
    }
    pqxx::result r = Run(tx, page);
    for (int i = 0; i < std::min<int>(size, r.size()); ++i) {
      if (!out.add_executions()->ParseFromString(Bytes(r[i][0]))) return absl::DataLossError("bad execution");
    }
    if (static_cast<int>(r.size()) > size) {
      out.set_next_page_token(ExecutionsPageToken(r[size - 1][1].as<int64_t>(), r[size - 1][2].as<std::string>()));
    }
    return absl::OkStatus();
  }));
  return out;
}

// ---------------------------------------------------------------------------------------------------

Engine::Engine(pg::Pool& pool, const Clock& clock, RuleStore& rules, DealsClient& deals, Mailer* mailer,
               const events::OutboxWriter& outbox, EngineOptions options)
    : impl_(std::make_unique<Impl>(pool, clock, rules, deals, mailer, outbox, std::move(options))) {}
Engine::~Engine() = default;

std::vector<std::string> Engine::Topics() {
  return {kDealTopic, kTaskTopic, kCallTopic, kDialogTopic, kInteractionTopic};
}

absl::Status Engine::OnEvent(pqxx::transaction_base& tx, const events::ConsumedEvent& event) {
  return impl_->OnEvent(tx, event);
}
absl::Status Engine::OnTimer(pqxx::transaction_base& tx, const timers::Timer& timer) { return impl_->OnTimer(tx, timer); }
absl::StatusOr<Execution> Engine::DryRun(const Principal& caller, const v1::DryRunRequest& request) {
  return impl_->DryRun(caller, request);
}
absl::StatusOr<v1::ListExecutionsResponse> Engine::ListExecutions(const Principal& caller,
                                                                  const v1::ListExecutionsRequest& request) {
  return impl_->List(caller, request);
}
void Engine::SetWake(std::function<void()> wake) { impl_->wake_ = std::move(wake); }
void Engine::AfterCommit() {
  if (impl_->due_now_.exchange(false) && impl_->wake_) impl_->wake_();
}

}  // namespace crm::robots
