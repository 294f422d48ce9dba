// File: libs/base/status.h
// -----------------------------------------------------------------------------
// Errors are values: functions that can fail return absl::Status or absl::StatusOr<T>.
// Debian's Abseil (20220623) has no status macros, so this header supplies the two everyone needs,
// and the one converter between the three status types a service meets:
//   absl::Status  <->  grpc::Status  <->  google::protobuf::util::Status
// The canonical codes are numerically identical in all three, so conversion keeps code and message.
//
// Field violations: an INVALID_ARGUMENT names the bad field(s). InvalidFieldError() / WithFieldViolations()
// attach them as a google.rpc.BadRequest payload (type URL kBadRequestTypeUrl); ToGrpcStatus() sends
// them as the standard `grpc-status-details-bin` trailer (a google.rpc.Status whose details hold the
// BadRequest), FromGrpcStatus() reads them back, and the gateway shows them as the error's "details".
//
// Retry delay: a RESOURCE_EXHAUSTED / UNAVAILABLE may say when to try again. WithRetryDelay() attaches a
// google.rpc.RetryInfo payload (type URL kRetryInfoTypeUrl) that travels in the same trailer (the
// gateway answers HTTP 429 / 503 with `Retry-After`); RetryDelay() reads it.
//
// Choosing a code (from absl/status/status.h): use kUnavailable if the client can retry just the
// failing call; kAborted if it should retry at a higher level (a version conflict); kFailedPrecondition
// if it should not retry until the system state is fixed.
//
// Example:
//   absl::StatusOr<Deal> LoadDeal(std::string_view id) {
//     CRM_ASSIGN_OR_RETURN(auto row, store.Find(id));
//     CRM_RETURN_IF_ERROR(Validate(row));
//     return Deal(row);
//   }
//   grpc::Status Handler(...) { return crm::ToGrpcStatus(DoWork()); }
#ifndef CRM_LIBS_BASE_STATUS_H_
#define CRM_LIBS_BASE_STATUS_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/stubs/status.h"

namespace grpc {
class Status;
}  // namespace grpc

namespace crm {

// Returns `expr` (an absl::Status or StatusOr) from the enclosing function if it is not OK.
#define CRM_RETURN_IF_ERROR(expr)                                   \
  do {                                                              \
    if (auto crm_status_ = ::crm::internal::AsStatus(expr); !crm_status_.ok()) \
      return crm_status_;                                           \
  } while (0)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status from the enclosing function,
// otherwise move-assigns the value to `lhs`, which may be a declaration (`auto x`).
#define CRM_ASSIGN_OR_RETURN(lhs, rexpr) \
  CRM_ASSIGN_OR_RETURN_IMPL_(CRM_STATUS_CONCAT_(crm_statusor_, __LINE__), lhs, rexpr)

#define CRM_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                               \
  if (!tmp.ok()) return std::move(tmp).status();    \
  lhs = std::move(tmp).value()
#define CRM_STATUS_CONCAT_INNER_(a, b) a##b
#define CRM_STATUS_CONCAT_(a, b) CRM_STATUS_CONCAT_INNER_(a, b)

// Converts between our absl::Status and gRPC's status, keeping the code, the message and the field
// violations (as grpc-status-details-bin).
// Bounds of what ToGrpcStatus() sends (gRPC refuses trailers past 8 KiB): the message is cut to
// kMaxWireMessageBytes, each violation's description to kMaxWireViolationBytes (its field to a quarter
// of that), and only the first violations that fit in kMaxWireViolationsBytes are sent, all cut at a
// UTF-8 boundary with "…".
inline constexpr size_t kMaxWireMessageBytes = 1024;
inline constexpr size_t kMaxWireViolationBytes = 512;
inline constexpr size_t kMaxWireViolationsBytes = 3072;
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// The payload type URL under which field violations are stored in an absl::Status; the value is the
// protobuf encoding of google.rpc.BadRequest.
inline constexpr char kBadRequestTypeUrl[] = "type.googleapis.com/google.rpc.BadRequest";

// One invalid field of a request: `field` is its dotted path in the request message, proto names
// ("deal.amount.currency"); `description` says what is wrong with it, for the API client.
struct FieldViolation {
  std::string field;
  std::string description;

  friend bool operator==(const FieldViolation&, const FieldViolation&) = default;
};

// Returns INVALID_ARGUMENT "<field>: <description>" carrying that one violation.
absl::Status InvalidFieldError(std::string_view field, std::string_view description);

// Returns INVALID_ARGUMENT carrying every violation, its message naming the first:
// "<field>: <description> (and N more)". The one error shape of a request refused for its fields.
absl::Status InvalidFieldsError(const std::vector<FieldViolation>& violations);

// Returns `status` with `violations` appended to any it already carries. OK statuses cannot carry
// payloads and are returned unchanged.
absl::Status WithFieldViolations(absl::Status status, const std::vector<FieldViolation>& violations);

// Returns the field violations carried by `status`, in the order they were attached; empty when there
// are none or the payload is malformed (never fails).
std::vector<FieldViolation> FieldViolations(const absl::Status& status);
// The payload type URL of a retry delay in an absl::Status; the value is the protobuf encoding of
// google.rpc.RetryInfo { google.protobuf.Duration retry_delay = 1; }.
inline constexpr char kRetryInfoTypeUrl[] = "type.googleapis.com/google.rpc.RetryInfo";

// The longest retry delay a status carries: a longer one (or an infinite one) counts as this.
inline constexpr absl::Duration kMaxRetryDelay = absl::Hours(1);

// Returns `status` carrying `delay` (how long until a retry may succeed; negative counts as zero, more
// than kMaxRetryDelay as kMaxRetryDelay) as its RetryInfo, replacing any earlier one. OK statuses are
// returned unchanged.
absl::Status WithRetryDelay(absl::Status status, absl::Duration delay);

// The retry delay carried by `status`; nullopt when there is none or the payload is malformed.
std::optional<absl::Duration> RetryDelay(const absl::Status& status);

// Internal text (issue 15): a status made from a database's or a library's error carries their words
// (constraint names, SQL, values), which the log needs and a client must never see. WithPublicMessage()
// says what the client is told instead; crm::rpc::Handle() sends that (with the request id) and logs
// the original. The code stays. PublicMessage() is the replacement, or nullopt for a status whose
// message was written for clients.
absl::Status WithPublicMessage(absl::Status status, std::string_view public_message);
std::optional<std::string> PublicMessage(const absl::Status& status);

// The same between absl and protobuf's own util::Status (returned by JSON and field-mask utilities).
google::protobuf::util::Status ToProtobufStatus(const absl::Status& status);
absl::Status FromProtobufStatus(const google::protobuf::util::Status& status);

// True for failures worth retrying later with backoff, the same request: UNAVAILABLE, DEADLINE_EXCEEDED,
// ABORTED (a conflict), RESOURCE_EXHAUSTED, INTERNAL, UNKNOWN. Any other code is permanent for that
// request (OK is not a failure: false).
bool IsTransient(const absl::Status& status);

// Returns `status` with `context + ": "` prefixed to its message (the code is kept); OK stays OK.
absl::Status Annotate(const absl::Status& status, std::string_view context);

namespace internal {
inline const absl::Status& AsStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& AsStatus(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace internal

}  // namespace crm

#endif  // CRM_LIBS_BASE_STATUS_H_
