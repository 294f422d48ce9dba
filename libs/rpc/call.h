// File: libs/rpc/call.h
// -----------------------------------------------------------------------------
// What a handler knows about the call it serves: its request id, its caller, and whether the call was
// turned away on arrival. crm::rpc::Server's interceptor works these out once per call, before the
// handler runs; the functions below only look them up.
//
// Turning a call away. gRPC 1.51 gives server interceptors no way to stop a handler from running
// (Hijack() is client-only and the handler ignores TryCancel()). So the interceptor only decides: a call
// that arrived already past its deadline, or with a malformed or untrusted principal, is marked
// rejected, and whatever the handler returns, the client gets DEADLINE_EXCEEDED / UNAUTHENTICATED.
// To also skip the handler's work, a handler starts with Handle() (or CheckCall()): the first step
// of that thin wrapper is the rejection check. Serve() builds on Handle().
//
// Most handlers only compute their reply from the verified caller and the request: Serve() is
// Handle() + Caller() + writing the reply. Handlers that do more (stream, retry, write metadata) use
// Handle() directly.
//
// Example:
//   grpc::Status DealService::GetDeal(grpc::ServerContext* ctx, const GetDealRequest* req, Deal* out) {
//     return crm::rpc::Serve(*ctx, out, [&](const crm::common::v1::Principal& caller) {
//       return store_.Get(caller, req->id());
//     });
//   }
//   grpc::Status DealService::ExportDeals(grpc::ServerContext* ctx, const ExportDealsRequest* req,
//                                         grpc::ServerWriter<Deal>* writer) {
//     return crm::rpc::Handle(*ctx, [&]() -> absl::Status {
//       CRM_ASSIGN_OR_RETURN(crm::common::v1::Principal caller, crm::rpc::Caller(*ctx));
//       crm::log::Info("exporting deals", {{"pipeline_id", req->pipeline_id()}});  // with the request id
//       return store_.ForEach(caller, *req, [&](const Deal& deal) { writer->Write(deal); });
//     });
//   }
#ifndef CRM_LIBS_RPC_CALL_H_
#define CRM_LIBS_RPC_CALL_H_

#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crm/common/v1/common.pb.h"
#include "grpcpp/support/status.h"  // small (~300 lines): Serve() returns it from an inline template

namespace grpc {
class ServerContextBase;
}  // namespace grpc

