// File: proto/crm/deals/v1/interactions_event_types.h
// -----------------------------------------------------------------------------
// The topics and event type names of interactions (D16, interactions_events.proto) and client requests
// (D15, requests.proto) as producers (services/deals/interactions) and consumers (robots) spell them: one
// place, so a rename cannot leave a consumer listening for a type nobody sends. Header only.
#ifndef CRM_PROTO_CRM_DEALS_V1_INTERACTIONS_EVENT_TYPES_H_
#define CRM_PROTO_CRM_DEALS_V1_INTERACTIONS_EVENT_TYPES_H_

namespace crm::deals::v1 {

// Topic of the Interaction* events; key = interaction id; aggregate "interaction".
inline constexpr char kInteractionTopic[] = "crm.deals.interaction.v1";
inline constexpr char kInteractionAggregate[] = "interaction";
inline constexpr char kInteractionCreatedType[] = "crm.deals.interaction.created.v1";
inline constexpr char kInteractionUpdatedType[] = "crm.deals.interaction.updated.v1";
inline constexpr char kInteractionCompletedType[] = "crm.deals.interaction.completed.v1";
inline constexpr char kInteractionCancelledType[] = "crm.deals.interaction.cancelled.v1";

// Topic of the ClientRequest* events; key = request id; aggregate "request".
inline constexpr char kRequestTopic[] = "crm.deals.request.v1";
inline constexpr char kRequestAggregate[] = "request";
inline constexpr char kRequestCreatedType[] = "crm.deals.request.created.v1";
inline constexpr char kRequestUpdatedType[] = "crm.deals.request.updated.v1";
inline constexpr char kRequestStageChangedType[] = "crm.deals.request.stage_changed.v1";

}  // namespace crm::deals::v1

#endif  // CRM_PROTO_CRM_DEALS_V1_INTERACTIONS_EVENT_TYPES_H_
