// File: services/robots/triggers.h
// -----------------------------------------------------------------------------
// What an event of the suite says happened to a deal, and which rules' triggers it meets (R1): the
// matching half of the engine (engine.h), with no database. deals' DealCreated is also the deal
// ENTERING its stage; DealStageChanged is entering the new stage and leaving the old one (of the old
// pipeline); a task, call or message event names its deal; a message the manager sent is a touch.
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
#include "crm/deals/v1/deals.pb.h"
#include "crm/robots/v1/robots.pb.h"

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
  bool comment = false;  // a comment was added (has_comment_since_stage)
  bool touch = false;    // a finished call or a message to the client (counter.touches, R4)
};

// The DealEvent of `envelope`; nullopt for an event robots do not act on (another type, or a call or
// message linked to no deal). InvalidArgument when the payload is not the type's message.
absl::StatusOr<std::optional<DealEvent>> DecodeEvent(const crm::events::v1::Envelope& envelope);

// Whether trigger `t`, for one of the event's `kind`s, is met by `e` about `deal` (the deal as the
// event leaves it; nullptr when unknown): pipeline, stage, to-stages, field and task title narrow it.
bool TriggerMatches(const crm::robots::v1::Trigger& t, crm::robots::v1::Trigger::Kind kind, const DealEvent& e,
                    const crm::deals::v1::Deal* deal);

// The rules of `index` the event starts, each once, in index order per kind.
std::vector<const crm::robots::v1::Rule*> MatchRules(const RuleIndex& index, const DealEvent& e,
                                                     const crm::deals::v1::Deal* deal);

}  // namespace crm::robots

#endif  // CRM_SERVICES_ROBOTS_TRIGGERS_H_
