// File: services/gateway/transcode/json_policy.h
// -----------------------------------------------------------------------------
// The one place that fixes how the gateway speaks JSON (issue 4, lead's decision):
//   output: lowerCamelCase names, every primitive field printed (also defaults), enums as names,
//           64-bit integers as strings (protobuf's proto3 JSON mapping);
//   input:  lowerCamelCase or proto field names, enum names case-sensitive, UNKNOWN fields rejected
//           (INVALID_ARGUMENT naming the field); malformed JSON or invalid UTF-8 is INVALID_ARGUMENT.
//
// Example:
//   std::string json;
//   CRM_RETURN_IF_ERROR(crm::FromProtobufStatus(
//       google::protobuf::util::MessageToJsonString(msg, &json, crm::gateway::JsonOutputOptions())));
#ifndef CRM_SERVICES_GATEWAY_TRANSCODE_JSON_POLICY_H_
#define CRM_SERVICES_GATEWAY_TRANSCODE_JSON_POLICY_H_

#include "google/protobuf/util/json_util.h"

namespace crm::gateway {

// Returns the options every JSON response is printed with.
inline google::protobuf::util::JsonPrintOptions JsonOutputOptions() {
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = false;
  o.always_print_primitive_fields = true;
  o.always_print_enums_as_ints = false;
  o.preserve_proto_field_names = false;
  return o;
}

// Returns the options every JSON request body is parsed with.
inline google::protobuf::util::JsonParseOptions JsonInputOptions() {
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = false;
  o.case_insensitive_enum_parsing = false;
  return o;
}

}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_TRANSCODE_JSON_POLICY_H_
