#include "libs/base/status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/support/status.h"

namespace crm {
namespace {

// The canonical codes run 0 (OK) .. 16 (UNAUTHENTICATED) in all three status types. Anything else
// (absl allows arbitrary integers, gRPC has DO_NOT_USE = -1) becomes UNKNOWN rather than a code the
// other side cannot name.
constexpr int kMaxCanonicalCode = 16;

int CanonicalOrUnknown(int code) { return code >= 0 && code <= kMaxCanonicalCode ? code : 2; }

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

void PutVarintField(std::string* out, int field, uint64_t v) {
  PutVarint(out, static_cast<uint64_t>(field) << 3);
  PutVarint(out, v);
}

// google.protobuf.Any { string type_url = 1; bytes value = 2; }
std::string EncodeAny(std::string_view type_url, std::string_view value) {
  std::string any;
  PutBytesField(&any, 1, type_url);
  PutBytesField(&any, 2, value);
  return any;
}

// google.rpc.Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
// with the given (already encoded) Any details.
std::string EncodeRpcStatus(int code, std::string_view message, const std::vector<std::string>& anys) {
  std::string out;
  PutVarintField(&out, 1, static_cast<uint64_t>(code));
  PutBytesField(&out, 2, message);
  for (const std::string& any : anys) PutBytesField(&out, 3, any);
  return out;
}

// The values of the Any details of type `type_url` inside a serialized google.rpc.Status, concatenated
// (concatenating encodings of one message merges them: repeated fields are appended, singular ones
// take the last value).
std::string DetailsOf(std::string_view rpc_status, std::string_view wanted_type_url) {
  std::string out;
  while (!rpc_status.empty()) {
    uint64_t field;
    int wt;
    std::string_view any;
    if (!GetField(&rpc_status, &field, &wt, &any)) break;
    if (field != 3 || wt != 2) continue;
    std::string_view type_url, value;
    while (!any.empty()) {
      uint64_t f;
      int w;
      std::string_view b;
      if (!GetField(&any, &f, &w, &b)) break;
      if (w != 2) continue;
      if (f == 1) type_url = b;
      if (f == 2) value = b;
    }
    if (type_url == wanted_type_url) out.append(value);
  }
  return out;
}

// google.rpc.RetryInfo { google.protobuf.Duration retry_delay = 1; } with
// Duration { int64 seconds = 1; int32 nanos = 2; } (both non-negative here).
std::string EncodeRetryInfo(absl::Duration delay) {
  if (delay < absl::ZeroDuration()) delay = absl::ZeroDuration();
  if (delay > kMaxRetryDelay) delay = kMaxRetryDelay;
  const int64_t seconds = absl::IDivDuration(delay, absl::Seconds(1), &delay);
  const int64_t nanos = absl::ToInt64Nanoseconds(delay);
  std::string duration;
  if (seconds != 0) PutVarintField(&duration, 1, static_cast<uint64_t>(seconds));
  if (nanos != 0) PutVarintField(&duration, 2, static_cast<uint64_t>(nanos));
  std::string out;
  PutBytesField(&out, 1, duration);
  return out;
}

std::optional<absl::Duration> DecodeRetryInfo(std::string_view in) {
  std::optional<absl::Duration> out;
  while (!in.empty()) {
    uint64_t field;
    int wt;
    std::string_view duration;
    if (!GetField(&in, &field, &wt, &duration)) return std::nullopt;
    if (field != 1 || wt != 2) continue;
    int64_t seconds = 0, nanos = 0;
    while (!duration.empty()) {
      auto key = GetVarint(&duration);
      if (!key) return std::nullopt;
      if ((*key & 7) != 0) return std::nullopt;
      auto v = GetVarint(&duration);
      if (!v) return std::nullopt;
      if ((*key >> 3) == 1) seconds = static_cast<int64_t>(*v);
      if ((*key >> 3) == 2) nanos = static_cast<int32_t>(*v);
    }
    out = absl::Seconds(seconds) + absl::Nanoseconds(nanos);
  }
  return out;
}

}  // namespace

namespace {

// `s` cut to at most `max` bytes at a UTF-8 character boundary, with "…" when cut.
std::string Bounded(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return absl::StrCat(absl::string_view(s.data(), n), "…");
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const int code = CanonicalOrUnknown(static_cast<int>(status.code()));
  // The message and the details travel as trailers, which gRPC bounds (8 KiB by default: a client
  // refuses larger ones with RESOURCE_EXHAUSTED "received initial metadata size exceeds limit", and the
  // real error is lost). Messages that quote a client's 100 000-character value are cut here.
  std::string message =
      Bounded(std::string_view(status.message().data(), status.message().size()), kMaxWireMessageBytes);
  std::vector<std::string> anys;
  if (status.GetPayload(kBadRequestTypeUrl).has_value()) {
    std::vector<FieldViolation> kept;
    size_t bytes = 0;
    for (const FieldViolation& v : FieldViolations(status)) {
      FieldViolation b{Bounded(v.field, kMaxWireViolationBytes / 4), Bounded(v.description, kMaxWireViolationBytes)};
      bytes += b.field.size() + b.description.size() + 8;
      if (bytes > kMaxWireViolationsBytes) break;  // the first ones that fit
      kept.push_back(std::move(b));
    }
    anys.push_back(EncodeAny(kBadRequestTypeUrl, EncodeViolations(kept)));
  }
  if (auto value = status.GetPayload(kRetryInfoTypeUrl); value.has_value()) {
    anys.push_back(EncodeAny(kRetryInfoTypeUrl, std::string(*value)));
  }
  if (!anys.empty()) {
    std::string details = EncodeRpcStatus(code, message, anys);
    return grpc::Status(static_cast<grpc::StatusCode>(code), std::move(message), std::move(details));
  }
  return grpc::Status(static_cast<grpc::StatusCode>(code), std::move(message));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(CanonicalOrUnknown(static_cast<int>(status.error_code()))),
                   status.error_message());
  if (!status.error_details().empty()) {
    for (const char* type_url : {kBadRequestTypeUrl, kRetryInfoTypeUrl}) {
      std::string value = DetailsOf(status.error_details(), type_url);
      if (!value.empty()) out.SetPayload(type_url, absl::Cord(std::move(value)));
    }
  }
  return out;
}

absl::Status InvalidFieldsError(const std::vector<FieldViolation>& violations) {
  if (violations.empty()) return absl::InvalidArgumentError("invalid request");
  std::string message = absl::StrCat(violations.front().field, ": ", violations.front().description);
  if (violations.size() > 1) absl::StrAppend(&message, " (and ", violations.size() - 1, " more)");
  return WithFieldViolations(absl::InvalidArgumentError(message), violations);
}

absl::Status InvalidFieldError(std::string_view field, std::string_view description) {
  return WithFieldViolations(
      absl::InvalidArgumentError(absl::StrCat(absl::string_view(field.data(), field.size()), ": ",
                                              absl::string_view(description.data(), description.size()))),
      {{std::string(field), std::string(description)}});
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

absl::Status WithRetryDelay(absl::Status status, absl::Duration delay) {
  if (status.ok()) return status;
  status.SetPayload(kRetryInfoTypeUrl, absl::Cord(EncodeRetryInfo(delay)));
  return status;
}

// Internal to this file: the payload holding the message a client is told instead of the status's own.
constexpr char kPublicMessageTypeUrl[] = "crm.public_message";

absl::Status WithPublicMessage(absl::Status status, std::string_view public_message) {
  if (status.ok()) return status;
  status.SetPayload(kPublicMessageTypeUrl, absl::Cord(std::string(public_message)));
  return status;
}

std::optional<std::string> PublicMessage(const absl::Status& status) {
  auto payload = status.GetPayload(kPublicMessageTypeUrl);
  if (!payload) return std::nullopt;
  return std::string(*payload);
}

std::optional<absl::Duration> RetryDelay(const absl::Status& status) {
  auto payload = status.GetPayload(kRetryInfoTypeUrl);
  if (!payload) return std::nullopt;
  return DecodeRetryInfo(std::string(*payload));
}

google::protobuf::util::Status ToProtobufStatus(const absl::Status& status) {
  if (status.ok()) return google::protobuf::util::OkStatus();
  return google::protobuf::util::Status(
      static_cast<google::protobuf::util::StatusCode>(CanonicalOrUnknown(static_cast<int>(status.code()))),
      std::string(status.message()));
}

absl::Status FromProtobufStatus(const google::protobuf::util::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(CanonicalOrUnknown(static_cast<int>(status.code()))),
                      std::string(status.message()));
}

bool IsTransient(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      return true;
    default:
      return false;
  }
}

absl::Status Annotate(const absl::Status& status, std::string_view context) {
  if (status.ok()) return status;
  absl::Status out(status.code(),
                   absl::StrCat(absl::string_view(context.data(), context.size()), ": ", status.message()));
  status.ForEachPayload(
      [&out](absl::string_view type_url, const absl::Cord& payload) { out.SetPayload(type_url, payload); });
  return out;
}

}  // namespace crm
