// File: libs/rpc/client.h
// -----------------------------------------------------------------------------
// Calling another service: a channel that retries only what is safe to retry, and a ClientContext
// carrying a deadline, the request id and the caller of the call being served.
//
// Retries follow the proto: a method marked `option idempotency_level = IDEMPOTENT;` or
// `NO_SIDE_EFFECTS;` is retried on UNAVAILABLE (exponential backoff 0.1 s .. 1 s), up to max_attempts
// attempts in all; any other method is sent once. gRPC retries only while the server has sent nothing
// back, so a handler's partial response is never repeated.
//
// Example:
//   using crm::identity::v1::IdentityService;
//   const auto* service = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
//       IdentityService::service_full_name());
//   auto channel = crm::rpc::MakeChannel({.target = env.String("IDENTITY_TARGET", "localhost:50052")},
//   *service); auto stub = crm::identity::v1::IdentityService::NewStub(channel);
//   ...
//   grpc::ClientContext ctx;
//   crm::rpc::PrepareClientContext(ctx, absl::Seconds(2), server_ctx);   // inside a handler
//   grpc::Status s = stub->GetUser(&ctx, request, &user);
#ifndef CRM_LIBS_RPC_CLIENT_H_
#define CRM_LIBS_RPC_CLIENT_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace google::protobuf {
class ServiceDescriptor;
}  // namespace google::protobuf

namespace grpc {
class Channel;
class ClientContext;
class ServerContextBase;
}  // namespace grpc

namespace crm::common::v1 {
class Principal;
}  // namespace crm::common::v1
namespace crm::auth {
class SigningKey;
}  // namespace crm::auth

namespace crm::rpc {

struct ChannelOptions {
  // gRPC target: "host:port", "dns:///deals:50051", "unix:/path".
  std::string target;
  // The timeout to give calls on this channel (PrepareClientContext(ctx, options.default_timeout, ...)).
  // Not enforced by the channel: gRPC 1.51 expires service-config `timeout`s early, by up to seconds
  // (grpc/grpc#34547), so every call sets its own deadline instead.
  absl::Duration default_timeout = absl::Seconds(5);
  // Attempts in all for retryable methods, 1..5 (gRPC allows at most 5); 1 turns retries off.
  int max_attempts = 3;
};

// Returns a plaintext channel to options.target whose service config retries exactly the IDEMPOTENT
// and NO_SIDE_EFFECTS methods of `service` on UNAVAILABLE. The channel connects lazily; it never fails
// to be made.
std::shared_ptr<grpc::Channel> MakeChannel(const ChannelOptions& options,
                                           const google::protobuf::ServiceDescriptor& service);

// Returns the service config MakeChannel installs (JSON), for inspection and tests.
std::string ServiceConfigJson(const ChannelOptions& options,
                              const google::protobuf::ServiceDescriptor& service);

// Prepares `ctx` for one outgoing call; call it once per context, before the call. Sets the deadline
// to now + timeout, made no later than the incoming call's (crm::rpc::Deadline). Forwards the request
// id (the incoming call's; without one, the current thread's log request id, if any), the incoming
// call's principal header, byte for byte, when the server accepted it, and the incoming call's
// automation causation (its x-crm-automation-depth and x-crm-skip-automation, as AutomationDepth() and
// SkipAutomation() read them), so a chain of calls through several services keeps them.
void PrepareClientContext(grpc::ClientContext& ctx, absl::Duration timeout,
                          const grpc::ServerContextBase* incoming = nullptr);

// Adds the automation causation to the call made with `ctx`: x-crm-automation-depth `depth` when
// depth > 0 (clamped to kMaxAutomationDepth) and x-crm-skip-automation "true" when `skip_automation`.
// A robot acting on an event of depth n calls with n + 1 and the event's skip flag. Call it at most
// once per context, and not after PrepareClientContext with an incoming call that carries them.
void SetAutomation(grpc::ClientContext& ctx, int depth, bool skip_automation);

// Adds `principal` as the caller (x-crm-principal-bin) of the call made with `ctx`, unsigned: only
// servers without trusted keys believe it (development, tests). Not together with a forwarded principal.
void SetCaller(grpc::ClientContext& ctx, const crm::common::v1::Principal& principal);

// Returns the principal of `service` acting on its own (KIND_SERVICE), on behalf of
// `on_behalf_of_user_id` when a user's rule or request caused the action ("" when none).
crm::common::v1::Principal ServicePrincipal(std::string_view service, std::string_view on_behalf_of_user_id = "");

// Adds `principal` as the caller of the call made with `ctx`, signed with `key` (x-crm-principal-sig),
// so servers that trust the key believe it: how a service acting on its own (a robot's action) calls
// another. Internal only if signing fails. Not together with a forwarded principal.
absl::Status SetSignedCaller(grpc::ClientContext& ctx, const crm::common::v1::Principal& principal,
                             const crm::auth::SigningKey& key);

}  // namespace crm::rpc

#endif  // CRM_LIBS_RPC_CLIENT_H_
