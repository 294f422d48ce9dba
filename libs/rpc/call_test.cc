#include "libs/rpc/call.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "libs/auth/jwt.h"
#include "libs/auth/service_credential.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/uuid.h"
#include "libs/log/log.h"
#include "libs/metrics/metrics_testing.h"
#include "libs/rpc/client.h"
#include "libs/rpc/signed_principal.h"
#include "libs/rpc/testing/test_server.h"

namespace crm::rpc {
namespace {

using ::crm::common::v1::Principal;
using ::crm::rpc::testing::EchoTestServer;
using ::crm::rpc::testing::TestOptions;
using ::crm::testing::v1::EchoRequest;
using ::crm::testing::v1::EchoResponse;
using ::testing::Contains;
using ::testing::HasSubstr;

std::chrono::system_clock::time_point In(absl::Duration d) { return absl::ToChronoTime(absl::Now() + d); }

std::optional<std::string> Header(const std::multimap<grpc::string_ref, grpc::string_ref>& md,
                                  const std::string& key) {
  auto it = md.find(key);
  if (it == md.end()) return std::nullopt;
  return std::string(it->second.data(), it->second.size());
}

Principal Manager() {
  Principal p;
  p.set_kind(Principal::KIND_USER);
  p.set_id("019a4b2c-8f3e-7a01-9c2d-3b4f5a6e7d8c");
  p.add_roles("manager");
  p.add_team_ids("team-1");
  return p;
}

class CallTest : public ::testing::Test {
 protected:
  void StartServer(std::function<void(Server&)> configure = {}) {
    auto s = EchoTestServer::Start(TestOptions(service_), std::move(configure));
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    stub_ = server_->NewStub();
  }

  std::string service_ = "call_test";
  std::unique_ptr<EchoTestServer> server_;
  std::unique_ptr<crm::testing::v1::EchoService::Stub> stub_;
};

// ---- request id ------------------------------------------------------------------------------------------

TEST_F(CallTest, MakesAUuidV7RequestIdAndEchoesIt) {
  StartServer();
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(5)));
  EchoRequest request;
  request.set_text("hi");
  EchoResponse response;
  ASSERT_TRUE(stub_->Echo(&ctx, request, &response).ok());
  EXPECT_EQ(response.text(), "hi");
  EXPECT_TRUE(UuidV7Time(response.request_id()).ok()) << response.request_id();
  EXPECT_EQ(Header(ctx.GetServerInitialMetadata(), kRequestIdHeader), response.request_id());
}

TEST_F(CallTest, KeepsTheCallersRequestId) {
  StartServer();
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(5)));
  ctx.AddMetadata(kRequestIdHeader, "req-42");
  EchoResponse response;
  ASSERT_TRUE(stub_->Echo(&ctx, EchoRequest(), &response).ok());
  EXPECT_EQ(response.request_id(), "req-42");
  EXPECT_EQ(Header(ctx.GetServerInitialMetadata(), kRequestIdHeader), "req-42");
}

TEST_F(CallTest, ReplacesAnUnusableRequestId) {
  StartServer();
  for (const std::string& bad : {std::string(kMaxRequestIdLength + 1, 'a'), std::string("has space")}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(5)));
    ctx.AddMetadata(kRequestIdHeader, bad);
    EchoResponse response;
    ASSERT_TRUE(stub_->Echo(&ctx, EchoRequest(), &response).ok());
    EXPECT_TRUE(IsUuid(response.request_id())) << response.request_id();
  }
}

TEST_F(CallTest, FailedCallsCarryTheRequestIdInTrailers) {
  StartServer();
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(5)));
  ctx.AddMetadata(kRequestIdHeader, "req-err");
  EchoRequest request;
  request.set_key("trailers");
  request.set_unavailable_attempts(1);
  EchoResponse response;
  ASSERT_EQ(stub_->Echo(&ctx, request, &response).error_code(), grpc::StatusCode::UNAVAILABLE);
  // Trailers-only (so the client may retry): the id is in the trailers, not the initial metadata.
  EXPECT_EQ(Header(ctx.GetServerTrailingMetadata(), kRequestIdHeader), "req-err");
  EXPECT_EQ(Header(ctx.GetServerInitialMetadata(), kRequestIdHeader), std::nullopt);
}

