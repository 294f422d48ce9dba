// Tests of the gateway end to end: real HTTP (the edge server on 127.0.0.1:0, a blocking socket client)
// in front of a real gRPC backend (crm.testing.v1.TranscodeTestService on 127.0.0.1:0).
#include "services/gateway/gateway.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "crm/identity/v1/identity.grpc.pb.h"
#include "crm/testing/v1/transcode.grpc.pb.h"
#include "google/api/httpbody.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/auth/jwt.h"
#include "libs/auth/service_credential.h"
#include "libs/base/clock.h"
#include "services/gateway/auth.h"
#include "services/gateway/transcode/transcode.h"
#include "services/gateway/edge/errors.h"
#include "services/gateway/edge/server.h"
#include "services/gateway/identity_client.h"
#include "services/gateway/revocations.h"

namespace crm::gateway {
namespace {

namespace tv1 = ::crm::testing::v1;
namespace idv1 = ::crm::identity::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// --- The backend. ---

// Serialized google.rpc.Status{code, message, details=[Any{BadRequest{field_violations}}]}.
std::string StatusDetails(int code, const std::string& message,
                          const std::vector<std::pair<std::string, std::string>>& violations) {
  auto encode = [](auto write) {
    std::string out;
    {
      google::protobuf::io::StringOutputStream s(&out);
      google::protobuf::io::CodedOutputStream c(&s);
      write(c);
    }
    return out;
  };
  auto field = [](google::protobuf::io::CodedOutputStream& c, int number, const std::string& v) {
    c.WriteTag((number << 3) | 2);
    c.WriteVarint32(static_cast<uint32_t>(v.size()));
    c.WriteString(v);
  };
  std::string bad_request = encode([&](auto& c) {
    for (const auto& [f, d] : violations) {
      field(c, 1, encode([&](auto& v) {
              field(v, 1, f);
              field(v, 2, d);
            }));
    }
  });
  std::string any = encode([&](auto& c) {
    field(c, 1, kBadRequestTypeUrl);
    field(c, 2, bad_request);
  });
  return encode([&](auto& c) {
    c.WriteTag(1 << 3);
    c.WriteVarint32(static_cast<uint32_t>(code));
    field(c, 2, message);
    field(c, 3, any);
  });
}

class Backend final : public tv1::TranscodeTestService::Service {
 public:
  struct Seen {
    std::string method;
    std::string request;  // DebugString of the request
    std::multimap<std::string, std::string> metadata;
  };

  grpc::Status GetThing(grpc::ServerContext* ctx, const tv1::GetThingRequest* req,
                        tv1::Thing* out) override {
    Record(ctx, "GetThing", *req);
    if (req->id() == "missing") return grpc::Status(grpc::StatusCode::NOT_FOUND, "thing missing not found");
    if (req->id() == "invalid") {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "invalid thing",
                          StatusDetails(3, "invalid thing", {{"thing.id", "must not be 'invalid'"}}));
    }
    if (req->id() == "throttled") {
      // As identity sends a throttled sign-in: RetryInfo in grpc-status-details-bin.
      return ToGrpcStatus(WithRetryDelay(absl::ResourceExhaustedError("too many sign-in attempts"),
                                         absl::Seconds(41) + absl::Milliseconds(200)));
    }
    if (req->id() == "throttled-bare") {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many sign-in attempts");
    }
    if (req->id() == "slow") {
      // Blocks until the gateway's deadline cancels the call (bounded by 10 s).
      for (int i = 0; i < 1000 && !ctx->IsCancelled(); ++i) absl::SleepFor(absl::Milliseconds(10));
      return grpc::Status(grpc::StatusCode::INTERNAL, "not cancelled");
    }
    out->set_id(req->id());
    out->set_display_name("Thing " + req->id());
    out->set_size_bytes(42);
    out->set_state(tv1::THING_STATE_ACTIVE);
    out->mutable_owner()->set_name("ann");
    return grpc::Status::OK;
  }
  grpc::Status ListThings(grpc::ServerContext* ctx, const tv1::ListThingsRequest* req,
                          tv1::ListThingsResponse* out) override {
    Record(ctx, "ListThings", *req);
    out->add_things()->set_id("a");
    out->set_next_page_token("next");
    return grpc::Status::OK;
  }
  grpc::Status CreateThing(grpc::ServerContext* ctx, const tv1::CreateThingRequest* req,
                           tv1::Thing* out) override {
    Record(ctx, "CreateThing", *req);
    *out = req->thing();
    out->set_id("new-1");
    return grpc::Status::OK;
  }
  grpc::Status UpdateThing(grpc::ServerContext* ctx, const tv1::UpdateThingRequest* req,
                           tv1::Thing* out) override {
    Record(ctx, "UpdateThing", *req);
    // The stored thing is at version 7; a request naming another version lost a race.
    if (req->thing().version() != 0 && req->thing().version() != 7) {
      return grpc::Status(grpc::StatusCode::ABORTED, "version mismatch");
    }
    *out = req->thing();
    out->set_version(8);
    return grpc::Status::OK;
  }

  // A webhook (G3): authenticated by its secret header alone, as dialogs' TelegramIntake.
  grpc::Status ReceiveHook(grpc::ServerContext* ctx, const tv1::ReceiveHookRequest* req, tv1::Thing* out) override {
    Record(ctx, "ReceiveHook", *req);
    auto secret = ctx->client_metadata().find("x-hook-secret");
    if (secret == ctx->client_metadata().end() || secret->second != "s3cret") {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "wrong or missing secret");
    }
    out->set_id(req->hook());
    return grpc::Status::OK;
  }

