#include "libs/base/status.h"

#include <memory>
#include <string>

#include "absl/strings/cord.h"
#include "gmock/gmock.h"
#include "grpcpp/support/status.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace crm {
namespace {

using ::testing::HasSubstr;

constexpr absl::StatusCode kAllErrorCodes[] = {
    absl::StatusCode::kCancelled,          absl::StatusCode::kUnknown,
    absl::StatusCode::kInvalidArgument,    absl::StatusCode::kDeadlineExceeded,
    absl::StatusCode::kNotFound,           absl::StatusCode::kAlreadyExists,
    absl::StatusCode::kPermissionDenied,   absl::StatusCode::kResourceExhausted,
    absl::StatusCode::kFailedPrecondition, absl::StatusCode::kAborted,
    absl::StatusCode::kOutOfRange,         absl::StatusCode::kUnimplemented,
    absl::StatusCode::kInternal,           absl::StatusCode::kUnavailable,
    absl::StatusCode::kDataLoss,           absl::StatusCode::kUnauthenticated,
};

TEST(StatusTest, GrpcRoundTripKeepsEveryCodeAndMessage) {
  for (absl::StatusCode code : kAllErrorCodes) {
    const absl::Status s(code, "boom ü");
    const grpc::Status g = ToGrpcStatus(s);
    EXPECT_EQ(static_cast<int>(g.error_code()), static_cast<int>(code));
    EXPECT_EQ(g.error_message(), "boom ü");
    EXPECT_EQ(FromGrpcStatus(g), s) << absl::StatusCodeToString(code);
  }
}

TEST(StatusTest, GrpcOkAndNamedCodes) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("x")).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ToGrpcStatus(absl::UnauthenticatedError("x")).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::ABORTED, "version")),
            absl::AbortedError("version"));
}

TEST(StatusTest, NonCanonicalCodesBecomeUnknown) {
  const absl::Status odd(static_cast<absl::StatusCode>(42), "odd");
  EXPECT_EQ(ToGrpcStatus(odd).error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(ToGrpcStatus(odd).error_message(), "odd");
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::DO_NOT_USE, "x")).code(),
            absl::StatusCode::kUnknown);
  EXPECT_EQ(ToProtobufStatus(odd).code(), google::protobuf::util::StatusCode::kUnknown);
}

TEST(StatusTest, ProtobufRoundTripKeepsEveryCodeAndMessage) {
  for (absl::StatusCode code : kAllErrorCodes) {
    const absl::Status s(code, "field mask bad");
    const google::protobuf::util::Status p = ToProtobufStatus(s);
    EXPECT_EQ(static_cast<int>(p.code()), static_cast<int>(code));
    EXPECT_EQ(std::string(p.message()), "field mask bad");
    EXPECT_EQ(FromProtobufStatus(p), s) << absl::StatusCodeToString(code);
  }
  EXPECT_TRUE(ToProtobufStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromProtobufStatus(google::protobuf::util::OkStatus()).ok());
}

TEST(StatusTest, AnnotatePrefixesMessageKeepsCodeAndPayload) {
  absl::Status s = absl::NotFoundError("deal 42");
  s.SetPayload("type.crm/x", absl::Cord("p"));
  const absl::Status a = Annotate(s, "loading stage");
  EXPECT_EQ(a.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(a.message(), "loading stage: deal 42");
  ASSERT_TRUE(a.GetPayload("type.crm/x").has_value());
  EXPECT_EQ(std::string(*a.GetPayload("type.crm/x")), "p");
  EXPECT_TRUE(Annotate(absl::OkStatus(), "ctx").ok());
}

absl::Status FailIf(bool fail) { return fail ? absl::InternalError("failed") : absl::OkStatus(); }

absl::StatusOr<std::unique_ptr<int>> MakeInt(int v) {
  if (v < 0) return absl::InvalidArgumentError("negative");
  return std::make_unique<int>(v);
}

absl::Status UseReturnIfError(bool fail, int* reached) {
  CRM_RETURN_IF_ERROR(FailIf(fail));
  CRM_RETURN_IF_ERROR(MakeInt(1));  // a StatusOr works too
  ++*reached;
  return absl::OkStatus();
}

TEST(StatusMacrosTest, ReturnIfError) {
  int reached = 0;
  EXPECT_TRUE(UseReturnIfError(false, &reached).ok());
  EXPECT_EQ(reached, 1);
  EXPECT_EQ(UseReturnIfError(true, &reached), absl::InternalError("failed"));
  EXPECT_EQ(reached, 1);
}

absl::StatusOr<int> SumTwo(int a, int b) {
  CRM_ASSIGN_OR_RETURN(auto x, MakeInt(a));  // declaration with auto, move-only value
  std::unique_ptr<int> y;
  CRM_ASSIGN_OR_RETURN(y, MakeInt(b));  // assignment to an existing variable
  return *x + *y;
}

TEST(StatusMacrosTest, AssignOrReturn) {
  EXPECT_EQ(SumTwo(2, 3).value(), 5);
  EXPECT_EQ(SumTwo(-1, 3).status(), absl::InvalidArgumentError("negative"));
  EXPECT_EQ(SumTwo(1, -3).status(), absl::InvalidArgumentError("negative"));
}

absl::Status AssignInStatusFunction(int v, int* out) {
  CRM_ASSIGN_OR_RETURN(std::unique_ptr<int> p, MakeInt(v));
  *out = *p;
  return absl::OkStatus();
}

TEST(StatusMacrosTest, AssignOrReturnInStatusFunction) {
  int out = 0;
  EXPECT_TRUE(AssignInStatusFunction(7, &out).ok());
  EXPECT_EQ(out, 7);
  EXPECT_THAT(AssignInStatusFunction(-7, &out).message(), HasSubstr("negative"));
  EXPECT_EQ(out, 7);
}

}  // namespace
}  // namespace crm

