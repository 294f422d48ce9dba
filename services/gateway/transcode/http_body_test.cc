// google.api.HttpBody request bodies (http_body.h): the raw bytes and the Content-Type, never parsed as
// JSON; path variables and query parameters set the other fields; the raw body's own size bound.
#include "services/gateway/transcode/http_body.h"

#include <string>

#include "crm/testing/v1/transcode.pb.h"
#include "google/api/httpbody.pb.h"
#include "gtest/gtest.h"
#include "services/gateway/transcode/descriptor_set.h"
#include "services/gateway/transcode/transcode.h"

namespace crm::gateway {
namespace {

using Query = std::vector<std::pair<std::string, std::string>>;

class HttpBodyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto services = LoadDescriptorSetFiles({CRM_TRANSCODE_TESTING_PB}, &pool_);
    ASSERT_TRUE(services.ok()) << services.status();
    auto router = Router::Build(pool_, *services);
    ASSERT_TRUE(router.ok()) << router.status();
    router_ = std::make_unique<Router>(*std::move(router));
  }

  RouteMatch Match(std::string_view method, std::string_view path) {
    auto m = router_->Match(method, path);
    EXPECT_TRUE(m.ok()) << method << " " << path << ": " << m.status();
    return *std::move(m);
  }

  google::protobuf::DescriptorPool pool_;
  std::unique_ptr<Router> router_;
};

TEST_F(HttpBodyTest, WhichBindingsTakeARawBody) {
  const google::protobuf::FieldDescriptor* field = nullptr;
  RouteMatch hook = Match("POST", "/v1/hooks/h1");
  EXPECT_TRUE(TakesHttpBody(*hook.method, hook.route->binding, &field));
  ASSERT_NE(field, nullptr);
  EXPECT_EQ(field->name(), "payload");
  RouteMatch raw = Match("POST", "/v1/raw");
  EXPECT_TRUE(TakesHttpBody(*raw.method, raw.route->binding, &field));
  EXPECT_EQ(field, nullptr);  // the whole request is the HttpBody
  RouteMatch json = Match("POST", "/v1/things");
  EXPECT_FALSE(TakesHttpBody(*json.method, json.route->binding, &field));
  RouteMatch star = Match("POST", "/v1/things/7:archive");
  EXPECT_FALSE(TakesHttpBody(*star.method, star.route->binding));
}

// The bytes as sent — not JSON, nested deeper than any JSON body may be — with the Content-Type; the
// path variable and a query parameter set the other fields.
TEST_F(HttpBodyTest, ABodyFieldTakesTheRawBytesAndTheContentType) {
  const std::string body = std::string("{\"update_id\": 1, ") + std::string(200, '[') + "\x01\xff";
  auto bytes = BuildRequest(Match("POST", "/v1/hooks/h1"), body, Query{{"attempt", "2"}}, {},
                            "application/json; charset=utf-8");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  crm::testing::v1::ReceiveHookRequest req;
  ASSERT_TRUE(req.ParseFromString(*bytes));
  EXPECT_EQ(req.hook(), "h1");
  EXPECT_EQ(req.attempt(), 2);
  EXPECT_EQ(req.payload().data(), body);
  EXPECT_EQ(req.payload().content_type(), "application/json; charset=utf-8");
  // No Content-Type, no body: an empty HttpBody, still present.
  bytes = BuildRequest(Match("POST", "/v1/hooks/h2"), "", {});
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  ASSERT_TRUE(req.ParseFromString(*bytes));
  EXPECT_EQ(req.hook(), "h2");
  EXPECT_TRUE(req.has_payload());
  EXPECT_EQ(req.payload().data(), "");
}

TEST_F(HttpBodyTest, TheQueryCannotSetTheBodyField) {
  auto bytes = BuildRequest(Match("POST", "/v1/hooks/h1"), "x", Query{{"payload.data", "eA"}}, {}, "text/plain");
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bytes.status().message().find("bound by the body"), std::string::npos) << bytes.status();
}

TEST_F(HttpBodyTest, AStarBodyOnAnHttpBodyRequest) {
  auto bytes = BuildRequest(Match("POST", "/v1/raw"), "a,b\n1,2\n", {}, {}, "text/csv");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  google::api::HttpBody body;
  ASSERT_TRUE(body.ParseFromString(*bytes));
  EXPECT_EQ(body.data(), "a,b\n1,2\n");
  EXPECT_EQ(body.content_type(), "text/csv");
  // body "*": no query parameters, as for JSON.
  EXPECT_EQ(BuildRequest(Match("POST", "/v1/raw"), "x", Query{{"a", "1"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(HttpBodyTest, TheRawBodyHasItsOwnBound) {
  TranscodeLimits limits;
  limits.max_http_body_bytes = 8;
  auto over = BuildRequest(Match("POST", "/v1/hooks/h1"), "123456789", {}, limits, "text/plain");
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);  // the gateway's 413
  EXPECT_EQ(over.status().message(), "request body of 9 bytes exceeds the limit of 8");
  EXPECT_TRUE(BuildRequest(Match("POST", "/v1/hooks/h1"), "12345678", {}, limits, "text/plain").ok());
  // JSON bodies keep max_body_bytes.
  EXPECT_TRUE(BuildRequest(Match("POST", "/v1/things"), R"({"displayName":"a long enough name"})", {}, limits).ok());
}

TEST_F(HttpBodyTest, AContentTypeMustBePrintable) {
  auto bad = BuildRequest(Match("POST", "/v1/hooks/h1"), "x", {}, {}, "text/plain\r\nX: y");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("Content-Type"), std::string::npos) << bad.status();
}

}  // namespace
}  // namespace crm::gateway