  // Issue 18 (T7): an image as dialogs' GetQrCodeImage answers one, a google.api.HttpBody. "missing" is
  // NOT_FOUND, "untyped" has no content type, "bad-type" one that would split the header block.
  grpc::Status GetThingImage(grpc::ServerContext* ctx, const tv1::GetThingRequest* req,
                             google::api::HttpBody* out) override {
    Record(ctx, "GetThingImage", *req);
    if (req->id() == "missing") return grpc::Status(grpc::StatusCode::NOT_FOUND, "image missing not found");
    out->set_data(Image());
    if (req->id() == "bad-type") out->set_content_type("image/png\r\nSet-Cookie: a=b");
    if (req->id() != "untyped" && req->id() != "bad-type") out->set_content_type("image/png");
    out->add_extensions()->set_type_url("type.googleapis.com/crm.testing.v1.Owner");  // never sent
    return grpc::Status::OK;
  }
  // response_body "file": only the HttpBody field is the answer.
  grpc::Status ExportThing(grpc::ServerContext* ctx, const tv1::GetThingRequest* req,
                           tv1::ExportThingResponse* out) override {
    Record(ctx, "ExportThing", *req);
    out->set_etag("etag-of-" + req->id());
    out->mutable_file()->set_content_type("text/csv; charset=utf-8");
    out->mutable_file()->set_data("id;name\n" + req->id() + ";Коробка\n");
    return grpc::Status::OK;
  }
  // 100 000 bytes that are no text: a PNG signature, then every byte value (NUL, CR, LF, 0xff ...).
  static std::string Image() {
    std::string out("\x89PNG\r\n\x1a\n", 8);
    for (int i = 0; out.size() < 100'000; ++i) out.push_back(static_cast<char>((i * 31 + 7) & 0xff));
    return out;
  }

  Seen last() {
    absl::MutexLock lock(&mu_);
    return last_;
  }
  void Reset() {
    absl::MutexLock lock(&mu_);
    last_ = Seen{};
  }

 private:
  void Record(grpc::ServerContext* ctx, std::string method, const google::protobuf::Message& req) {
    Seen s{std::move(method), req.ShortDebugString(), {}};
    for (const auto& [k, v] : ctx->client_metadata()) {
      s.metadata.emplace(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
    }
    absl::MutexLock lock(&mu_);
    last_ = std::move(s);
  }
  absl::Mutex mu_;
  Seen last_ ABSL_GUARDED_BY(mu_);
};

// The identity service's AuthService as the gateway uses it: published keys and API keys. (The real
// service is exercised end to end in tests/identity.)
class TestIdentity final : public idv1::AuthService::Service {
 public:
  static constexpr char kGoodKey[] = "crm_0123456789ab_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

  void SetKeys(const auth::KeySet& keys) {
    absl::MutexLock lock(&mu_);
    jwks_ = keys.ToJwks();
  }
  int key_fetches() {
    absl::MutexLock lock(&mu_);
    return key_fetches_;
  }
  std::string last_api_key_caller() {
    absl::MutexLock lock(&mu_);
    return last_caller_;
  }
  grpc::Status GetSigningKeys(grpc::ServerContext*, const idv1::GetSigningKeysRequest*,
                              idv1::SigningKeys* out) override {
    absl::MutexLock lock(&mu_);
    ++key_fetches_;
    out->set_jwks_json(jwks_);
    return grpc::Status::OK;
  }
  grpc::Status VerifyApiKey(grpc::ServerContext* ctx, const idv1::VerifyApiKeyRequest* req,
                            common::v1::Principal* out) override {
    {
      absl::MutexLock lock(&mu_);
      auto it = ctx->client_metadata().find("x-crm-principal-bin");
      last_caller_ = it == ctx->client_metadata().end() ? "" : std::string(it->second.data(), it->second.size());
    }
    if (req->key() != kGoodKey) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown API key");
    out->set_kind(common::v1::Principal::KIND_API_KEY);
    out->set_id("key-1");
    out->set_on_behalf_of_user_id("owner-1");
    out->add_permissions("deals.read.all");
    return grpc::Status::OK;
  }

 private:
  absl::Mutex mu_;
  std::string jwks_ ABSL_GUARDED_BY(mu_) = R"({"keys":[]})";
  int key_fetches_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_caller_ ABSL_GUARDED_BY(mu_);
};

std::string Meta(const Backend::Seen& s, const std::string& key) {
  auto it = s.metadata.find(key);
  return it == s.metadata.end() ? "<absent>" : it->second;
}

// --- A blocking HTTP/1.1 client: one request per connection. ---

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

std::optional<Reply> Http(int port, const std::string& method, const std::string& target,
                          const std::string& body = "",
                          const std::vector<std::string>& headers = {}) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return std::nullopt;
  }
  std::string req = absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
  for (const std::string& h : headers) absl::StrAppend(&req, h, "\r\n");
  if (!body.empty()) absl::StrAppend(&req, "Content-Type: application/json\r\n");
  absl::StrAppend(&req, "Content-Length: ", body.size(), "\r\n\r\n", body);
  size_t sent = 0;
  while (sent < req.size()) {
    ssize_t n = send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  const size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  Reply r;
  std::vector<std::string> lines = absl::StrSplit(raw.substr(0, end), "\r\n");
  std::vector<std::string> first = absl::StrSplit(lines[0], ' ');
  if (first.size() < 2 || !absl::SimpleAtoi(first[1], &r.status)) return std::nullopt;
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    r.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  r.body = raw.substr(end + 4);
  return r;
}

// --- The fixture: backend + gateway + edge. ---

constexpr char kIssuer[] = "crm-identity";
constexpr char kAudience[] = "crm";

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &backend_port_);
    builder.RegisterService(&backend_);
    builder.RegisterService(&identity_);
    grpc_server_ = builder.BuildAndStart();
    ASSERT_NE(grpc_server_, nullptr);
    ASSERT_GT(backend_port_, 0);

    identity_key_ = *auth::SigningKey::Generate("id-1");
    jwks_path_ = absl::StrCat(::testing::TempDir(), "/gateway_test_jwks_", getpid(), ".json");
    auth::KeySet keys;
    keys.Add(identity_key_->public_key());
    std::ofstream(jwks_path_) << keys.ToJwks();
    service_key_ = *auth::SigningKey::Generate("gateway-test");
  }
  void TearDown() override {
    if (http_ != nullptr) http_->Stop(absl::Seconds(2));
    gateway_.reset();
    if (grpc_server_ != nullptr) grpc_server_->Shutdown(std::chrono::system_clock::now());
    std::remove(jwks_path_.c_str());
  }

  // Starts the gateway and its HTTP edge; `backend` overrides the backend address; `from_identity`
  // takes keys and API keys from TestIdentity instead of the JWKS file.
  void StartGateway(std::optional<std::string> backend = std::nullopt, bool from_identity = false) {
    GatewayOptions o;
    o.descriptor_sets = {CRM_TRANSCODE_TESTING_PB};
    const std::string address = backend.value_or(absl::StrCat("127.0.0.1:", backend_port_));
    o.backend_for = [address](std::string_view service) {
      return service == "crm.testing.v1.TranscodeTestService" ? address : std::string();
    };
    o.auth.jwks = std::make_shared<JwksFileSource>(jwks_path_, absl::Seconds(5));
    if (from_identity) {
      auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", backend_port_),
                                         grpc::InsecureChannelCredentials());
      IdentityJwksOptions jo;
      jo.min_refetch_interval = absl::ZeroDuration();
      o.auth.jwks = IdentityJwksSource::Start(channel, jo);
      o.auth.api_keys = std::make_shared<IdentityApiKeyVerifier>(channel, *service_key_);
    }
    o.auth.public_methods = {"crm.testing.v1.TranscodeTestService.ListThings"};
    o.webhooks = {{"crm.testing.v1.TranscodeTestService.ReceiveHook", "X-Hook-Secret"}};
    o.service_key = *service_key_;
    o.per_user_rate = 1;
    o.per_user_burst = 3;
    o.clock = &clock_;
    o.auth.revocations = revoked_;
    absl::StatusOr<std::unique_ptr<Gateway>> gw = Gateway::Create(std::move(o));
    ASSERT_TRUE(gw.ok()) << gw.status();
    gateway_ = *std::move(gw);
    HttpServerOptions h;
    h.address = "127.0.0.1:0";
    h.worker_threads = 4;
    h.max_body_bytes = 16 << 20;  // as crm-gateway: bodies reach the transcoder's own limit
    Gateway* g = gateway_.get();
    absl::StatusOr<std::unique_ptr<HttpServer>> s =
        HttpServer::Start(h, [g](HttpCall& call) { return g->Handle(call); });
    ASSERT_TRUE(s.ok()) << s.status();
    http_ = *std::move(s);
  }

  std::string Token(const std::string& sub, std::vector<std::string> roles = {"manager"},
                    const auth::SigningKey* key = nullptr, absl::Duration age = absl::ZeroDuration(),
                    const std::string& sid = "") {
    auth::Claims c;
    c.sid = sid;
    c.iss = kIssuer;
    c.aud = kAudience;
    c.sub = sub;
    c.jti = "jti-" + sub;
    c.kind = "user";
    c.roles = std::move(roles);
    c.teams = {"team-1"};
    c.iat = clock_.Now() - age;
    c.exp = c.iat + absl::Minutes(10);
    absl::StatusOr<std::string> t = auth::SignJwt(c, key != nullptr ? *key : *identity_key_);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.value_or("");
  }
  std::string Bearer(const std::string& sub) { return "Authorization: Bearer " + Token(sub); }

  Reply Call(const std::string& method, const std::string& target, const std::string& body = "",
             std::vector<std::string> headers = {}) {
    std::optional<Reply> r = Http(http_->port(), method, target, body, headers);
    EXPECT_TRUE(r.has_value());
    return r.value_or(Reply{});
  }

  ManualClock clock_{absl::Now()};
  std::shared_ptr<RevokedSessions> revoked_ = std::make_shared<RevokedSessions>(clock_, absl::Seconds(30));
  Backend backend_;
  TestIdentity identity_;
  int backend_port_ = 0;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::optional<auth::SigningKey> identity_key_;
  std::optional<auth::SigningKey> service_key_;
  std::string jwks_path_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<HttpServer> http_;
};

