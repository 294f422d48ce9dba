#include "services/gateway/edge/errors.h"

#include <utility>

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

TEST(ErrorBodyTest, ExplicitHttpStatusOverridesCode) {
  auto j = nlohmann::json::parse(ErrorBody(absl::InvalidArgumentError("too big"), "r", 413));
  EXPECT_EQ(j["error"]["code"], 413);
  EXPECT_EQ(j["error"]["status"], "INVALID_ARGUMENT");
}

}  // namespace
}  // namespace crm::gateway
