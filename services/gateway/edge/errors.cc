// File: services/gateway/edge/errors.cc
#include "services/gateway/edge/errors.h"

#include <cstdint>
#include <optional>

#include "absl/strings/cord.h"
#include "libs/base/strings.h"
#include "libs/log/log.h"

namespace crm::gateway {

int HttpStatusFromCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return 200;
    case absl::StatusCode::kCancelled: return 499;
    case absl::StatusCode::kUnknown: return 500;
    case absl::StatusCode::kInvalidArgument: return 400;
    case absl::StatusCode::kDeadlineExceeded: return 504;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kAlreadyExists: return 409;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kResourceExhausted: return 429;
    case absl::StatusCode::kFailedPrecondition: return 400;
    case absl::StatusCode::kAborted: return 409;
    case absl::StatusCode::kOutOfRange: return 400;
    case absl::StatusCode::kUnimplemented: return 501;
    case absl::StatusCode::kInternal: return 500;
    case absl::StatusCode::kUnavailable: return 503;
    case absl::StatusCode::kDataLoss: return 500;
    case absl::StatusCode::kUnauthenticated: return 401;
    default: return 500;
  }
}

std::string CodeName(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return "OK";
    case absl::StatusCode::kCancelled: return "CANCELLED";
    case absl::StatusCode::kUnknown: return "UNKNOWN";
    case absl::StatusCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case absl::StatusCode::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case absl::StatusCode::kNotFound: return "NOT_FOUND";
    case absl::StatusCode::kAlreadyExists: return "ALREADY_EXISTS";
    case absl::StatusCode::kPermissionDenied: return "PERMISSION_DENIED";
    case absl::StatusCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case absl::StatusCode::kFailedPrecondition: return "FAILED_PRECONDITION";
    case absl::StatusCode::kAborted: return "ABORTED";
    case absl::StatusCode::kOutOfRange: return "OUT_OF_RANGE";
    case absl::StatusCode::kUnimplemented: return "UNIMPLEMENTED";
    case absl::StatusCode::kInternal: return "INTERNAL";
    case absl::StatusCode::kUnavailable: return "UNAVAILABLE";
    case absl::StatusCode::kDataLoss: return "DATA_LOSS";
    case absl::StatusCode::kUnauthenticated: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

std::string ErrorBody(const absl::Status& status, std::string_view request_id) {
  return ErrorBody(status, request_id, HttpStatusFromCode(status.code()));
}

std::string ErrorBody(const absl::Status& status, std::string_view request_id, int http_status) {
  std::string out = "{\"error\":{\"code\":";
  out += std::to_string(http_status);
  out += ",\"status\":";
  log::AppendJsonString(&out, CodeName(status.code()));
  out += ",\"message\":";
  log::AppendJsonString(&out, AsStd(status.message()));
  out += ",\"details\":[";
  bool first = true;
  for (const auto& v : FieldViolations(status)) {
    if (!first) out += ',';
    first = false;
    out += "{\"field\":";
    log::AppendJsonString(&out, v.field);
    out += ",\"description\":";
    log::AppendJsonString(&out, v.description);
    out += '}';
  }
  out += ']';
  if (!request_id.empty()) {
    out += ",\"requestId\":";
    log::AppendJsonString(&out, request_id);
  }
  out += "}}";
  return out;
}

}  // namespace crm::gateway