TEST(GatewayHelpersTest, BackendSettingNameAndGrpcTimeout) {
  EXPECT_EQ(BackendSettingName("crm.identity.v1.UserService"), "IDENTITY_ADDRESS");
  EXPECT_EQ(BackendSettingName("crm.deals.v1.DealService"), "DEALS_ADDRESS");
  EXPECT_EQ(BackendSettingName("Svc"), "");
  EXPECT_EQ(ParseGrpcTimeout("100m"), absl::Milliseconds(100));
  EXPECT_EQ(ParseGrpcTimeout("5S"), absl::Seconds(5));
  EXPECT_EQ(ParseGrpcTimeout("2H"), absl::Hours(2));
  EXPECT_EQ(ParseGrpcTimeout("5"), std::nullopt);
  EXPECT_EQ(ParseGrpcTimeout("5x"), std::nullopt);
  EXPECT_EQ(ParseGrpcTimeout("123456789S"), std::nullopt);
}

TEST(GatewayHelpersTest, PrincipalFromClaimsByKind) {
  auth::Claims c;
  c.sub = "k-1";
  c.kind = "api_key";
  c.roles = {"robot"};
  c.teams = {"t1", "t2"};
  common::v1::Principal p = PrincipalFromClaims(c);
  EXPECT_EQ(p.kind(), common::v1::Principal::KIND_API_KEY);
  EXPECT_EQ(p.id(), "k-1");
  EXPECT_THAT(p.roles(), ElementsAre("robot"));
  EXPECT_THAT(p.team_ids(), ElementsAre("t1", "t2"));
  c.kind = "service";
  c.sub = "robots";
  c.on_behalf_of = "u-9";
  p = PrincipalFromClaims(c);
  EXPECT_EQ(p.kind(), common::v1::Principal::KIND_SERVICE);
  EXPECT_EQ(p.service(), "robots");
  EXPECT_EQ(p.id(), "");
  EXPECT_EQ(p.on_behalf_of_user_id(), "u-9");
  c.kind = "user";
  EXPECT_EQ(PrincipalFromClaims(c).kind(), common::v1::Principal::KIND_USER);
}

