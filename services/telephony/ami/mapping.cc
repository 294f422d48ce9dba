// File: services/telephony/ami/mapping.cc
#include "services/telephony/ami/mapping.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace crm::telephony::ami {
namespace {

using calls::CallEvent;

// AMI writes "<unknown>" (or "unknown") for an absent caller id.
std::string Number(absl::string_view v) {
  if (v == "<unknown>" || v == "unknown" || v == "anonymous") return "";
  return std::string(v);
}

// "1733650000.123456" → that instant; nullopt when absent or malformed.
std::optional<absl::Time> EventTime(const Message& e) {
  absl::string_view ts = e.Get("Timestamp");
  if (ts.empty()) return std::nullopt;
  double seconds = 0;
  if (!absl::SimpleAtod(ts, &seconds) || seconds <= 0) return std::nullopt;
  return absl::FromUnixMicros(static_cast<int64_t>(seconds * 1e6));
}

std::string PercentEncode(absl::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

bool IsAudioFile(absl::string_view name) {
  for (absl::string_view ext : {".wav", ".WAV", ".mp3", ".gsm", ".ogg", ".wav49", ".sln"}) {
    if (absl::EndsWith(name, ext)) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<Mapper> Mapper::Create(MappingConfig config) {
  std::shared_ptr<const std::regex> pattern;
  try {
    pattern = std::make_shared<const std::regex>(config.extension_pattern, std::regex::ECMAScript);
  } catch (const std::regex_error&) {
    return absl::InvalidArgumentError("EXTENSION_PATTERN: not a regular expression");
  }
  if (!config.recording_url_template.empty() &&
      !absl::StrContains(config.recording_url_template, "{file}") &&
      !absl::StrContains(config.recording_url_template, "{path}")) {
    return absl::InvalidArgumentError("RECORDING_URL_TEMPLATE: has neither {file} nor {path}");
  }
  return Mapper(std::move(config), std::move(pattern));
}

std::string Mapper::ExtensionOf(absl::string_view channel) const {
  const std::size_t slash = channel.find('/');
  if (slash == absl::string_view::npos) return "";
  absl::string_view name = channel.substr(slash + 1);
  // The suffix Asterisk adds to a channel's name: "-0000002a" (PJSIP, SIP), ";1" / ";2" (Local).
  if (const std::size_t dash = name.rfind('-'); dash != absl::string_view::npos) name = name.substr(0, dash);
  if (const std::size_t semi = name.find(';'); semi != absl::string_view::npos) name = name.substr(0, semi);
  if (const std::size_t at = name.find('@'); at != absl::string_view::npos) name = name.substr(0, at);
  if (name.empty()) return "";
  if (!std::regex_match(name.begin(), name.end(), *pattern_)) return "";
  return std::string(name);
}

CallEvent Mapper::Leg(const Message& e, CallEvent::Kind kind, absl::Time time) const {
  CallEvent ev;
  ev.provider = std::string(kProvider);
  ev.kind = kind;
  ev.leg_key = std::string(e.Get("Uniqueid"));
  ev.call_key = std::string(e.Get("Linkedid"));
  if (ev.call_key.empty()) ev.call_key = ev.leg_key;
  ev.channel = std::string(e.Get("Channel"));
  ev.extension = ExtensionOf(ev.channel);
  ev.from = Number(e.Get("CallerIDNum"));
  ev.to = Number(e.Get("Exten"));
  ev.time = EventTime(e).value_or(time);
  ev.event_key = absl::StrCat(ev.leg_key, ":", calls::KindName(kind));
  if (ev.leg_key == ev.call_key) {  // the call's first leg: who started it
    if (!ev.extension.empty()) {
      ev.direction = std::regex_match(ev.to.begin(), ev.to.end(), *pattern_) ? CallEvent::Direction::kInternal
                                                                             : CallEvent::Direction::kOutbound;
    } else {
      ev.direction = CallEvent::Direction::kInbound;
      ev.line = ev.to;
    }
  }
  return ev;
}

// The dialled side of a DialBegin / DialEnd, its Dest* fields read as a leg's own.
static Message DestOf(const Message& e) {
  Message dest;
  for (const auto& [k, v] : e.fields) {
    if (absl::StartsWithIgnoreCase(k, "Dest") && k.size() > 4) dest.fields.emplace_back(k.substr(4), v);
  }
  if (absl::string_view ts = e.Get("Timestamp"); !ts.empty()) dest.fields.emplace_back("Timestamp", ts);
  // The dialled leg's caller is the dialling channel's caller.
  dest.fields.emplace(dest.fields.begin(), "CallerIDNum", std::string(e.Get("CallerIDNum")));
  // What was dialled: the DialString's number ("PJSIP/101" → "101", "trunk/79990001122" → "79990001122").
  if (absl::string_view ds = e.Get("DialString"); !ds.empty()) {
    if (const std::size_t slash = ds.rfind('/'); slash != absl::string_view::npos) ds = ds.substr(slash + 1);
    dest.fields.emplace(dest.fields.begin(), "Exten", std::string(ds));
  }
  return dest;
}

std::vector<CallEvent> Mapper::Map(const Message& e, absl::Time received) const {
  std::vector<CallEvent> out;
  const absl::string_view name = e.event();
  // A leg is a channel with a Uniqueid; Local/ channels are Asterisk's plumbing between dialplan parts
  // (ring groups, queues, Originate through the dialplan), no party of the call: no facts.
  auto has_leg = [](const Message& m) {
    return !m.Get("Uniqueid").empty() && !absl::StartsWith(m.Get("Channel"), "Local/");
  };
  if (name == "Newchannel") {
    if (has_leg(e)) out.push_back(Leg(e, CallEvent::Kind::kRinging, received));
  } else if (name == "CoreShowChannel") {
    if (!has_leg(e)) return out;
    out.push_back(Leg(e, CallEvent::Kind::kRinging, received));
    if (!e.Get("BridgeId").empty()) out.push_back(Leg(e, CallEvent::Kind::kAnswered, received));
  } else if (name == "DialBegin" || name == "DialEnd") {
    Message dest = DestOf(e);
    if (!has_leg(dest)) return out;
    if (name == "DialBegin") {
      out.push_back(Leg(dest, CallEvent::Kind::kRinging, received));
      return out;
    }
    const std::string status = absl::AsciiStrToUpper(e.Get("DialStatus"));
    if (status == "ANSWER") {
      CallEvent ev = Leg(dest, CallEvent::Kind::kAnswered, received);
      ev.answered = true;
      out.push_back(std::move(ev));
    } else if (status == "BUSY" || status == "NOANSWER" || status == "CANCEL" || status == "CONGESTION" ||
               status == "CHANUNAVAIL" || status == "GOTANSWER") {
      CallEvent ev = Leg(dest, CallEvent::Kind::kEnded, received);
      ev.end_reason = status;
      out.push_back(std::move(ev));
    }
  } else if (name == "BridgeEnter") {
    if (!has_leg(e) || e.Get("BridgeTechnology") == "holding_bridge") return out;
    CallEvent ev = Leg(e, CallEvent::Kind::kAnswered, received);
    ev.answered = true;
    out.push_back(std::move(ev));
  } else if (name == "Hangup") {
    if (!has_leg(e)) return out;
    CallEvent ev = Leg(e, CallEvent::Kind::kEnded, received);
    ev.end_reason = HangupReason(e);
    ev.answered = e.Get("ChannelStateDesc") == "Up";
    out.push_back(std::move(ev));
  } else if (name == "VarSet") {
    if (config_.recording_url_template.empty() || !has_leg(e) ||
        !absl::EqualsIgnoreCase(e.Get("Variable"), "MIXMONITOR_FILENAME") || e.Get("Value").empty()) {
      return out;
    }
    CallEvent ev = Leg(e, CallEvent::Kind::kRecording, received);
    ev.recording_url = RecordingUrl(e.Get("Value"));
    out.push_back(std::move(ev));
  } else if (name == "Cdr") {
    if (config_.recording_url_template.empty()) return out;
    absl::string_view file = e.Get("RecordingFile");
    if (file.empty() && IsAudioFile(e.Get("UserField"))) file = e.Get("UserField");
    if (file.empty() || e.Get("UniqueID").empty()) return out;
    // Cdr names its party A's channel by UniqueID; its call by a LinkedID mapped in cdr_manager.conf, else
    // party A's UniqueID (party A is the call's oldest channel in a plain call).
    CallEvent ev = Leg(e, CallEvent::Kind::kRecording, received);
    ev.direction = CallEvent::Direction::kUnknown;
    ev.line.clear();
    ev.from = Number(e.Get("Source"));
    ev.to = Number(e.Get("Destination"));
    ev.recording_url = RecordingUrl(file);
    out.push_back(std::move(ev));
  }
  return out;
}

std::string Mapper::RecordingUrl(absl::string_view path) const {
  absl::string_view base = path;
  if (const std::size_t slash = base.rfind('/'); slash != absl::string_view::npos) base = base.substr(slash + 1);
  absl::string_view rel = path;
  while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  return absl::StrReplaceAll(config_.recording_url_template,
                             {{"{file}", PercentEncode(base)}, {"{path}", PercentEncode(rel)}});
}

CallEvent Mapper::EndedByResync(const calls::LegRef& leg, absl::Time now) const {
  CallEvent ev;
  ev.provider = std::string(kProvider);
  ev.kind = CallEvent::Kind::kEnded;
  ev.call_key = leg.call_key;
  ev.leg_key = leg.leg_key;
  ev.channel = leg.channel;
  ev.extension = ExtensionOf(leg.channel);
  ev.time = now;
  ev.end_reason = "LINK_LOST";
  ev.event_key = absl::StrCat(leg.leg_key, ":", calls::KindName(CallEvent::Kind::kEnded));
  return ev;
}

std::string HangupReason(const Message& event) {
  absl::string_view txt = event.Get("Cause-txt");
  if (!txt.empty()) return std::string(txt);
  return std::string(event.Get("Cause"));
}

}  // namespace crm::telephony::ami
