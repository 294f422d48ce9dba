// File: services/telephony/calls/event.cc
#include "services/telephony/calls/event.h"

namespace crm::telephony::calls {

const char* KindName(CallEvent::Kind kind) {
  switch (kind) {
    case CallEvent::Kind::kRinging: return "ringing";
    case CallEvent::Kind::kAnswered: return "answered";
    case CallEvent::Kind::kEnded: return "ended";
    case CallEvent::Kind::kRecording: return "recording";
  }
  return "unknown";
}

}  // namespace crm::telephony::calls
