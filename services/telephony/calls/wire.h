// File: services/telephony/calls/wire.h
// -----------------------------------------------------------------------------
// Wires the calls part (P1, P2) into the telephony service (services/telephony/wiring.cc), FIRST: its
// migrations (component "calls"), the intake every PBX adapter feeds (event.h's CallIntakeApi), the
// registry the adapters put their commands in (pbx.h), caller identification and interactions through
// deals, the call log and CallService (calls.proto).
#ifndef CRM_SERVICES_TELEPHONY_CALLS_WIRE_H_
#define CRM_SERVICES_TELEPHONY_CALLS_WIRE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "libs/pg/migrations.h"
#include "services/telephony/calls/event.h"
#include "services/telephony/calls/pbx.h"
#include "services/telephony/context.h"

namespace crm {
// Generated from calls/migrations (component "calls").
const std::vector<crm::pg::Migration>& TelephonyCallsMigrations();
}  // namespace crm

namespace crm::telephony::calls {

// What the other parts get from the calls part. Owned by ctx.server.
struct CallsPart {
  CallIntakeApi intake;  // adapters record their facts through it
  PbxRegistry* pbx;      // adapters add their commands before the service serves
};

// See the file comment.
absl::StatusOr<CallsPart*> WireCalls(Context& ctx);

}  // namespace crm::telephony::calls

#endif  // CRM_SERVICES_TELEPHONY_CALLS_WIRE_H_