TEST_F(GatewayTest, GetReachesTheBackendAndReturnsItsJson) {
  StartGateway();
  Reply r = Call("GET", "/v1/things/t%2F1", "", {Bearer("user-1"), "X-Request-Id: req-get-1"});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.body,
            R"({"id":"t/1","displayName":"Thing t/1","sizeBytes":"42","pinned":false,)"
            R"("state":"THING_STATE_ACTIVE","tags":[],"owner":{"name":"ann","email":""},"score":0,"version":"0"})");
  Backend::Seen s = backend_.last();
  EXPECT_EQ(s.method, "GetThing");
  EXPECT_EQ(s.request, R"(id: "t/1")");
  EXPECT_EQ(Meta(s, "x-request-id"), "req-get-1");
  EXPECT_EQ(Meta(s, "idempotency-key"), "<absent>");
}

TEST_F(GatewayTest, PostSendsBodyFieldAndIdempotencyKey) {
  StartGateway();
  Reply r = Call("POST", "/v1/things", R"({"displayName":"Box","tags":["a","b"]})",
                 {Bearer("user-2"), "Idempotency-Key: idem-7"});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            R"({"id":"new-1","displayName":"Box","sizeBytes":"0","pinned":false,)"
            R"("state":"THING_STATE_UNSPECIFIED","tags":["a","b"],"score":0,"version":"0"})");
  Backend::Seen s = backend_.last();
  EXPECT_EQ(s.method, "CreateThing");
  EXPECT_EQ(s.request, R"(thing { display_name: "Box" tags: "a" tags: "b" })");
  EXPECT_EQ(Meta(s, "idempotency-key"), "idem-7");
}

TEST_F(GatewayTest, SkipAutomationIsForwardedButAClientsAutomationDepthIsNot) {
  StartGateway();
  // One user per call: the per-user burst of the fixture is small.
  int user = 0;
  auto call = [&](const std::string& method, const std::string& path, const std::string& header) {
    Reply r = Call(method, path, R"({"displayName":"Box"})", {Bearer(absl::StrCat("auto-", ++user)), header});
    EXPECT_EQ(r.status, 200) << r.body;
    return backend_.last();
  };
  for (const std::string value : {"true", "1", "TRUE"}) {
    Backend::Seen s = call("POST", "/v1/things", "X-Skip-Automation: " + value);
    EXPECT_EQ(Meta(s, "x-crm-skip-automation"), "true") << value;
    EXPECT_EQ(Meta(s, "x-crm-automation-depth"), "<absent>") << value;
  }
  EXPECT_EQ(Meta(call("PATCH", "/v1/things/t9", "X-Skip-Automation: true"), "x-crm-skip-automation"), "true");
  for (const std::string header : {"X-Skip-Automation: false", "X-Skip-Automation: 0", "X-Automation-Depth: 3",
                                   "X-Crm-Automation-Depth: 3"}) {
    Backend::Seen s = call("POST", "/v1/things", header);
    EXPECT_EQ(Meta(s, "x-crm-skip-automation"), "<absent>") << header;
    EXPECT_EQ(Meta(s, "x-crm-automation-depth"), "<absent>") << header;
  }
}

TEST_F(GatewayTest, PatchFillsPathVariableAndUpdateMask) {
  StartGateway();
  Reply r = Call("PATCH", "/v1/things/t9", R"({"displayName":"New","owner":{"email":"e@x"}})",
                 {Bearer("user-3")});
  ASSERT_EQ(r.status, 200) << r.body;
  Backend::Seen s = backend_.last();
  EXPECT_EQ(s.method, "UpdateThing");
  EXPECT_EQ(s.request,
            R"(thing { id: "t9" display_name: "New" owner { email: "e@x" } } update_mask { paths: "display_name" paths: "owner.email" })");
  EXPECT_EQ(nlohmann::json::parse(r.body)["id"], "t9");
}

TEST_F(GatewayTest, BackendNotFoundIs404WithErrorBodyAndRequestId) {
  StartGateway();
  Reply r = Call("GET", "/v1/things/missing", "", {Bearer("user-4"), "X-Request-Id: req-404"});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body,
            R"({"error":{"code":404,"status":"NOT_FOUND","message":"thing missing not found",)"
            R"("details":[],"requestId":"req-404"}})");
}

TEST_F(GatewayTest, BackendFieldViolationsAre400WithDetails) {
  StartGateway();
  Reply r = Call("GET", "/v1/things/invalid", "", {Bearer("user-5"), "X-Request-Id: req-400"});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            R"({"error":{"code":400,"status":"INVALID_ARGUMENT","message":"invalid thing",)"
            R"("details":[{"field":"thing.id","description":"must not be 'invalid'"}],)"
            R"("requestId":"req-400"}})");
}

TEST_F(GatewayTest, BadRequestBodyIs400FromTheTranscoder) {
  StartGateway();
  Reply r = Call("POST", "/v1/things", R"({"noSuchField":1})", {Bearer("user-5b")});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["status"], "INVALID_ARGUMENT");
}

TEST_F(GatewayTest, BackendDownIs503) {
  // A port nothing listens on: bind one, note it, close it.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  close(fd);
  StartGateway(absl::StrCat("127.0.0.1:", port));
  Reply r = Call("GET", "/v1/things/x", "", {Bearer("user-6")});
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["status"], "UNAVAILABLE");
  // Operators' details (addresses, transport errors) are logged, not shown to clients.
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["message"],
            "the crm.testing.v1.TranscodeTestService service is unavailable; try again");
  EXPECT_EQ(r.body.find("127.0.0.1"), std::string::npos) << r.body;
}

TEST_F(GatewayTest, DeadlineIs504) {
  StartGateway();
  Reply r = Call("GET", "/v1/things/slow", "", {Bearer("user-7"), "Grpc-Timeout: 200m"});
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["status"], "DEADLINE_EXCEEDED");
  EXPECT_EQ(Call("GET", "/v1/things/1", "", {Bearer("user-7"), "Grpc-Timeout: soon"}).status, 400);
}

