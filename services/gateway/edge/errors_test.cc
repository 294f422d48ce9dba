#include "services/gateway/edge/errors.h"

#include <utility>

#include "grpcpp/support/status.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace crm::gateway {
namespace {

TEST(HttpStatusFromCodeTest, EveryCodeFollowsTheTable) {
  const std::pair<absl::StatusCode, int> kTable[] = {
      {absl::StatusCode::kOk, 200},
      {absl::StatusCode::kCancelled, 499},
      {absl::StatusCode::kUnknown, 500},
      {absl::StatusCode::kInvalidArgument, 400},
      {absl::StatusCode::kDeadlineExceeded, 504},
      {absl::StatusCode::kNotFound, 404},
      {absl::StatusCode::kAlreadyExists, 409},
      {absl::StatusCode::kPermissionDenied, 403},
      {absl::StatusCode::kResourceExhausted, 429},
      {absl::StatusCode::kFailedPrecondition, 400},
      {absl::StatusCode::kAborted, 409},
      {absl::StatusCode::kOutOfRange, 400},
      {absl::StatusCode::kUnimplemented, 501},
      {absl::StatusCode::kInternal, 500},
      {absl::StatusCode::kUnavailable, 503},
      {absl::StatusCode::kDataLoss, 500},
      {absl::StatusCode::kUnauthenticated, 401},
  };
  for (const auto& [code, http] : kTable) {
    EXPECT_EQ(HttpStatusFromCode(code), http) << CodeName(code);
  }
}

// Issue 15: identity answers a throttled sign-in with RESOURCE_EXHAUSTED and a google.rpc.RetryInfo in
// grpc-status-details-bin (beside, possibly, other details).
TEST(RetryInfoTest, ReadFromGrpcStatusDetails) {
  // As identity sends it (libs/base/status.h's one encoder), through gRPC's status.
  absl::Status s = FromGrpcStatus(
      ToGrpcStatus(WithRetryDelay(absl::ResourceExhaustedError("too many sign-ins"), absl::Milliseconds(2500))));
  ASSERT_TRUE(RetryDelay(s).has_value());
  EXPECT_EQ(*RetryDelay(s), absl::Milliseconds(2500));
  EXPECT_EQ(RetryAfterSeconds(s), 3);
  nlohmann::json body = nlohmann::json::parse(ErrorBody(s, "r1"));
  EXPECT_EQ(body["error"]["retryDelay"], "2.500s");
  EXPECT_EQ(body["error"]["code"], 429);
  EXPECT_TRUE(body["error"]["details"].empty());
  // No RetryInfo, or garbage: no hint, the default.
  absl::Status none = FromGrpcStatus(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "x"));
  EXPECT_FALSE(RetryDelay(none).has_value());
  EXPECT_EQ(RetryAfterSeconds(none), 5);
  EXPECT_FALSE(nlohmann::json::parse(ErrorBody(none, ""))["error"].contains("retryDelay"));
  EXPECT_FALSE(RetryDelay(FromGrpcStatus(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "x", "\xff\xff")))
                   .has_value());
}

TEST(RetryInfoTest, RetryAfterIsTheCeilingAndAtLeastOneSecond) {
  auto after = [](absl::Duration d) { return RetryAfterSeconds(WithRetryDelay(absl::ResourceExhaustedError("x"), d)); };
  EXPECT_EQ(after(absl::ZeroDuration()), 1);
  EXPECT_EQ(after(absl::Milliseconds(1)), 1);
  EXPECT_EQ(after(absl::Seconds(1)), 1);
  EXPECT_EQ(after(absl::Milliseconds(1001)), 2);
  EXPECT_EQ(after(absl::Seconds(30)), 30);
  EXPECT_EQ(after(absl::InfiniteDuration()), 3600);
  EXPECT_EQ(nlohmann::json::parse(ErrorBody(WithRetryDelay(absl::ResourceExhaustedError("x"), absl::Seconds(30)),
                                            ""))["error"]["retryDelay"],
            "30s");
}

TEST(HttpStatusFromCodeTest, UnknownCodeIs500) {
  EXPECT_EQ(HttpStatusFromCode(static_cast<absl::StatusCode>(42)), 500);
  EXPECT_EQ(HttpStatusFromCode(static_cast<absl::StatusCode>(-1)), 500);
  EXPECT_EQ(CodeName(static_cast<absl::StatusCode>(42)), "UNKNOWN");
}

