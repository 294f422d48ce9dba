// File: services/telephony/calls/store.cc
#include "services/telephony/calls/store.h"

#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "absl/strings/ascii.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/events/outbox.h"
#include "libs/pg/prepared.h"
#include "proto/crm/telephony/v1/event_types.h"
#include "services/telephony/calls/sql.h"

namespace crm::telephony::calls {
namespace {

void SetTime(int64_t micros, google::protobuf::Timestamp* out) {
  if (micros != 0) *out = ToProtoTimestamp(absl::FromUnixMicros(micros));
}

}  // namespace

const char* DirectionName(CallEvent::Direction d) {
  switch (d) {
    case CallEvent::Direction::kInbound: return "inbound";
    case CallEvent::Direction::kOutbound: return "outbound";
    case CallEvent::Direction::kInternal: return "internal";
    case CallEvent::Direction::kUnknown: break;
  }
  return "unknown";
}

v1::CallDirection DirectionOf(std::string_view name) {
  if (name == "inbound") return v1::CALL_DIRECTION_INBOUND;
  if (name == "outbound") return v1::CALL_DIRECTION_OUTBOUND;
  if (name == "internal") return v1::CALL_DIRECTION_INTERNAL;
  return v1::CALL_DIRECTION_UNSPECIFIED;
}

const char* DirectionName(v1::CallDirection d) {
  switch (d) {
    case v1::CALL_DIRECTION_INBOUND: return "inbound";
    case v1::CALL_DIRECTION_OUTBOUND: return "outbound";
    case v1::CALL_DIRECTION_INTERNAL: return "internal";
    default: return "unknown";
  }
}

v1::CallState CallStateOf(std::string_view name) {
  if (name == "ringing") return v1::CALL_STATE_RINGING;
  if (name == "answered") return v1::CALL_STATE_ANSWERED;
  if (name == "ended") return v1::CALL_STATE_ENDED;
  return v1::CALL_STATE_UNSPECIFIED;
}

v1::Identification IdentificationOf(std::string_view name) {
  if (name == "pending") return v1::IDENTIFICATION_PENDING;
  if (name == "none") return v1::IDENTIFICATION_NONE;
  if (name == "identified") return v1::IDENTIFICATION_IDENTIFIED;
  if (name == "candidates") return v1::IDENTIFICATION_CANDIDATES;
  if (name == "chosen") return v1::IDENTIFICATION_CHOSEN;
  return v1::IDENTIFICATION_UNSPECIFIED;
}

v1::Primacy PrimacyOf(std::string_view name) {
  if (name == "primary") return v1::PRIMACY_PRIMARY;
  if (name == "secondary") return v1::PRIMACY_SECONDARY;
  return v1::PRIMACY_UNSPECIFIED;
}

std::string NormalizeNumber(std::string_view raw) {
  using i18n::phonenumbers::PhoneNumberUtil;
  std::string text(absl::StripAsciiWhitespace(AsAbsl(raw)));
  if (text.size() > 64) text.resize(64);
  const size_t digits = std::count_if(text.begin(), text.end(), [](char c) { return absl::ascii_isdigit(c); });
  // Extensions and short numbers stay as they are; a number of 10 digits and more is tried as a phone.
  if (digits < 10) return text;
  std::string candidate = text;
  if (digits >= 11 && std::all_of(text.begin(), text.end(), [](char c) { return absl::ascii_isdigit(c); })) {
    candidate = "+" + text;  // an international number without its "+" ("79161234567")
    if (text[0] == '8' && digits == 11) candidate = "+7" + text.substr(1);  // Russia's trunk prefix 8
  }
  const PhoneNumberUtil* util = PhoneNumberUtil::GetInstance();
  i18n::phonenumbers::PhoneNumber number;
  if (util->Parse(candidate, "RU", &number) != PhoneNumberUtil::NO_PARSING_ERROR || !util->IsValidNumber(number)) {
    return text;
  }
  std::string out;
  util->Format(number, PhoneNumberUtil::E164, &out);
  return out;
}

std::string OutsideNumber(std::string_view direction, const std::string& from, const std::string& to) {
  if (direction == "inbound") return from;
  if (direction == "outbound") return to;
  return "";
}

v1::Call CallOf(const pqxx::row& r) {
  v1::Call c;
  c.set_id(r[0].c_str());
  c.set_provider(r[1].c_str());
  c.set_call_key(r[2].c_str());
  c.set_direction(DirectionOf(r[3].c_str()));
  c.set_from_number(r[4].c_str());
  c.set_to_number(r[5].c_str());
  c.set_outside_number(r[6].c_str());
  c.set_line(r[7].c_str());
  c.set_state(CallStateOf(r[8].c_str()));
  c.set_answered(r[9].as<bool>());
  c.set_missed(c.direction() == v1::CALL_DIRECTION_INBOUND && c.state() == v1::CALL_STATE_ENDED && !c.answered());
  SetTime(r[10].as<int64_t>(), c.mutable_start_time());
  SetTime(r[11].as<int64_t>(), c.mutable_answer_time());
  SetTime(r[12].as<int64_t>(), c.mutable_end_time());
  c.set_duration_seconds(r[13].as<int>());
  c.set_user_id(r[14].c_str());
  c.set_identification(IdentificationOf(r[15].c_str()));
  const nlohmann::json candidates = nlohmann::json::parse(r[16].c_str(), nullptr, false);
  if (candidates.is_array()) {
    for (const auto& x : candidates) {
      v1::ClientRef* ref = c.add_client_candidates();
      ref->set_id(x.value("id", ""));
      ref->set_name(x.value("name", ""));
    }
  }
  c.set_client_id(r[17].c_str());
  c.set_client_name(r[18].c_str());
  c.set_deal_id(r[19].c_str());
  c.set_project_id(r[20].c_str());
  c.set_primacy(PrimacyOf(r[21].c_str()));
  c.set_interaction_id(r[22].c_str());
  c.set_recording_url(r[23].c_str());
  SetTime(r[24].as<int64_t>(), c.mutable_update_time());
  return c;
}

bool FinishedSentOf(const pqxx::row& r) { return r[25].as<bool>(); }

v1::CallLeg LegOf(const pqxx::row& r) {
  v1::CallLeg l;
  l.set_id(r[0].c_str());
  l.set_leg_key(r[1].c_str());
  l.set_channel(r[2].c_str());
  l.set_extension(r[3].c_str());
  l.set_user_id(r[4].c_str());
  l.set_state(CallStateOf(r[5].c_str()));
  l.set_answered(r[6].as<bool>());
  SetTime(r[7].as<int64_t>(), l.mutable_start_time());
  SetTime(r[8].as<int64_t>(), l.mutable_answer_time());
  SetTime(r[9].as<int64_t>(), l.mutable_end_time());
  l.set_end_reason(r[10].c_str());
  return l;
}

std::optional<v1::Call> LoadCall(pqxx::transaction_base& tx, std::string_view id, bool for_update) {
  pqxx::result r = crm::pg::ExecPrepared(tx, for_update ? sql::kCallByIdForUpdate : sql::kCallById, std::string(id));
  if (r.empty()) return std::nullopt;
  return CallOf(r[0]);
}

std::vector<v1::CallLeg> LoadLegs(pqxx::transaction_base& tx, std::string_view call_id) {
  std::vector<v1::CallLeg> out;
  for (const auto& r : crm::pg::ExecPrepared(tx, sql::kLegsOfCall, std::string(call_id))) out.push_back(LegOf(r));
  return out;
}

v1::CallSummary SummaryOf(const v1::Call& c) {
  v1::CallSummary s;
  s.set_call_id(c.id());
  s.set_provider(c.provider());
  s.set_direction(static_cast<int32_t>(c.direction()));
  s.set_from_number(c.from_number());
  s.set_to_number(c.to_number());
  s.set_outside_number(c.outside_number());
  s.set_line(c.line());
  s.set_user_id(c.user_id());
  s.set_client_id(c.client_id());
  s.set_client_name(c.client_name());
  *s.mutable_start_time() = c.start_time();
  return s;
}

v1::CallFinished FinishedOf(const v1::Call& c) {
  v1::CallFinished f;
  f.set_call_id(c.id());
  f.set_deal_id(c.deal_id());
  f.set_client_id(c.client_id());
  f.set_user_id(c.user_id());
  f.set_direction(c.direction() == v1::CALL_DIRECTION_INBOUND    ? v1::CallFinished::INBOUND
                  : c.direction() == v1::CALL_DIRECTION_OUTBOUND ? v1::CallFinished::OUTBOUND
                                                                 : v1::CallFinished::DIRECTION_UNSPECIFIED);
  f.set_answered(c.answered());
  f.set_duration_seconds(c.duration_seconds());
  *f.mutable_end_time() = c.end_time();
  f.set_provider(c.provider());
  f.set_outside_number(c.outside_number());
  *f.mutable_start_time() = c.start_time();
  f.set_missed(c.missed());
  f.set_line(c.line());
  return f;
}

absl::Status EmitCallEvent(pqxx::transaction_base& tx, const crm::events::OutboxWriter& outbox, const v1::Call& c,
                           const char* type, const google::protobuf::Message& payload,
                           const std::vector<std::string>& also_visible) {
  crm::events::NewEvent e{.aggregate_type = v1::kCallAggregate, .aggregate_id = c.id(), .type = type,
                          .payload = &payload};
  e.actor.set_kind(crm::common::v1::Principal::KIND_SERVICE);
  e.actor.set_service("telephony");
  if (!c.user_id().empty()) e.visible_to_user_ids.push_back(c.user_id());
  for (const std::string& u : also_visible) {
    if (std::find(e.visible_to_user_ids.begin(), e.visible_to_user_ids.end(), u) == e.visible_to_user_ids.end()) {
      e.visible_to_user_ids.push_back(u);
    }
  }
  return outbox.Append(tx, e).status();
}

}  // namespace crm::telephony::calls
