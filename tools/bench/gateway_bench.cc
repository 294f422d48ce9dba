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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "crm/testing/v1/transcode.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "libs/auth/jwt.h"
#include "libs/log/log.h"
#include "services/gateway/auth.h"
#include "services/gateway/edge/server.h"
#include "services/gateway/gateway.h"

namespace {

namespace tv1 = crm::testing::v1;
using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "crm-gateway-bench: %s\n", why.c_str());
  std::exit(1);
}

class Backend final : public tv1::TranscodeTestService::Service {
  grpc::Status GetThing(grpc::ServerContext*, const tv1::GetThingRequest* req, tv1::Thing* out) override {
    out->set_id(req->id());
    out->set_display_name("Квартира 42");
    out->set_size_bytes(4096);
    return grpc::Status::OK;
  }
};

struct Result {
  double rps = 0;
  double p50_us = 0;
  double p99_us = 0;
};

Result Summarise(std::vector<std::vector<double>>& per_thread, double seconds) {
  std::vector<double> all;
  for (auto& v : per_thread) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  Result r;
  r.rps = all.size() / seconds;
  r.p50_us = all[all.size() / 2];
  r.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  return r;
}

// Runs `threads` workers doing `requests` calls each with `call(thread)`; returns the figures.
template <typename Setup, typename Call>
Result Run(int threads, int requests, Setup setup, Call call) {
  std::vector<std::vector<double>> lat(threads);
  std::vector<std::thread> workers;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  Clock::time_point start;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto state = setup(t);
      lat[t].reserve(requests);
      ++ready;
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < requests; ++i) {
        auto a = Clock::now();
        call(state);
        lat[t].push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
      }
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  start = Clock::now();
  go = true;
  for (auto& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return Summarise(lat, seconds);
}

// One keep-alive HTTP/1.1 connection sending the same request and reading each response whole.
class HttpClient {
 public:
  HttpClient(int port, std::string request) : request_(std::move(request)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) Die("cannot connect to the gateway");
  }
  ~HttpClient() { ::close(fd_); }

  void Get() {
    if (::send(fd_, request_.data(), request_.size(), 0) != static_cast<ssize_t>(request_.size()))
      Die("send");
    for (;;) {
      const size_t end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        if (buf_.compare(0, 12, "HTTP/1.1 200") != 0) Die("gateway answered: " + buf_.substr(0, end));
        size_t length = 0;
        for (const char* name : {"Content-Length: ", "content-length: "}) {
          if (auto p = buf_.find(name); p != std::string::npos && p < end)
            length = std::atoi(buf_.c_str() + p + 16);
        }
        if (buf_.size() >= end + 4 + length) {
          buf_.erase(0, end + 4 + length);
          return;
        }
      }
      char chunk[8192];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) Die("the gateway closed the connection");
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  std::string request_;
  std::string buf_;
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
    for (int i = 0; i < 200; ++i) w.Get();
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
      [](auto& client) { client->Get(); });

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