TEST_F(CallTest, HandlerLogLinesCarryTheRequestId) {
  absl::Mutex mu;
  std::vector<std::string> lines;
  log::SetSinkForTesting([&](std::string_view line) {
    absl::MutexLock lock(&mu);
    lines.emplace_back(line);
  });
  StartServer();
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(5)));
  ctx.AddMetadata(kRequestIdHeader, "req-log");
  EchoRequest request;
  request.set_text("logged");
  EchoResponse response;
  ASSERT_TRUE(stub_->Echo(&ctx, request, &response).ok());
  log::SetSinkForTesting(nullptr);
  absl::MutexLock lock(&mu);
  bool found = false;
  for (const std::string& line : lines) {
    if (line.find("\"msg\":\"echo\"") != std::string::npos) {
      EXPECT_THAT(line, HasSubstr("\"request_id\":\"req-log\""));
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

// ---- caller ----------------------------------------------------------------------------------------------

TEST_F(CallTest, ParsesTheCaller) {
  StartServer();
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(5)));
  SetCaller(ctx, Manager());
  EchoResponse response;
  ASSERT_TRUE(stub_->Echo(&ctx, EchoRequest(), &response).ok());
  EXPECT_EQ(response.caller().SerializeAsString(), Manager().SerializeAsString());
  EXPECT_EQ(response.caller_error(), "");
}

TEST_F(CallTest, NoCallerIsUnauthenticatedOnlyForHandlersThatAsk) {
  StartServer();
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(5)));
  EchoResponse response;
  ASSERT_TRUE(stub_->Echo(&ctx, EchoRequest(), &response).ok());
  EXPECT_FALSE(response.has_caller());
  EXPECT_THAT(response.caller_error(), HasSubstr("no caller"));
}

TEST_F(CallTest, MalformedCallerIsUnauthenticatedWithoutRunningTheHandler) {
  StartServer();
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(5)));
  ctx.AddMetadata(kPrincipalHeader, std::string("\xff\xff\xff garbage", 12));
  EchoResponse response;
  grpc::Status status = stub_->Echo(&ctx, EchoRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), HasSubstr("x-crm-principal-bin"));
  EXPECT_EQ(server_->echo().BodyRuns("Echo"), 0);
  // The request id still comes back, in the trailers.
  EXPECT_TRUE(Header(ctx.GetServerTrailingMetadata(), kRequestIdHeader).has_value());
}

// Issue 15: text with control characters and numbers beyond their bounds never reach a handler.
TEST_F(CallTest, ARequestBreakingTheInputRulesIsRejectedWithoutRunningTheHandler) {
  StartServer();
  EchoRequest request;
  request.set_text(std::string("name\0cut", 8));
  request.mutable_amount()->set_amount_minor(int64_t{9'223'372'036'854'775'807});
  request.mutable_amount()->set_currency("RUB");
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(5)));
  EchoResponse response;
  const absl::Status status = FromGrpcStatus(stub_->Echo(&ctx, request, &response));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FieldViolations(status),
              ::testing::UnorderedElementsAre(
                  ::testing::Field(&FieldViolation::field, "text"),
                  ::testing::Field(&FieldViolation::field, "amount.amount_minor")));
  EXPECT_EQ(server_->echo().BodyRuns("Echo"), 0);

  request.set_text("Иванов\tИван\r\nкомментарий");  // tab and line breaks are text
  request.mutable_amount()->set_amount_minor(1'000'000'000'000'000);
  grpc::ClientContext ok_ctx;
  ok_ctx.set_deadline(In(absl::Seconds(5)));
  ASSERT_TRUE(stub_->Echo(&ok_ctx, request, &response).ok());
  EXPECT_EQ(response.text(), request.text());
  EXPECT_EQ(server_->echo().BodyRuns("Echo"), 1);
}

class RejectRole final : public PrincipalVerifier {
 public:
  absl::Status Verify(const grpc::ServerContextBase&, std::string_view raw,
                      const Principal& p) const override {
    EXPECT_EQ(raw, p.SerializeAsString());
    for (const std::string& role : p.roles()) {
      if (role == "intruder") return absl::PermissionDeniedError("signature does not match");
    }
    return absl::OkStatus();
  }
};

