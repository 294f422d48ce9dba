// File: services/gateway/edge/errors.h
// -----------------------------------------------------------------------------
// How the gateway turns an absl::Status into an HTTP response: the status code (the gRPC → HTTP table of
// grpc-gateway's HTTPStatusFromCode / google/rpc/code.proto, design anchor engineering.md §2) and one JSON
// error body used by every error path of the edge and the transcoder:
//
//   {"error":{"code":400,"status":"INVALID_ARGUMENT","message":"title is required",
//             "details":[{"field":"deal.title","description":"must not be empty"}],
//             "requestId":"019a..."}}
//
// Field violations travel inside the absl::Status as a google.rpc.BadRequest payload (libs/base/status.h:
// a service attaches them with crm::InvalidFieldError / WithFieldViolations, gRPC carries them in
// grpc-status-details-bin, and the edge reads them back with FieldViolations()). "details" is always
// present (an empty array when there are none) and "requestId" is omitted when the id is empty.
//
// Retry hints (issue 15): a status may carry a google.rpc.RetryInfo payload (type URL kRetryInfoTypeUrl),
// attached by the gateway's own rate limiters (WithRetryDelay) or read from a backend's
// grpc-status-details-bin (WithRetryInfoFromDetails; identity sends one with a throttled sign-in). It
// becomes `"retryDelay":"2.500s"` (google.protobuf.Duration's JSON form) in the error body, and
// HttpResponse::FromStatus turns every RESOURCE_EXHAUSTED into `Retry-After: RetryAfterSeconds()`.
//
// Example:
//   absl::Status s = crm::gateway::WithFieldViolations(
//       absl::InvalidArgumentError("invalid deal"), {{"deal.title", "must not be empty"}});
//   int http = crm::gateway::HttpStatusFromCode(s.code());   // 400
//   std::string body = crm::gateway::ErrorBody(s, request_id);
#ifndef CRM_SERVICES_GATEWAY_EDGE_ERRORS_H_
#define CRM_SERVICES_GATEWAY_EDGE_ERRORS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/base/status.h"

namespace crm::gateway {

// Field violations live in libs/base/status.h (services attach them; the edge shows them).
using ::crm::FieldViolation;
using ::crm::FieldViolations;
using ::crm::kBadRequestTypeUrl;
using ::crm::WithFieldViolations;

// Retry hints live in libs/base/status.h too: a backend's google.rpc.RetryInfo arrives through
// FromGrpcStatus; the edge's own limiters attach theirs with WithRetryDelay.
using ::crm::kRetryInfoTypeUrl;
using ::crm::RetryDelay;
using ::crm::WithRetryDelay;
// Retry-After of a 429 whose status carries no retry hint.
inline constexpr absl::Duration kDefaultRetryAfter = absl::Seconds(5);

// Returns the Retry-After value in whole seconds for `status`: ceil(RetryDelay), at least 1; without a
// hint ceil(kDefaultRetryAfter).
int64_t RetryAfterSeconds(const absl::Status& status);

// Returns the HTTP status for a canonical code, exactly per the table in engineering.md §2:
// OK 200, CANCELLED 499, UNKNOWN 500, INVALID_ARGUMENT 400, DEADLINE_EXCEEDED 504, NOT_FOUND 404,
// ALREADY_EXISTS 409, PERMISSION_DENIED 403, RESOURCE_EXHAUSTED 429, FAILED_PRECONDITION 400,
// ABORTED 409, OUT_OF_RANGE 400, UNIMPLEMENTED 501, INTERNAL 500, UNAVAILABLE 503, DATA_LOSS 500,
// UNAUTHENTICATED 401; any other value 500.
int HttpStatusFromCode(absl::StatusCode code);

// Returns the canonical upper-case name of `code` ("INVALID_ARGUMENT"), "UNKNOWN" for values outside
// the canonical set.
std::string CodeName(absl::StatusCode code);

// Returns the JSON error body shown above for `status` (code = HttpStatusFromCode, status = CodeName,
// message = the status message, details = FieldViolations, retryDelay = RetryDelay when present). Always
// valid JSON: strings are escaped and
// invalid UTF-8 is replaced. Called with an OK status it still returns a body with code 200.
std::string ErrorBody(const absl::Status& status, std::string_view request_id);

// The same body with "code" set to `http_status` instead: for the edge's own answers that have no
// canonical gRPC equivalent; "status" is StatusLabel(status, http_status).
std::string ErrorBody(const absl::Status& status, std::string_view request_id, int http_status);

// The "status" label of an error body (issue 16): the HTTP status's own name where it has no canonical
// gRPC code — 405 METHOD_NOT_ALLOWED, 412 PRECONDITION_FAILED (a stale If-Match), 413 PAYLOAD_TOO_LARGE,
// 431 REQUEST_HEADER_FIELDS_TOO_LARGE — and CodeName(status.code()) for every other status.
std::string StatusLabel(const absl::Status& status, int http_status);

}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_EDGE_ERRORS_H_
