// File: services/telephony/calls/model.cc
#include "services/telephony/calls/model.h"

#include <algorithm>

namespace crm::telephony::calls {
namespace {

int Rank(State s) { return static_cast<int>(s); }

std::optional<absl::Time> Earliest(const std::optional<absl::Time>& a, absl::Time b) {
  return a.has_value() ? std::min(*a, b) : b;
}

}  // namespace

const char* StateName(State s) {
  switch (s) {
    case State::kRinging: return "ringing";
    case State::kAnswered: return "answered";
    case State::kEnded: return "ended";
  }
  return "ringing";
}

State StateFromName(std::string_view name) {
  if (name == "answered") return State::kAnswered;
  if (name == "ended") return State::kEnded;
  return State::kRinging;
}

Leg ApplyFact(Leg leg, const CallEvent& e) {
  if (leg.leg_key.empty()) leg.leg_key = e.leg_key;
  if (leg.channel.empty()) leg.channel = e.channel;
  if (leg.extension.empty()) leg.extension = e.extension;
  leg.started_at = leg.started_at == absl::InfinitePast() ? e.time : std::min(leg.started_at, e.time);
  switch (e.kind) {
    case CallEvent::Kind::kRinging:
      break;
    case CallEvent::Kind::kAnswered:
      leg.answered = true;
      leg.answered_at = Earliest(leg.answered_at, e.time);
      if (Rank(leg.state) < Rank(State::kAnswered)) leg.state = State::kAnswered;
      break;
    case CallEvent::Kind::kEnded:
      if (e.answered) {
        leg.answered = true;
        // The PBX says it was answered but gave no time of it: the end's time bounds it.
        if (!leg.answered_at) leg.answered_at = e.time;
      }
      if (leg.state != State::kEnded) {
        leg.state = State::kEnded;
        leg.ended_at = e.time;
        leg.end_reason = e.end_reason;
      }
      break;
    case CallEvent::Kind::kRecording:
      break;
  }
  return leg;
}

CallState DeriveCall(const std::vector<Leg>& legs, const CallState& before, CallEvent::Direction direction) {
  CallState out;
  bool any_outside = false;
  bool all_ended = !legs.empty();
  for (const Leg& l : legs) {
    any_outside |= l.extension.empty();
    all_ended &= l.state == State::kEnded;
  }
  const bool any_answer_counts =
      direction == CallEvent::Direction::kInternal || (!any_outside && (all_ended || before.state == State::kEnded));
  std::optional<absl::Time> ended_at;
  for (const Leg& l : legs) {
    if (l.state == State::kEnded && l.ended_at) {
      ended_at = ended_at ? std::max(*ended_at, *l.ended_at) : *l.ended_at;
    }
    if (l.answered && (l.extension.empty() || any_answer_counts) && l.answered_at) {
      out.answered = true;
      out.answered_at = Earliest(out.answered_at, *l.answered_at);
    }
  }
  // The employee: the extension leg answered first, else the one rung first.
  const Leg* first_answered = nullptr;
  const Leg* first_rung = nullptr;
  for (const Leg& l : legs) {
    if (l.user_id.empty()) continue;
    if (l.answered && l.answered_at &&
        (first_answered == nullptr || *l.answered_at < *first_answered->answered_at)) {
      first_answered = &l;
    }
    if (first_rung == nullptr || l.started_at < first_rung->started_at) first_rung = &l;
  }
  if (first_answered != nullptr) {
    out.user_id = first_answered->user_id;
  } else if (first_rung != nullptr) {
    out.user_id = first_rung->user_id;
  } else {
    out.user_id = before.user_id;
  }
  if (all_ended || before.state == State::kEnded) {
    out.state = State::kEnded;
    out.ended_at = ended_at ? ended_at : before.ended_at;
  } else {
    out.state = out.answered ? State::kAnswered : State::kRinging;
  }
  if (out.state == State::kEnded && out.answered && out.ended_at && out.answered_at) {
    out.duration_seconds =
        static_cast<int>(std::max<int64_t>(0, absl::ToInt64Seconds(*out.ended_at - *out.answered_at)));
  }
  return out;
}

Emits EmitsOf(bool created, const CallState& before, const CallState& after) {
  Emits e;
  e.started = created && after.state != State::kEnded;
  e.finished = after.state == State::kEnded && (created || before.state != State::kEnded);
  e.answered = after.answered && (created || !before.answered) && (created || before.state != State::kEnded);
  return e;
}

}  // namespace crm::telephony::calls
