// File: services/telephony/ami/commands.h
// -----------------------------------------------------------------------------
// Asterisk's commands over AMI (P1): calls::PbxCommands for provider "asterisk", sent on the Client's link.
//   Originate → Action: Originate, Channel from ORIGINATE_CHANNEL with {extension} replaced (the
//               employee's phone rings first), Context ORIGINATE_CONTEXT, Exten = the number, Priority 1,
//               Async: true, CallerID from the line when given, ActionID = the request's reference.
//   Transfer  → Action: Redirect, Channel = the leg's channel, Context ORIGINATE_CONTEXT, Exten = target,
//               Priority 1 (a blind transfer: the leg leaves its bridge and runs the dialplan at target).
//   Hold      → UNIMPLEMENTED: AMI has no hold action (hold is the phone's re-INVITE; Asterisk only reports
//               it with a Hold event). The nearest actions change the call (Park moves the leg to a parking
//               lot and un-parking needs the lot's extension; MuteAudio silences without music), so the CRM
//               says so instead of pretending.
//   Merge     → Action: Bridge, Channel1 / Channel2 = the two legs' channels.
//   Hangup    → Action: Hangup, Channel = the leg's channel.
// Each waits for its Response until the timeout: OK on "Response: Success"; FAILED_PRECONDITION with
// Asterisk's Message on an error response; UNAVAILABLE when the link is down or no answer came in time;
// INVALID_ARGUMENT naming the field when a leg has no channel or an input is empty or holds a line break.
#ifndef CRM_SERVICES_TELEPHONY_AMI_COMMANDS_H_
#define CRM_SERVICES_TELEPHONY_AMI_COMMANDS_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/telephony/calls/pbx.h"

namespace crm::telephony::ami {

class Client;

struct CommandOptions {
  std::string originate_channel = "PJSIP/{extension}";  // ORIGINATE_CHANNEL
  std::string context = "from-internal";                // ORIGINATE_CONTEXT
  absl::Duration timeout = absl::Seconds(5);
};

class Commands final : public calls::PbxCommands {
 public:
  // `client` must outlive the commands.
  Commands(Client& client, CommandOptions options) : client_(client), options_(std::move(options)) {}

  std::string_view provider() const override;
  absl::StatusOr<std::string> Originate(const calls::OriginateRequest& request) override;
  absl::Status Transfer(const calls::LegRef& leg, const std::string& target) override;
  absl::Status Hold(const calls::LegRef& leg, bool on) override;
  absl::Status Merge(const calls::LegRef& a, const calls::LegRef& b) override;
  absl::Status Hangup(const calls::LegRef& leg) override;

 private:
  absl::Status Send(absl::string_view action, const std::vector<std::pair<std::string, std::string>>& fields,
                    std::string action_id = "");

  Client& client_;
  CommandOptions options_;
};

}  // namespace crm::telephony::ami

#endif  // CRM_SERVICES_TELEPHONY_AMI_COMMANDS_H_
