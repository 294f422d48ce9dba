// File: services/gateway/transcode/json_check.h
// -----------------------------------------------------------------------------
// Why a JSON text is not a valid message, in the suite's words (issues 15 and 16).
//
// protobuf's JSON parser stops at the first problem and words it for its own developers ("Root element
// must be a message.", "(size_bytes): invalid value \"x\" for type TYPE_INT64"), sometimes naming a
// field that is not the culprit. When it refuses a body, the transcoder asks ExplainJson instead and
// answers with every violation at once:
//   * `field` is the path as the proto spells it, from the request message: "deal.amount.amount_minor",
//     "deal.fields[2].version", "labels[\"k\"]"; the JSON's lowerCamel keys are translated;
//   * `description` says what the value must be: "must be an integer from -9223372036854775808 to
//     9223372036854775807", "must be one of THING_STATE_UNSPECIFIED, THING_STATE_ACTIVE, ...",
//     "unknown field", "only one of email, phone may be set (oneof contact)".
// The rules are the input policy of json_policy.h (unknown fields refused, enum names case-sensitive).
//
// Example:
//   std::vector<crm::FieldViolation> v = ExplainJson(R"({"sizeBytes":"x"})", Thing::descriptor(), "thing");
//   // {{"thing.size_bytes", "must be an integer from ... (a JSON number or a string of digits)"}}
#ifndef CRM_SERVICES_GATEWAY_TRANSCODE_JSON_CHECK_H_
#define CRM_SERVICES_GATEWAY_TRANSCODE_JSON_CHECK_H_

#include <string>
#include <string_view>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "libs/base/status.h"

namespace crm::gateway {

// At most this many violations are listed; the rest are counted in one last violation of `prefix`.
inline constexpr size_t kMaxExplainedViolations = 32;

// Returns the violations of `json` as a `type` message, each path prefixed with `prefix` (with a dot;
// empty for none). Malformed JSON is one violation of `prefix` (or "body") with the byte offset.
// Returns an empty list when the text is a valid message under the policy. Never throws.
std::vector<FieldViolation> ExplainJson(std::string_view json, const google::protobuf::Descriptor* type,
                                        std::string_view prefix);

// Returns what a value of field `f` must be, in the words ExplainJson uses ("must be an integer from 0 to
// 4294967295", "must be one of ..."); for one element when `f` is repeated. Path and query values use it.
std::string DescribeExpected(const google::protobuf::FieldDescriptor* f);

}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_TRANSCODE_JSON_CHECK_H_
