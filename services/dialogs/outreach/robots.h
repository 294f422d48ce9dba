// File: services/dialogs/outreach/robots.h
// -----------------------------------------------------------------------------
// Robots' client messages (T9): robots publishes crm.robots.notification.v1; the TELEGRAM ones
// (type "crm.robots.notification.telegram.v1") with a client_id are delivered here to the client's chat
// — the client's last dialog's bot and chat (a notification names no bot yet) — as an outgoing row of
// telegram's sender. Each event once: the consumer's inbox table (libs/events/consumer.h) and
// robot_deliveries' primary key (event id) — a second consumption changes nothing. Undeliverable (no
// client: an employee's notification; no chat; a text Telegram refuses) → recorded with the reason. The
// outgoing row's final state reaches the delivery through telegram's hook (ApplyOutgoingChange).
#ifndef CRM_SERVICES_DIALOGS_OUTREACH_ROBOTS_H_
#define CRM_SERVICES_DIALOGS_OUTREACH_ROBOTS_H_

#include "absl/status/status.h"
#include "proto/crm/events/v1/envelope.pb.h"
#include "services/dialogs/telegram/outgoing.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm {
class Clock;
}  // namespace crm

namespace crm::dialogs::outreach {

class RobotMessages {
 public:
  RobotMessages(const Clock& clock, telegram::Outgoing& outgoing) : clock_(clock), outgoing_(outgoing) {}

  // The consumer's handler for one event of crm.robots.notification.v1, in its transaction.
  absl::Status Handle(pqxx::transaction_base& tx, const crm::events::v1::Envelope& event) const;
  // telegram's outgoing-state hook: a delivery's row sent or failed.
  static absl::Status ApplyOutgoingChange(pqxx::transaction_base& tx, const telegram::OutgoingChange& change);

 private:
  const Clock& clock_;
  telegram::Outgoing& outgoing_;
};

}  // namespace crm::dialogs::outreach

#endif  // CRM_SERVICES_DIALOGS_OUTREACH_ROBOTS_H_
