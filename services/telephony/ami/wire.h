// File: services/telephony/ami/wire.h
// -----------------------------------------------------------------------------
// Wires Asterisk over AMI (P1) into the telephony service (services/telephony/wiring.cc), after the calls
// part: when AMI_ADDRESS is set, a client that logs in, turns AMI's events into CallEvents recorded through
// calls.intake, resynchronises after a dropped link, and drives calls (its PbxCommands in calls.pbx).
#ifndef CRM_SERVICES_TELEPHONY_AMI_WIRE_H_
#define CRM_SERVICES_TELEPHONY_AMI_WIRE_H_

#include "absl/status/status.h"
#include "services/telephony/calls/wire.h"
#include "services/telephony/context.h"

namespace crm::telephony::ami {

// See the file comment. Nothing is started when AMI_ADDRESS is unset.
absl::Status WireAmi(Context& ctx, calls::CallsPart& calls);

}  // namespace crm::telephony::ami

#endif  // CRM_SERVICES_TELEPHONY_AMI_WIRE_H_
