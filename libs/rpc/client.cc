#include "libs/rpc/client.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "crm/common/v1/common.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpcpp/grpcpp.h"
#include "libs/auth/service_credential.h"
#include "libs/log/log.h"
#include "libs/rpc/call.h"
#include "libs/rpc/internal/call_state.h"

namespace crm::rpc {
namespace {

// Escapes a proto identifier for a JSON string (identifiers hold no quotes; kept strict anyway).
std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

bool Retryable(const google::protobuf::MethodDescriptor& method) {
  const auto level = method.options().idempotency_level();
  return level == google::protobuf::MethodOptions::IDEMPOTENT ||
         level == google::protobuf::MethodOptions::NO_SIDE_EFFECTS;
}

}  // namespace

std::string ServiceConfigJson(const ChannelOptions& options,
                              const google::protobuf::ServiceDescriptor& service) {
  const std::string service_name = JsonString(service.full_name());
  std::vector<std::string> retryable;
  for (int i = 0; i < service.method_count(); ++i) {
    const google::protobuf::MethodDescriptor& m = *service.method(i);
    if (Retryable(m)) {
      retryable.push_back(
          absl::StrCat("{\"service\":", service_name, ",\"method\":", JsonString(m.name()), "}"));
    }
  }
  const int attempts = std::clamp(options.max_attempts, 1, 5);
  if (retryable.empty() || attempts < 2) return "{}";
  // No "timeout": gRPC 1.51 expires those early (see ChannelOptions::default_timeout).
  return absl::StrCat("{\"methodConfig\":[{\"name\":[", absl::StrJoin(retryable, ","),
                      "],\"retryPolicy\":{\"maxAttempts\":", attempts,
                      ",\"initialBackoff\":\"0.1s\",\"maxBackoff\":\"1s\",\"backoffMultiplier\":2,"
                      "\"retryableStatusCodes\":[\"UNAVAILABLE\"]}}]}");
}

std::shared_ptr<grpc::Channel> MakeChannel(const ChannelOptions& options,
                                           const google::protobuf::ServiceDescriptor& service) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
  args.SetServiceConfigJSON(ServiceConfigJson(options, service));
  return grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), args);
}

void PrepareClientContext(grpc::ClientContext& ctx, absl::Duration timeout,
                          const grpc::ServerContextBase* incoming) {
  absl::Time deadline = absl::Now() + timeout;
  if (incoming != nullptr) deadline = std::min(deadline, Deadline(*incoming));
  ctx.set_deadline(absl::ToChronoTime(deadline));

  std::string request_id;
  if (incoming != nullptr) request_id = RequestId(*incoming);
  if (request_id.empty()) request_id = std::string(log::CurrentRequestId());
  if (!request_id.empty()) ctx.AddMetadata(kRequestIdHeader, request_id);

  if (incoming == nullptr) return;
  SetAutomation(ctx, AutomationDepth(*incoming), SkipAutomation(*incoming));
  if (const internal::CallState* state = internal::FindCall(*incoming)) {
    if (state->principal.has_value()) ctx.AddMetadata(kPrincipalHeader, state->raw_principal);
    return;
  }
  // Not served by crm::rpc::Server: pass the header on as received.
  const auto& md = incoming->client_metadata();
  auto it = md.find(kPrincipalHeader);
  if (it != md.end()) ctx.AddMetadata(kPrincipalHeader, std::string(it->second.data(), it->second.size()));
}

void SetAutomation(grpc::ClientContext& ctx, int depth, bool skip_automation) {
  if (depth > 0) ctx.AddMetadata(kAutomationDepthHeader, absl::StrCat(std::min(depth, kMaxAutomationDepth)));
  if (skip_automation) ctx.AddMetadata(kSkipAutomationHeader, "true");
}

void SetCaller(grpc::ClientContext& ctx, const crm::common::v1::Principal& principal) {
  ctx.AddMetadata(kPrincipalHeader, principal.SerializeAsString());
}

crm::common::v1::Principal ServicePrincipal(std::string_view service, std::string_view on_behalf_of_user_id) {
  crm::common::v1::Principal p;
  p.set_kind(crm::common::v1::Principal::KIND_SERVICE);
  p.set_service(std::string(service));
  p.set_on_behalf_of_user_id(std::string(on_behalf_of_user_id));
  return p;
}

absl::Status SetSignedCaller(grpc::ClientContext& ctx, const crm::common::v1::Principal& principal,
                             const crm::auth::SigningKey& key) {
  const std::string bytes = principal.SerializeAsString();
  absl::StatusOr<std::string> sig = auth::SignPrincipalBytes(bytes, key, absl::Now());
  if (!sig.ok()) return sig.status();
  ctx.AddMetadata(kPrincipalHeader, bytes);
  ctx.AddMetadata(std::string(auth::kPrincipalSigHeader), *sig);
  return absl::OkStatus();
}

}  // namespace crm::rpc
