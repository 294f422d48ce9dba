// File: services/gateway/edge/errors.cc
#include "services/gateway/edge/errors.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "libs/base/strings.h"
#include "libs/log/log.h"

namespace crm::gateway {
namespace {

// "2.500s": google.protobuf.Duration's JSON form (0, 3, 6 or 9 fractional digits).
std::string DurationJson(absl::Duration d) {
  const int64_t nanos = absl::ToInt64Nanoseconds(d);
  std::string out = absl::StrCat(nanos / 1'000'000'000);
  int64_t frac = nanos % 1'000'000'000;
  if (frac < 0) frac = -frac;
  if (frac != 0) {
    std::string digits = std::to_string(frac + 1'000'000'000).substr(1);
    while (digits.size() > 3 && digits.substr(digits.size() - 3) == "000") digits.resize(digits.size() - 3);
    absl::StrAppend(&out, ".", digits);
  }
  out += 's';
  return out;
}

}  // namespace

int64_t RetryAfterSeconds(const absl::Status& status) {
  const absl::Duration d = RetryDelay(status).value_or(kDefaultRetryAfter);
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(d))));
}

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

std::string StatusLabel(const absl::Status& status, int http_status) {
  switch (http_status) {
    case 405: return "METHOD_NOT_ALLOWED";
    case 412: return "PRECONDITION_FAILED";
    case 413: return "PAYLOAD_TOO_LARGE";
    case 431: return "REQUEST_HEADER_FIELDS_TOO_LARGE";
    default: return CodeName(status.code());
  }
}

std::string ErrorBody(const absl::Status& status, std::string_view request_id, int http_status) {
  std::string out = "{\"error\":{\"code\":";
  out += std::to_string(http_status);
  out += ",\"status\":";
  log::AppendJsonString(&out, StatusLabel(status, http_status));
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
  if (std::optional<absl::Duration> delay = RetryDelay(status); delay.has_value()) {
    out += ",\"retryDelay\":";
    log::AppendJsonString(&out, DurationJson(*delay));
  }
  if (!request_id.empty()) {
    out += ",\"requestId\":";
    log::AppendJsonString(&out, request_id);
  }
  out += "}}";
  return out;
}

}  // namespace crm::gateway
