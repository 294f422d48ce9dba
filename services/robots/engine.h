// File: services/robots/engine.h
// -----------------------------------------------------------------------------
// The robots engine (R1–R10): turns the suite's events into executions of rules, and executions into
// actions, exactly once in effect, with a log that explains each one.
//
// How an event becomes effects:
//   1. OnEvent (inside the idempotent consumer's transaction, libs/events/consumer.h) maps the event to
//      triggers (a deal created into a stage also ENTERS that stage), updates the facts robots keep
//      (last comment, touches), cancels waiting steps whose cancel_when became true, re-arms date timers,
//      and matches the rule index. For each matching rule it inserts an execution keyed by
//      (rule, deal, event id) — a redelivered event finds it and does nothing — recording the rule
//      version, the automation depth and, for a rule without delay, the evaluated condition. A change made
//      by robots deeper than the rule's max_depth is logged SKIPPED_DEPTH; an import marked
//      skip_automation is ignored unless the trigger includes such imports.
//   2. A matched execution is WAITING on a durable timer "step:<execution id>" (due now, after the delay
//      in calendar or working time, or at the end of the coalescing window — a new event of the burst
//      marks the earlier execution COALESCED). OnTimer runs it: a delayed step reloads the deal from
//      deals and evaluates cancel_when and the condition as they are then; then each action not yet done
//      runs with the idempotency key "<execution id>:<action index>", so a retry or a crash mid-action
//      never repeats an effect. A transient failure records RETRYING with the error and re-arms the step
//      with capped exponential backoff; a permanent one fails the execution. Progress commits with the
//      step, so the log says what happened whatever happens next.
//   3. Date rules (DATE_FIELD_REACHED) keep one timer per rule and deal at the date plus the offset,
//      cancelled and replaced when the date changes. Schedule rules run on each occurrence of their
//      schedule (schedules.h): the condition selects open deals of the trigger's pipeline; per-deal actions
//      run once per selected deal, notify / start_report once with the list.
//
// Example (main.cc):
//   crm::robots::Engine engine(*pool, clock, rules, deals, mailer.get(), outbox, options);
//   consumer = Consumer::Create({... .topics = crm::robots::Engine::Topics()}, *pool,
//                               [&](auto& tx, const auto& e) { return engine.OnEvent(tx, e); });
//   TimerLoop loop(timers, schedules.Wrap([&](auto& tx, const Timer& t) { return engine.OnTimer(tx, t); }));
#ifndef CRM_SERVICES_ROBOTS_ENGINE_H_
#define CRM_SERVICES_ROBOTS_ENGINE_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crm/robots/v1/robots.pb.h"
#include "proto/crm/robots/v1/event_types.h"
#include "services/robots/notify.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm {
class Clock;
}  // namespace crm
namespace crm::calendar {
class WorkingCalendar;
}  // namespace crm::calendar
namespace crm::common::v1 {
class Principal;
}  // namespace crm::common::v1
namespace crm::deals::v1 {
class Deal;
}  // namespace crm::deals::v1
namespace crm::events {
class OutboxWriter;
struct ConsumedEvent;
}  // namespace crm::events
namespace crm::pg {
class Pool;
}  // namespace crm::pg
namespace crm::mail {
class Mailer;
}  // namespace crm::mail
namespace crm::timers {
struct Timer;
}  // namespace crm::timers

namespace crm::robots {

// E-mail goes through the suite's SMTP client (libs/mail/mail.h).
using crm::mail::Mailer;

class DealsClient;
class RuleStore;

// The timer kinds the engine handles.
inline constexpr char kStepTimerKind[] = "robots.step";
inline constexpr char kDateTimerKind[] = "robots.date";

// The notification event types robots publishes (crm.robots.notification.v1, key = the recipient).
using ::crm::robots::v1::kInAppType;     // proto/crm/robots/v1/event_types.h (dialogs consumes them)
using ::crm::robots::v1::kTelegramType;

struct EngineOptions {
  // Working time for delays and task deadlines, and the zone of date comparisons. Not owned; required.
  const calendar::WorkingCalendar* calendar = nullptr;
  // Depth used when a rule sets no max_depth.
  int default_max_depth = 2;
  // Backoff of a failed action: initial, doubling, capped; after max_attempts the execution FAILS.
  absl::Duration initial_backoff = absl::Seconds(10);
  absl::Duration max_backoff = absl::Minutes(30);
  int max_attempts = 10;
  // Link to a deal in notifications ({deal.url} = prefix + id): the suite's public URL and the deal's
  // path on it (DealUrlPrefix in notify.h; wiring reads CRM_PUBLIC_URL).
  std::string deal_url_prefix = std::string(kDefaultPublicUrl) + kDefaultDealPath;
  // Sender of e-mail notifications.
  std::string mail_from = "robots@crm.local";
  // Deals looked at per schedule occurrence.
  int schedule_deal_limit = 5000;
  // A person gets at most one message a channel per this window; the rest wait for its digest
  // (digest.h). Zero: every notification at once.
  absl::Duration digest_window = absl::Minutes(5);
};

class Engine {
 public:
  // Every argument must outlive the engine. `mailer` may be nullptr (EMAIL notifications then fail).
  Engine(pg::Pool& pool, const Clock& clock, RuleStore& rules, DealsClient& deals, Mailer* mailer,
         const events::OutboxWriter& outbox, EngineOptions options);
  ~Engine();

  // The topics OnEvent understands (deals' deals and tasks, telephony's calls, dialogs' dialogs).
  static std::vector<std::string> Topics();

  // Applies one event inside the consumer's transaction (see the file comment). Unknown event types
  // are ignored; an undecodable payload is InvalidArgument (parked by the consumer).
  absl::Status OnEvent(pqxx::transaction_base& tx, const events::ConsumedEvent& event);

  // Runs a timer of kind kStepTimerKind, kDateTimerKind or kScheduleTimerKind inside FireDue's
  // savepoint; other kinds are an error (retried, so a newer replica may take them).
  absl::Status OnTimer(pqxx::transaction_base& tx, const timers::Timer& timer);

  // What the rule (stored, or inline and validated) would do to the deal now, changing nothing.
  absl::StatusOr<crm::robots::v1::Execution> DryRun(const crm::common::v1::Principal& caller,
                                                    const crm::robots::v1::DryRunRequest& request);

  // The log, newest first, of one deal and / or one rule.
  absl::StatusOr<crm::robots::v1::ListExecutionsResponse> ListExecutions(
      const crm::common::v1::Principal& caller, const crm::robots::v1::ListExecutionsRequest& request);

  // Called after a transaction that made a step due now commits (main wires it to TimerLoop::Wake).
  void SetWake(std::function<void()> wake);
  // Called by the consumer after each commit: wakes the timer loop if the event made due steps.
  void AfterCommit();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace crm::robots

#endif  // CRM_SERVICES_ROBOTS_ENGINE_H_
