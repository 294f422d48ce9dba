// File: libs/rpc/testing/test_server.h
// -----------------------------------------------------------------------------
// Test-only (crm::rpc_testing): an in-process crm::rpc::Server serving EchoServiceImpl on loopback
// with free ports, for libs/rpc's tests.
//
// Example:
//   auto server = crm::rpc::testing::EchoTestServer::Start(crm::rpc::testing::TestOptions("echo_a"));
//   ASSERT_TRUE(server.ok()) << server.status();
//   auto stub = (*server)->NewStub();
#ifndef CRM_LIBS_RPC_TESTING_TEST_SERVER_H_
#define CRM_LIBS_RPC_TESTING_TEST_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "crm/testing/v1/echo.grpc.pb.h"
#include "libs/rpc/server.h"
#include "libs/rpc/testing/echo_service.h"

namespace crm::rpc::testing {

// Options for a loopback test server: gRPC and metrics on 127.0.0.1:0, drain 5 s, max deadline 30 s.
ServerOptions TestOptions(std::string service);

// Returns `prefix` + "_" + a number never returned before in this process: a `service` label whose
// metric series no earlier test (or --gtest_repeat round) has touched.
std::string UniqueService(std::string_view prefix);

class EchoTestServer {
 public:
  // Starts a server with `options` serving a fresh EchoServiceImpl; `configure` (optional) runs on the
  // server before Start() (to set a clock or a verifier).
  static absl::StatusOr<std::unique_ptr<EchoTestServer>> Start(ServerOptions options,
                                                               std::function<void(Server&)> configure = {});

  Server& server() { return server_; }
  EchoServiceImpl& echo() { return echo_; }
  // "127.0.0.1:<grpc port>".
  std::string target() const;
  // A stub on a new plain channel (no service config) to this server.
  std::unique_ptr<crm::testing::v1::EchoService::Stub> NewStub() const;

 private:
  explicit EchoTestServer(ServerOptions options) : server_(std::move(options)) {}

  EchoServiceImpl echo_;  // declared first: outlives the server
  Server server_;
};

}  // namespace crm::rpc::testing

#endif  // CRM_LIBS_RPC_TESTING_TEST_SERVER_H_