namespace crm {
namespace {

TEST(FieldViolationsTest, TravelThroughGrpcStatusDetails) {
  absl::Status s = WithFieldViolations(InvalidFieldError("user.login", "must be 3-64 characters"),
                                       {{"user.email", "not an e-mail address"}});
  EXPECT_EQ(s.message(), "user.login: must be 3-64 characters");
  grpc::Status g = ToGrpcStatus(s);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(g.error_details().empty());
  absl::Status back = FromGrpcStatus(g);
  EXPECT_EQ(back.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(back.message(), s.message());
  EXPECT_EQ(FieldViolations(back),
            (std::vector<FieldViolation>{{"user.login", "must be 3-64 characters"},
                                         {"user.email", "not an e-mail address"}}));
  // Without violations no details are sent; malformed details are ignored.
  EXPECT_TRUE(ToGrpcStatus(absl::NotFoundError("x")).error_details().empty());
  EXPECT_TRUE(FieldViolations(FromGrpcStatus(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "m", "\xff\xff"))).empty());
}

// Issue 15 (tests/fuzz): a message quoting a client's 100 000-character value must still fit gRPC's
// trailers (8 KiB), or the client sees RESOURCE_EXHAUSTED "received initial metadata size exceeds limit".
TEST(FieldViolationsTest, WireMessageAndDetailsAreBounded) {
  std::string huge;
  for (int i = 0; i < 100'000; ++i) huge += "я";
  std::vector<FieldViolation> many;
  for (int i = 0; i < 1000; ++i) many.push_back({"items[" + std::to_string(i) + "].name", "not a name: " + huge});
  absl::Status s = WithFieldViolations(absl::InvalidArgumentError("client.phones[0]: not a phone number: " + huge), many);
  grpc::Status g = ToGrpcStatus(s);
  EXPECT_LE(g.error_message().size(), kMaxWireMessageBytes + 3);
  EXPECT_TRUE(absl::EndsWith(g.error_message(), "…"));
  EXPECT_LT(g.error_details().size(), 6000u);
  absl::Status back = FromGrpcStatus(g);
  EXPECT_EQ(back.message(), g.error_message());
  std::vector<FieldViolation> sent = FieldViolations(back);
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent[0].field, "items[0].name");
  EXPECT_LE(sent[0].description.size(), kMaxWireViolationBytes + 3);
  // Cut at a character boundary: "я" is two bytes.
  EXPECT_TRUE(absl::EndsWith(sent[0].description, "я…"));
  // Small errors travel as they are.
  EXPECT_EQ(ToGrpcStatus(InvalidFieldError("a", "b")).error_message(), "a: b");
}

TEST(RetryDelayTest, TravelsThroughGrpcStatusDetailsWithFieldViolations) {
  absl::Status s = WithRetryDelay(absl::ResourceExhaustedError("slow down"), absl::Milliseconds(4500));
  EXPECT_EQ(RetryDelay(s), absl::Milliseconds(4500));
  // google.rpc.RetryInfo{retry_delay: Duration{seconds: 4}} on the wire.
  EXPECT_EQ(std::string(
                *WithRetryDelay(absl::UnavailableError("x"), absl::Seconds(4)).GetPayload(kRetryInfoTypeUrl)),
            std::string("\x0a\x02\x08\x04", 4));
  s = WithFieldViolations(s, {{"login", "too many"}});
  grpc::Status g = ToGrpcStatus(s);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  absl::Status back = FromGrpcStatus(g);
  EXPECT_EQ(RetryDelay(back), absl::Milliseconds(4500));
  EXPECT_EQ(FieldViolations(back), (std::vector<FieldViolation>{{"login", "too many"}}));
  // Only RetryInfo: still sent; a zero delay survives; negative counts as zero; OK carries nothing.
  EXPECT_EQ(RetryDelay(FromGrpcStatus(
                ToGrpcStatus(WithRetryDelay(absl::UnavailableError("x"), absl::ZeroDuration())))),
            absl::ZeroDuration());
  EXPECT_EQ(RetryDelay(WithRetryDelay(absl::UnavailableError("x"), absl::Seconds(-3))), absl::ZeroDuration());
  EXPECT_TRUE(WithRetryDelay(absl::OkStatus(), absl::Seconds(1)).ok());
  EXPECT_EQ(RetryDelay(absl::UnavailableError("x")), std::nullopt);
  EXPECT_EQ(RetryDelay(FromGrpcStatus(ToGrpcStatus(absl::UnavailableError("x")))), std::nullopt);
}

}  // namespace
}  // namespace crm

TEST(StatusTest, IsTransientIsTheRetryableCodes) {
  for (auto code : {absl::StatusCode::kUnavailable, absl::StatusCode::kDeadlineExceeded, absl::StatusCode::kAborted,
                    absl::StatusCode::kResourceExhausted, absl::StatusCode::kInternal, absl::StatusCode::kUnknown}) {
    EXPECT_TRUE(crm::IsTransient(absl::Status(code, "x"))) << code;
  }
  for (auto code : {absl::StatusCode::kOk, absl::StatusCode::kInvalidArgument, absl::StatusCode::kNotFound,
                    absl::StatusCode::kFailedPrecondition, absl::StatusCode::kPermissionDenied,
                    absl::StatusCode::kUnauthenticated, absl::StatusCode::kUnimplemented,
                    absl::StatusCode::kAlreadyExists}) {
    EXPECT_FALSE(crm::IsTransient(absl::Status(code, code == absl::StatusCode::kOk ? "" : "x"))) << code;
  }
}
