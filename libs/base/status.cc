#include "libs/base/status.h"

#include <string>

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

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(CanonicalOrUnknown(static_cast<int>(status.code()))),
                      std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(
      static_cast<absl::StatusCode>(CanonicalOrUnknown(static_cast<int>(status.error_code()))),
      status.error_message());
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

absl::Status Annotate(const absl::Status& status, std::string_view context) {
  if (status.ok()) return status;
  absl::Status out(status.code(),
                   absl::StrCat(absl::string_view(context.data(), context.size()), ": ", status.message()));
  status.ForEachPayload(
      [&out](absl::string_view type_url, const absl::Cord& payload) { out.SetPayload(type_url, payload); });
  return out;
}

}  // namespace crm
