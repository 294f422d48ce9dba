// File: services/robots/triggers.h
// -----------------------------------------------------------------------------
// What an event of the suite says happened to a deal, and which rules' triggers it meets (R1): the
// matching half of the engine (engine.h), with no database. deals' DealCreated is also the deal
// ENTERING its stage; DealStageChanged is entering the new stage and leaving the old one (of the old
// pipeline); a task, call or message event names its deal.
//
// Touches (R4, seed 001 §1.1–1.2: «2 звонка + 1 сообщение»): the manager reaching the client. Each of
// these is one touch, counted once by what it was (DealEvent::touch_key), however often its event comes:
//   - a deals task of kind CALL, MEETING or EMAIL completed (crm.deals.task.completed.v1): the way a
//     manager records a call, a meeting or an e-mail today;
//   - a call telephony reports finished (crm.telephony.call.finished.v1), answered or not;
//   - a message an operator or the bot sent to the client in a dialog (crm.dialogs.message.sent.v1);
//   - an interaction deals reports finished (crm.deals.interaction.completed.v1, issue 17, D16): a call,
//     meeting, letter or dialog whichever service recorded it — one touch of each deal it names
//     (InteractionCompleted.touched_deal_ids: its deal, else its client's open deals), keyed
//     "interaction:<id>"; one telephony recorded (source "telephony") is keyed "call:<external_id>", so
//     the call telephony also reports finished (call_id = that external id) counts once.
// A message the client wrote (message.received) triggers MESSAGE_RECEIVED rules but is not the
// manager's touch. Other tasks (follow-up, custom) are not touches.
//
// Comments (seed 001 §1.3, §1.4: «комментарий»): one definition for gates, reports and robots — a comment
// on the deal since it entered its current stage, or one sent with the move. A CommentAdded entry is a
// comment at its time; a DealStageChanged with a comment is a comment at the moment of the move
// (DealEvent::comment_time = the deal's stage_enter_time).
//
// Example:
//   CRM_ASSIGN_OR_RETURN(std::optional<crm::robots::DealEvent> e, crm::robots::DecodeEvent(envelope));
//   if (e.has_value()) {
//     for (const v1::Rule* rule : crm::robots::MatchRules(index, *e, &*e->deal)) Start(*rule, ...);
//   }
#ifndef CRM_SERVICES_ROBOTS_TRIGGERS_H_
#define CRM_SERVICES_ROBOTS_TRIGGERS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crm/deals/v1/deals.pb.h"
#include "crm/deals/v1/tasks.pb.h"
#include "crm/robots/v1/robots.pb.h"
#include "proto/crm/deals/v1/interactions_event_types.h"
#include "proto/crm/dialogs/v1/event_types.h"
#include "proto/crm/telephony/v1/event_types.h"

namespace crm::events::v1 {
class Envelope;
}  // namespace crm::events::v1

namespace crm::robots {

class RuleIndex;

// What one event says happened to one deal.
struct DealEvent {
  std::string deal_id;
  std::optional<crm::deals::v1::Deal> deal;  // the deal after the change, when the event carries it
  std::vector<crm::robots::v1::Trigger::Kind> kinds;  // the triggers it is
  std::string from_stage_id;                 // STAGE_LEFT: the stage left ...
  std::string from_pipeline_id;              // ... and its pipeline
  std::vector<std::string> changed_fields;   // FIELD_CHANGED: "amount", "tags", "custom.<code>", ...
  std::string task_title;                    // task events
  bool entered_stage = false;                // created into a stage, or moved (R6 / R8 measures)
  bool won = false;
  bool comment = false;   // a comment was added, or sent with the move (has_comment_since_stage)
  std::optional<absl::Time> comment_time;  // when: the entry's time, or the move's; unset = the event's
  bool touch = false;     // a touch (counter.touches, R4; see the file comment) ...
  std::string touch_key;  // ... and what it was: "task:<id>", "call:<id>", "message:<id>", "interaction:<id>"
};

// The event types robots read (deals', telephony's and dialogs' names; each spelled here once).
inline constexpr char kDealCreatedType[] = "crm.deals.deal.created.v1";
inline constexpr char kDealUpdatedType[] = "crm.deals.deal.updated.v1";
inline constexpr char kDealStageChangedType[] = "crm.deals.deal.stage_changed.v1";
inline constexpr char kDealResponsibleChangedType[] = "crm.deals.deal.responsible_changed.v1";
inline constexpr char kDealWonType[] = "crm.deals.deal.won.v1";
inline constexpr char kDealLostType[] = "crm.deals.deal.lost.v1";
inline constexpr char kCommentAddedType[] = "crm.deals.deal.comment_added.v1";
inline constexpr char kTaskCreatedType[] = "crm.deals.task.created.v1";
inline constexpr char kTaskCompletedType[] = "crm.deals.task.completed.v1";
inline constexpr char kTaskOverdueType[] = "crm.deals.task.overdue.v1";
// The telephony service's finished call (P1): a touch, and the CALL_FINISHED trigger.
inline constexpr const char* kCallFinishedType = crm::telephony::v1::kCallFinishedType;
// The dialogs service's messages (T2): a touch either way.
inline constexpr const char* kMessageReceivedType = crm::dialogs::v1::kMessageReceivedType;
inline constexpr const char* kMessageSentType = crm::dialogs::v1::kMessageSentType;
// deals' interactions (D16): the topic and the type robots count as touches.
inline constexpr const char* kInteractionTopic = crm::deals::v1::kInteractionTopic;
inline constexpr const char* kInteractionCompletedType = crm::deals::v1::kInteractionCompletedType;

// Whether a completed task of `kind` is a touch (CALL, MEETING, EMAIL).
bool IsTouchTaskKind(crm::deals::v1::Task::Kind kind);

// The DealEvent of `envelope`; nullopt for an event robots do not act on (another type, or a call or
// message linked to no deal). InvalidArgument when the payload is not the type's message.
absl::StatusOr<std::optional<DealEvent>> DecodeEvent(const crm::events::v1::Envelope& envelope);

// Every DealEvent of `envelope`: one per deal a finished interaction touched, else DecodeEvent's (none
// for an event robots do not act on). InvalidArgument as DecodeEvent.
absl::StatusOr<std::vector<DealEvent>> DecodeEvents(const crm::events::v1::Envelope& envelope);

// Whether trigger `t`, for one of the event's `kind`s, is met by `e` about `deal` (the deal as the
// event leaves it; nullptr when unknown): pipeline, stage, to-stages, field and task title narrow it.
bool TriggerMatches(const crm::robots::v1::Trigger& t, crm::robots::v1::Trigger::Kind kind, const DealEvent& e,
                    const crm::deals::v1::Deal* deal);

// The rules of `index` the event starts, each once, in index order per kind.
std::vector<const crm::robots::v1::Rule*> MatchRules(const RuleIndex& index, const DealEvent& e,
                                                     const crm::deals::v1::Deal* deal);

}  // namespace crm::robots

#endif  // CRM_SERVICES_ROBOTS_TRIGGERS_H_