TEST_F(CallTest, TheVerifierSeamDecidesWhichCallersAreAccepted) {
  StartServer([](Server& s) { s.SetPrincipalVerifier(std::make_shared<RejectRole>()); });
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(5)));
    SetCaller(ctx, Manager());
    EchoResponse response;
    ASSERT_TRUE(stub_->Echo(&ctx, EchoRequest(), &response).ok());
    EXPECT_EQ(response.caller().id(), Manager().id());
  }
  {
    Principal intruder = Manager();
    intruder.add_roles("intruder");
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(5)));
    SetCaller(ctx, intruder);
    EchoResponse response;
    grpc::Status status = stub_->Echo(&ctx, EchoRequest(), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_THAT(status.error_message(), HasSubstr("signature does not match"));
  }
  EXPECT_EQ(server_->echo().BodyRuns("Echo"), 1);
}

TEST_F(CallTest, SignedPrincipalsAcceptOnlyFreshSignaturesByTrustedKeys) {
  absl::StatusOr<auth::SigningKey> gateway = auth::SigningKey::Generate("gateway-1");
  absl::StatusOr<auth::SigningKey> impostor = auth::SigningKey::Generate("gateway-1");  // same kid
  ASSERT_TRUE(gateway.ok() && impostor.ok());
  auth::KeySet trusted;
  trusted.Add(gateway->public_key());
  ManualClock clock(absl::FromUnixSeconds(1795000000));
  StartServer([&](Server& s) { s.SetPrincipalVerifier(SignedPrincipals(trusted, clock, absl::Minutes(5))); });

  auto call = [&](const Principal& sent, const std::string& sig) {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(5)));
    SetCaller(ctx, sent);
    if (!sig.empty()) ctx.AddMetadata(std::string(auth::kPrincipalSigHeader), sig);
    EchoResponse response;
    return stub_->Echo(&ctx, EchoRequest(), &response);
  };
  auto sign = [&](const Principal& p, const auth::SigningKey& key) {
    absl::StatusOr<std::string> sig = auth::SignPrincipal(p, key, clock.Now());
    EXPECT_TRUE(sig.ok()) << sig.status();
    return sig.value_or("");
  };

  EXPECT_TRUE(call(Manager(), sign(Manager(), *gateway)).ok()) << "signed by the gateway";

  grpc::Status unsigned_call = call(Manager(), "");
  EXPECT_EQ(unsigned_call.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(unsigned_call.error_message(), HasSubstr("x-crm-principal-sig"));

  EXPECT_EQ(call(Manager(), sign(Manager(), *impostor)).error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << "a key the service does not trust, even under a trusted key id";

  Principal promoted = Manager();
  promoted.add_roles("administrator");
  EXPECT_EQ(call(promoted, sign(Manager(), *gateway)).error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << "roles added after signing";

  const std::string old = sign(Manager(), *gateway);
  clock.Advance(absl::Minutes(6));
  EXPECT_EQ(call(Manager(), old).error_code(), grpc::StatusCode::UNAUTHENTICATED) << "a replay after max_age";
  EXPECT_EQ(server_->echo().BodyRuns("Echo"), 1);
}

TEST_F(CallTest, AServiceActingOnItsOwnSignsItsPrincipalAndNamesTheUser) {
  absl::StatusOr<auth::SigningKey> robots = auth::SigningKey::Generate("robots");
  absl::StatusOr<auth::SigningKey> stranger = auth::SigningKey::Generate("robots");
  ASSERT_TRUE(robots.ok() && stranger.ok());
  auth::KeySet trusted;
  trusted.Add(robots->public_key());
  StartServer([&](Server& s) { s.SetPrincipalVerifier(SignedPrincipals(trusted)); });

  auto call = [&](const auth::SigningKey& key) {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(5)));
    EXPECT_TRUE(SetSignedCaller(ctx, ServicePrincipal("robots", "user-7"), key).ok());
    EchoResponse response;
    grpc::Status s = stub_->Echo(&ctx, EchoRequest(), &response);
    return std::make_pair(s, response);
  };
  auto [ok, response] = call(*robots);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(response.caller().kind(), Principal::KIND_SERVICE);
  EXPECT_EQ(response.caller().service(), "robots");
  EXPECT_EQ(response.caller().on_behalf_of_user_id(), "user-7");
  EXPECT_EQ(call(*stranger).first.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

// ---- deadlines -------------------------------------------------------------------------------------------

TEST_F(CallTest, ACallArrivingPastItsDeadlineIsRejectedWithoutRunningTheHandler) {
  // The server's clock runs an hour ahead: every call arrives after its (10 s) deadline.
  ManualClock clock(absl::Now() + absl::Hours(1));
  service_ = testing::UniqueService("deadline_test");
  StartServer([&](Server& s) { s.SetClock(clock); });
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(10)));
  EchoResponse response;
  grpc::Status status = stub_->Echo(&ctx, EchoRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("after its deadline"));
  EXPECT_EQ(server_->echo().BodyRuns("Echo"), 0);

  auto page = metrics::testing::Scrape(server_->server().metrics_port());
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(metrics::testing::SampleValue(
                *page, "grpc_server_handled_total",
                {{"service", service_}, {"grpc_method", "Echo"}, {"grpc_code", "DEADLINE_EXCEEDED"}}),
            1);
}