TEST_F(GatewayTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  StartGateway();
  Reply r = Call("GET", "/v2/nothing", "", {Bearer("user-8")});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["status"], "NOT_FOUND");
  Reply m = Call("PUT", "/v1/things/1", "", {Bearer("user-8")});
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.headers["allow"], "DELETE, GET, PATCH");
  EXPECT_EQ(nlohmann::json::parse(m.body)["error"]["code"], 405);
  EXPECT_EQ(nlohmann::json::parse(m.body)["error"]["status"], "METHOD_NOT_ALLOWED");
}

TEST_F(GatewayTest, MissingExpiredOrForgedTokenIs401) {
  StartGateway();
  Reply none = Call("GET", "/v1/things/1");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.headers["www-authenticate"], "Bearer");
  EXPECT_EQ(nlohmann::json::parse(none.body)["error"]["status"], "UNAUTHENTICATED");

  Reply expired = Call("GET", "/v1/things/1", "",
                       {"Authorization: Bearer " + Token("u", {}, nullptr, absl::Hours(1))});
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(nlohmann::json::parse(expired.body)["error"]["message"], "the token expired");
  EXPECT_EQ(expired.headers["www-authenticate"],
            "Bearer error=\"invalid_token\", error_description=\"the token expired\"");

  auth::SigningKey forger = *auth::SigningKey::Generate("id-1");  // same kid, other key
  Reply forged = Call("GET", "/v1/things/1", "", {"Authorization: Bearer " + Token("u", {}, &forger)});
  EXPECT_EQ(forged.status, 401);
  EXPECT_EQ(backend_.last().method, "");  // the backend was never called
}

TEST_F(GatewayTest, ValidTokenForwardsASignedPrincipal) {
  StartGateway();
  Reply r = Call("GET", "/v1/things/1", "",
                 {"Authorization: Bearer " + Token("user-42", {"manager", "head_of_sales"})});
  ASSERT_EQ(r.status, 200) << r.body;
  Backend::Seen s = backend_.last();
  const std::string bytes = Meta(s, "x-crm-principal-bin");
  common::v1::Principal p;
  ASSERT_TRUE(p.ParseFromString(bytes));
  EXPECT_EQ(p.kind(), common::v1::Principal::KIND_USER);
  EXPECT_EQ(p.id(), "user-42");
  EXPECT_THAT(p.roles(), ElementsAre("manager", "head_of_sales"));
  EXPECT_THAT(p.team_ids(), ElementsAre("team-1"));
  auth::KeySet gateway_keys;
  gateway_keys.Add(service_key_->public_key());
  const std::string sig = Meta(s, std::string(auth::kPrincipalSigHeader));
  EXPECT_TRUE(auth::VerifyPrincipal(bytes, sig, gateway_keys, clock_.Now(), absl::Minutes(5)).ok());
  // Any other key, or other bytes, does not verify.
  auth::KeySet other;
  other.Add(auth::SigningKey::Generate("gateway-test")->public_key());
  EXPECT_FALSE(auth::VerifyPrincipal(bytes, sig, other, clock_.Now(), absl::Minutes(5)).ok());
  p.add_roles("admin");
  EXPECT_FALSE(
      auth::VerifyPrincipal(p.SerializeAsString(), sig, gateway_keys, clock_.Now(), absl::Minutes(5)).ok());
}

TEST_F(GatewayTest, PublicRouteWorksWithoutToken) {
  StartGateway();
  Reply r = Call("GET", "/v1/things?pageSize=5&tags=x&tags=y");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            R"({"things":[{"id":"a","displayName":"","sizeBytes":"0","pinned":false,)"
            R"("state":"THING_STATE_UNSPECIFIED","tags":[],"score":0,"version":"0"}],"nextPageToken":"next"})");
  Backend::Seen s = backend_.last();
  EXPECT_EQ(s.request, R"(page_size: 5 tags: "x" tags: "y")");
  // A caller who is not signed in reaches the backend as the gateway's own principal, with the
  // client address the gateway vouches for.
  common::v1::Principal p;
  ASSERT_TRUE(p.ParseFromString(Meta(s, "x-crm-principal-bin")));
  EXPECT_EQ(p.kind(), common::v1::Principal::KIND_SERVICE);
  EXPECT_EQ(p.service(), "gateway");
  EXPECT_EQ(p.permissions_size(), 0);
  EXPECT_EQ(Meta(s, "x-crm-client-ip"), "127.0.0.1");
}

// G3: a webhook route is public (no token), takes its body raw (google.api.HttpBody with the
// Content-Type) and forwards its one secret header as metadata; other headers stay behind.
TEST_F(GatewayTest, AWebhookIsPublicTakesTheRawBodyAndForwardsItsSecretHeader) {
  StartGateway();
  const std::string update = R"({"update_id": 900000001, "message": {"text": "привет"}})";
  Reply r = Call("POST", "/v1/hooks/h1?attempt=2", update,
                 {"X-Hook-Secret: s3cret", "Content-Type: application/json", "X-Other-Secret: no"});
  ASSERT_EQ(r.status, 200) << r.body;
  Backend::Seen s = backend_.last();
  EXPECT_EQ(s.method, "ReceiveHook");
  tv1::ReceiveHookRequest want;
  want.set_hook("h1");
  want.set_attempt(2);
  want.mutable_payload()->set_content_type("application/json");
  want.mutable_payload()->set_data(update);
  EXPECT_EQ(s.request, want.ShortDebugString());
  EXPECT_EQ(Meta(s, "x-hook-secret"), "s3cret");
  EXPECT_EQ(Meta(s, "x-other-secret"), "<absent>");
  common::v1::Principal p;  // no caller: the gateway's own principal
  ASSERT_TRUE(p.ParseFromString(Meta(s, "x-crm-principal-bin")));
  EXPECT_EQ(p.service(), "gateway");
  // The backend's PERMISSION_DENIED (a wrong or missing secret) is 403.
  EXPECT_EQ(Call("POST", "/v1/hooks/h1", update, {"X-Hook-Secret: wrong"}).status, 403);
  EXPECT_EQ(Call("POST", "/v1/hooks/h1", update).status, 403);
  EXPECT_EQ(Meta(backend_.last(), "x-hook-secret"), "<absent>");
  // A value that cannot be metadata is dropped, not forwarded.
  EXPECT_EQ(Call("POST", "/v1/hooks/h1", update, {"X-Hook-Secret: " + std::string(300, 'a')}).status, 403);
}

