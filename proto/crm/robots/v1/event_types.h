// File: proto/crm/robots/v1/event_types.h
// -----------------------------------------------------------------------------
// The names of robots' notification events (events.proto Notification) as robots publishes them and
// dialogs consumes them (T9: the TELEGRAM ones to a client are delivered through the client's bot chat).
// Header only, no dependencies.
#ifndef CRM_PROTO_CRM_ROBOTS_V1_EVENT_TYPES_H_
#define CRM_PROTO_CRM_ROBOTS_V1_EVENT_TYPES_H_

namespace crm::robots::v1 {

// Topic of notifications; key = the recipient user id, or the client id for a client.
inline constexpr char kNotificationTopic[] = "crm.robots.notification.v1";
inline constexpr char kInAppType[] = "crm.robots.notification.in_app.v1";
inline constexpr char kTelegramType[] = "crm.robots.notification.telegram.v1";

}  // namespace crm::robots::v1

#endif  // CRM_PROTO_CRM_ROBOTS_V1_EVENT_TYPES_H_
