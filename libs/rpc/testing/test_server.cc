#include "libs/rpc/testing/test_server.h"

#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"

namespace crm::rpc::testing {

ServerOptions TestOptions(std::string service) {
  ServerOptions o;
  o.service = std::move(service);
  o.grpc_address = "127.0.0.1:0";
  o.metrics_address = "127.0.0.1:0";
  o.drain_timeout = absl::Seconds(5);
  o.max_deadline = absl::Seconds(30);
  return o;
}

std::string UniqueService(std::string_view prefix) {
  static std::atomic<int> next{0};
  return absl::StrCat(absl::string_view(prefix.data(), prefix.size()), "_", next.fetch_add(1));
}

absl::StatusOr<std::unique_ptr<EchoTestServer>> EchoTestServer::Start(
    ServerOptions options, std::function<void(Server&)> configure) {
  std::unique_ptr<EchoTestServer> s(new EchoTestServer(std::move(options)));
  s->server_.AddService(&s->echo_);
  if (configure) configure(s->server_);
  if (absl::Status started = s->server_.Start(); !started.ok()) return started;
  return s;
}

std::string EchoTestServer::target() const { return absl::StrCat("127.0.0.1:", server_.grpc_port()); }

std::unique_ptr<crm::testing::v1::EchoService::Stub> EchoTestServer::NewStub() const {
  return crm::testing::v1::EchoService::NewStub(
      grpc::CreateChannel(target(), grpc::InsecureChannelCredentials()));
}

}  // namespace crm::rpc::testing
