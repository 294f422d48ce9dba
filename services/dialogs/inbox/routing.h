// File: services/dialogs/inbox/routing.h
// -----------------------------------------------------------------------------
// THE SEAM between the inbox and routing (T6, services/dialogs/routing/router.h): where a dialog goes when
// the chat-bot hands it to operators (the scenario's DISTRIBUTE or FINISH, or a bot without a scenario),
// and what routing must hear of the inbox's own changes — a take, an operator's reply, a dialog done.
// Wiring sets the router (SetRouter); without one (the inbox's own tests) a dialog only queues: QUEUED
// «В очереди» from max(now, not_before), for the bot's operators to take.
#ifndef CRM_SERVICES_DIALOGS_INBOX_ROUTING_H_
#define CRM_SERVICES_DIALOGS_INBOX_ROUTING_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "crm/dialogs/v1/inbox.pb.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm::dialogs::routing {
class Router;
}  // namespace crm::dialogs::routing

namespace crm::dialogs::inbox {

// The process's router (wiring: routing/wire.cc); nullptr = queue only. Set before the workers start.
void SetRouter(const routing::Router* router);

// In the caller's transaction (the dialog's row is locked by it). A closed dialog is left as it is. With a
// router: to the best available operator by the rules (IN_WORK), else QUEUED; history rows either way.
absl::Status Distribute(pqxx::transaction_base& tx, const crm::dialogs::v1::Dialog& dialog, absl::Time not_before,
                        absl::Time now);

// TakeDialog won by `user_id`: the TAKEN history row, the answer timer, DialogAssigned.
absl::Status OnTaken(pqxx::transaction_base& tx, const crm::dialogs::v1::Dialog& dialog, std::string_view user_id,
                     absl::Time now);
// An operator replied (SendMessage): their first reply after the assignment is recorded (T8) and its
// answer timer cancelled.
absl::Status OnOperatorReply(pqxx::transaction_base& tx, std::string_view dialog_id, std::string_view user_id,
                             absl::Time now);
// A dialog left IN_WORK (PROCESSED, CLOSED): its operator has capacity again — the bot's queue is offered.
absl::Status OnDone(pqxx::transaction_base& tx, const crm::dialogs::v1::Dialog& dialog, absl::Time now);

}  // namespace crm::dialogs::inbox

#endif  // CRM_SERVICES_DIALOGS_INBOX_ROUTING_H_
