// File: services/gateway/transcode/json_print.h
// -----------------------------------------------------------------------------
// A direct proto3 JSON printer for the gateway's responses: the same bytes as protobuf 3.21's
// google::protobuf::util::MessageToJsonString() with the gateway's options (json_policy.h), without
// its detour (serialize to binary, build a TypeResolver over the pool, convert every descriptor to a
// google.protobuf.Type, re-read the bytes through ProtoStreamObjectSource and, with
// always_print_primitive_fields, buffer the whole tree in a DefaultValueObjectWriter). PrintJson walks
// the message with Descriptor/Reflection instead (a ListDealsResponse of 60 cards: ~9x less CPU).
//
// "The same bytes" includes protobuf 3.21's quirks, which clients already see:
//   - always_print_primitive_fields = true: fields print in declaration order, every non-oneof scalar
//     and every repeated/map field also when empty; but fields that protobuf renders as a JSON scalar
//     or list although they are messages (Timestamp, Duration, FieldMask, the wrappers, ListValue, a
//     Value that is not a struct) and set oneof / proto3 `optional` scalars come after all the others,
//     in field-number order. A set google.protobuf.NullValue field is null; an unset one (outside a
//     oneof) is "NULL_VALUE". With false: set fields only, in field-number order.
//   - maps print in the order the message serializes them (for a parsed message: wire order), not
//     sorted; 64-bit integers are quoted; float/double as protobuf's SimpleFtoa/SimpleDtoa
//     (NaN/Infinity/-Infinity quoted); bytes as padded standard base64; enum names, unknown enum
//     numbers as numbers; strings escaped as protobuf does it ('<', '>', DEL, C1 controls, U+2028 and
//     friends as \uXXXX; invalid UTF-8 sequences dropped).
//   - google.protobuf.Any is resolved in the message's own pool (type URL prefix
//     "type.googleapis.com/" only, as protobuf's TypeResolver).
// Whatever the direct walk does not model exactly - options other than the gateway's, a root message
// that is itself a well-known type, proto2 types, an unresolvable or non-canonical Any, an out-of-range
// Timestamp/Duration, unknown fields that reuse a known field number or sit in a well-known type,
// duplicate keys where protobuf merges them, nesting deeper than protobuf's limit of 64 - is handed to
// MessageToJsonString itself for the whole message, so output and errors stay identical.
//
// Thread-safe; no global state.
//
// Example:
//   std::string json;
//   CRM_RETURN_IF_ERROR(crm::gateway::PrintJson(*response, &json));
//   // json == what MessageToJsonString(*response, &json, JsonOutputOptions()) would append
#ifndef CRM_SERVICES_GATEWAY_TRANSCODE_JSON_PRINT_H_
#define CRM_SERVICES_GATEWAY_TRANSCODE_JSON_PRINT_H_

#include <string>

#include "absl/status/status.h"
#include "google/protobuf/util/json_util.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace crm::gateway {

// Appends the proto3 JSON of `msg` as JsonOutputOptions() prints it, byte for byte: exactly what
// MessageToJsonString(msg, out, JsonOutputOptions()) appends and returns (its errors, such as an
// out-of-range Timestamp, converted to absl::Status with the same code and message; `out` then holds
// whatever MessageToJsonString left in it).
absl::Status PrintJson(const google::protobuf::Message& msg, std::string* out);

// The same for any `options`: exactly what MessageToJsonString(msg, out, options) appends and returns.
// The direct printer serves options equal to JsonOutputOptions() except for
// always_print_primitive_fields (ResponseToJson prints `response_body` fields with it false); other
// options go to MessageToJsonString.
absl::Status PrintJson(const google::protobuf::Message& msg,
                       const google::protobuf::util::JsonPrintOptions& options, std::string* out);

namespace json_print_internal {

// For tests: PrintJson without the fallback. Where PrintJson would call MessageToJsonString, returns
// UNIMPLEMENTED and leaves `out` as it was; otherwise appends the same bytes as PrintJson and returns OK.
absl::Status PrintJsonWithoutFallback(const google::protobuf::Message& msg,
                                      const google::protobuf::util::JsonPrintOptions& options,
                                      std::string* out);

}  // namespace json_print_internal
}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_TRANSCODE_JSON_PRINT_H_