TEST_F(GatewayTest, AWebhooksHeaderGoesToItsMethodOnlyAndOtherRoutesStillNeedAToken) {
  StartGateway();
  EXPECT_EQ(Call("GET", "/v1/things/1", "", {"X-Hook-Secret: s3cret"}).status, 401);
  EXPECT_EQ(Call("POST", "/v1/things", R"({"id":"1"})", {"X-Hook-Secret: s3cret"}).status, 401);
  ASSERT_EQ(Call("GET", "/v1/things/1", "", {Bearer("user-hook"), "X-Hook-Secret: s3cret"}).status, 200);
  EXPECT_EQ(Meta(backend_.last(), "x-hook-secret"), "<absent>");
}

TEST_F(GatewayTest, AWebhooksBodyIsBounded) {
  StartGateway();
  backend_.Reset();
  const TranscodeLimits limits;
  Reply r = Call("POST", "/v1/hooks/h1", std::string(limits.max_http_body_bytes + 1, 'x'), {"X-Hook-Secret: s3cret"});
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(backend_.last().method, "");  // never forwarded
  EXPECT_EQ(Call("POST", "/v1/hooks/h1", std::string(limits.max_http_body_bytes, 'x'), {"X-Hook-Secret: s3cret"}).status,
            200);
}

// Issue 18 (T7, the QR image): a reply that is a google.api.HttpBody reaches the client as its bytes, raw,
// with its Content-Type and the edge's Content-Length, nosniff and no-store; the extensions stay behind.
TEST_F(GatewayTest, AnHttpBodyReplyIsAnsweredRaw) {
  StartGateway();
  Reply r = Call("GET", "/v1/things/qr-1/image", "", {Bearer("image-1")});
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 200);
  EXPECT_EQ(backend_.last().request, R"(id: "qr-1")");
  EXPECT_EQ(r.body.size(), Backend::Image().size());
  EXPECT_TRUE(r.body == Backend::Image());  // not JSON, not base64: the bytes
  EXPECT_EQ(r.headers["content-type"], "image/png");
  EXPECT_EQ(r.headers["content-length"], std::to_string(Backend::Image().size()));
  EXPECT_EQ(r.headers["x-content-type-options"], "nosniff");
  EXPECT_EQ(r.headers["cache-control"], "no-store");
  EXPECT_EQ(r.headers["pragma"], "no-cache");
  EXPECT_EQ(r.headers.count("etag"), 0u);
  // Untyped bytes are application/octet-stream.
  r = Call("GET", "/v1/things/untyped/image", "", {Bearer("image-2")});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "application/octet-stream");
  EXPECT_TRUE(r.body == Backend::Image());
  // response_body naming an HttpBody field: that body; the reply's etag is not sent.
  r = Call("GET", "/v1/things/7/export", "", {Bearer("image-3")});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "text/csv; charset=utf-8");
  EXPECT_EQ(r.body, "id;name\n7;Коробка\n");
}

TEST_F(GatewayTest, AnHttpBodyMethodsErrorsStayJson) {
  StartGateway();
  Reply r = Call("GET", "/v1/things/missing/image", "", {Bearer("image-4"), "X-Request-Id: req-img-404"});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.body,
            R"({"error":{"code":404,"status":"NOT_FOUND","message":"image missing not found",)"
            R"("details":[],"requestId":"req-img-404"}})");
  // A backend's content type that would add a header line is the backend's fault: 500, nothing injected.
  r = Call("GET", "/v1/things/bad-type/image", "", {Bearer("image-5")});
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.headers.count("set-cookie"), 0u);
  // No token: 401 before any call, as for every other method.
  EXPECT_EQ(Call("GET", "/v1/things/qr-1/image").status, 401);
}

TEST_F(GatewayTest, PerUserRateLimitIs429WithRetryAfter) {
  StartGateway();
  const std::string token = Bearer("user-rl");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Call("GET", "/v1/things/1", "", {token}).status, 200);
  Reply r = Call("GET", "/v1/things/1", "", {token});
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.headers["retry-after"], "1");
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["status"], "RESOURCE_EXHAUSTED");
  // Another user is not affected; after a second the first may call again.
  EXPECT_EQ(Call("GET", "/v1/things/1", "", {Bearer("user-other")}).status, 200);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Call("GET", "/v1/things/1", "", {token}).status, 200);
}

TEST_F(GatewayTest, JwksFileIsReloadedWhenItChanges) {
  StartGateway();
  auth::SigningKey rotated = *auth::SigningKey::Generate("id-2");
  const std::string token = "Authorization: Bearer " + Token("user-rot", {}, &rotated);
  EXPECT_EQ(Call("GET", "/v1/things/1", "", {token}).status, 401);
  auth::KeySet keys;
  keys.Add(identity_key_->public_key());
  keys.Add(rotated.public_key());
  std::ofstream(jwks_path_, std::ios::trunc) << keys.ToJwks();
  // Not looked at again before the reload interval; then picked up.
  EXPECT_EQ(Call("GET", "/v1/things/1", "", {token}).status, 401);
  clock_.Advance(absl::Seconds(6));
  EXPECT_EQ(Call("GET", "/v1/things/1", "", {token}).status, 200);
}

