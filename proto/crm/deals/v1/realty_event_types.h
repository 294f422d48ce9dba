// File: proto/crm/deals/v1/realty_event_types.h
// -----------------------------------------------------------------------------
// The names of the real-estate events of deals (realty_events.proto, D14) as producers and consumers
// spell them: one place, so a rename cannot leave a consumer listening for a type nobody sends. Header
// only, no dependencies.
#ifndef CRM_PROTO_CRM_DEALS_V1_REALTY_EVENT_TYPES_H_
#define CRM_PROTO_CRM_DEALS_V1_REALTY_EVENT_TYPES_H_

namespace crm::deals::v1 {

// Aggregates (the middle of the topic name) and topics.
inline constexpr char kProjectAggregate[] = "project";
inline constexpr char kUnitAggregate[] = "unit";
inline constexpr char kBookingAggregate[] = "booking";
inline constexpr char kProjectTopic[] = "crm.deals.project.v1";
inline constexpr char kUnitTopic[] = "crm.deals.unit.v1";
inline constexpr char kBookingTopic[] = "crm.deals.booking.v1";

// crm.deals.project.v1: ProjectChanged.
inline constexpr char kProjectCreatedType[] = "crm.deals.project.created.v1";
inline constexpr char kProjectUpdatedType[] = "crm.deals.project.updated.v1";
inline constexpr char kBuildingCreatedType[] = "crm.deals.project.building_created.v1";
inline constexpr char kBuildingUpdatedType[] = "crm.deals.project.building_updated.v1";

// crm.deals.unit.v1: UnitChanged, UnitStatusChanged.
inline constexpr char kUnitCreatedType[] = "crm.deals.unit.created.v1";
inline constexpr char kUnitUpdatedType[] = "crm.deals.unit.updated.v1";
inline constexpr char kUnitStatusChangedType[] = "crm.deals.unit.status_changed.v1";

// crm.deals.booking.v1: BookingChanged.
inline constexpr char kBookingCreatedType[] = "crm.deals.booking.created.v1";
inline constexpr char kBookingQueuedType[] = "crm.deals.booking.queued.v1";
inline constexpr char kBookingPromotedType[] = "crm.deals.booking.promoted.v1";
inline constexpr char kBookingReleasedType[] = "crm.deals.booking.released.v1";
inline constexpr char kBookingExpiredType[] = "crm.deals.booking.expired.v1";
inline constexpr char kBookingConvertedType[] = "crm.deals.booking.converted.v1";
inline constexpr char kBookingCancelledType[] = "crm.deals.booking.cancelled.v1";

}  // namespace crm::deals::v1

#endif  // CRM_PROTO_CRM_DEALS_V1_REALTY_EVENT_TYPES_H_
