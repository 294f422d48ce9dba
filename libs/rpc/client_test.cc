#include "libs/rpc/client.h"

#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/validate_service_config.h"
#include "gtest/gtest.h"
#include "libs/log/log.h"
#include "libs/rpc/call.h"
#include "libs/rpc/testing/test_server.h"

namespace crm::rpc {
namespace {

using ::crm::rpc::testing::EchoTestServer;
using ::crm::rpc::testing::TestOptions;
using ::crm::testing::v1::AppendRequest;
using ::crm::testing::v1::AppendResponse;
using ::crm::testing::v1::EchoRequest;
using ::crm::testing::v1::EchoResponse;
using ::crm::testing::v1::EchoService;
using ::crm::testing::v1::PutRequest;
using ::crm::testing::v1::PutResponse;
using ::testing::HasSubstr;
using ::testing::Not;

const google::protobuf::ServiceDescriptor& EchoDescriptor() {
  return *google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
      EchoService::service_full_name());
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = EchoTestServer::Start(TestOptions("client_test"));
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  std::unique_ptr<EchoService::Stub> RetryingStub(int max_attempts = 3) {
    return EchoService::NewStub(
        MakeChannel({.target = server_->target(), .max_attempts = max_attempts}, EchoDescriptor()));
  }
  std::unique_ptr<EchoTestServer> server_;
};

TEST(ServiceConfigJsonTest, IsValidAndRetriesOnlyIdempotentMethods) {
  const std::string json = ServiceConfigJson({.target = "x"}, EchoDescriptor());
  EXPECT_EQ(grpc::experimental::ValidateServiceConfigJSON(json), "") << json;
  EXPECT_THAT(json, HasSubstr("\"method\":\"Echo\""));
  EXPECT_THAT(json, HasSubstr("\"method\":\"Put\""));
  EXPECT_THAT(json, Not(HasSubstr("\"method\":\"Append\"")));
  EXPECT_THAT(json, Not(HasSubstr("\"method\":\"Slow\"")));
  EXPECT_THAT(json, HasSubstr("\"maxAttempts\":3"));
  EXPECT_THAT(json, Not(HasSubstr("timeout")));  // gRPC 1.51 expires service-config timeouts early
}

TEST(ServiceConfigJsonTest, OneAttemptMeansNoRetryPolicy) {
  const std::string json = ServiceConfigJson({.target = "x", .max_attempts = 1}, EchoDescriptor());
  EXPECT_EQ(grpc::experimental::ValidateServiceConfigJSON(json), "") << json;
  EXPECT_THAT(json, Not(HasSubstr("retryPolicy")));
}

TEST_F(ClientTest, RetriesANoSideEffectsMethodOnUnavailable) {
  auto stub = RetryingStub();
  grpc::ClientContext ctx;
  PrepareClientContext(ctx, absl::Seconds(10));
  EchoRequest request;
  request.set_key("echo-retry");
  request.set_unavailable_attempts(2);
  EchoResponse response;
  grpc::Status status = stub->Echo(&ctx, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.attempts(), 3);
}

TEST_F(ClientTest, RetriesAnIdempotentMethodOnUnavailable) {
  auto stub = RetryingStub();
  grpc::ClientContext ctx;
  PrepareClientContext(ctx, absl::Seconds(10));
  PutRequest request;
  request.set_key("put-retry");
  request.set_unavailable_attempts(1);
  PutResponse response;
  ASSERT_TRUE(stub->Put(&ctx, request, &response).ok());
  EXPECT_EQ(response.attempts(), 2);
}

TEST_F(ClientTest, GivesUpAfterMaxAttempts) {
  auto stub = RetryingStub(/*max_attempts=*/2);
  grpc::ClientContext ctx;
  PrepareClientContext(ctx, absl::Seconds(10));
  EchoRequest request;
  request.set_key("echo-give-up");
  request.set_unavailable_attempts(5);
  EchoResponse response;
  EXPECT_EQ(stub->Echo(&ctx, request, &response).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server_->echo().BodyRuns("Echo"), 2);
}

TEST_F(ClientTest, NeverRetriesANonIdempotentMethod) {
  auto stub = RetryingStub();
  grpc::ClientContext ctx;
  PrepareClientContext(ctx, absl::Seconds(10));
  AppendRequest request;
  request.set_key("append-once");
  request.set_unavailable_attempts(1);
  AppendResponse response;
  EXPECT_EQ(stub->Append(&ctx, request, &response).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server_->echo().BodyRuns("Append"), 1);
}

TEST_F(ClientTest, APlainChannelDoesNotRetry) {
  auto stub = server_->NewStub();
  grpc::ClientContext ctx;
  PrepareClientContext(ctx, absl::Seconds(10));
  EchoRequest request;
  request.set_key("plain");
  request.set_unavailable_attempts(1);
  EchoResponse response;
  EXPECT_EQ(stub->Echo(&ctx, request, &response).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server_->echo().BodyRuns("Echo"), 1);
}

TEST_F(ClientTest, PrepareClientContextSetsTheDeadline) {
  grpc::ClientContext ctx;
  const absl::Time before = absl::Now();
  PrepareClientContext(ctx, absl::Seconds(2));
  EchoResponse response;
  ASSERT_TRUE(RetryingStub()->Echo(&ctx, EchoRequest(), &response).ok());
  // grpc-timeout is relative and rounded up, hence the allowance.
  EXPECT_GE(absl::FromUnixMillis(response.deadline_unix_ms()),
            before + absl::Seconds(2) - absl::Milliseconds(5));
  EXPECT_LE(absl::FromUnixMillis(response.deadline_unix_ms()),
            absl::Now() + absl::Seconds(2) + absl::Milliseconds(200));
}

TEST_F(ClientTest, PrepareClientContextForwardsTheIncomingCall) {
  auto downstream = EchoTestServer::Start(TestOptions("client_test_downstream"));
  ASSERT_TRUE(downstream.ok()) << downstream.status();

  common::v1::Principal caller;
  caller.set_kind(common::v1::Principal::KIND_USER);
  caller.set_id("user-1");
  grpc::ClientContext ctx;
  PrepareClientContext(ctx, absl::Seconds(5));
  ctx.AddMetadata(kRequestIdHeader, "req-forward");
  SetCaller(ctx, caller);
  EchoRequest request;
  request.set_text("relay");
  request.set_forward_target((*downstream)->target());
  EchoResponse response;
  grpc::Status status = server_->NewStub()->Echo(&ctx, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();

  const EchoResponse& forwarded = response.forwarded();
  EXPECT_EQ(forwarded.text(), "relay");
  EXPECT_EQ(forwarded.request_id(), "req-forward");
  EXPECT_EQ(forwarded.caller().id(), "user-1");
  // The handler asked for 60 s; the incoming call had 5 s left: the forwarded call gets no more.
  // (grpc-timeout is relative and rounded up, hence the small allowance.)
  ASSERT_NE(forwarded.deadline_unix_ms(), 0);
  EXPECT_LE(forwarded.deadline_unix_ms(), response.deadline_unix_ms() + 200);
}

TEST_F(ClientTest, PrepareClientContextOutsideACallUsesTheThreadsRequestId) {
  log::ScopedRequestId id("req-thread");
  grpc::ClientContext ctx;
  PrepareClientContext(ctx, absl::Seconds(5));
  EchoResponse response;
  ASSERT_TRUE(server_->NewStub()->Echo(&ctx, EchoRequest(), &response).ok());
  EXPECT_EQ(response.request_id(), "req-thread");
  EXPECT_THAT(response.caller_error(), HasSubstr("no caller"));
}

}  // namespace
}  // namespace crm::rpc