namespace crm::rpc {

// Metadata keys the suite passes between services.
// The request id: taken from the caller, or made (UUIDv7) by the first server; echoed back in the
// response's initial metadata (in the trailers when the call fails without a response).
inline constexpr char kRequestIdHeader[] = "x-request-id";
// The caller: a serialized crm.common.v1.Principal (binary header; gRPC base64-encodes it on the wire).
inline constexpr char kPrincipalHeader[] = "x-crm-principal-bin";
// The client's idempotency key for a creating call (the gateway passes HTTP Idempotency-Key here).
inline constexpr char kIdempotencyKeyHeader[] = "idempotency-key";
// How deep in a chain of automation the call is (crm.events.v1.Envelope.automation_depth): a decimal
// 0..100; absent for a call a person, an API client or an import made. A robot acting on an event of
// depth n calls with n + 1. Only services set it (the gateway never forwards a client's).
inline constexpr char kAutomationDepthHeader[] = "x-crm-automation-depth";
// "true" (or "1") when the change is made with automation skipped (Envelope.skip_automation): a bulk
// import sends HTTP X-Skip-Automation: true, which the gateway passes on here.
inline constexpr char kSkipAutomationHeader[] = "x-crm-skip-automation";
// The largest automation depth a call carries; larger values are taken as this.
inline constexpr int kMaxAutomationDepth = 100;
// An incoming x-request-id longer than this, or with characters outside printable ASCII, is replaced.
inline constexpr size_t kMaxRequestIdLength = 128;

// Returns the request id of the call `ctx` serves: the caller's x-request-id if it sent a usable one,
// otherwise the UUIDv7 the server made for it. Never empty for calls served by crm::rpc::Server; for
// other servers it is the raw x-request-id header, or "" when absent.
std::string RequestId(const grpc::ServerContextBase& ctx);

// Returns the call's idempotency-key header as sent, or "" when absent.
std::string IdempotencyKey(const grpc::ServerContextBase& ctx);

// Whose idempotency keys a call's keys are (libs/pg/idempotency.h IdempotencyScope::caller): the
// principal's kind, id, service and on-behalf-of user, so two callers never share a key space.
std::string IdempotencyCaller(const crm::common::v1::Principal& caller);

// Returns the call's x-crm-automation-depth: 0 when absent or not a decimal integer ≥ 0, values above
// kMaxAutomationDepth as kMaxAutomationDepth. Events the call causes carry it (Envelope.automation_depth).
int AutomationDepth(const grpc::ServerContextBase& ctx);

// Returns whether the call's x-crm-skip-automation is "1" or "true" (in any case); false when absent
// or anything else. Events the call causes carry it (Envelope.skip_automation).
bool SkipAutomation(const grpc::ServerContextBase& ctx);

// Returns the principal the call carries in x-crm-principal-bin, as accepted by the server's
// PrincipalVerifier; Unauthenticated when the call carries none, or carries one that is malformed or
// was not accepted.
absl::StatusOr<crm::common::v1::Principal> Caller(const grpc::ServerContextBase& ctx);

// Returns whether `principal` holds permission `code` ("deals.read.all"). Permissions are the codes
// identity grants (a user's roles at token issue, an API key's scopes); see services/identity/README.md.
bool HasPermission(const crm::common::v1::Principal& principal, std::string_view code);

// Returns OK if `principal` holds `code`, else PermissionDenied "missing permission <code>".
absl::Status RequirePermission(const crm::common::v1::Principal& principal, std::string_view code);

// Returns OK if the call may be served, or the reason it was turned away on arrival:
// DeadlineExceeded (arrived past its deadline) or Unauthenticated (bad principal).
absl::Status CheckCall(const grpc::ServerContextBase& ctx);

// Returns the time by which the call must be answered: the caller's deadline, made no later than
// arrival + ServerOptions::max_deadline (when the caller set none, or a later one). A server cancels
// a call still running at that time. absl::InfiniteFuture() for calls not served by crm::rpc::Server
// that carry no deadline.
absl::Time Deadline(const grpc::ServerContextBase& ctx);

// The thin handler wrapper. Returns CheckCall(ctx) as a grpc::Status without calling `body` if the
// call was turned away; otherwise runs `body` with the call's request id on every log line it writes
// (crm::log::ScopedRequestId) and returns its status, converted to gRPC's. A status whose message is
// internal text (a database's words: libs/base/status.h WithPublicMessage) is logged and goes to the
// client as its public message and the request id, with the same code.
grpc::Status Handle(const grpc::ServerContextBase& ctx, absl::FunctionRef<absl::Status()> body);

namespace internal {
// Handle(), with `body` given the call's Caller(); UNAUTHENTICATED without running `body` when there is
// none. The non-template part of Serve().
grpc::Status HandleWithCaller(const grpc::ServerContextBase& ctx,
                              absl::FunctionRef<absl::Status(const crm::common::v1::Principal&)> body);
}  // namespace internal

// Serves a unary call whose reply is computed from the verified caller. Like Handle(): a call turned
// away on arrival returns its rejection without running `body`, and `body` logs with the request id.
// Then: without a caller (see Caller()) returns UNAUTHENTICATED without running `body`; otherwise runs
// `body` with the caller, and on success moves its value into `*out` and returns OK; on error leaves
// `*out` untouched and returns the error as gRPC's status (code, message and field violations kept).
// A body that needs the actor (caller + request id) builds it with RequestId(ctx).
template <typename Reply>
grpc::Status Serve(
    const grpc::ServerContextBase& ctx, Reply* out,
    std::type_identity_t<absl::FunctionRef<absl::StatusOr<Reply>(const crm::common::v1::Principal& caller)>>
        body) {
  return internal::HandleWithCaller(ctx, [&](const crm::common::v1::Principal& caller) -> absl::Status {
    absl::StatusOr<Reply> reply = body(caller);
    if (!reply.ok()) return std::move(reply).status();
    *out = *std::move(reply);
    return absl::OkStatus();
  });
}

// The seam for trusting the principal header. Until the gateway/identity issue signs principals, the
// header is believed as sent (UnverifiedPrincipals()); that issue installs a verifier that checks the
// signature, with crm::rpc::Server::SetPrincipalVerifier().
class PrincipalVerifier {
 public:
  virtual ~PrincipalVerifier() = default;
  // Returns OK to accept `principal`, parsed from the header bytes `raw`, for the call `ctx`; any
  // error turns the call away with UNAUTHENTICATED and the error's message. Called once per call that
  // carries a well-formed principal, on gRPC's threads: must be thread-safe and must not block long.
  virtual absl::Status Verify(const grpc::ServerContextBase& ctx, std::string_view raw,
                              const crm::common::v1::Principal& principal) const = 0;
};

// Returns the interim verifier that accepts every well-formed principal without checking where it
// came from. TODO(gateway/identity): replace with signature verification.
std::shared_ptr<const PrincipalVerifier> UnverifiedPrincipals();

}  // namespace crm::rpc

#endif  // CRM_LIBS_RPC_CALL_H_
