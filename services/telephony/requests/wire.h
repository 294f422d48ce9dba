// File: services/telephony/requests/wire.h
// -----------------------------------------------------------------------------
// Wires the call-request queue (P4) into the telephony service (services/telephony/wiring.cc), after the
// calls part: its migrations (component "requests"), the operators' readiness, offers with their accept
// timer (a durable timer kind), outcomes and attempts, the control panel, CallRequestService
// (requests.proto).
#ifndef CRM_SERVICES_TELEPHONY_REQUESTS_WIRE_H_
#define CRM_SERVICES_TELEPHONY_REQUESTS_WIRE_H_

#include <vector>

#include "absl/status/status.h"
#include "libs/pg/migrations.h"
#include "services/telephony/calls/wire.h"
#include "services/telephony/context.h"

namespace crm {
// Generated from requests/migrations (component "requests").
const std::vector<crm::pg::Migration>& TelephonyRequestsMigrations();
}  // namespace crm

namespace crm::telephony::requests {

// See the file comment.
absl::Status WireRequests(Context& ctx, calls::CallsPart& calls);

}  // namespace crm::telephony::requests

#endif  // CRM_SERVICES_TELEPHONY_REQUESTS_WIRE_H_
