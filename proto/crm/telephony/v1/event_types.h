// File: proto/crm/telephony/v1/event_types.h
// -----------------------------------------------------------------------------
// The names of the telephony service's call events (events.proto) as producers and consumers spell them:
// one place, so a rename cannot leave a consumer (robots: CALL_FINISHED, services/robots/triggers.h)
// listening for a type nobody sends. Header only, no dependencies.
#ifndef CRM_PROTO_CRM_TELEPHONY_V1_EVENT_TYPES_H_
#define CRM_PROTO_CRM_TELEPHONY_V1_EVENT_TYPES_H_

namespace crm::telephony::v1 {

// Topic of a call's events; key = call id, so one call's events stay in order.
inline constexpr char kCallTopic[] = "crm.telephony.call.v1";
inline constexpr char kCallAggregate[] = "call";
// CallStarted: a new call rings (P1: the operator's live screen).
inline constexpr char kCallStartedType[] = "crm.telephony.call.started.v1";
// CallAnswered.
inline constexpr char kCallAnsweredType[] = "crm.telephony.call.answered.v1";
// CallIdentified (P2): the clients of the outside number.
inline constexpr char kCallIdentifiedType[] = "crm.telephony.call.identified.v1";
// CallFinished: robots' CALL_FINISHED trigger (services/robots/triggers.h kCallFinishedType).
inline constexpr char kCallFinishedType[] = "crm.telephony.call.finished.v1";
// CallRecording.
inline constexpr char kCallRecordingType[] = "crm.telephony.call.recording.v1";

}  // namespace crm::telephony::v1

#endif  // CRM_PROTO_CRM_TELEPHONY_V1_EVENT_TYPES_H_
