// File: proto/crm/telephony/v1/request_event_types.h
// -----------------------------------------------------------------------------
// The names of the call-request queue's events (P4; request_events.proto) as producers and consumers spell
// them: one place. Header only, no dependencies.
#ifndef CRM_PROTO_CRM_TELEPHONY_V1_REQUEST_EVENT_TYPES_H_
#define CRM_PROTO_CRM_TELEPHONY_V1_REQUEST_EVENT_TYPES_H_

namespace crm::telephony::v1 {

// Topic of a request's events; key = request id, so one request's events stay in order.
inline constexpr char kRequestTopic[] = "crm.telephony.request.v1";
inline constexpr char kRequestAggregate[] = "request";
inline constexpr char kRequestCreatedType[] = "crm.telephony.request.created.v1";    // CallRequestCreated
inline constexpr char kRequestOfferedType[] = "crm.telephony.request.offered.v1";    // CallRequestOffered
inline constexpr char kRequestAcceptedType[] = "crm.telephony.request.accepted.v1";  // CallRequestOfferEnded
inline constexpr char kRequestDeclinedType[] = "crm.telephony.request.declined.v1";  // CallRequestOfferEnded
inline constexpr char kRequestExpiredType[] = "crm.telephony.request.expired.v1";    // CallRequestOfferEnded
inline constexpr char kRequestFinishedType[] = "crm.telephony.request.finished.v1";  // CallRequestFinished

}  // namespace crm::telephony::v1

#endif  // CRM_PROTO_CRM_TELEPHONY_V1_REQUEST_EVENT_TYPES_H_
