// google.api.HttpBody bodies (http_body.h). Requests: the raw bytes and the Content-Type, never parsed as
// JSON; path variables and query parameters set the other fields; the raw body's own size bound. Replies
// (issue 18, T7's QR image): the bytes and the content type of the reply's HttpBody (or its response_body
// field), nothing else; application/octet-stream when untyped; the backend's faults are INTERNAL.
#include "services/gateway/transcode/http_body.h"

#include <string>

#include "crm/testing/v1/transcode.pb.h"
#include "google/api/httpbody.pb.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/text_format.h"
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

// --- Replies (T7: the QR image through the gateway). ---

TEST_F(HttpBodyTest, WhichBindingsAnswerARawBody) {
  RouteMatch image = Match("GET", "/v1/things/t1/image");
  EXPECT_TRUE(AnswersHttpBody(*image.method, image.route->binding));  // the reply is an HttpBody
  RouteMatch file = Match("GET", "/v1/things/t1/export");
  EXPECT_TRUE(AnswersHttpBody(*file.method, file.route->binding));  // response_body names one
  RouteMatch owner = Match("GET", "/v1/things/t1/owner");
  EXPECT_FALSE(AnswersHttpBody(*owner.method, owner.route->binding));  // response_body of another type
  RouteMatch thing = Match("GET", "/v1/things/t1");
  EXPECT_FALSE(AnswersHttpBody(*thing.method, thing.route->binding));
  RouteMatch upload = Match("POST", "/v1/raw");  // takes an HttpBody, answers JSON
  EXPECT_FALSE(AnswersHttpBody(*upload.method, upload.route->binding));
}

// Server-streaming HttpBody replies are out of scope (the gateway's calls are unary): never raw.
TEST(HttpBodyReplyTest, AServerStreamingMethodIsNotAnsweredRaw) {
  google::protobuf::DescriptorPool pool;
  for (const google::protobuf::FileDescriptor* f :
       {google::protobuf::Any::descriptor()->file(), google::api::HttpBody::descriptor()->file()}) {
    google::protobuf::FileDescriptorProto proto;
    f->CopyTo(&proto);
    ASSERT_NE(pool.BuildFile(proto), nullptr) << f->name();
  }
  google::protobuf::FileDescriptorProto file;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"pb(
    name: "download.proto" package: "t" syntax: "proto3"
    dependency: "google/api/httpbody.proto"
    service {
      name: "S"
      method { name: "Download" input_type: ".google.api.HttpBody" output_type: ".google.api.HttpBody"
               server_streaming: true }
      method { name: "Get" input_type: ".google.api.HttpBody" output_type: ".google.api.HttpBody" }
    })pb", &file));
  ASSERT_NE(pool.BuildFile(file), nullptr);
  google::api::HttpRule get;
  get.set_get("/v1/download");
  EXPECT_FALSE(AnswersHttpBody(*pool.FindMethodByName("t.S.Download"), get));
  EXPECT_TRUE(AnswersHttpBody(*pool.FindMethodByName("t.S.Get"), get));
}

// The bytes as they are (a NUL, a byte over 0x7f, not UTF-8) with their type; the extensions are not sent.
TEST_F(HttpBodyTest, AnHttpBodyReplyIsItsBytesAndItsType) {
  google::api::HttpBody reply;
  const std::string png = std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16) + "\xff\xfe";
  reply.set_data(png);
  reply.set_content_type("image/png");
  reply.add_extensions()->set_type_url("type.googleapis.com/x.Meta");
  absl::StatusOr<RawBody> raw = HttpBodyReply(Match("GET", "/v1/things/t1/image"), reply.SerializeAsString());
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(raw->data, png);
  EXPECT_EQ(raw->content_type, "image/png");
  // Untyped bytes are application/octet-stream; an empty body stays empty.
  reply.Clear();
  reply.set_data("abc");
  raw = HttpBodyReply(Match("GET", "/v1/things/t1/image"), reply.SerializeAsString());
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(raw->content_type, "application/octet-stream");
  EXPECT_EQ(raw->data, "abc");
  raw = HttpBodyReply(Match("GET", "/v1/things/t1/image"), "");
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(raw->content_type, "application/octet-stream");
  EXPECT_EQ(raw->data, "");
}

// response_body naming an HttpBody field: that body alone; the reply's other fields are not sent.
TEST_F(HttpBodyTest, AResponseBodyFieldIsAnsweredRaw) {
  crm::testing::v1::ExportThingResponse reply;
  reply.set_etag("etag-7");
  reply.mutable_file()->set_data("id,name\n7,Box\n");
  reply.mutable_file()->set_content_type("text/csv; charset=utf-8");
  absl::StatusOr<RawBody> raw = HttpBodyReply(Match("GET", "/v1/things/7/export"), reply.SerializeAsString());
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(raw->data, "id,name\n7,Box\n");
  EXPECT_EQ(raw->content_type, "text/csv; charset=utf-8");
}

TEST_F(HttpBodyTest, ABackendsFaultyReplyIsInternal) {
  RouteMatch image = Match("GET", "/v1/things/t1/image");
  // Bytes that do not parse as an HttpBody.
  EXPECT_EQ(HttpBodyReply(image, "\x0a\x05" "ab").status().code(), absl::StatusCode::kInternal);
  // A content type that would split the header block.
  google::api::HttpBody reply;
  reply.set_data("x");
  reply.set_content_type("image/png\r\nSet-Cookie: a=b");
  absl::StatusOr<RawBody> raw = HttpBodyReply(image, reply.SerializeAsString());
  EXPECT_EQ(raw.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(raw.status().message().find("content type"), std::string::npos) << raw.status();
  // Over the response bound.
  TranscodeLimits limits;
  limits.max_response_bytes = 8;
  reply.set_content_type("image/png");
  reply.set_data("0123456789");
  EXPECT_EQ(HttpBodyReply(image, reply.SerializeAsString(), limits).status().code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace crm::gateway
