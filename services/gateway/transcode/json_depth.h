// File: services/gateway/transcode/json_depth.h
// -----------------------------------------------------------------------------
// A cheap guard in front of the JSON parser (issue 15): how deeply a request body nests arrays and
// objects. Protobuf's JSON parser recurses once per level (and keeps going inside google.protobuf.Value
// and repeated fields), so a body of a million '[' costs seconds of CPU and a deep stack; this scanner
// makes one pass over the bytes with O(max_depth) memory and refuses such a body before anything parses
// it. It only counts: the body may still be malformed JSON, which the parser reports afterwards.
//
// The bound of the gateway is kMaxJsonDepth = 64 levels (the outermost object or array is level 1):
// no message of the suite's APIs nests deeper than about 8, and google.protobuf.Struct values that
// clients store (custom fields) stay far below it.
//
// Example:
//   CRM_RETURN_IF_ERROR(CheckJsonDepth(body, kMaxJsonDepth, "thing"));
//   // {"tags":[[[[...65 levels...]]]]} → INVALID_ARGUMENT "request body: nested deeper than 64 levels
//   //                                    at thing.tags[0][0]...", field violation "thing.tags"
#ifndef CRM_SERVICES_GATEWAY_TRANSCODE_JSON_DEPTH_H_
#define CRM_SERVICES_GATEWAY_TRANSCODE_JSON_DEPTH_H_

#include <string_view>

#include "absl/status/status.h"

namespace crm::gateway {

// The deepest nesting of arrays and objects a request body may have.
inline constexpr int kMaxJsonDepth = 64;

// Returns OK when no array or object in `json` is nested deeper than `max_depth` levels (brackets inside
// strings do not count; escapes are honoured). Otherwise INVALID_ARGUMENT whose message names the place
// as a JSON path below `prefix` ("thing.tags[0][0]", the indexes elided past the first 8), carrying a
// field violation (crm::FieldViolations) whose field is the object keys of that path joined by '.'
// (`prefix` first; "" for a top-level array). Runs in one pass over `json`, never allocating more than
// O(max_depth).
absl::Status CheckJsonDepth(std::string_view json, int max_depth, std::string_view prefix = "");

}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_TRANSCODE_JSON_DEPTH_H_
