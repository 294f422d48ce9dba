// File: proto/crm/dialogs/v1/telegram_event_types.h
// -----------------------------------------------------------------------------
// The names of the Telegram part's events (intake.proto) as producers and consumers spell them: one
// place, so a rename cannot leave a consumer listening for a type nobody sends. Header only.
#ifndef CRM_PROTO_CRM_DIALOGS_V1_TELEGRAM_EVENT_TYPES_H_
#define CRM_PROTO_CRM_DIALOGS_V1_TELEGRAM_EVENT_TYPES_H_

namespace crm::dialogs::v1 {

// Topic of UpdateReceived; key "<bot_id>:<chat_id>" (a chat's updates stay in order).
inline constexpr char kUpdateTopic[] = "crm.dialogs.update.v1";
inline constexpr char kUpdateAggregate[] = "update";
inline constexpr char kUpdateReceivedType[] = "crm.dialogs.update.received.v1";

// Topic of OutgoingStateChanged; key = the outgoing message's id.
inline constexpr char kOutgoingTopic[] = "crm.dialogs.outgoing.v1";
inline constexpr char kOutgoingAggregate[] = "outgoing";
inline constexpr char kOutgoingStateChangedType[] = "crm.dialogs.outgoing.state_changed.v1";

}  // namespace crm::dialogs::v1

#endif  // CRM_PROTO_CRM_DIALOGS_V1_TELEGRAM_EVENT_TYPES_H_
