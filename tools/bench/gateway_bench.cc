// crm-gateway-bench: a trivial authenticated GET through the gateway next to the same RPC called
// directly over gRPC, measured in the same run, printed as ratios.
//
//   tools/crm bench-gateway [--threads N] [--requests N]
//
// direct:  N client threads, each a synchronous gRPC stub, calling TranscodeTestService.GetThing.
// gateway: N client threads, each one keep-alive HTTP/1.1 connection, sending
//          GET /v1/things/42 with a bearer JWT. Every request is routed, has its token verified
//          (Ed25519), its principal signed, is transcoded to protobuf, forwarded with GenericStub to the
//          same backend, and its reply transcoded to JSON.
// Everything runs on this machine's loopback, in one process: client, gateway and backend share the cores.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "crm/testing/v1/transcode.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "libs/auth/jwt.h"
#include "libs/log/log.h"
#include "services/gateway/auth.h"
#include "services/gateway/edge/server.h"
#include "services/gateway/gateway.h"
#include "tools/bench/http_load.h"

namespace {

namespace tv1 = crm::testing::v1;
using crm::bench::HttpClient;
using crm::bench::Result;
using crm::bench::Die;
using crm::bench::Run;

class Backend final : public tv1::TranscodeTestService::Service {
  grpc::Status GetThing(grpc::ServerContext*, const tv1::GetThingRequest* req, tv1::Thing* out) override {
    out->set_id(req->id());
    out->set_display_name("Квартира 42");
    out->set_size_bytes(4096);
    return grpc::Status::OK;
  }
};

}  // namespace

int main(int argc, char** argv) {
  int threads = 8, requests = 3000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--requests") == 0 && i + 1 < argc) {
      requests = std::atoi(argv[++i]);
    } else {
      Die("usage: crm-gateway-bench [--threads N] [--requests N per thread]");
    }
  }
  if (threads < 1 || threads > 256 || requests < 100 || requests > 1000000)
    Die("threads 1..256, requests 100..1e6");
  crm::log::Init("bench", crm::log::Level::kError);

  // The backend.
  Backend backend;
  int backend_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &backend_port);
  builder.RegisterService(&backend);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || backend_port == 0) Die("cannot start the backend");
  const std::string backend_address = "127.0.0.1:" + std::to_string(backend_port);

  // Keys: identity's token key (published as a JWKS file) and the gateway's service key.
  auto identity_key = crm::auth::SigningKey::Generate("identity-1");
  auto service_key = crm::auth::SigningKey::Generate("gateway");
  if (!identity_key.ok() || !service_key.ok()) Die("cannot generate keys");
  crm::auth::KeySet keys;
  keys.Add(identity_key->public_key());
  const std::string jwks_path = "/tmp/crm-gateway-bench-" + std::to_string(getpid()) + ".jwks";
  std::ofstream(jwks_path) << keys.ToJwks();

  crm::gateway::GatewayOptions o;
  o.descriptor_sets = {CRM_TRANSCODE_TESTING_PB};
  o.backend_for = [&](std::string_view s) {
    return s == "crm.testing.v1.TranscodeTestService" ? backend_address : std::string();
  };
  o.auth.jwks = std::make_shared<crm::gateway::JwksFileSource>(jwks_path, absl::Seconds(5));
  o.service_key = *service_key;
  auto gateway = crm::gateway::Gateway::Create(std::move(o));
  if (!gateway.ok()) Die(gateway.status().ToString());
  crm::gateway::HttpServerOptions h;
  h.address = "127.0.0.1:0";
  h.worker_threads = std::max(8, threads);
  crm::gateway::Gateway* g = gateway->get();
  auto http =
      crm::gateway::HttpServer::Start(h, [g](crm::gateway::HttpCall& call) { return g->Handle(call); });
  if (!http.ok()) Die(http.status().ToString());

  crm::auth::Claims c;
  c.iss = "crm-identity";
  c.aud = "crm";
  c.sub = "0190f0e2-7c1a-7000-8000-000000000001";
  c.jti = "bench";
  c.kind = "user";
  c.roles = {"manager"};
  c.iat = absl::Now();
  c.exp = c.iat + absl::Hours(1);
  auto token = crm::auth::SignJwt(c, *identity_key);
  if (!token.ok()) Die(token.status().ToString());
  const std::string request =
      "GET /v1/things/42 HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer " + *token + "\r\n\r\n";

  const int port = (*http)->port();
  // Warm-up: channels connected, caches filled.
  {
    HttpClient w(port, request);
    for (int i = 0; i < 200; ++i) w.Send();
  }

  auto channel = grpc::CreateChannel(backend_address, grpc::InsecureChannelCredentials());
  const Result direct = Run(
      threads, requests, [&](int) { return tv1::TranscodeTestService::NewStub(channel); },
      [](auto& stub) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        tv1::GetThingRequest req;
        req.set_id("42");
        tv1::Thing thing;
        if (!stub->GetThing(&ctx, req, &thing).ok()) Die("direct call failed");
      });
  const Result via = Run(
      threads, requests, [&](int) { return std::make_unique<HttpClient>(port, request); },
      [](auto& client) { client->Send(); });

  std::printf("%d client threads x %d requests, loopback, one process (2 cores shared)\n", threads, requests);
  std::printf("direct gRPC GetThing:             %9.0f req/s  p50 %7.0f us  p99 %7.0f us\n", direct.rps,
              direct.p50_us, direct.p99_us);
  std::printf("gateway GET /v1/things/42 (JWT):  %9.0f req/s  p50 %7.0f us  p99 %7.0f us\n", via.rps,
              via.p50_us, via.p99_us);
  std::printf("ratio gateway/direct: throughput %.3f, p50 latency %.2fx, p99 latency %.2fx\n",
              via.rps / direct.rps, via.p50_us / direct.p50_us, via.p99_us / direct.p99_us);
  (*http)->Stop(absl::Seconds(2));
  server->Shutdown();
  std::remove(jwks_path.c_str());
  return 0;
}
