// File: services/telephony/wiring.cc
#include "services/telephony/wiring.h"

#include "libs/base/status.h"
#include "libs/parts/parts.h"
#include "services/telephony/ami/wire.h"
#include "services/telephony/calls/wire.h"
#include "services/telephony/context.h"
#include "services/telephony/requests/wire.h"

namespace crm::telephony {

absl::Status Wire(crm::config::Env& env, crm::rpc::Server& server) {
  // The shared settings, the Context, the timer loop and the relay: libs/parts/parts.h. The company's
  // working calendar gives "today" and planned calls; PUBLIC_URL makes the callback URLs given to cloud
  // PBXs; deals answers caller identification by phone (P2) and takes the interaction every finished call
  // becomes (D16).
  return crm::parts::WireService(
      env, server, {.service = "telephony", .default_dsn = kDefaultDsn, .migrations = AllMigrations()},
      [&](Context& ctx) -> absl::Status {
        // The parts (README.md): the calls part first — the adapters feed its intake and add their
        // commands to its registry; then the PBX adapters; then the call-request queue.
        CRM_ASSIGN_OR_RETURN(calls::CallsPart * calls_part, calls::WireCalls(ctx));  // P1, P2 (calls/wire.h)
        if (!env.status().ok()) return absl::OkStatus();
        CRM_RETURN_IF_ERROR(ami::WireAmi(ctx, *calls_part));  // P1: Asterisk (ami/wire.h)
        if (!env.status().ok()) return absl::OkStatus();
        return requests::WireRequests(ctx, *calls_part);  // P4 (requests/wire.h)
      });
}

}  // namespace crm::telephony
