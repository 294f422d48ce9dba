// File: proto/crm/dialogs/v1/scenario_event_types.h
// -----------------------------------------------------------------------------
// The names of the scenario events of dialogs (scenarios.proto, ScenarioChanged; T3) as producers and
// consumers spell them: one place, so a rename cannot leave a consumer listening for a type nobody sends.
// Header only, no dependencies.
#ifndef CRM_PROTO_CRM_DIALOGS_V1_SCENARIO_EVENT_TYPES_H_
#define CRM_PROTO_CRM_DIALOGS_V1_SCENARIO_EVENT_TYPES_H_

namespace crm::dialogs::v1 {

// Topic of ScenarioChanged; key = scenario id; aggregate type "scenario".
inline constexpr char kScenarioTopic[] = "crm.dialogs.scenario.v1";
inline constexpr char kScenarioAggregate[] = "scenario";
inline constexpr char kScenarioCreatedType[] = "crm.dialogs.scenario.created.v1";
inline constexpr char kScenarioUpdatedType[] = "crm.dialogs.scenario.updated.v1";

}  // namespace crm::dialogs::v1

#endif  // CRM_PROTO_CRM_DIALOGS_V1_SCENARIO_EVENT_TYPES_H_
