// File: proto/crm/deals/v1/applications_event_types.h
// -----------------------------------------------------------------------------
// The names of the deal application events (applications_events.proto, D15) as producers and consumers
// spell them. Header only, no dependencies.
#ifndef CRM_PROTO_CRM_DEALS_V1_APPLICATIONS_EVENT_TYPES_H_
#define CRM_PROTO_CRM_DEALS_V1_APPLICATIONS_EVENT_TYPES_H_

namespace crm::deals::v1 {

inline constexpr char kApplicationAggregate[] = "application";
inline constexpr char kApplicationTopic[] = "crm.deals.application.v1";

// crm.deals.application.v1: DealApplicationChanged.
inline constexpr char kApplicationCreatedType[] = "crm.deals.application.created.v1";
inline constexpr char kApplicationUpdatedType[] = "crm.deals.application.updated.v1";
inline constexpr char kApplicationSharesRecalculatedType[] = "crm.deals.application.shares_recalculated.v1";
inline constexpr char kApplicationStatusChangedType[] = "crm.deals.application.status_changed.v1";

}  // namespace crm::deals::v1

#endif  // CRM_PROTO_CRM_DEALS_V1_APPLICATIONS_EVENT_TYPES_H_