TEST_F(CallTest, WithoutTheWrapperTheHandlerRunsButTheClientStillGetsTheRejection) {
  // Put is written without rpc::Handle (gRPC 1.51 interceptors cannot skip a handler).
  ManualClock clock(absl::Now() + absl::Hours(1));
  StartServer([&](Server& s) { s.SetClock(clock); });
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(10)));
  crm::testing::v1::PutRequest request;
  crm::testing::v1::PutResponse response;
  EXPECT_EQ(stub_->Put(&ctx, request, &response).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(server_->echo().BodyRuns("Put"), 1);
}

TEST_F(CallTest, ADeadlineBeyondMaxDeadlineIsBounded) {
  StartServer();
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Hours(2)));
  EchoResponse response;
  const absl::Time before = absl::Now();
  ASSERT_TRUE(stub_->Echo(&ctx, EchoRequest(), &response).ok());
  const absl::Time reported = absl::FromUnixMillis(response.deadline_unix_ms());
  EXPECT_GE(reported, before + absl::Seconds(30) - absl::Milliseconds(1));
  EXPECT_LE(reported, absl::Now() + absl::Seconds(30));
}

TEST_F(CallTest, ACallWithoutDeadlineIsCancelledAtMaxDeadline) {
  ServerOptions o = TestOptions("max_deadline_test");
  o.max_deadline = absl::Milliseconds(300);
  auto s = EchoTestServer::Start(o);
  ASSERT_TRUE(s.ok()) << s.status();
  auto stub = (*s)->NewStub();
  grpc::ClientContext ctx;  // no deadline; the Slow call is never released
  auto reader = stub->Slow(&ctx, crm::testing::v1::SlowRequest());
  crm::testing::v1::SlowResponse response;
  ASSERT_TRUE(reader->Read(&response));
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(response.phase(), crm::testing::v1::SlowResponse::PHASE_STARTED);
}

TEST_F(CallTest, ACallWithinMaxDeadlineKeepsItsOwnDeadline) {
  StartServer();
  grpc::ClientContext ctx;
  const auto deadline = In(absl::Seconds(3));
  ctx.set_deadline(deadline);
  EchoResponse response;
  ASSERT_TRUE(stub_->Echo(&ctx, EchoRequest(), &response).ok());
  // grpc-timeout is relative and rounded up, so the server's deadline may be a little later.
  const int64_t sent = absl::ToUnixMillis(absl::FromChrono(deadline));
  EXPECT_GE(response.deadline_unix_ms(), sent - 5);
  EXPECT_LE(response.deadline_unix_ms(), sent + 200);
}

// ---- Serve -----------------------------------------------------------------------------------------------

// Echo written with rpc::Serve: answers with the caller the body saw; text "fail" makes the body fail
// with two field violations.
class ServedEcho final : public crm::testing::v1::EchoService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext* ctx, const EchoRequest* req, EchoResponse* out) override {
    return Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<EchoResponse> {
      body_runs_.fetch_add(1);
      if (req->text() == "fail") {
        return WithFieldViolations(InvalidFieldError("text", "must not be fail"),
                                   {{"key", "must be set with text"}});
      }
      if (req->text() == "database") {  // as crm::pg::StatusFromException makes them
        return WithPublicMessage(
            absl::FailedPreconditionError(
                "insert or update on table \"deals\" violates foreign key constraint \"deals_stage_id_fkey\""),
            "the change conflicts with the stored data");
      }
      EchoResponse reply;
      reply.set_text(req->text());
      reply.set_request_id(RequestId(*ctx));
      *reply.mutable_caller() = caller;
      return reply;
    });
  }
  int body_runs() const { return body_runs_.load(); }

 private:
  std::atomic<int> body_runs_{0};
};

