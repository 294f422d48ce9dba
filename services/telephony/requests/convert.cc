// File: services/telephony/requests/convert.cc
#include "services/telephony/requests/convert.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"

namespace crm::telephony::requests {
namespace {

// The value's name without `prefix` ("" for UNSPECIFIED).
template <typename E>
std::string Text(const std::string& name, std::string_view prefix, E v) {
  if (static_cast<int>(v) == 0) return "";
  return std::string(absl::StripPrefix(name, AsAbsl(prefix)));
}

// The enum value named `prefix` + `text` (the stored text), or the UNSPECIFIED (0) value.
template <typename E>
E Parse(std::string_view text, std::string_view prefix, bool (*parse)(google::protobuf::ConstStringParam, E*)) {
  E v = static_cast<E>(0);
  parse(absl::StrCat(AsAbsl(prefix), AsAbsl(text)), &v);
  return v;
}

void SetTime(int64_t us, google::protobuf::Timestamp* out) {
  if (us != 0) *out = ToProtoTimestamp(absl::FromUnixMicros(us));
}

}  // namespace

std::string SourceText(v1::RequestSource v) { return Text(v1::RequestSource_Name(v), "REQUEST_SOURCE_", v); }
std::string TypeText(v1::RequestType v) { return Text(v1::RequestType_Name(v), "REQUEST_TYPE_", v); }
std::string StateText(v1::RequestState v) { return Text(v1::RequestState_Name(v), "REQUEST_STATE_", v); }
std::string OutcomeText(v1::RequestOutcome v) { return Text(v1::RequestOutcome_Name(v), "REQUEST_OUTCOME_", v); }

v1::RequestSource SourceOf(std::string_view text) { return Parse(text, "REQUEST_SOURCE_", &v1::RequestSource_Parse); }
v1::RequestType TypeOf(std::string_view text) { return Parse(text, "REQUEST_TYPE_", &v1::RequestType_Parse); }
v1::RequestState StateOf(std::string_view text) { return Parse(text, "REQUEST_STATE_", &v1::RequestState_Parse); }
v1::RequestOutcome OutcomeOf(std::string_view text) {
  return Parse(text, "REQUEST_OUTCOME_", &v1::RequestOutcome_Parse);
}
v1::AttemptResult ResultOf(std::string_view text) { return Parse(text, "ATTEMPT_RESULT_", &v1::AttemptResult_Parse); }
v1::Readiness ReadinessProtoOf(std::string_view text) { return Parse(text, "READINESS_", &v1::Readiness_Parse); }

v1::CallRequest RequestOf(const pqxx::row& r) {
  v1::CallRequest out;
  out.set_id(r[0].c_str());
  out.set_source(SourceOf(r[1].c_str()));
  out.set_type(TypeOf(r[2].c_str()));
  out.set_priority(r[3].as<int>());
  out.set_phone(r[4].c_str());
  out.set_client_id(r[5].c_str());
  out.set_comment(r[6].c_str());
  SetTime(r[7].as<int64_t>(), out.mutable_planned_time());
  out.set_state(StateOf(r[8].c_str()));
  out.set_outcome(OutcomeOf(r[9].c_str()));
  out.set_operator_id(r[10].c_str());
  if (out.state() == v1::REQUEST_STATE_OFFERED) SetTime(r[11].as<int64_t>(), out.mutable_offer_deadline());
  out.set_related_to_id(r[12].c_str());
  out.set_attempt_count(r[13].as<int>());
  out.set_created_by(r[14].c_str());
  SetTime(r[15].as<int64_t>(), out.mutable_create_time());
  SetTime(r[16].as<int64_t>(), out.mutable_update_time());
  SetTime(r[17].as<int64_t>(), out.mutable_finish_time());
  return out;
}

v1::Attempt AttemptOf(const pqxx::row& r) {
  v1::Attempt out;
  out.set_id(r[0].as<int64_t>());
  out.set_operator_id(r[1].c_str());
  SetTime(r[2].as<int64_t>(), out.mutable_offer_time());
  SetTime(r[3].as<int64_t>(), out.mutable_deadline());
  out.set_result(ResultOf(r[4].c_str()));
  SetTime(r[5].as<int64_t>(), out.mutable_result_time());
  out.set_outcome(OutcomeOf(r[6].c_str()));
  SetTime(r[7].as<int64_t>(), out.mutable_finish_time());
  out.set_comment(r[8].c_str());
  return out;
}

v1::OperatorState OperatorStateOf(const pqxx::row& r) {
  v1::OperatorState out;
  out.set_user_id(r[0].c_str());
  out.set_readiness(ReadinessProtoOf(r[1].c_str()));
  out.set_reason(r[2].c_str());
  SetTime(r[3].as<int64_t>(), out.mutable_readiness_time());
  SetTime(r[4].as<int64_t>(), out.mutable_idle_since());
  out.set_request_id(r[5].c_str());
  out.set_request_state(StateOf(r[6].c_str()));
  if (out.request_state() == v1::REQUEST_STATE_OFFERED) SetTime(r[7].as<int64_t>(), out.mutable_offer_deadline());
  return out;
}

}  // namespace crm::telephony::requests
