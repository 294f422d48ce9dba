#include "libs/rpc/server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "libs/config/config.h"
#include "libs/metrics/metrics_testing.h"
#include "libs/rpc/testing/test_server.h"

namespace crm::rpc {
namespace {

using ::crm::rpc::testing::EchoTestServer;
using ::crm::rpc::testing::TestOptions;
using ::crm::testing::v1::EchoRequest;
using ::crm::testing::v1::EchoResponse;
using ::crm::testing::v1::SlowRequest;
using ::crm::testing::v1::SlowResponse;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

config::Env FakeEnv(std::string_view service, std::map<std::string, std::string> vars) {
  return config::Env(service, [vars = std::move(vars)](const std::string& var) -> std::optional<std::string> {
    auto it = vars.find(var);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
}

// A listening TCP socket on a free loopback port, closed on destruction.
class BusyPort {
 public:
  BusyPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 1);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~BusyPort() { ::close(fd_); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// grpc.health.v1.Health/Check over a generic stub: returns the ServingStatus number (1 = SERVING,
// 2 = NOT_SERVING) or the call's error code as a negative number.
int HealthCheck(const std::string& target, const std::string& service) {
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  std::string request;  // HealthCheckRequest{service = 1}
  request.push_back(0x0a);
  request.push_back(static_cast<char>(service.size()));
  request += service;
  grpc::Slice slice(request);
  grpc::ByteBuffer in(&slice, 1);
  grpc::ByteBuffer out;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &in, &out, [&](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  if (!status.ok()) return -static_cast<int>(status.error_code());
  std::vector<grpc::Slice> slices;
  (void)out.Dump(&slices);
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  // HealthCheckResponse{status = 1 (varint)}; an empty message means UNKNOWN (0).
  if (bytes.size() >= 2 && bytes[0] == 0x08) return bytes[1];
  return 0;
}

grpc::Status CallEcho(crm::testing::v1::EchoService::Stub& stub, const std::string& text,
                      EchoResponse* response = nullptr) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  EchoRequest request;
  request.set_text(text);
  EchoResponse ignored;
  return stub.Echo(&ctx, request, response != nullptr ? response : &ignored);
}

// ---- LoadServerOptions ---------------------------------------------------------------------------------

TEST(LoadServerOptionsTest, DefaultsUseTheGivenPorts) {
  config::Env env = FakeEnv("deals", {});
  absl::StatusOr<ServerOptions> o = LoadServerOptions(env, 50051, 9464);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->service, "deals");
  EXPECT_EQ(o->grpc_address, "0.0.0.0:50051");
  EXPECT_EQ(o->metrics_address, "0.0.0.0:9464");
  EXPECT_EQ(o->drain_timeout, absl::Seconds(10));
  EXPECT_EQ(o->max_deadline, absl::Seconds(30));
  EXPECT_EQ(o->log_level, "info");
}

TEST(LoadServerOptionsTest, ReadsServiceAndSuiteWideVariables) {
  config::Env env = FakeEnv("deals", {{"CRM_DEALS_GRPC_ADDRESS", "127.0.0.1:7000"},
                                      {"CRM_METRICS_ADDRESS", "[::]:7001"},
                                      {"CRM_DEALS_DRAIN_TIMEOUT", "2s"},
                                      {"CRM_DEALS_MAX_DEADLINE", "1m"},
                                      {"CRM_LOG_LEVEL", "debug"}});
  absl::StatusOr<ServerOptions> o = LoadServerOptions(env, 50051, 9464);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->grpc_address, "127.0.0.1:7000");
  EXPECT_EQ(o->metrics_address, "[::]:7001");
  EXPECT_EQ(o->drain_timeout, absl::Seconds(2));
  EXPECT_EQ(o->max_deadline, absl::Minutes(1));
  EXPECT_EQ(o->log_level, "debug");
}

TEST(LoadServerOptionsTest, NamesEveryBadVariable) {
  config::Env env = FakeEnv("deals", {{"CRM_DEALS_GRPC_ADDRESS", "127.0.0.1:99999"},
                                      {"CRM_METRICS_ADDRESS", "nocolon"},
                                      {"CRM_DEALS_DRAIN_TIMEOUT", "banana"},
                                      {"CRM_DEALS_MAX_DEADLINE", "0s"},
                                      {"CRM_DEALS_LOG_LEVEL", "loud"}});
  absl::StatusOr<ServerOptions> o = LoadServerOptions(env, 50051, 9464);
  ASSERT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(o.status().message(),
              AllOf(HasSubstr("CRM_DEALS_GRPC_ADDRESS=\"127.0.0.1:99999\": port out of range"),
                    HasSubstr("CRM_METRICS_ADDRESS=\"nocolon\""),  // the suite-wide variable held it
                    HasSubstr("CRM_DEALS_DRAIN_TIMEOUT"), HasSubstr("banana"),
                    HasSubstr("CRM_DEALS_MAX_DEADLINE"), HasSubstr("CRM_DEALS_LOG_LEVEL=\"loud\"")));
}

TEST(LoadServerOptionsTest, RejectsMalformedAddresses) {
  for (const char* bad : {"127.0.0.1:", ":50051", "127.0.0.1:abc", "::1:50051", "localhost:-1"}) {
    config::Env env = FakeEnv("echo", {{"CRM_ECHO_GRPC_ADDRESS", bad}});
    EXPECT_EQ(LoadServerOptions(env, 1, 2).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  for (const char* good : {"localhost:0", "[::1]:50051", "unix:/tmp/echo.sock", "0.0.0.0:65535"}) {
    config::Env env = FakeEnv("echo", {{"CRM_ECHO_GRPC_ADDRESS", good}});
    EXPECT_TRUE(LoadServerOptions(env, 1, 2).ok()) << good;
  }
}

// ---- Start -----------------------------------------------------------------------------------------------

TEST(ServerTest, ReportsAddedServicesServingInHealth) {
  auto s = EchoTestServer::Start(TestOptions("health_test"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_GT((*s)->server().grpc_port(), 0);
  EXPECT_GT((*s)->server().metrics_port(), 0);
  EXPECT_EQ(HealthCheck((*s)->target(), "crm.testing.v1.EchoService"), 1);
  EXPECT_EQ(HealthCheck((*s)->target(), ""), 1);
  EXPECT_EQ(HealthCheck((*s)->target(), "crm.testing.v1.Nope"),
            -static_cast<int>(grpc::StatusCode::NOT_FOUND));
}

TEST(ServerTest, BusyGrpcPortIsUnavailable) {
  BusyPort busy;
  ServerOptions o = TestOptions("busy_grpc");
  o.grpc_address = busy.address();
  Server server(o);
  absl::Status s = server.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(s.message(), HasSubstr(busy.address()));
}

TEST(ServerTest, BusyMetricsPortIsUnavailable) {
  BusyPort busy;
  ServerOptions o = TestOptions("busy_metrics");
  o.metrics_address = busy.address();
  Server server(o);
  absl::Status s = server.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(s.message(), HasSubstr(busy.address()));
}

TEST(ServerTest, StartsOnce) {
  auto s = EchoTestServer::Start(TestOptions("start_once"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->server().Start().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ServerTest, OwnedObjectsOutliveTheServerAndGoNewestFirst) {
  std::vector<std::string> destroyed;
  struct Recorder {
    Recorder(std::vector<std::string>* log, std::string name) : log(log), name(std::move(name)) {}
    Recorder(const Recorder&) = delete;
    ~Recorder() { log->push_back(name); }
    std::vector<std::string>* log;
    std::string name;
  };
  {
    Server server(TestOptions("owned"));
    Recorder* a = server.Own(std::make_unique<Recorder>(&destroyed, "a"));
    server.Own(std::make_unique<Recorder>(&destroyed, "b"));
    EXPECT_EQ(a->name, "a");
    ASSERT_TRUE(server.Start().ok());
    EXPECT_TRUE(destroyed.empty());
  }
  EXPECT_THAT(destroyed, ::testing::ElementsAre("b", "a"));
}

// ---- metrics ---------------------------------------------------------------------------------------------

TEST(ServerTest, CountsCallsPerMethodAndCode) {
  const std::string service = testing::UniqueService("metrics_test");
  auto s = EchoTestServer::Start(TestOptions(service));
  ASSERT_TRUE(s.ok()) << s.status();
  auto stub = (*s)->NewStub();
  ASSERT_TRUE(CallEcho(*stub, "one").ok());
  ASSERT_TRUE(CallEcho(*stub, "two").ok());
  {
    grpc::ClientContext ctx;
    crm::testing::v1::AppendRequest request;
    request.set_key("k");
    request.set_unavailable_attempts(1);
    crm::testing::v1::AppendResponse response;
    ASSERT_EQ(stub->Append(&ctx, request, &response).error_code(), grpc::StatusCode::UNAVAILABLE);
  }

  auto page = metrics::testing::Scrape((*s)->server().metrics_port());
  ASSERT_TRUE(page.ok()) << page.status();
  const std::map<std::string, std::string> echo = {
      {"service", service}, {"grpc_service", "crm.testing.v1.EchoService"}, {"grpc_method", "Echo"}};
  auto with = [](std::map<std::string, std::string> labels, std::string k, std::string v) {
    labels[k] = v;
    return labels;
  };
  EXPECT_EQ(metrics::testing::SampleValue(*page, "grpc_server_handled_total", with(echo, "grpc_code", "OK")),
            2);
  EXPECT_EQ(metrics::testing::SampleValue(
                *page, "grpc_server_handled_total",
                {{"service", service}, {"grpc_method", "Append"}, {"grpc_code", "UNAVAILABLE"}}),
            1);
  EXPECT_EQ(
      metrics::testing::SampleValue(*page, "grpc_server_handled_total",
                                    {{"service", service}, {"grpc_method", "Append"}, {"grpc_code", "OK"}}),
      std::nullopt);
  EXPECT_EQ(metrics::testing::SampleValue(*page, "grpc_server_handling_seconds_count", echo), 2);
  EXPECT_EQ(
      metrics::testing::SampleValue(*page, "grpc_server_handling_seconds_bucket", with(echo, "le", "10")), 2);
  EXPECT_EQ(metrics::testing::SampleValue(*page, "grpc_server_calls_in_flight", echo), 0);
}

TEST(ServerTest, CountsUnknownMethodsUnderOneLabel) {
  const std::string service = testing::UniqueService("unknown_method_test");
  auto s = EchoTestServer::Start(TestOptions(service));
  ASSERT_TRUE(s.ok()) << s.status();
  grpc::GenericStub stub(grpc::CreateChannel((*s)->target(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Slice empty("");
  grpc::ByteBuffer in(&empty, 1);
  grpc::ByteBuffer out;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&ctx, "/crm.testing.v1.EchoService/NoSuchMethod", grpc::StubOptions(), &in, &out,
                 [&](grpc::Status st) {
                   status = std::move(st);
                   done.Notify();
                 });
  done.WaitForNotification();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  auto page = metrics::testing::Scrape((*s)->server().metrics_port());
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(metrics::testing::SampleValue(*page, "grpc_server_handled_total",
                                          {{"service", service},
                                           {"grpc_service", "unknown"},
                                           {"grpc_method", "unknown"},
                                           {"grpc_code", "UNIMPLEMENTED"}}),
            1);
  EXPECT_THAT(*page, Not(HasSubstr("NoSuchMethod")));
}

TEST(ServerTest, GaugeCountsCallsInFlight) {
  const std::string service = testing::UniqueService("in_flight_test");
  auto s = EchoTestServer::Start(TestOptions(service));
  ASSERT_TRUE(s.ok()) << s.status();
  auto stub = (*s)->NewStub();
  grpc::ClientContext ctx;
  SlowRequest request;
  auto reader = stub->Slow(&ctx, request);
  SlowResponse response;
  ASSERT_TRUE(reader->Read(&response));
  ASSERT_EQ(response.phase(), SlowResponse::PHASE_STARTED);

  const std::map<std::string, std::string> slow = {{"service", service}, {"grpc_method", "Slow"}};
  auto page = metrics::testing::Scrape((*s)->server().metrics_port());
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(metrics::testing::SampleValue(*page, "grpc_server_calls_in_flight", slow), 1);

  (*s)->echo().ReleaseSlowCalls();
  while (reader->Read(&response)) {
  }
  ASSERT_TRUE(reader->Finish().ok());
  page = metrics::testing::Scrape((*s)->server().metrics_port());
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(metrics::testing::SampleValue(*page, "grpc_server_calls_in_flight", slow), 0);
}

// ---- drain -----------------------------------------------------------------------------------------------

TEST(ServerTest, DrainLetsInFlightCallsFinishAndRefusesNewOnes) {
  auto s = EchoTestServer::Start(TestOptions("drain_test"));
  ASSERT_TRUE(s.ok()) << s.status();
  Server& server = (*s)->server();
  auto stub = (*s)->NewStub();
  ASSERT_TRUE(CallEcho(*stub, "before").ok());

  grpc::ClientContext slow_ctx;
  slow_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto reader = stub->Slow(&slow_ctx, SlowRequest());
  SlowResponse response;
  ASSERT_TRUE(reader->Read(&response));

  std::thread waiter([&] { server.Wait(); });
  server.Shutdown();
  // New calls are refused once the drain has begun (bounded poll: the drain starts on `waiter`).
  // gRPC refuses them with UNAVAILABLE, or CANCELLED for calls that reach the transport before it
  // has stopped accepting streams; either way no handler runs.
  grpc::Status refused;
  for (int i = 0; i < 500 && refused.ok(); ++i) {
    refused = CallEcho(*stub, "after");
    if (refused.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto refusal = ::testing::AnyOf(grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::CANCELLED);
  EXPECT_THAT(refused.error_code(), refusal) << refused.error_message();
  const int runs = (*s)->echo().BodyRuns("Echo");
  for (int i = 0; i < 3; ++i) {
    grpc::Status again = CallEcho(*stub, "after");
    EXPECT_THAT(again.error_code(), refusal) << again.error_message();
  }
  EXPECT_EQ((*s)->echo().BodyRuns("Echo"), runs);

  (*s)->echo().ReleaseSlowCalls();
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.phase(), SlowResponse::PHASE_DONE);
  EXPECT_FALSE(reader->Read(&response));
  EXPECT_TRUE(reader->Finish().ok());
  waiter.join();
}

TEST(ServerTest, DrainCancelsCallsStillRunningAfterTheDrainTimeout) {
  ServerOptions o = TestOptions("drain_timeout_test");
  o.drain_timeout = absl::Milliseconds(200);
  auto s = EchoTestServer::Start(o);
  ASSERT_TRUE(s.ok()) << s.status();
  auto stub = (*s)->NewStub();
  grpc::ClientContext slow_ctx;
  slow_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto reader = stub->Slow(&slow_ctx, SlowRequest());
  SlowResponse response;
  ASSERT_TRUE(reader->Read(&response));

  (*s)->server().Shutdown();
  const absl::Time start = absl::Now();
  (*s)->server().Wait();  // never released: must give up after about drain_timeout
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_FALSE(reader->Read(&response));  // DONE never came
  // gRPC ends calls still running at the shutdown deadline; the client sees UNAVAILABLE.
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(response.phase(), SlowResponse::PHASE_STARTED);
}

TEST(ServerTest, WaitWithoutStartReturns) {
  Server server(TestOptions("never_started"));
  server.Shutdown();
  server.Wait();
}

}  // namespace
}  // namespace crm::rpc
