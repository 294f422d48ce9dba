// File: services/gateway/main.cc
// The crm-gateway binary: the REST/JSON edge of the suite. Settings (crm::config, CRM_GATEWAY_<NAME> or
// CRM_<NAME>) are listed in README.md. Exit codes: 0 after a graceful stop (SIGTERM/SIGINT); 2 for bad
// configuration (one line on stderr naming every bad variable); 1 when starting fails.
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <nlohmann/json.hpp>

#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/base/strings.h"
#include "libs/config/config.h"
#include "libs/log/log.h"
#include "libs/metrics/metrics.h"
#include "services/gateway/auth.h"
#include "services/gateway/edge/server.h"
#include "services/gateway/gateway.h"
#include "services/gateway/identity_client.h"
#include "services/gateway/revocations.h"
#include "proto/crm/identity/v1/event_types.h"

#ifndef CRM_GATEWAY_DEFAULT_STREAM_TOPICS
#define CRM_GATEWAY_DEFAULT_STREAM_TOPICS ""
#endif
#ifndef CRM_GATEWAY_DEFAULT_DESCRIPTOR_SET
#define CRM_GATEWAY_DEFAULT_DESCRIPTOR_SET "crm_api.pb"
#endif

int main() {
  // Debian's Abseil keeps the debug deadlock detector on: every Mutex lock updates a global lock graph.
  // Tests keep it; the services run without it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Block the stop signals in every thread; the main thread waits for them with sigwait().
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  crm::log::Init("gateway", crm::log::Level::kInfo);
  crm::config::Env env("gateway");
  const std::string log_level = env.String("LOG_LEVEL", "info");
  if (absl::StatusOr<crm::log::Level> level = crm::log::ParseLevel(log_level); level.ok()) {
    crm::log::Init("gateway", *level);
  } else {
    env.Reject("LOG_LEVEL", "not one of debug, info, warn, error");
  }

  crm::gateway::HttpServerOptions http;
  http.address = env.String("HTTP_ADDRESS", "0.0.0.0:8080");
  // gRPC health only (grpc.health.v1.Health), for tools/crm status and orchestrators probing gRPC.
  const std::string grpc_address = env.String("GRPC_ADDRESS", "0.0.0.0:7100");
  const std::string metrics_address = env.String("METRICS_ADDRESS", "0.0.0.0:9100");
  http.worker_threads = static_cast<int>(env.Int("HTTP_WORKER_THREADS", 16, 1, 1024));
  http.io_threads = static_cast<int>(env.Int("HTTP_IO_THREADS", 2, 1, 64));
  // 16 MiB: a 10 MiB attachment, base64 in JSON, fits (backends accept 16 MiB messages, libs/rpc).
  http.max_body_bytes = static_cast<size_t>(env.Int("HTTP_MAX_BODY_BYTES", 16 << 20, 1, 64 << 20));
  http.cors.allowed_origins = env.List("CORS_ORIGINS", {});
  http.cors.allow_credentials = env.Bool("CORS_ALLOW_CREDENTIALS", false);
  http.per_ip_rate = static_cast<double>(env.Int("PER_IP_RATE", 0, 0, 1'000'000));
  http.per_ip_burst = static_cast<double>(env.Int("PER_IP_BURST", 0, 0, 1'000'000));
  if (http.per_ip_rate > 0 && http.per_ip_burst <= 0) http.per_ip_burst = http.per_ip_rate;
  http.trusted_proxy_hops = static_cast<int>(env.Int("TRUSTED_PROXY_HOPS", 0, 0, 16));

  crm::gateway::GatewayOptions options;
  options.descriptor_sets = env.List("DESCRIPTOR_SETS", {CRM_GATEWAY_DEFAULT_DESCRIPTOR_SET});
  options.call_timeout = env.Duration("CALL_TIMEOUT", absl::Seconds(10));
  if (options.call_timeout <= absl::ZeroDuration()) env.Reject("CALL_TIMEOUT", "must be positive");
  options.per_user_rate = static_cast<double>(env.Int("PER_USER_RATE", 50, 0, 1'000'000));
  options.per_user_burst = static_cast<double>(env.Int("PER_USER_BURST", 100, 0, 1'000'000));
  options.auth.issuer = env.String("AUTH_ISSUER", "crm-identity");
  options.auth.audience = env.String("AUTH_AUDIENCE", "crm");
  options.auth.public_methods = env.List("PUBLIC_METHODS", crm::gateway::DefaultPublicMethods());
  // Token-signing keys: identity's GetSigningKeys unless a JWKS file is named (a gateway in front of
  // another issuer, or tests).
  const std::string jwks_file = env.String("JWKS_FILE", "");
  const absl::Duration jwks_reload = env.Duration("JWKS_RELOAD_INTERVAL", absl::Seconds(5));
  const std::string identity_address = env.String("IDENTITY_ADDRESS", "");
  crm::gateway::IdentityJwksOptions identity_keys;
  identity_keys.refresh_interval = env.Duration("JWKS_REFRESH_INTERVAL", absl::Minutes(1));
  std::shared_ptr<crm::gateway::IdentityJwksSource> from_identity;
  std::shared_ptr<grpc::Channel> identity_channel;
  if (!identity_address.empty()) {
    identity_channel = grpc::CreateChannel(identity_address, grpc::InsecureChannelCredentials());
  }
  if (!jwks_file.empty()) {
    options.auth.jwks = std::make_shared<crm::gateway::JwksFileSource>(jwks_file, jwks_reload);
  } else if (identity_channel != nullptr) {
    from_identity = crm::gateway::IdentityJwksSource::Start(identity_channel, identity_keys);
    options.auth.jwks = from_identity;
  } else {
    crm::log::Warn("neither CRM_IDENTITY_ADDRESS nor CRM_GATEWAY_JWKS_FILE is set: every token is refused");
  }
  const std::string key_file = env.String("SERVICE_KEY_FILE", "");
  const std::string key_id = env.String("SERVICE_KEY_ID", "gateway");
  if (!crm::auth::IsValidKid(key_id)) env.Reject("SERVICE_KEY_ID", "not a valid key id");
  if (!env.status().ok()) return crm::config::ReportInvalid("gateway", env.status());

  absl::StatusOr<crm::auth::SigningKey> key = crm::gateway::LoadServiceKey(key_file, key_id);
  if (!key.ok()) {
    env.Reject("SERVICE_KEY_FILE", crm::AsStd(key.status().message()));
    return crm::config::ReportInvalid("gateway", env.status());
  }
  if (key_file.empty()) {
    crm::log::Warn("no service key file (CRM_GATEWAY_SERVICE_KEY_FILE): generated one; backends must be "
                   "given its public JWK to trust forwarded principals",
                   {{"jwk", key->public_key().ToJwk().dump()}});
  }
  options.service_key = *key;
  if (identity_channel != nullptr) {
    options.auth.api_keys = std::make_shared<crm::gateway::IdentityApiKeyVerifier>(identity_channel, *key);
  }
  // Identity's health, checked in the background for /readyz (issue 15).
  crm::gateway::IdentityHealthOptions identity_health_options;
  identity_health_options.interval = env.Duration("IDENTITY_HEALTH_INTERVAL", absl::Seconds(2));
  identity_health_options.max_silence = env.Duration("IDENTITY_HEALTH_MAX_SILENCE", absl::Seconds(5));
  if (identity_health_options.interval <= absl::ZeroDuration()) env.Reject("IDENTITY_HEALTH_INTERVAL", "must be positive");
  options.openapi.title = env.String("OPENAPI_TITLE", "CRM API");
  options.openapi.server_url = env.String("PUBLIC_URL", "");
  // The live stream (GET /v1/stream) reads these topics; without brokers it answers 503.
  const std::string brokers = env.String("KAFKA_BROKERS", "");
  const std::vector<std::string> stream_topics =
      env.List("STREAM_TOPICS", absl::StrSplit(CRM_GATEWAY_DEFAULT_STREAM_TOPICS, ',', absl::SkipEmpty()));
  // Revoked sessions (issue 15): identity's SessionRevoked events, read by every replica.
  crm::gateway::RevocationOptions revocation;
  revocation.brokers = brokers;
  revocation.topic = env.String("REVOCATION_TOPIC", crm::identity::v1::kSessionTopic);
  revocation.token_ttl = env.Duration("ACCESS_TOKEN_TTL", absl::Minutes(10));
  revocation.max_staleness = env.Duration("REVOCATION_MAX_STALENESS", absl::Seconds(30));
  if (revocation.token_ttl <= absl::ZeroDuration()) env.Reject("ACCESS_TOKEN_TTL", "must be positive");
  if (revocation.max_staleness <= absl::ZeroDuration()) env.Reject("REVOCATION_MAX_STALENESS", "must be positive");
  std::unique_ptr<crm::gateway::RevocationListener> revocations;
  if (!brokers.empty() && env.status().ok()) {
    absl::StatusOr<std::unique_ptr<crm::gateway::RevocationListener>> listener =
        crm::gateway::RevocationListener::Start(revocation);
    if (!listener.ok()) {
      env.Reject("KAFKA_BROKERS", crm::AsStd(listener.status().message()));
    } else {
      revocations = *std::move(listener);
      options.auth.revocations = revocations->sessions();
    }
  } else if (brokers.empty()) {
    crm::log::Warn("no CRM_KAFKA_BROKERS: revoked sessions are not known, their access tokens work until "
                   "they expire");
  }
  if (!brokers.empty() && !stream_topics.empty()) {
    crm::gateway::StreamOptions stream;
    stream.brokers = brokers;
    stream.topics = stream_topics;
    stream.ring_events_per_partition =
        static_cast<size_t>(env.Int("STREAM_RING_EVENTS", 2000, 0, 1'000'000));
    stream.subscriber_queue = static_cast<size_t>(env.Int("STREAM_CLIENT_QUEUE", 1000, 1, 1'000'000));
    options.stream = std::move(stream);
  }
  options.backend_for = [&env](std::string_view service) {
    const std::string name = crm::gateway::BackendSettingName(service);
    return name.empty() ? std::string() : env.String(name, "");
  };

  absl::StatusOr<std::unique_ptr<crm::gateway::Gateway>> gateway =
      crm::gateway::Gateway::Create(std::move(options));
  if (!gateway.ok()) {
    env.Reject("DESCRIPTOR_SETS", crm::AsStd(gateway.status().message()));
    return crm::config::ReportInvalid("gateway", env.status());
  }
  if (!env.status().ok()) return crm::config::ReportInvalid("gateway", env.status());
  {
    std::vector<std::string> read;
    for (const crm::config::Env::Setting& s : env.settings()) read.push_back(absl::StrCat(s.var, "=", s.value));
    crm::log::Info("settings", {{"settings", absl::StrJoin(read, " ")}});
  }

  crm::gateway::Gateway* gw = gateway->get();
  // /readyz (README "Readiness"): the gateway can authenticate and route a request now — it holds
  // identity's signing keys, identity answered a health check recently, the revocation stream caught
  // up at start and Kafka was reached recently, and the live stream has its partitions.
  std::unique_ptr<crm::gateway::IdentityHealth> identity_health;
  if (identity_channel != nullptr) {
    identity_health = crm::gateway::IdentityHealth::Start(identity_channel, identity_health_options);
  }
  crm::gateway::IdentityHealth* identity_up = identity_health.get();
  crm::gateway::RevocationListener* revoked = revocations.get();
  http.ready = [from_identity, identity_up, revoked, gw]() -> absl::Status {
    if (from_identity != nullptr && !from_identity->Ready()) {
      return absl::UnavailableError("no token-signing keys from identity yet");
    }
    if (identity_up != nullptr) {
      if (absl::Status s = identity_up->Ready(); !s.ok()) return s;
    }
    if (revoked != nullptr) {
      if (absl::Status s = revoked->Ready(); !s.ok()) return s;
    }
    if (!gw->Ready()) return absl::UnavailableError("the live stream has not assigned its partitions yet");
    return absl::OkStatus();
  };
  absl::StatusOr<std::unique_ptr<crm::gateway::HttpServer>> server = crm::gateway::HttpServer::Start(
      http, [gw](crm::gateway::HttpCall& call) { return gw->Handle(call); });
  if (!server.ok()) {
    if (server.status().code() == absl::StatusCode::kInvalidArgument) {
      env.Reject("HTTP_ADDRESS", crm::AsStd(server.status().message()));
      return crm::config::ReportInvalid("gateway", env.status());
    }
    crm::log::Error("cannot start the HTTP server", {{"error", server.status()}});
    return 1;
  }

  absl::StatusOr<std::unique_ptr<crm::metrics::Exposer>> exposer =
      crm::metrics::Exposer::Start(metrics_address);
  if (!exposer.ok()) {
    crm::log::Error("cannot serve metrics", {{"error", exposer.status()}});
    return 1;
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  builder.AddListeningPort(grpc_address, grpc::InsecureServerCredentials(), &grpc_port);
  // Any other method is UNIMPLEMENTED; a server needs one service beside health to start.
  grpc::CallbackGenericService unimplemented;
  builder.RegisterCallbackGenericService(&unimplemented);
  std::unique_ptr<grpc::Server> health = builder.BuildAndStart();
  if (health == nullptr || grpc_port == 0) {
    crm::log::Error("cannot serve gRPC health", {{"address", grpc_address}});
    return 1;
  }
  health->GetHealthCheckService()->SetServingStatus(true);
  crm::log::Info("serving", {{"http_port", (*server)->port()},
                             {"grpc_health_port", grpc_port},
                             {"metrics_port", (*exposer)->port()},
                             {"services", absl::StrJoin(gw->services(), ",")}});

  int sig = 0;
  sigwait(&stop_signals, &sig);
  crm::log::Info("stopping", {{"signal", sig}});
  health->GetHealthCheckService()->SetServingStatus(false);
  (*server)->Stop(absl::Seconds(10));  // closes live streams too: clients resume elsewhere (Last-Event-ID)
  gw->Stop();
  if (revocations != nullptr) revocations->Stop();
  health->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  crm::log::Info("stopped");
  return 0;
}