TEST(CodeNameTest, CanonicalNames) {
  EXPECT_EQ(CodeName(absl::StatusCode::kFailedPrecondition), "FAILED_PRECONDITION");
  EXPECT_EQ(CodeName(absl::StatusCode::kInvalidArgument), "INVALID_ARGUMENT");
  EXPECT_EQ(CodeName(absl::StatusCode::kUnauthenticated), "UNAUTHENTICATED");
  EXPECT_EQ(CodeName(absl::StatusCode::kOk), "OK");
}

TEST(FieldViolationsTest, RoundTripAndAppend) {
  absl::Status s = WithFieldViolations(absl::InvalidArgumentError("bad"), {{"deal.title", "required"}});
  s = WithFieldViolations(s, {{"deal.amount", "must be positive"}, {"", ""}});
  std::vector<FieldViolation> want = {{"deal.title", "required"}, {"deal.amount", "must be positive"}, {"", ""}};
  EXPECT_EQ(FieldViolations(s), want);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "bad");
}

TEST(FieldViolationsTest, LongStringsSurvive) {
  std::string longdesc(1000, 'x');
  absl::Status s = WithFieldViolations(absl::InvalidArgumentError("bad"), {{"f", longdesc}});
  ASSERT_EQ(FieldViolations(s).size(), 1u);
  EXPECT_EQ(FieldViolations(s)[0].description, longdesc);
}

TEST(FieldViolationsTest, OkAndMissingAndMalformed) {
  EXPECT_TRUE(WithFieldViolations(absl::OkStatus(), {{"a", "b"}}).ok());
  EXPECT_TRUE(FieldViolations(absl::InternalError("x")).empty());
  absl::Status s = absl::InvalidArgumentError("x");
  s.SetPayload(kBadRequestTypeUrl, absl::Cord("\x0a\x7f"));  // length beyond the end
  EXPECT_TRUE(FieldViolations(s).empty());
}

TEST(ErrorBodyTest, ShapeWithDetailsAndRequestId) {
  absl::Status s = WithFieldViolations(absl::InvalidArgumentError("invalid \"deal\""),
                                       {{"deal.title", "must not be empty"}});
  auto j = nlohmann::json::parse(ErrorBody(s, "rid-1"));
  auto want = nlohmann::json::parse(R"({"error":{"code":400,"status":"INVALID_ARGUMENT",
      "message":"invalid \"deal\"","details":[{"field":"deal.title","description":"must not be empty"}],
      "requestId":"rid-1"}})");
  EXPECT_EQ(j, want);
}

TEST(ErrorBodyTest, EveryCodeGivesMatchingHttpCodeAndName) {
  for (int c = 1; c <= 16; ++c) {
    auto code = static_cast<absl::StatusCode>(c);
    auto j = nlohmann::json::parse(ErrorBody(absl::Status(code, "m"), ""));
    EXPECT_EQ(j["error"]["code"], HttpStatusFromCode(code));
    EXPECT_EQ(j["error"]["status"], CodeName(code));
    EXPECT_EQ(j["error"]["message"], "m");
    EXPECT_TRUE(j["error"]["details"].is_array());
    EXPECT_FALSE(j["error"].contains("requestId"));
  }
}

TEST(ErrorBodyTest, InvalidUtf8AndControlCharsStillParse) {
  auto j = nlohmann::json::parse(ErrorBody(absl::InternalError(std::string("a\x01\xff\n", 4)), "r"));
  EXPECT_EQ(j["error"]["code"], 500);
}

// Issue 16: 405, 412, 413 and 431 have no canonical gRPC code; each carries its own label.
TEST(ErrorBodyTest, ExplicitHttpStatusOverridesCodeAndCarriesItsOwnLabel) {
  auto j = nlohmann::json::parse(ErrorBody(absl::InvalidArgumentError("too big"), "r", 413));
  EXPECT_EQ(j["error"]["code"], 413);
  EXPECT_EQ(j["error"]["status"], "PAYLOAD_TOO_LARGE");
  EXPECT_EQ(StatusLabel(absl::InvalidArgumentError("x"), 405), "METHOD_NOT_ALLOWED");
  EXPECT_EQ(StatusLabel(absl::AbortedError("x"), 412), "PRECONDITION_FAILED");
  EXPECT_EQ(StatusLabel(absl::InvalidArgumentError("x"), 431), "REQUEST_HEADER_FIELDS_TOO_LARGE");
  EXPECT_EQ(StatusLabel(absl::InvalidArgumentError("x"), 400), "INVALID_ARGUMENT");
  EXPECT_EQ(StatusLabel(absl::ResourceExhaustedError("x"), 429), "RESOURCE_EXHAUSTED");
}

}  // namespace
}  // namespace crm::gateway
