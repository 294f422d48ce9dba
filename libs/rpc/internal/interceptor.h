// File: libs/rpc/internal/interceptor.h
// -----------------------------------------------------------------------------
// Internal to crm::rpc. The one server interceptor crm::rpc::Server installs. Per call it:
//   - metrics: grpc_server_handled_total{service,grpc_service,grpc_method,grpc_code},
//     grpc_server_handling_seconds{service,grpc_service,grpc_method} (crm::metrics::LatencyBuckets()),
//     grpc_server_calls_in_flight{service,grpc_service,grpc_method}; calls of methods the server does
//     not have (UNIMPLEMENTED) count under grpc_service="unknown",grpc_method="unknown";
//   - request id: the caller's x-request-id or a new UUIDv7, echoed back to the caller, set as the
//     log request id while the handler is called (sync handlers run inside that scope);
//   - deadline: a call that arrives past its deadline is turned away with DEADLINE_EXCEEDED; a call
//     with no deadline or one beyond max_deadline is cancelled (TryCancel) max_deadline after arrival;
//   - identity: parses x-crm-principal-bin and asks the PrincipalVerifier; a malformed or rejected
//     principal turns the call away with UNAUTHENTICATED.
// "Turned away" means: the state says so (crm::rpc::CheckCall/Handle skip the handler body) and the
// status sent to the client is replaced, whatever the handler returned. See call.h for why.
#ifndef CRM_LIBS_RPC_INTERNAL_INTERCEPTOR_H_
#define CRM_LIBS_RPC_INTERNAL_INTERCEPTOR_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "grpcpp/support/server_interceptor.h"
#include "libs/base/clock.h"
#include "libs/rpc/call.h"

namespace crm::rpc::internal {

struct InterceptorOptions {
  // The suite's service name ("deals"): the `service` label.
  std::string service;
  // Calls without a deadline, or with a later one, are cancelled this long after arrival.
  absl::Duration max_deadline = absl::Seconds(30);
  // Read for the arrival deadline check; must outlive the server.
  const Clock* clock = nullptr;
  // Decides whether a well-formed principal is accepted.
  std::shared_ptr<const PrincipalVerifier> verifier;
};

// What every call of one server shares: the options and the per-method metric series.
class ServerCallShared;

std::shared_ptr<ServerCallShared> NewServerCallShared(InterceptorOptions options);

// Adds the series of `method_path` ("/pkg.Service/Method") now, as a method the server has: its
// histogram and in-flight gauge show (at zero) before its first call. Methods never declared get their
// series when a call of theirs first ends with a code other than UNIMPLEMENTED.
void DeclareMethod(ServerCallShared& shared, std::string_view method_path);

// Returns the factory for crm::rpc::Server's interceptor.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewServerInterceptorFactory(
    std::shared_ptr<ServerCallShared> shared);

}  // namespace crm::rpc::internal

#endif  // CRM_LIBS_RPC_INTERNAL_INTERCEPTOR_H_