class ServeTest : public ::testing::Test {
 protected:
  void StartServer(std::function<void(Server&)> configure = {}) {
    server_ = std::make_unique<Server>(TestOptions(testing::UniqueService("serve_test")));
    server_->AddService(&service_);
    if (configure) configure(*server_);
    ASSERT_TRUE(server_->Start().ok());
    stub_ = crm::testing::v1::EchoService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_->grpc_port()), grpc::InsecureChannelCredentials()));
  }

  ManualClock late_clock_{absl::Now() + absl::Hours(1)};  // every deadline has passed; outlives the server
  ServedEcho service_;                                    // outlives the server
  std::unique_ptr<Server> server_;
  std::unique_ptr<crm::testing::v1::EchoService::Stub> stub_;
};

TEST_F(ServeTest, TheBodySeesTheVerifiedCallerAndItsValueIsTheReply) {
  StartServer();
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(5)));
  ctx.AddMetadata(kRequestIdHeader, "serve-test-1");
  SetCaller(ctx, Manager());
  EchoRequest request;
  request.set_text("hi");
  EchoResponse response;
  ASSERT_TRUE(stub_->Echo(&ctx, request, &response).ok());
  EXPECT_EQ(response.text(), "hi");
  EXPECT_EQ(response.request_id(), "serve-test-1");
  EXPECT_EQ(response.caller().SerializeAsString(), Manager().SerializeAsString());
  EXPECT_EQ(service_.body_runs(), 1);
}

TEST_F(ServeTest, AnErrorFromTheBodyComesBackWithItsFieldViolations) {
  StartServer();
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(5)));
  SetCaller(ctx, Manager());
  EchoRequest request;
  request.set_text("fail");
  EchoResponse response;
  grpc::Status status = stub_->Echo(&ctx, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "text: must not be fail");
  EXPECT_THAT(FieldViolations(FromGrpcStatus(status)),
              ::testing::ElementsAre(FieldViolation{"text", "must not be fail"},
                                     FieldViolation{"key", "must be set with text"}));
  EXPECT_EQ(service_.body_runs(), 1);
}

// Issue 15: no database text reaches a client; the request id leads to it in the log.
TEST_F(ServeTest, InternalTextIsReplacedByItsPublicMessageAndTheRequestId) {
  StartServer();
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(5)));
  ctx.AddMetadata(kRequestIdHeader, "serve-test-db");
  SetCaller(ctx, Manager());
  EchoRequest request;
  request.set_text("database");
  EchoResponse response;
  grpc::Status status = stub_->Echo(&ctx, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(), "the change conflicts with the stored data (request id serve-test-db)");
}

TEST_F(ServeTest, NoCallerIsUnauthenticatedWithoutRunningTheBody) {
  StartServer();
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(5)));
  EchoRequest request;
  request.set_text("hi");
  EchoResponse response;
  grpc::Status status = stub_->Echo(&ctx, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), HasSubstr("no caller"));
  EXPECT_EQ(service_.body_runs(), 0);
}

TEST_F(ServeTest, ACallTurnedAwayOnArrivalDoesNotRunTheBody) {
  StartServer([&](Server& s) { s.SetClock(late_clock_); });
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(10)));
  SetCaller(ctx, Manager());
  EchoResponse response;
  EXPECT_EQ(stub_->Echo(&ctx, EchoRequest(), &response).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(service_.body_runs(), 0);
}

// ---- automation causation ------------------------------------------------------------------------------

