// File: proto/crm/identity/v1/event_types.h
// -----------------------------------------------------------------------------
// The names of identity's events (events.proto) as producers and consumers spell them: one place, so a
// rename cannot leave a consumer listening for a type nobody sends. Header only, no dependencies.
#ifndef CRM_PROTO_CRM_IDENTITY_V1_EVENT_TYPES_H_
#define CRM_PROTO_CRM_IDENTITY_V1_EVENT_TYPES_H_

namespace crm::identity::v1 {

// Topic of UserCreated / UserUpdated; key = user id.
inline constexpr char kUserTopic[] = "crm.identity.user.v1";
inline constexpr char kUserCreatedType[] = "crm.identity.user.created.v1";
inline constexpr char kUserUpdatedType[] = "crm.identity.user.updated.v1";

// Topic of SessionRevoked; key = session id.
inline constexpr char kSessionTopic[] = "crm.identity.session.v1";
inline constexpr char kSessionRevokedType[] = "crm.identity.session.revoked.v1";

}  // namespace crm::identity::v1

#endif  // CRM_PROTO_CRM_IDENTITY_V1_EVENT_TYPES_H_
