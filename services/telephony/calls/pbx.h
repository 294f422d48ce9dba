// File: services/telephony/calls/pbx.h
// -----------------------------------------------------------------------------
// The commands out to a PBX (P1): what an adapter (ami/, mango/) implements and the calls part's CallService
// calls for click-to-call, transfer, hold, merge and hang up. One PbxCommands per provider, registered in
// a PbxRegistry at wiring; a call's provider (event.h) picks the adapter that drives it.
//
// Each command promises only that the PBX accepted it (AMI "Response: Success", an HTTP 2xx of the cloud
// PBX's command API): what then happens to the call arrives as CallEvents through the intake like any
// other fact. Errors: UNAVAILABLE when the PBX cannot be reached (the link is down, a timeout),
// FAILED_PRECONDITION when the PBX refused (the reason in the message, no library text), INVALID_ARGUMENT
// naming the field for what the adapter cannot address (e.g. a leg without a channel).
#ifndef CRM_SERVICES_TELEPHONY_CALLS_PBX_H_
#define CRM_SERVICES_TELEPHONY_CALLS_PBX_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/telephony/calls/event.h"  // LegRef

namespace crm::telephony::calls {

struct OriginateRequest {
  std::string extension;  // the employee's extension: rung first
  std::string number;     // then this number is dialled
  std::string line;       // the company's outgoing line ("" = the PBX's default)
  std::string reference;  // the CRM's id for the attempt, echoed by the PBX where it can (AMI ActionID)
};

class PbxCommands {
 public:
  virtual ~PbxCommands() = default;
  // "asterisk", "mango": CallEvent::provider of the calls this adapter drives.
  virtual std::string_view provider() const = 0;
  // Click-to-call: rings the extension, then dials the number. Returns the provider's reference of the
  // new call when it gives one at once ("" otherwise: the call is learnt from its events).
  virtual absl::StatusOr<std::string> Originate(const OriginateRequest& request) = 0;
  // Sends `leg` to `target` (an extension or a number); blind transfer.
  virtual absl::Status Transfer(const LegRef& leg, const std::string& target) = 0;
  // Puts `leg` on hold (on = true) or takes it off.
  virtual absl::Status Hold(const LegRef& leg, bool on) = 0;
  // Joins two legs (of one call or two) into one conversation.
  virtual absl::Status Merge(const LegRef& a, const LegRef& b) = 0;
  virtual absl::Status Hangup(const LegRef& leg) = 0;
};

// The adapters of the running service, by provider. Filled at wiring (before serving), read after.
class PbxRegistry {
 public:
  void Add(std::unique_ptr<PbxCommands> adapter) {
    std::string key(adapter->provider());
    adapters_[key] = std::move(adapter);
  }
  // The adapter for `provider`, or nullptr when that PBX is not configured.
  PbxCommands* Find(std::string_view provider) const {
    auto it = adapters_.find(std::string(provider));
    return it == adapters_.end() ? nullptr : it->second.get();
  }

 private:
  absl::flat_hash_map<std::string, std::unique_ptr<PbxCommands>> adapters_;
};

}  // namespace crm::telephony::calls

#endif  // CRM_SERVICES_TELEPHONY_CALLS_PBX_H_
