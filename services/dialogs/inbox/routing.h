// File: services/dialogs/inbox/routing.h
// -----------------------------------------------------------------------------
// THE SEAM for routing (T6, the next part): where a dialog goes when the chat-bot hands it to operators
// (the scenario's DISTRIBUTE or FINISH, or a bot without a scenario). For now it only queues: the dialog
// becomes QUEUED «В очереди» with its project and topic as the scenario set them, queued from
// max(now, not_before) (out of hours: the next working period, scenarios/README). Operators with rights on
// the bot (bot_operators) see the queue and take dialogs (TakeDialog). T6 replaces the body with the rules
// (operator ↔ project, topic, bot), capacity and online state — same signature, same transaction.
#ifndef CRM_SERVICES_DIALOGS_INBOX_ROUTING_H_
#define CRM_SERVICES_DIALOGS_INBOX_ROUTING_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "crm/dialogs/v1/inbox.pb.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm::dialogs::inbox {

// In the caller's transaction (the dialog's row is locked by it). A closed dialog is left as it is.
absl::Status Distribute(pqxx::transaction_base& tx, const crm::dialogs::v1::Dialog& dialog, absl::Time not_before,
                        absl::Time now);

}  // namespace crm::dialogs::inbox

#endif  // CRM_SERVICES_DIALOGS_INBOX_ROUTING_H_
