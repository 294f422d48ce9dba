// File: services/dialogs/inbox/users.h
// -----------------------------------------------------------------------------
// The read model dialogs keeps of identity's users (T7: a dialog shows its responsible's name, a message its
// operator's; T6: a supervisor sees the dialogs of the users naming them as supervisor, User.supervisor_id):
// user_directory, filled from UserCreated / UserUpdated on crm.identity.user.v1 by an idempotent consumer
// (libs/events/consumer.h), as services/deals/users.h does. Never read from identity per request; a user
// not heard of yet shows an empty name and has no supervisor.
#ifndef CRM_SERVICES_DIALOGS_INBOX_USERS_H_
#define CRM_SERVICES_DIALOGS_INBOX_USERS_H_

#include "absl/status/status.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm::events {
struct ConsumedEvent;
}  // namespace crm::events

namespace crm::dialogs::inbox {

// Applies one event of crm.identity.user.v1 in `tx` (others are ignored; an older version changes nothing).
absl::Status ApplyUserEvent(pqxx::transaction_base& tx, const crm::events::ConsumedEvent& event);

}  // namespace crm::dialogs::inbox

#endif  // CRM_SERVICES_DIALOGS_INBOX_USERS_H_
