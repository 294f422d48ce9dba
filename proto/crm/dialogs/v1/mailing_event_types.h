// File: proto/crm/dialogs/v1/mailing_event_types.h
// -----------------------------------------------------------------------------
// The names of the dialogs service's mailing events (outreach.proto MailingChanged; T9), as producers and
// consumers spell them. Header only, no dependencies.
#ifndef CRM_PROTO_CRM_DIALOGS_V1_MAILING_EVENT_TYPES_H_
#define CRM_PROTO_CRM_DIALOGS_V1_MAILING_EVENT_TYPES_H_

namespace crm::dialogs::v1 {

// Topic of a mailing's events; key = mailing id.
inline constexpr char kMailingTopic[] = "crm.dialogs.mailing.v1";
inline constexpr char kMailingAggregate[] = "mailing";
inline constexpr char kMailingCreatedType[] = "crm.dialogs.mailing.created.v1";
inline constexpr char kMailingFinishedType[] = "crm.dialogs.mailing.finished.v1";
inline constexpr char kMailingCancelledType[] = "crm.dialogs.mailing.cancelled.v1";

}  // namespace crm::dialogs::v1

#endif  // CRM_PROTO_CRM_DIALOGS_V1_MAILING_EVENT_TYPES_H_
