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

// Minimal protobuf wire reading: the next field of `in` (varint or length-delimited; other wire types
// are skipped). False on malformed input.
bool ReadVarint(std::string_view* in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    const auto b = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    *v |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80u) == 0) return true;
  }
  return false;
}

struct WireField {
  uint64_t number = 0;
  int type = 0;
  uint64_t varint = 0;
  std::string_view bytes;
};

bool NextField(std::string_view* in, WireField* f) {
  uint64_t tag = 0;
  if (!ReadVarint(in, &tag)) return false;
  f->number = tag >> 3;
  f->type = static_cast<int>(tag & 7);
  switch (f->type) {
    case 0: return ReadVarint(in, &f->varint);
    case 1: if (in->size() < 8) return false; in->remove_prefix(8); return true;
    case 5: if (in->size() < 4) return false; in->remove_prefix(4); return true;
    case 2: {
      uint64_t n = 0;
      if (!ReadVarint(in, &n) || n > in->size()) return false;
      f->bytes = in->substr(0, n);
      in->remove_prefix(n);
      return true;
    }
    default: return false;
  }
}

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// google.rpc.RetryInfo { google.protobuf.Duration retry_delay = 1; } with Duration { int64 seconds = 1;
// int32 nanos = 2; }.
std::string EncodeRetryInfo(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  if (d > absl::Hours(1)) d = absl::Hours(1);
  const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
  const int64_t nanos = absl::ToInt64Nanoseconds(d);
  std::string duration;
  if (seconds != 0) {
    duration.push_back(0x08);
    PutVarint(&duration, static_cast<uint64_t>(seconds));
  }
  if (nanos != 0) {
    duration.push_back(0x10);
    PutVarint(&duration, static_cast<uint64_t>(nanos));
  }
  std::string out;
  out.push_back(0x0a);
  PutVarint(&out, duration.size());
  out += duration;
  return out;
}

std::optional<absl::Duration> DecodeRetryInfo(std::string_view in) {
  std::optional<absl::Duration> delay;
  WireField f;
  while (!in.empty()) {
    if (!NextField(&in, &f)) return std::nullopt;
    if (f.number != 1 || f.type != 2) continue;
    int64_t seconds = 0, nanos = 0;
    std::string_view d = f.bytes;
    WireField g;
    while (!d.empty()) {
      if (!NextField(&d, &g)) return std::nullopt;
      if (g.type != 0) continue;
      if (g.number == 1) seconds = static_cast<int64_t>(g.varint);
      if (g.number == 2) nanos = static_cast<int32_t>(g.varint);
    }
    delay = absl::Seconds(seconds) + absl::Nanoseconds(nanos);
  }
  return delay;
}

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

absl::Status WithRetryDelay(absl::Status status, absl::Duration delay) {
  if (status.ok()) return status;
  status.SetPayload(kRetryInfoTypeUrl, absl::Cord(EncodeRetryInfo(delay)));
  return status;
}

absl::Status WithRetryInfoFromDetails(absl::Status status, std::string_view details) {
  if (status.ok()) return status;
  WireField f;
  while (!details.empty()) {
    if (!NextField(&details, &f)) return status;
    if (f.number != 3 || f.type != 2) continue;  // google.rpc.Status.details (Any)
    std::string_view any = f.bytes, type_url, value;
    WireField g;
    while (!any.empty()) {
      if (!NextField(&any, &g)) return status;
      if (g.type != 2) continue;
      if (g.number == 1) type_url = g.bytes;
      if (g.number == 2) value = g.bytes;
    }
    if (type_url == kRetryInfoTypeUrl && DecodeRetryInfo(value).has_value()) {
      status.SetPayload(kRetryInfoTypeUrl, absl::Cord(AsAbsl(value)));
      return status;
    }
  }
  return status;
}

std::optional<absl::Duration> RetryDelay(const absl::Status& status) {
  auto payload = status.GetPayload(kRetryInfoTypeUrl);
  if (!payload.has_value()) return std::nullopt;
  return DecodeRetryInfo(std::string(*payload));
}

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
