// File: services/telephony/calls/users.h
// -----------------------------------------------------------------------------
// identity's users as the calls part needs them: their logins (user_logins), and an extension planned for
// a login (pending_extensions; the demo's, demo.h) given to the user of that login when their UserCreated /
// UserUpdated arrives on crm.identity.user.v1 (or at once by demo.h when it arrived before) (an idempotent consumer, libs/events/consumer.h, as dialogs' inbox/users.h keeps its
// directory). telephony never asks identity per request; an extension an administrator assigned
// meanwhile stays theirs.
#ifndef CRM_SERVICES_TELEPHONY_CALLS_USERS_H_
#define CRM_SERVICES_TELEPHONY_CALLS_USERS_H_

#include "absl/status/status.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm::events {
struct ConsumedEvent;
}  // namespace crm::events

namespace crm::telephony::calls {

// Applies one event of crm.identity.user.v1 in `tx` (other types are ignored).
absl::Status ApplyUserEvent(pqxx::transaction_base& tx, const crm::events::ConsumedEvent& event);

}  // namespace crm::telephony::calls

#endif  // CRM_SERVICES_TELEPHONY_CALLS_USERS_H_