TEST_F(GatewayTest, IfMatchSetsTheVersionAndAStaleOneIs412) {
  StartGateway();
  int n = 0;  // one user per call: the per-user rate limit is not under test here
  auto call = [&](const std::string& method, const std::string& body, const std::string& if_match) {
    std::vector<std::string> headers = {Bearer(absl::StrCat("user-v", ++n))};
    if (!if_match.empty()) headers.push_back("If-Match: " + if_match);
    return Call(method, "/v1/things/t1", body, headers);
  };
  // The reply's version comes back as an ETag.
  Reply ok = call("PATCH", R"({"displayName":"A"})", "\"7\"");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.headers["etag"], "\"8\"");
  EXPECT_THAT(backend_.last().request, HasSubstr("version: 7"));
  // A stale version: the backend's ABORTED becomes 412 Precondition Failed.
  Reply stale = call("PATCH", R"({"displayName":"B"})", "W/\"3\"");
  EXPECT_EQ(stale.status, 412) << stale.body;
  EXPECT_EQ(nlohmann::json::parse(stale.body)["error"]["code"], 412);
  EXPECT_EQ(nlohmann::json::parse(stale.body)["error"]["status"], "PRECONDITION_FAILED");
  // The header wins over a version in the body; `*` means any version.
  EXPECT_EQ(call("PATCH", R"({"version":"3"})", "\"7\"").status, 200);
  EXPECT_EQ(call("PATCH", R"({"displayName":"C"})", "*").status, 200);
  EXPECT_THAT(backend_.last().request, Not(HasSubstr("version")));
  // Without If-Match, a conflict stays 409.
  EXPECT_EQ(call("PATCH", R"({"version":"3"})", "").status, 409);
  // Malformed, or on a method without a version: 400, and the backend is not called.
  backend_.Reset();
  EXPECT_EQ(call("PATCH", "{}", "\"abc\"").status, 400);
  EXPECT_EQ(call("GET", "", "\"7\"").status, 400);
  EXPECT_EQ(backend_.last().method, "");
}

TEST_F(GatewayTest, TokensVerifyWithKeysFetchedFromIdentityIncludingARotatedKey) {
  auth::KeySet keys;
  keys.Add(identity_key_->public_key());
  identity_.SetKeys(keys);
  StartGateway(std::nullopt, /*from_identity=*/true);
  Reply r;
  for (int i = 0; i < 200; ++i) {  // the first fetch runs in the background
    r = Call("GET", "/v1/things/1", "", {Bearer("user-j")});
    if (r.status == 200) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(r.status, 200) << r.body;
  // Identity rotates: a token signed with the new key is accepted at once (one extra fetch).
  auth::SigningKey rotated = *auth::SigningKey::Generate("id-2");
  keys.Add(rotated.public_key());
  identity_.SetKeys(keys);
  const int fetches = identity_.key_fetches();
  EXPECT_EQ(Call("GET", "/v1/things/1", "", {"Authorization: Bearer " + Token("user-j", {}, &rotated)}).status, 200);
  EXPECT_EQ(identity_.key_fetches(), fetches + 1);
  // A key identity does not publish stays refused.
  auth::SigningKey unknown = *auth::SigningKey::Generate("id-x");
  EXPECT_EQ(Call("GET", "/v1/things/1", "", {"Authorization: Bearer " + Token("user-j", {}, &unknown)}).status, 401);
}

TEST_F(GatewayTest, ApiKeysAreCheckedByIdentityOnEveryRequest) {
  StartGateway(std::nullopt, /*from_identity=*/true);
  for (const std::string& h : {std::string("X-Api-Key: ") + TestIdentity::kGoodKey,
                               std::string("Authorization: Bearer ") + TestIdentity::kGoodKey}) {
    Reply r = Call("GET", "/v1/things/1", "", {h});
    ASSERT_EQ(r.status, 200) << h << " " << r.body;
    common::v1::Principal p;
    ASSERT_TRUE(p.ParseFromString(Meta(backend_.last(), "x-crm-principal-bin")));
    EXPECT_EQ(p.kind(), common::v1::Principal::KIND_API_KEY);
    EXPECT_EQ(p.id(), "key-1");
    EXPECT_THAT(p.permissions(), ElementsAre("deals.read.all"));
    // The gateway asked as its own, signed, service principal.
    common::v1::Principal asker;
    ASSERT_TRUE(asker.ParseFromString(identity_.last_api_key_caller()));
    EXPECT_EQ(asker.service(), "gateway");
  }
  Reply bad = Call("GET", "/v1/things/1", "", {"X-Api-Key: crm_0123456789ab_ffff"});
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(nlohmann::json::parse(bad.body)["error"]["message"], "invalid API key");
}

TEST_F(GatewayTest, ARememberedTokenStillExpiresAndDiesWithItsKey) {
  StartGateway();
  const std::string token = Bearer("user-cache");
  ASSERT_EQ(Call("GET", "/v1/things/1", "", {token}).status, 200);
  ASSERT_EQ(Call("GET", "/v1/things/1", "", {token}).status, 200);  // from the cache
  // Identity drops the key (say it leaked): the remembered token goes with it.
  auth::KeySet other;
  other.Add(auth::SigningKey::Generate("id-9")->public_key());
  std::ofstream(jwks_path_, std::ios::trunc) << other.ToJwks();
  clock_.Advance(absl::Seconds(6));
  EXPECT_EQ(Call("GET", "/v1/things/1", "", {token}).status, 401);
  // And with the key back, a remembered token still expires (10 min + 30 s leeway).
  auth::KeySet keys;
  keys.Add(identity_key_->public_key());
  std::ofstream(jwks_path_, std::ios::trunc) << keys.ToJwks();
  clock_.Advance(absl::Seconds(6));
  const std::string fresh = Bearer("user-cache2");
  EXPECT_EQ(Call("GET", "/v1/things/1", "", {fresh}).status, 200);
  clock_.Advance(absl::Minutes(10) + absl::Seconds(31));
  EXPECT_EQ(Call("GET", "/v1/things/1", "", {fresh}).status, 401);
}

// Issue 15: after sign-out (or a reused refresh token) identity publishes SessionRevoked; once the
// gateway's set holds the session, its tokens are refused at once — remembered ones too — with a
// challenge that says why. (revocations_kafka_test feeds the set from the dev broker.)
TEST_F(GatewayTest, ATokenOfARevokedSessionIs401AtOnce) {
  StartGateway();
  const std::string token = "Authorization: Bearer " + Token("user-r", {"manager"}, nullptr, absl::ZeroDuration(), "sess-r");
  const std::string other = "Authorization: Bearer " + Token("user-r", {"manager"}, nullptr, absl::ZeroDuration(), "sess-o");
  ASSERT_EQ(Call("GET", "/v1/things/1", "", {token}).status, 200);
  ASSERT_EQ(Call("GET", "/v1/things/1", "", {token}).status, 200);  // remembered
  revoked_->Revoke("sess-r", clock_.Now() + absl::Minutes(10));
  backend_.Reset();
  Reply refused = Call("GET", "/v1/things/1", "", {token});
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.headers["www-authenticate"],
            "Bearer error=\"invalid_token\", error_description=\"the session was revoked\"");
  EXPECT_EQ(nlohmann::json::parse(refused.body)["error"]["message"], "the session was revoked");
  EXPECT_EQ(backend_.last().method, "");
  EXPECT_EQ(Call("GET", "/v1/things/1", "", {other}).status, 200);
}

