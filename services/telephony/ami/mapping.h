// File: services/telephony/ami/mapping.h
// -----------------------------------------------------------------------------
// AMI events → provider-neutral CallEvents (P1), pure: no I/O, no state across events.
//
// The model (calls/event.h): call = Asterisk's Linkedid (the Uniqueid of the call's oldest channel), leg =
// one channel's Uniqueid (its Channel name is what commands address).
//   Newchannel, CoreShowChannel      → ringing  of Uniqueid              key "<Uniqueid>:ringing"
//   DialBegin                        → ringing  of DestUniqueid          key "<DestUniqueid>:ringing"
//   DialEnd ANSWER                   → answered of DestUniqueid          key "<DestUniqueid>:answered"
//   DialEnd BUSY, NOANSWER, CANCEL,
//     CONGESTION, CHANUNAVAIL, GOTANSWER → ended of DestUniqueid (the status as the reason) "<DestUniqueid>:ended"
//   BridgeEnter (not a holding bridge),
//   CoreShowChannel with a BridgeId  → answered of Uniqueid              key "<Uniqueid>:answered"
//   Hangup (Cause-txt, else Cause)   → ended    of Uniqueid              key "<Uniqueid>:ended"
//   VarSet MIXMONITOR_FILENAME, Cdr with RecordingFile (cdr_manager.conf mapping) or a UserField naming an
//   audio file                       → recording of the leg              key "<Uniqueid>:recording"
// Local/ channels (Asterisk's plumbing between dialplan parts: ring groups, queues) are no party: no facts.
// Keys depend only on the fact, never on arrival order or time of receipt: a replay, a second replica's
// link and a resynchronisation produce the same keys and the intake stores each fact once. Two events of
// one fact (Newchannel and DialBegin; DialEnd ANSWER and BridgeEnter; DialEnd BUSY and Hangup) share a key:
// the first stored wins.
//
// Direction and the employee: a leg whose channel is `<tech>/<name>-<suffix>` (PJSIP/101-0000002a, SIP/…)
// with <name> matching the extension pattern is a company phone (extension = <name>); any other channel
// (a trunk) is an outside party. The call's first leg (Uniqueid == Linkedid) gives the direction: from a
// company phone to an extension → internal, to another number → outbound, from a trunk → inbound (line =
// the dialled number, the company's). Later legs carry kUnknown: the call's direction is its first leg's.
// Time: the event's `Timestamp` (manager.conf timestampevents = yes) when present, else `received`.
#ifndef CRM_SERVICES_TELEPHONY_AMI_MAPPING_H_
#define CRM_SERVICES_TELEPHONY_AMI_MAPPING_H_

#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/telephony/ami/codec.h"
#include "services/telephony/calls/event.h"

namespace crm::telephony::ami {

inline constexpr std::string_view kProvider = "asterisk";

struct MappingConfig {
  std::string extension_pattern = "^[0-9]{2,5}$";  // EXTENSION_PATTERN: a company phone's name
  // RECORDING_URL_TEMPLATE: where recordings are fetched; {file} = the file's base name, {path} = the path
  // as Asterisk gave it without its leading '/', both percent-encoded. "" = recordings are not reported.
  std::string recording_url_template;
};

class Mapper {
 public:
  // InvalidArgument naming the setting when the pattern is not a regular expression or the template has
  // neither {file} nor {path}.
  static absl::StatusOr<Mapper> Create(MappingConfig config);

  // The CallEvents one AMI event yields (none for events that are no call fact).
  std::vector<calls::CallEvent> Map(const Message& event, absl::Time received) const;

  // The employee's extension on `channel` ("PJSIP/101-0000002a" → "101"), "" for an outside party.
  std::string ExtensionOf(absl::string_view channel) const;

  // The ended fact a resynchronisation records for a leg the CRM holds open and Asterisk no longer has:
  // the key a Hangup would have had ("<leg>:ended"), reason "LINK_LOST" (the Hangup was missed).
  calls::CallEvent EndedByResync(const calls::LegRef& leg, absl::Time now) const;

 private:
  explicit Mapper(MappingConfig config, std::shared_ptr<const std::regex> pattern)
      : config_(std::move(config)), pattern_(std::move(pattern)) {}
  calls::CallEvent Leg(const Message& e, calls::CallEvent::Kind kind, absl::Time time) const;
  std::string RecordingUrl(absl::string_view path) const;

  MappingConfig config_;
  std::shared_ptr<const std::regex> pattern_;
};

// The end reason of a Hangup: Cause-txt ("Normal Clearing"), else the numeric Cause, else "".
std::string HangupReason(const Message& event);

}  // namespace crm::telephony::ami

#endif  // CRM_SERVICES_TELEPHONY_AMI_MAPPING_H_
