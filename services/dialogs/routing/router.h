// File: services/dialogs/routing/router.h
// -----------------------------------------------------------------------------
// Routing's effects (T6, T8), all in the CALLER's transaction (the dialog's, an operator call's, a timer's):
//
//   * Distribute: first to the dialog's preferred operator when one is set (a client who came by an
//     operator's personal QR code: outreach's PreferredOperator, through SetPreferredOperator) and they
//     are available (online, rights on the bot, spare capacity, not excluded); else the pure decision
//     (distribute.h) over the bot's rules and operators; the chosen operator
//     is locked (an advisory transaction lock) and counted again, so capacity is never exceeded by
//     concurrent distributions. Assigns (IN_WORK, responsible; DISTRIBUTED history row; DialogAssigned on
//     crm.dialogs.dialog.v1 visible to them; the answer timer) or queues (QUEUED history row; out of hours
//     from not_before, with an offer timer then).
//   * Assigned: the history, the idleness, the timer and the event of an assignment made elsewhere
//     (TakeDialog's one conditional UPDATE, a redirect).
//   * OnOperatorReply: the first reply after an assignment fills its reply time (working seconds: T8)
//     and cancels its answer timer.
//   * Offer: the oldest due queued dialogs of a bot (or of an operator's bots) are distributed again — an
//     operator came online or freed capacity.
//   * Timers (kinds kReplyTimeoutKind, kOfferKind): an answer timeout gives the dialog to the next operator
//     (TIMED_OUT, excluding the one who timed out) or back to the queue; an offer re-runs Distribute.
#ifndef CRM_SERVICES_DIALOGS_ROUTING_ROUTER_H_
#define CRM_SERVICES_DIALOGS_ROUTING_ROUTER_H_

#include <functional>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/dialogs/hours.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm::calendar {
class WorkingCalendar;
}  // namespace crm::calendar
namespace crm::events {
class OutboxWriter;
}  // namespace crm::events
namespace crm::timers {
struct Timer;
}  // namespace crm::timers

namespace crm::dialogs::routing {

inline constexpr char kReplyTimeoutKind[] = "dialogs.reply_timeout";
inline constexpr char kOfferKind[] = "dialogs.route_offer";

// dialog_assignments.kind (routing.proto AssignmentKind without its prefix).
inline constexpr char kQueued[] = "QUEUED";
inline constexpr char kDistributed[] = "DISTRIBUTED";
inline constexpr char kTaken[] = "TAKEN";
inline constexpr char kRedirected[] = "REDIRECTED";
inline constexpr char kTimedOut[] = "TIMED_OUT";
inline constexpr char kReleased[] = "RELEASED";

// How many queued dialogs one Offer looks at per bot.
inline constexpr int kOfferBatch = 20;

// The operator a dialog should go to first ("" = none), read in the distributing transaction.
using PreferredOperatorProvider =
    std::function<absl::StatusOr<std::string>(pqxx::transaction_base&, std::string_view dialog_id)>;

class Router {
 public:
  // All must outlive the router. `hours`: the bot's working hours (telegram's BotStore::Hours).
  Router(const crm::calendar::WorkingCalendar& calendar, BotHoursProvider hours,
         const crm::events::OutboxWriter& outbox);

  struct Target {
    std::vector<std::string> exclude;  // never to them (who timed out)
    std::string from_user_id;          // the previous responsible (history)
    std::string by_user_id;            // who caused it ("" = the system)
    const char* kind = kDistributed;   // the history's kind when assigned
    bool queue_when_nobody = true;     // false: nobody available leaves the dialog as it is
    bool only_queued = false;          // an offer: only a dialog still QUEUED is distributed
    // Non-empty: only these users (a group redirect), at one priority, instead of the bot's rules.
    std::vector<std::string> only_users;
  };
  // The assigned user, or "" when queued (or left, or closed). See the file comment.
  absl::StatusOr<std::string> Distribute(pqxx::transaction_base& tx, std::string_view dialog_id,
                                         absl::Time not_before, absl::Time now, const Target& target) const;
  absl::StatusOr<std::string> Distribute(pqxx::transaction_base& tx, std::string_view dialog_id,
                                         absl::Time not_before, absl::Time now) const {
    return Distribute(tx, dialog_id, not_before, now, Target{});
  }

  // Gives the (locked, open) dialog to `to_user_id` regardless of presence and capacity (an explicit
  // redirect to a user), with Assigned's effects.
  absl::Status AssignTo(pqxx::transaction_base& tx, std::string_view dialog_id, std::string_view to_user_id,
                        const char* kind, std::string_view by_user_id, absl::Time now) const;

  // History, idleness, answer timer and event of an assignment the caller made.
  absl::Status Assigned(pqxx::transaction_base& tx, std::string_view dialog_id, std::string_view bot_id,
                        const char* kind, std::string_view from_user_id, std::string_view to_user_id,
                        std::string_view by_user_id, absl::Time now) const;
  // An append-only history row without an assignment (QUEUED, RELEASED, TIMED_OUT to the queue).
  static absl::Status Record(pqxx::transaction_base& tx, std::string_view dialog_id, std::string_view bot_id,
                             const char* kind, std::string_view from_user_id, std::string_view by_user_id,
                             absl::Time now);
  // Back to the queue by its handler (RELEASED), offered to the others at once.
  absl::Status Release(pqxx::transaction_base& tx, std::string_view dialog_id, std::string_view by_user_id,
                       absl::Time now) const;

  absl::Status OnOperatorReply(pqxx::transaction_base& tx, std::string_view dialog_id, std::string_view user_id,
                               absl::Time now) const;

  // Distributes the oldest due queued dialogs of `bot_id`; returns how many were assigned.
  absl::StatusOr<int> OfferBot(pqxx::transaction_base& tx, std::string_view bot_id, absl::Time now) const;
  // OfferBot for each bot `user_id` operates.
  absl::StatusOr<int> OfferOperator(pqxx::transaction_base& tx, std::string_view user_id, absl::Time now) const;

  absl::Status OnReplyTimeout(pqxx::transaction_base& tx, const crm::timers::Timer& timer, absl::Time now) const;
  absl::Status OnOffer(pqxx::transaction_base& tx, const crm::timers::Timer& timer, absl::Time now) const;

  // Working seconds of the bot between a and b (T8), by its hours and the calendar.
  absl::StatusOr<int64_t> WorkingSecondsOf(pqxx::transaction_base& tx, std::string_view bot_id, absl::Time a,
                                           absl::Time b) const;

  const crm::calendar::WorkingCalendar& calendar() const { return calendar_; }

  // Set once at wiring, before any distribution (outreach's PreferredOperator); none = rules only.
  void SetPreferredOperator(PreferredOperatorProvider preferred) { preferred_ = std::move(preferred); }

 private:
  absl::Status ScheduleTimeout(pqxx::transaction_base& tx, std::string_view bot_id, int64_t assignment_id,
                               absl::Time now) const;

  const crm::calendar::WorkingCalendar& calendar_;
  BotHoursProvider hours_;
  const crm::events::OutboxWriter& outbox_;
  PreferredOperatorProvider preferred_;
};

}  // namespace crm::dialogs::routing

#endif  // CRM_SERVICES_DIALOGS_ROUTING_ROUTER_H_
