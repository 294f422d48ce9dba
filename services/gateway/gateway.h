// File: services/gateway/gateway.h
// -----------------------------------------------------------------------------
// The REST/JSON → gRPC gateway component: the HttpHandler the edge (edge/server.h) runs. Per request it
//   1. routes method + path with the HttpRule router (transcode/router.h): unknown path 404, a path bound
//      only under other methods 405 with `Allow`; reports the matched template as the metrics route;
//   2. identifies the caller (auth.h): a non-public method without a valid bearer token or API key is
//      401; webhooks (webhooks.h) are public;
//   3. applies the per-principal token bucket: 429 with Retry-After;
//   4. builds the request message from path, query and JSON body (transcode/transcode.h; a
//      google.api.HttpBody body is taken raw with its Content-Type, transcode/http_body.h); an
//      `If-Match: "<n>"` header sets the resource version n in the request (the int64 `version` of the
//      body message, else of the request itself; 400 when the method has none);
//   5. forwards the bytes with grpc::GenericStub to the service's backend (one cached channel per
//      address) under a deadline = min(now + call_timeout, client `Grpc-Timeout`, the edge's deadline),
//      with metadata x-request-id, idempotency-key (POST), x-crm-skip-automation "true" (when the
//      request has `X-Skip-Automation: true` or `1`; a client's X-Automation-Depth is never forwarded),
//      x-crm-client-ip, x-crm-principal-bin and x-crm-principal-sig (signed by the gateway's service key;
//      a caller who is not signed in is forwarded as GatewayPrincipal()); a webhook's one header;
//   6. answers 200 with the JSON of the reply and, when the reply has an int64 `version`, an
//      `ETag: "<version>"` — or, when the reply is a google.api.HttpBody (or its response_body field is
//      one), 200 with its bytes as they are and its Content-Type (transcode/http_body.h; dialogs' QR
//      image, T7); or the backend's error through HttpResponse::FromStatus (gRPC code → HTTP
//      status, the backend's message, field violations from grpc-status-details-bin), except that
//      ABORTED after an If-Match is 412 Precondition Failed.
//
// Besides the routes of the descriptors it serves its own:
//   GET /openapi.json  the OpenAPI 3 document of every route (openapi/openapi.h), public;
//   GET /v1/stream     the live stream (stream/stream.h) of the events the caller may see, as SSE; the
//                      token may also come as `?access_token=` (browsers' EventSource cannot set
//                      headers); `types=` filters by event type prefix; Last-Event-ID resumes.
//
// Example:
//   GatewayOptions o;
//   o.descriptor_sets = {"/usr/share/crm/crm_api.pb"};
//   o.backend_for = [](std::string_view service) { return std::string("127.0.0.1:50051"); };
//   o.service_key = *crm::auth::SigningKey::Generate("gateway");
//   CRM_ASSIGN_OR_RETURN(std::unique_ptr<Gateway> gw, Gateway::Create(std::move(o)));
//   HttpServer::Start(server_options, [&](HttpCall& call) { return gw->Handle(call); });
#ifndef CRM_SERVICES_GATEWAY_GATEWAY_H_
#define CRM_SERVICES_GATEWAY_GATEWAY_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/auth/jwt.h"
#include "libs/base/clock.h"
#include "services/gateway/auth.h"
#include "services/gateway/edge/server.h"
#include "services/gateway/openapi/openapi.h"
#include "services/gateway/stream/stream.h"
#include "services/gateway/webhooks.h"

namespace crm::gateway {

// Metadata keys the gateway sends to backends.
// The client's IP address as the edge saw it; trust it only on calls from the gateway's principal.
inline constexpr char kClientIpHeader[] = "x-crm-client-ip";

struct GatewayOptions {
  // FileDescriptorSet files whose services are routed (at least one).
  std::vector<std::string> descriptor_sets;
  // The gRPC address ("host:port") of the backend serving `service` (a full name), or "" when none is
  // configured (its routes then answer 503).
  std::function<std::string(std::string_view service)> backend_for;
  // Upper bound of every backend call; a client's `Grpc-Timeout` header may only lower it.
  absl::Duration call_timeout = absl::Seconds(10);
  // Caller identification.
  AuthOptions auth;
  // Webhook routes (webhooks.h): public whatever auth.public_methods says, each forwarding its one header.
  std::vector<Webhook> webhooks = DefaultWebhooks();
  // Signs the forwarded principal (x-crm-principal-sig). Required.
  std::optional<auth::SigningKey> service_key;
  // Per principal token bucket (requests per second, burst); rate 0 disables.
  double per_user_rate = 0;
  double per_user_burst = 0;
  size_t per_user_max_keys = 100'000;
  // Time source for rate limits and signatures; nullptr means crm::SystemClock(). Must outlive the gateway.
  const Clock* clock = nullptr;
  // The OpenAPI document's title, version and server (its public methods are auth.public_methods).
  OpenApiOptions openapi;
  // The live stream; nullopt answers /v1/stream with 503. Its pool is the gateway's descriptors.
  std::optional<StreamOptions> stream;
};

// Returns the setting name (for crm::config::Env) holding the backend address of `service`:
// "crm.identity.v1.UserService" → "IDENTITY_ADDRESS" (read as CRM_IDENTITY_ADDRESS); "" when the name
// has fewer than three components.
std::string BackendSettingName(std::string_view service);

// Returns the gRPC timeout for a `Grpc-Timeout` header value ("100m", "5S": 1..8 digits and a unit of
// H, M, S, m, u, n), or nullopt when malformed.
std::optional<absl::Duration> ParseGrpcTimeout(std::string_view value);

// The gateway. Thread-safe: Handle() may run on any number of threads at once.
class Gateway {
 public:
  // Loads the descriptor sets, builds the router, prepares one channel per backend address (channels
  // connect lazily: backends need not be up). InvalidArgument / NotFound naming the file or binding.
  static absl::StatusOr<std::unique_ptr<Gateway>> Create(GatewayOptions options);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Answers one HTTP request (see the file comment). Never throws.
  HttpResponse Handle(HttpCall& call);

  // The full names of the services routed.
  const std::vector<std::string>& services() const;

  // True when the live stream (if configured) can serve clients.
  bool Ready() const;
  // Stops the live stream's consumer; call after stopping the HTTP server (which closes the streams).
  void Stop();

 private:
  struct Impl;
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_GATEWAY_H_
