// File: services/telephony/calls/event.h
// -----------------------------------------------------------------------------
// One provider-neutral fact about a call (P1): what every PBX adapter (ami/ for Asterisk, mango/ for Mango
// Office, later Zadarma, UIS, Sipuni, Beeline) turns its wire events into, and the calls part's intake
// (calls/intake.h) stores. The model is a call and its legs:
//   call  = everything under one provider call key: Asterisk's Linkedid (the Uniqueid of the oldest channel),
//           Mango's entry_id;
//   leg   = one channel / one party's line within it: Asterisk's Uniqueid (+ its Channel name, which AMI's
//           commands address), Mango's call_id.
// Idempotency: (provider, event_key) identifies a fact; a redelivered, replayed or reconciled fact carries
// the same key and has no second effect. An adapter that has no id of its own for a fact builds the key
// from what identifies it (e.g. "<leg>:answered").
// Pure data: no database, no I/O — adapters include it without the calls part's implementation.
#ifndef CRM_SERVICES_TELEPHONY_CALLS_EVENT_H_
#define CRM_SERVICES_TELEPHONY_CALLS_EVENT_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crm::telephony::calls {

struct CallEvent {
  enum class Kind {
    kRinging,     // a leg appeared and rings (Asterisk Newchannel / DialBegin, Mango Appeared)
    kAnswered,    // a leg was answered / bridged (BridgeEnter or DialEnd ANSWER, Mango Connected)
    kEnded,       // a leg hung up (Hangup with Cause, Mango Disconnected with disconnect_reason); the call
                  // ends when its last leg has ended
    kRecording,   // a recording of the call is ready at recording_url (Cdr / MixMonitor, Mango recording)
  };
  enum class Direction { kUnknown, kInbound, kOutbound, kInternal };

  std::string provider;   // "asterisk", "mango": also the key of the PbxCommands that drive it (pbx.h)
  std::string event_key;  // unique per (provider, fact): the idempotency key
  std::string call_key;   // the provider's id of the whole call (Linkedid, entry_id)
  std::string leg_key;    // the provider's id of the leg (Uniqueid, call_id); "" for a call-level fact
  std::string channel;    // the provider's address of the leg for commands (AMI Channel), may be ""
  Kind kind = Kind::kRinging;
  Direction direction = Direction::kUnknown;
  std::string from;       // the calling number as the PBX gave it (not normalised; calls/ normalises)
  std::string to;         // the called number or extension
  std::string extension;  // the employee's extension / SIP account on this leg, "" for an outside party
  std::string line;       // the company's number the call came in on or went out from ("" when unknown)
  absl::Time time;        // when it happened, by the PBX's clock
  std::string end_reason;     // kEnded: the PBX's cause text ("NORMAL_CLEARING", "1110" ...)
  bool answered = false;      // kEnded: whether this leg was answered (when the PBX says so)
  std::string recording_url;  // kRecording
};

// "ringing", "answered", "ended", "recording".
const char* KindName(CallEvent::Kind kind);

// A leg as commands and resynchronisation address it: the provider's keys from the call's stored legs.
struct LegRef {
  std::string call_key;
  std::string leg_key;
  std::string channel;  // AMI's Channel; "" where the provider addresses legs by key
};

// What an adapter gets from the calls part at wiring (calls/wire.h builds it over calls/intake.h).
struct CallIntakeApi {
  // Stores one fact durably — its own transaction, committed before it returns: true when new, false when
  // seen before (same provider and event_key). An error means nothing was stored: retry or report.
  std::function<absl::StatusOr<bool>(const CallEvent&)> record;
  // The legs of `provider` the CRM still holds as not ended. After a dropped link an adapter compares them
  // with what the PBX has now and records a kEnded fact of its own for each leg the PBX no longer has.
  std::function<absl::StatusOr<std::vector<LegRef>>(std::string_view provider)> open_legs;
};

}  // namespace crm::telephony::calls

#endif  // CRM_SERVICES_TELEPHONY_CALLS_EVENT_H_
