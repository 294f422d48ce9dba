// File: services/gateway/transcode/transcode.h
// -----------------------------------------------------------------------------
// Turns a matched HTTP request into the serialized gRPC request message, and a serialized gRPC
// response into the JSON body, using only the descriptors of the matched method (dynamic messages).
//
// Request (per google/api/http.proto):
//   body "*"      the JSON body is the whole request message; query parameters are refused;
//   body "field"  the JSON body is that top-level field; other fields come from path and query;
//   no body       a non-empty body is INVALID_ARGUMENT; fields come from path and query.
//   google.api.HttpBody as the body (a body field of that type, or "*" on an HttpBody request): the raw
//   bytes and `content_type`, never parsed as JSON (http_body.h).
//   Path variables set (nested) fields, converted per field kind (string, integers, bool, enum by name,
//   float/double); a body value that disagrees with a path variable is INVALID_ARGUMENT.
//   Query parameters (`a.b=1`, proto or lowerCamel names) set fields not bound by path or body; a
//   repeated scalar takes every repetition of its key; repeated messages and unknown keys are
//   INVALID_ARGUMENT naming the key. google.protobuf.FieldMask/Timestamp/Duration and wrapper types take
//   their JSON string form (`updateMask=a,b.c`).
//   PATCH with body "field" and exactly one top-level FieldMask field the client did not send: the mask
//   is filled with the body's present keys, nested objects giving dotted paths, in proto field names,
//   relative to the body field (`{"displayName":"x","owner":{"email":"e"}}` -> display_name,owner.email).
// Response: JSON per json_policy.h of the whole message, or of the `response_body` field.
// All JSON errors are INVALID_ARGUMENT and name the offending field where protobuf reports it; string
// values from path or query must be valid UTF-8. Both functions are thread-safe (they share only the
// RouteMatch's thread-safe message factory).
//
// Example:
//   CRM_ASSIGN_OR_RETURN(RouteMatch m, router.Match("PATCH", "/v1/things/7"));
//   CRM_ASSIGN_OR_RETURN(std::string request, BuildRequest(m, R"({"displayName":"x"})", {}));
//   ... grpc::GenericStub call with `request`, get `reply` bytes ...
//   CRM_ASSIGN_OR_RETURN(std::string json, ResponseToJson(m, reply));
#ifndef CRM_SERVICES_GATEWAY_TRANSCODE_TRANSCODE_H_
#define CRM_SERVICES_GATEWAY_TRANSCODE_TRANSCODE_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "services/gateway/transcode/json_depth.h"
#include "services/gateway/transcode/router.h"

namespace crm::gateway {

struct TranscodeLimits {
  // Larger request bodies are refused with RESOURCE_EXHAUSTED (HTTP 413), before parsing.
  size_t max_body_bytes = 4 << 20;
  // Larger raw google.api.HttpBody request bodies (http_body.h: webhooks; a Telegram update is a few KiB)
  // are refused the same way.
  size_t max_http_body_bytes = 256 << 10;
  // Larger serialized responses are refused with RESOURCE_EXHAUSTED.
  size_t max_response_bytes = 16 << 20;
  // Request bodies nesting arrays/objects deeper than this are refused with INVALID_ARGUMENT before
  // parsing (json_depth.h; issue 15).
  int max_json_depth = kMaxJsonDepth;
};

// Returns the serialized request message of m.method for the HTTP request: `body` (JSON, may be empty)
// and the decoded `query` parameters in order; `content_type` is the request's Content-Type header (only
// an HttpBody request keeps it). See the file comment for the mapping; every error is
// INVALID_ARGUMENT naming the field or parameter, except the size limit (RESOURCE_EXHAUSTED). A body
// nested deeper than limits.max_json_depth is refused first, in one cheap pass (CheckJsonDepth, the path
// below the body field). Path and query need no such guard: they are flat strings, bounded by the
// edge's header limit, and resolved in one linear pass (a dotted query key walks the descriptors once).
absl::StatusOr<std::string> BuildRequest(const RouteMatch& m, std::string_view body,
                                         const std::vector<std::pair<std::string, std::string>>& query,
                                         const TranscodeLimits& limits = {}, std::string_view content_type = {});

// Returns the JSON body for `serialized_response` (a serialized m.method output message): the whole
// message or its response_body field. INTERNAL if the bytes do not parse (the backend is at fault).
absl::StatusOr<std::string> ResponseToJson(const RouteMatch& m, std::string_view serialized_response,
                                           const TranscodeLimits& limits = {});

// Splits a URL query string (without the '?') into decoded (key, value) pairs in order, as BuildRequest
// takes them: '&'-separated, '+' is a space, %XX escapes decoded, "k" alone is ("k", ""), empty pieces
// skipped. INVALID_ARGUMENT for an empty key or a bad escape.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQueryString(std::string_view query);

}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_TRANSCODE_TRANSCODE_H_