// A body over the transcoder's limit (4 MiB) is 413, not a 429 with Retry-After (issue 15: every 429
// means "retry after").
TEST_F(GatewayTest, BodyOverTheTranscodersLimitIs413) {
  StartGateway();
  const std::string body = R"({"displayName":")" + std::string(5 << 20, 'x') + R"("})";
  Reply r = Call("POST", "/v1/things", body, {Bearer("user-big")});
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.headers.count("retry-after"), 0u);
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["code"], 413);
}

// Issue 15: a backend's RESOURCE_EXHAUSTED with a google.rpc.RetryInfo (identity's throttled sign-in)
// becomes 429 with Retry-After = ceil(retry_delay) and the delay in the body; without one, the default.
TEST_F(GatewayTest, BackendRetryInfoBecomesRetryAfter) {
  StartGateway();
  Reply r = Call("GET", "/v1/things/throttled", "", {Bearer("user-t")});
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.headers["retry-after"], "42");
  nlohmann::json error = nlohmann::json::parse(r.body)["error"];
  EXPECT_EQ(error["status"], "RESOURCE_EXHAUSTED");
  EXPECT_EQ(error["message"], "too many sign-in attempts");
  EXPECT_EQ(error["retryDelay"], "41.200s");
  EXPECT_EQ(r.headers["cache-control"], "no-store");
  Reply bare = Call("GET", "/v1/things/throttled-bare", "", {Bearer("user-t")});
  EXPECT_EQ(bare.status, 429);
  EXPECT_EQ(bare.headers["retry-after"], "5");
}

// Issue 15: /readyz means the gateway can authenticate now. Identity down → 503 with the reason in the
// body (from the cached background health check, not a call per probe); identity back → 200.
TEST(IdentityHealthTest, ReadyzFollowsIdentity) {
  grpc::EnableDefaultHealthCheckService(true);
  // A server needs one service beside health; one per server.
  std::vector<std::unique_ptr<grpc::CallbackGenericService>> others;
  auto start_identity = [&others](int* port) {
    grpc::ServerBuilder b;
    b.AddListeningPort(absl::StrCat("127.0.0.1:", *port), grpc::InsecureServerCredentials(), port);
    others.push_back(std::make_unique<grpc::CallbackGenericService>());
    b.RegisterCallbackGenericService(others.back().get());
    std::unique_ptr<grpc::Server> s = b.BuildAndStart();
    if (s != nullptr) s->GetHealthCheckService()->SetServingStatus(true);
    return s;
  };
  int port = 0;
  std::unique_ptr<grpc::Server> identity = start_identity(&port);
  ASSERT_NE(identity, nullptr);
  IdentityHealthOptions ho;
  ho.interval = absl::Milliseconds(20);
  ho.call_timeout = absl::Milliseconds(200);
  ho.max_silence = absl::Milliseconds(300);
  std::unique_ptr<IdentityHealth> health = IdentityHealth::Start(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()), ho);
  HttpServerOptions h;
  h.address = "127.0.0.1:0";
  h.ready = [&health] { return health->Ready(); };
  absl::StatusOr<std::unique_ptr<HttpServer>> http =
      HttpServer::Start(h, [](HttpCall&) { return HttpResponse::Json(404, "{}"); });
  ASSERT_TRUE(http.ok()) << http.status();
  auto readyz = [&] { return Http((*http)->port(), "GET", "/readyz").value_or(Reply{}); };
  auto eventually = [](auto cond) {  // waits for the background checker, bounded
    const absl::Time end = absl::Now() + absl::Seconds(20);
    while (!cond() && absl::Now() < end) absl::SleepFor(absl::Milliseconds(10));
    return cond();
  };
  ASSERT_TRUE(eventually([&] { return readyz().status == 200; }));

  identity->Shutdown(std::chrono::system_clock::now());
  identity->Wait();
  identity.reset();
  ASSERT_TRUE(eventually([&] { return readyz().status == 503; }));
  Reply down = readyz();
  EXPECT_THAT(nlohmann::json::parse(down.body)["error"]["message"].get<std::string>(),
              HasSubstr("not ready: identity has not answered a health check for"));
  EXPECT_EQ(Http((*http)->port(), "GET", "/healthz")->status, 200);  // liveness is not readiness

  identity = start_identity(&port);  // back, on the same address
  ASSERT_NE(identity, nullptr);
  EXPECT_TRUE(eventually([&] { return readyz().status == 200; }));
  (*http)->Stop(absl::Seconds(1));
  identity->Shutdown(std::chrono::system_clock::now());
}

TEST(GatewayHelpersTest, TokenScopesBecomePermissions) {
  auth::Claims c;
  c.sub = "u-1";
  c.kind = "user";
  c.scopes = {"deals.read.all", "users.read"};
  EXPECT_THAT(PrincipalFromClaims(c).permissions(), ElementsAre("deals.read.all", "users.read"));
}

}  // namespace
}  // namespace crm::gateway
