// File: services/telephony/calls/demo.h
// -----------------------------------------------------------------------------
// `crm-telephony demo` (P1): extensions for the demo users of identity's `demo-users` — the call-centre
// operator «cc.operator» 101, the manager «manager» 102, the administrator «admin» 100 — on the provider
// "asterisk". telephony knows users by id only, and the demo users' ids are identity's (random): the demo
// plans each extension for its login (pending_extensions), and the running service gives it to the user of
// that login when identity's user event arrives (users.h) — or here at once when the running service saw
// that user already (user_logins) — the simplest honest way without calling identity. Repeatable: a
// second run changes nothing.
#ifndef CRM_SERVICES_TELEPHONY_CALLS_DEMO_H_
#define CRM_SERVICES_TELEPHONY_CALLS_DEMO_H_

#include "absl/status/status.h"

namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::telephony::calls {

absl::Status InstallDemo(crm::pg::Pool& pool);

}  // namespace crm::telephony::calls

#endif  // CRM_SERVICES_TELEPHONY_CALLS_DEMO_H_
