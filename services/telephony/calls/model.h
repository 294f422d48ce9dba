// File: services/telephony/calls/model.h
// -----------------------------------------------------------------------------
// The call's state logic (P1), pure: how one fact (event.h) changes a leg, how a call's state follows from
// its legs, and which of the call's events a change emits. The intake (intake.h) runs it under the call's
// row lock; model_test.cc is its table.
//
// Facts may arrive out of order and more than once (the intake drops exact repeats by event key; these
// rules make the rest order-independent where the PBX gave enough):
//   * a leg's state only moves forward: ringing → answered → ended; a late `answered` after `ended` still
//     marks the leg answered (answered_at = its time); times keep the earliest start and answer;
//   * a call is `ended` when it has legs and all of them ended, else `answered` when answered, else
//     `ringing`; once ended it stays ended (its finished event was sent) — a late leg still updates it;
//   * answered = an outside leg (no extension) was answered — an employee picking up a click-to-call's
//     first leg is not the call answered; an internal call (or an ended call that never had an outside
//     leg) is answered when any leg was; answer time = the earliest such answer;
//   * duration = answered → ended, whole seconds, 0 when not answered;
//   * the employee on the call = the employee of the extension leg answered first, else of the first rung.
#ifndef CRM_SERVICES_TELEPHONY_CALLS_MODEL_H_
#define CRM_SERVICES_TELEPHONY_CALLS_MODEL_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "services/telephony/calls/event.h"

namespace crm::telephony::calls {

enum class State { kRinging, kAnswered, kEnded };

// "ringing", "answered", "ended" (the database's spelling) and back (kRinging for anything else).
const char* StateName(State s);
State StateFromName(std::string_view name);

struct Leg {
  std::string leg_key;
  std::string channel;
  std::string extension;  // "" = an outside party
  std::string user_id;    // the extension's employee, "" when unknown
  State state = State::kRinging;
  bool answered = false;
  absl::Time started_at = absl::InfinitePast();  // InfinitePast = not set yet (a new leg)
  std::optional<absl::Time> answered_at;
  std::optional<absl::Time> ended_at;
  std::string end_reason;
};

// `leg` after the fact `e` (kRinging, kAnswered or kEnded) of it. A new leg is a default Leg.
Leg ApplyFact(Leg leg, const CallEvent& e);

// What a call's state is, derived.
struct CallState {
  State state = State::kRinging;
  bool answered = false;
  std::optional<absl::Time> answered_at;
  std::optional<absl::Time> ended_at;
  int duration_seconds = 0;
  std::string user_id;
};

// The call's state from its legs; `before` is what was stored (an ended call stays ended); `direction` is
// the call's (kInternal: any leg's answer counts).
CallState DeriveCall(const std::vector<Leg>& legs, const CallState& before, CallEvent::Direction direction);

// The call's events a change emits.
struct Emits {
  bool started = false;   // the call is new and not ended
  bool answered = false;  // it became answered before its finished event
  bool finished = false;  // it ended now (sent once per call)
};
Emits EmitsOf(bool created, const CallState& before, const CallState& after);

}  // namespace crm::telephony::calls

#endif  // CRM_SERVICES_TELEPHONY_CALLS_MODEL_H_