// Echo answering "<AutomationDepth>/<SkipAutomation>" in text; with a forward_target it calls that
// server's Echo through PrepareClientContext and answers its reply in `forwarded`.
class CausationEcho final : public crm::testing::v1::EchoService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext* ctx, const EchoRequest* req, EchoResponse* out) override {
    out->set_text(absl::StrCat(AutomationDepth(*ctx), "/", SkipAutomation(*ctx) ? "skip" : "run"));
    if (req->forward_target().empty()) return grpc::Status::OK;
    auto stub = crm::testing::v1::EchoService::NewStub(
        grpc::CreateChannel(req->forward_target(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext next;
    PrepareClientContext(next, absl::Seconds(5), ctx);
    return stub->Echo(&next, EchoRequest(), out->mutable_forwarded());
  }
};

class CausationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) {
      servers_[i] = std::make_unique<Server>(TestOptions(testing::UniqueService("causation_test")));
      servers_[i]->AddService(&service_);
      ASSERT_TRUE(servers_[i]->Start().ok());
    }
  }
  std::string Target(int i) const { return absl::StrCat("127.0.0.1:", servers_[i]->grpc_port()); }
  // Echo on server 0 with `metadata`, forwarded to server 1 when `forward`.
  EchoResponse Call(const std::vector<std::pair<std::string, std::string>>& metadata, bool forward = false) {
    auto stub = crm::testing::v1::EchoService::NewStub(
        grpc::CreateChannel(Target(0), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(5)));
    for (const auto& [k, v] : metadata) ctx.AddMetadata(k, v);
    EchoRequest request;
    if (forward) request.set_forward_target(Target(1));
    EchoResponse response;
    grpc::Status status = stub->Echo(&ctx, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  CausationEcho service_;  // outlives the servers
  std::unique_ptr<Server> servers_[2];
};

TEST_F(CausationTest, ReadsTheAutomationDepth) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"2", "2/run"},   {"0", "0/run"},      {"100", "100/run"}, {"101", "100/run"},
      {"99999999999999999999", "100/run"},   {"-1", "0/run"},    {"+3", "0/run"},
      {"2a", "0/run"},  {"", "0/run"},          {"1.5", "0/run"}};
  for (const auto& [sent, want] : cases) {
    EXPECT_EQ(Call({{kAutomationDepthHeader, sent}}).text(), want) << "depth \"" << sent << "\"";
  }
  EXPECT_EQ(Call({}).text(), "0/run");
}

TEST_F(CausationTest, ReadsSkipAutomation) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"true", "0/skip"}, {"TRUE", "0/skip"},  {"True", "0/skip"}, {"1", "0/skip"},
      {"false", "0/run"}, {"0", "0/run"},      {"yes", "0/run"},   {"", "0/run"},};
  for (const auto& [sent, want] : cases) {
    EXPECT_EQ(Call({{kSkipAutomationHeader, sent}}).text(), want) << "skip \"" << sent << "\"";
  }
}

TEST_F(CausationTest, PrepareClientContextForwardsTheCausation) {
  EchoResponse r = Call({{kAutomationDepthHeader, "3"}, {kSkipAutomationHeader, "1"}}, /*forward=*/true);
  EXPECT_EQ(r.text(), "3/skip");
  EXPECT_EQ(r.forwarded().text(), "3/skip");
  r = Call({{kAutomationDepthHeader, "250"}}, /*forward=*/true);
  EXPECT_EQ(r.forwarded().text(), "100/run");
  r = Call({}, /*forward=*/true);
  EXPECT_EQ(r.forwarded().text(), "0/run");
}

TEST_F(CausationTest, SetAutomationAddsOnlyWhatIsSet) {
  auto stub = crm::testing::v1::EchoService::NewStub(
      grpc::CreateChannel(Target(0), grpc::InsecureChannelCredentials()));
  struct Case {
    int depth;
    bool skip;
    std::string want;
  };
  for (const Case& c : {Case{1, false, "1/run"}, Case{0, true, "0/skip"}, Case{7, true, "7/skip"},
                        Case{0, false, "0/run"}, Case{-4, false, "0/run"}, Case{500, false, "100/run"}}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(5)));
    SetAutomation(ctx, c.depth, c.skip);
    EchoResponse response;
    ASSERT_TRUE(stub->Echo(&ctx, EchoRequest(), &response).ok());
    EXPECT_EQ(response.text(), c.want) << c.depth << " " << c.skip;
  }
}

TEST(PermissionTest, RequirePermissionNamesTheMissingCode) {
  crm::common::v1::Principal p;
  p.add_permissions("deals.read.all");
  p.add_roles("users.manage");  // role names grant nothing by themselves
  EXPECT_TRUE(HasPermission(p, "deals.read.all"));
  EXPECT_TRUE(RequirePermission(p, "deals.read.all").ok());
  EXPECT_FALSE(HasPermission(p, "deals.read"));
  absl::Status s = RequirePermission(p, "users.manage");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "missing permission users.manage");
}

}  // namespace
}  // namespace crm::rpc
