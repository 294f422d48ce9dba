// File: services/gateway/edge/errors.cc
#include "services/gateway/edge/errors.h"

#include <cstdint>
#include <optional>

#include "absl/strings/cord.h"
#include "libs/base/strings.h"
#include "libs/log/log.h"

namespace crm::gateway {
namespace {

// --- A tiny protobuf wire codec for google.rpc.BadRequest (only length-delimited fields 1 and 2). ---

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutBytesField(std::string* out, int field, std::string_view bytes) {
  PutVarint(out, (static_cast<uint64_t>(field) << 3) | 2);
  PutVarint(out, bytes.size());
  out->append(bytes);
}

std::optional<uint64_t> GetVarint(std::string_view* in) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    auto b = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  return std::nullopt;
}

// Reads one field; returns false on malformed input. Length-delimited fields set `*bytes`; varint and
// fixed fields are skipped (bytes left empty, wire_type reported).
bool GetField(std::string_view* in, uint64_t* field, int* wire_type, std::string_view* bytes) {
  auto key = GetVarint(in);
  if (!key) return false;
  *field = *key >> 3;
  *wire_type = static_cast<int>(*key & 7);
  *bytes = {};
  switch (*wire_type) {
    case 0:
      return GetVarint(in).has_value();
    case 1:
      if (in->size() < 8) return false;
      in->remove_prefix(8);
      return true;
    case 5:
      if (in->size() < 4) return false;
      in->remove_prefix(4);
      return true;
    case 2: {
      auto len = GetVarint(in);
      if (!len || *len > in->size()) return false;
      *bytes = in->substr(0, *len);
      in->remove_prefix(*len);
      return true;
    }
    default:
      return false;
  }
}

std::string EncodeViolations(const std::vector<FieldViolation>& violations) {
  std::string out;
  for (const auto& v : violations) {
    std::string inner;
    PutBytesField(&inner, 1, v.field);
    PutBytesField(&inner, 2, v.description);
    PutBytesField(&out, 1, inner);
  }
  return out;
}

std::optional<std::vector<FieldViolation>> DecodeViolations(std::string_view in) {
  std::vector<FieldViolation> out;
  while (!in.empty()) {
    uint64_t field;
    int wt;
    std::string_view bytes;
    if (!GetField(&in, &field, &wt, &bytes)) return std::nullopt;
    if (field != 1 || wt != 2) continue;
    FieldViolation v;
    while (!bytes.empty()) {
      uint64_t f2;
      int wt2;
      std::string_view b2;
      if (!GetField(&bytes, &f2, &wt2, &b2)) return std::nullopt;
      if (wt2 != 2) continue;
      if (f2 == 1) v.field = std::string(b2);
      if (f2 == 2) v.description = std::string(b2);
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace

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

absl::Status WithFieldViolations(absl::Status status, const std::vector<FieldViolation>& violations) {
  if (status.ok() || violations.empty()) return status;
  std::vector<FieldViolation> all = FieldViolations(status);
  all.insert(all.end(), violations.begin(), violations.end());
  status.SetPayload(kBadRequestTypeUrl, absl::Cord(EncodeViolations(all)));
  return status;
}

std::vector<FieldViolation> FieldViolations(const absl::Status& status) {
  auto payload = status.GetPayload(kBadRequestTypeUrl);
  if (!payload) return {};
  std::string flat(*payload);
  return DecodeViolations(flat).value_or(std::vector<FieldViolation>{});
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
