// File: proto/crm/dialogs/v1/event_types.h
// -----------------------------------------------------------------------------
// The names of the dialogs service's dialog events (events.proto) as producers and consumers spell them:
// one place, so a rename cannot leave a consumer (robots: a message is a touch, R4) listening for a type
// nobody sends. Header only, no dependencies.
#ifndef CRM_PROTO_CRM_DIALOGS_V1_EVENT_TYPES_H_
#define CRM_PROTO_CRM_DIALOGS_V1_EVENT_TYPES_H_

namespace crm::dialogs::v1 {

// Topic of a dialog's events; key = dialog id, so one dialog's messages stay in order.
inline constexpr char kDialogTopic[] = "crm.dialogs.dialog.v1";
inline constexpr char kDialogAggregate[] = "dialog";
// MessageExchanged: a client wrote / an operator or the bot answered.
inline constexpr char kMessageReceivedType[] = "crm.dialogs.dialog.message_received.v1";
inline constexpr char kMessageSentType[] = "crm.dialogs.dialog.message_sent.v1";
// DialogAssigned: routing (T6) gave the dialog to an operator.
inline constexpr char kDialogAssignedType[] = "crm.dialogs.dialog.assigned.v1";

}  // namespace crm::dialogs::v1

#endif  // CRM_PROTO_CRM_DIALOGS_V1_EVENT_TYPES_H_
