#include "services/gateway/transcode/transcode.h"

#include <string>

#include "crm/testing/v1/transcode.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "libs/base/status.h"
#include "services/gateway/transcode/descriptor_set.h"

namespace crm::gateway {
namespace {

using ::testing::HasSubstr;
using Query = std::vector<std::pair<std::string, std::string>>;

// Everything here runs on a pool loaded from the descriptor-set file (the gateway's way); the generated
// classes only build the expected messages and decode results.
class TranscodeTest : public ::testing::Test {
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

  // Transcodes and decodes the request as `Msg`; returns its text form, or the error as "ERROR <code>: msg".
  template <typename Msg>
  std::string Request(std::string_view method, std::string_view path, std::string_view body,
                      const Query& query = {}, const TranscodeLimits& limits = {}) {
    RouteMatch m = Match(method, path);
    EXPECT_EQ(m.method->input_type()->full_name(), Msg::descriptor()->full_name());
    auto bytes = BuildRequest(m, body, query, limits);
    if (!bytes.ok()) {
      return "ERROR " + absl::StatusCodeToString(bytes.status().code()) + ": " +
             std::string(bytes.status().message());
    }
    Msg msg;
    EXPECT_TRUE(msg.ParseFromString(*bytes));
    return msg.ShortDebugString();
  }

  // The text form of `text` parsed as Msg (normalizes spacing and field order).
  template <typename Msg>
  static std::string Text(const std::string& text) {
    Msg msg;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &msg)) << text;
    return msg.ShortDebugString();
  }

  google::protobuf::DescriptorPool pool_;
  std::unique_ptr<Router> router_;
};

using testing::v1::ArchiveThingRequest;
using testing::v1::CreateThingRequest;
using testing::v1::GetBookRequest;
using testing::v1::GetFileRequest;
using testing::v1::GetThingRequest;
using testing::v1::ListThingsRequest;
using testing::v1::UpdateThingRequest;

TEST_F(TranscodeTest, PathVariables) {
  EXPECT_EQ(Request<GetThingRequest>("GET", "/v1/things/a%2Fb", ""), Text<GetThingRequest>(R"(id: "a/b")"));
  EXPECT_EQ(Request<GetBookRequest>("GET", "/v1/shelves/1/books/2", ""),
            Text<GetBookRequest>(R"(name: "shelves/1/books/2")"));
  EXPECT_EQ(Request<GetFileRequest>("GET", "/v1/files/docs/a%20b.txt", ""),
            Text<GetFileRequest>(R"(path: "docs/a b.txt")"));
  // A blank body is no body.
  EXPECT_EQ(Request<GetThingRequest>("GET", "/v1/things/1", " \r\n"), Text<GetThingRequest>(R"(id: "1")"));
}

TEST(ParseQueryStringTest, DecodesInOrder) {
  auto q = ParseQueryString("a=1&b=x+y%2Bz&&tags=a&tags=b%26c&flag&e=");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(*q, (Query{{"a", "1"}, {"b", "x y+z"}, {"tags", "a"}, {"tags", "b&c"}, {"flag", ""}, {"e", ""}}));
  EXPECT_TRUE(ParseQueryString("")->empty());
  EXPECT_EQ(ParseQueryString("=1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseQueryString("a=%G1").status().message(), "query parameter \"a=%G1\": bad percent-encoding");
}

TEST_F(TranscodeTest, PathAndQueryStringsMustBeUtf8) {
  EXPECT_EQ(Request<GetThingRequest>("GET", "/v1/things/%FF", ""),
            "ERROR INVALID_ARGUMENT: id: is not valid UTF-8");
  EXPECT_EQ(Request<ListThingsRequest>("GET", "/v1/things", "", {{"filter.owner", "a\xc3"}}),
            "ERROR INVALID_ARGUMENT: filter.owner: is not valid UTF-8");
}

TEST_F(TranscodeTest, BodyRefusedWithoutBodyBinding) {
  EXPECT_EQ(Request<GetThingRequest>("GET", "/v1/things/1", "{}"),
            "ERROR INVALID_ARGUMENT: GET /v1/things/{id=*} takes no request body");
}

TEST_F(TranscodeTest, QueryParametersScalarsNestedRepeatedEnumInt64) {
  EXPECT_EQ(Request<ListThingsRequest>("GET", "/v1/things", "",
                                       {{"page_size", "10"},
                                        {"pageToken", "abc"},
                                        {"filter.owner", "ann"},
                                        {"filter.includeArchived", "true"},
                                        {"tags", "a"},
                                        {"tags", "b"},
                                        {"state", "THING_STATE_ACTIVE"},
                                        {"minSize", "9007199254740993"}}),
            Text<ListThingsRequest>(R"(page_size: 10 page_token: "abc"
                                       filter { owner: "ann" include_archived: true }
                                       tags: "a" tags: "b" state: THING_STATE_ACTIVE
                                       min_size: 9007199254740993)"));
}

TEST_F(TranscodeTest, QueryParameterErrorsNameTheParameter) {
  auto err = [&](const Query& q) { return Request<ListThingsRequest>("GET", "/v1/things", "", q); };
  EXPECT_EQ(err({{"nope", "1"}}), "ERROR INVALID_ARGUMENT: unknown query parameter \"nope\"");
  EXPECT_EQ(err({{"filter.nope", "1"}}), "ERROR INVALID_ARGUMENT: unknown query parameter \"filter.nope\"");
  EXPECT_EQ(err({{"page_size.x", "1"}}), "ERROR INVALID_ARGUMENT: unknown query parameter \"page_size.x\"");
  EXPECT_THAT(err({{"owners.name", "x"}}), HasSubstr("repeated message field owners"));
  EXPECT_THAT(err({{"filter", "x"}}), HasSubstr("field filter is a message"));
  EXPECT_EQ(err({{"page_size", "ten"}}),
            "ERROR INVALID_ARGUMENT: page_size: must be an integer from -2147483648 to 2147483647 (got \"ten\")");
  EXPECT_EQ(err({{"page_size", "99999999999"}}),
            "ERROR INVALID_ARGUMENT: page_size: must be an integer from -2147483648 to 2147483647 "
            "(got \"99999999999\")");
  EXPECT_EQ(err({{"filter.include_archived", "yes"}}),
            "ERROR INVALID_ARGUMENT: filter.include_archived: must be true or false (got \"yes\")");
  // Enum names are case-sensitive; a bad one lists the allowed values.
  EXPECT_EQ(err({{"state", "thing_state_active"}}),
            "ERROR INVALID_ARGUMENT: state: must be one of THING_STATE_UNSPECIFIED, THING_STATE_ACTIVE, "
            "THING_STATE_ARCHIVED (got \"thing_state_active\")");
  EXPECT_EQ(err({{"page_size", "1"}, {"pageSize", "2"}}),
            "ERROR INVALID_ARGUMENT: query parameter \"pageSize\" given more than once");
}

TEST_F(TranscodeTest, QueryCannotSetPathOrBodyFields) {
  EXPECT_EQ(Request<GetThingRequest>("GET", "/v1/things/1", "", {{"id", "2"}}),
            "ERROR INVALID_ARGUMENT: query parameter \"id\": field id is bound by the path");
  EXPECT_EQ(Request<CreateThingRequest>("POST", "/v1/things", "{}", {{"thing.display_name", "x"}}),
            "ERROR INVALID_ARGUMENT: query parameter \"thing.display_name\": field thing.display_name is "
            "bound by the body");
  EXPECT_EQ(Request<ArchiveThingRequest>("POST", "/v1/things/1:archive", "{}", {{"force", "true"}}),
            "ERROR INVALID_ARGUMENT: query parameter \"force\" not allowed: the body carries every field");
}

TEST_F(TranscodeTest, BodyFieldWithQuery) {
  EXPECT_EQ(Request<CreateThingRequest>(
                "POST", "/v1/things",
                R"({"displayName":"Desk","size_bytes":"12","pinned":true,"state":"THING_STATE_ACTIVE",
                    "tags":["a","b"],"owner":{"name":"ann"},"score":1.5})",
                {{"validateOnly", "true"}}),
            Text<CreateThingRequest>(R"(thing { display_name: "Desk" size_bytes: 12 pinned: true
                                         state: THING_STATE_ACTIVE tags: "a" tags: "b" owner { name: "ann" }
                                         score: 1.5 } validate_only: true)"));
}

// Issues 15 and 16: a refused body names every bad field as the proto spells it, in the suite's words,
// with each one in the details; protobuf's parser text ("Root element must be a message.") never shows.
TEST_F(TranscodeTest, BodyErrors) {
  auto create = [&](std::string_view body) { return Request<CreateThingRequest>("POST", "/v1/things", body); };
  EXPECT_EQ(create(R"({"displayName":"x","colour":"red"})"), "ERROR INVALID_ARGUMENT: thing.colour: unknown field");
  EXPECT_EQ(create(R"({"owner":{"nickname":"x"}})"), "ERROR INVALID_ARGUMENT: thing.owner.nickname: unknown field");
  EXPECT_EQ(create(R"({"displayName": )"), "ERROR INVALID_ARGUMENT: thing: is not valid JSON (at byte 17)");
  EXPECT_EQ(create("[1,2]"), "ERROR INVALID_ARGUMENT: thing: must be a JSON object");
  EXPECT_EQ(create("{\"displayName\":\"\xff\xfe\"}"), "ERROR INVALID_ARGUMENT: thing: is not valid JSON (at byte 17)");
  // Enum names are case-sensitive; a bad one lists the allowed values.
  EXPECT_EQ(create(R"({"state":"thing_state_active"})"),
            "ERROR INVALID_ARGUMENT: thing.state: must be one of THING_STATE_UNSPECIFIED, THING_STATE_ACTIVE, "
            "THING_STATE_ARCHIVED");
  // Every violation at once, in body order; the message names the first and counts the rest.
  RouteMatch m = Match("POST", "/v1/things");
  absl::StatusOr<std::string> bytes =
      BuildRequest(m, R"({"sizeBytes":"x","pinned":"maybe","tags":"a","owner":{"nickname":"x"}})", {});
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().message(),
            "thing.size_bytes: must be an integer from -9223372036854775808 to 9223372036854775807 (and 3 more)");
  EXPECT_THAT(FieldViolations(bytes.status()),
              ::testing::ElementsAre(
                  FieldViolation{"thing.size_bytes",
                                 "must be an integer from -9223372036854775808 to 9223372036854775807"},
                  FieldViolation{"thing.pinned", "must be true or false"},
                  FieldViolation{"thing.tags", "must be a JSON array"},
                  FieldViolation{"thing.owner.nickname", "unknown field"}));
}

// Issue 15: a million nested arrays in a repeated field used to reach protobuf's parser (1.5 s of CPU);
// now the depth guard refuses it, naming the field, before any parsing.
TEST_F(TranscodeTest, DeeplyNestedBodyIsRefusedBeforeParsing) {
  const std::string deep = R"({"tags":)" + std::string(1'000'000, '[') + std::string(1'000'000, ']') + "}";
  RouteMatch m = Match("POST", "/v1/things");
  absl::StatusOr<std::string> bytes = BuildRequest(m, deep, {});
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bytes.status().message()), HasSubstr("nested deeper than 64 levels at thing.tags[0]"));
  ASSERT_EQ(FieldViolations(bytes.status()).size(), 1u);
  EXPECT_EQ(FieldViolations(bytes.status())[0].field, "thing.tags");
  // The same for body "*".
  EXPECT_THAT(Request<ArchiveThingRequest>("POST", "/v1/things/1:archive",
                                           R"({"x":)" + std::string(65, '[') + std::string(65, ']') + "}"),
              HasSubstr("ERROR INVALID_ARGUMENT: request body: nested deeper than 64 levels at x[0]"));
  // Exactly at the bound (the body object is level 1) the parser decides as before; one more is refused.
  const std::string at_bound = R"({"tags":)" + std::string(63, '[') + R"("a")" + std::string(63, ']') + "}";
  EXPECT_EQ(Request<CreateThingRequest>("POST", "/v1/things", at_bound), Text<CreateThingRequest>(R"(thing { tags: "a" })"));
  const std::string over = R"({"tags":)" + std::string(64, '[') + R"("a")" + std::string(64, ']') + "}";
  EXPECT_EQ(Request<CreateThingRequest>("POST", "/v1/things", over),
            "ERROR INVALID_ARGUMENT: request body: nested deeper than 64 levels at "
            "thing.tags[0][0][0][0][0][0][0][0][...]");
}

TEST_F(TranscodeTest, BodyLimit) {
  TranscodeLimits limits;
  limits.max_body_bytes = 10;
  EXPECT_EQ(Request<CreateThingRequest>("POST", "/v1/things", R"({"displayName":"x"})", {}, limits),
            "ERROR RESOURCE_EXHAUSTED: request body of 19 bytes exceeds the limit of 10");
  EXPECT_EQ(Request<CreateThingRequest>("POST", "/v1/things", R"({"id":"1"})", {}, limits),
            Text<CreateThingRequest>(R"(thing { id: "1" })"));
}

TEST_F(TranscodeTest, StarBodyWithPathVariableAndVerb) {
  EXPECT_EQ(Request<ArchiveThingRequest>("POST", "/v1/things/7:archive", R"({"reason":"old","force":true})"),
            Text<ArchiveThingRequest>(R"(id: "7" reason: "old" force: true)"));
  // The body may repeat the path value, but not contradict it.
  EXPECT_EQ(Request<ArchiveThingRequest>("POST", "/v1/things/7:archive", R"({"id":"7"})"),
            Text<ArchiveThingRequest>(R"(id: "7")"));
  EXPECT_EQ(Request<ArchiveThingRequest>("POST", "/v1/things/7:archive", R"({"id":"8"})"),
            "ERROR INVALID_ARGUMENT: field id: the path says \"7\" but the body differs");
}

TEST_F(TranscodeTest, PatchDerivesUpdateMaskFromBodyKeys) {
  EXPECT_EQ(Request<UpdateThingRequest>("PATCH", "/v1/things/7",
                                        R"({"owner":{"email":"e@x"},"displayName":"n","pinned":false})"),
            Text<UpdateThingRequest>(R"(thing { id: "7" display_name: "n" owner { email: "e@x" } }
                                          update_mask { paths: "display_name" paths: "pinned"
                                                        paths: "owner.email" })"));
  // Proto names in the body, an empty object and a repeated field are leaves.
  EXPECT_EQ(Request<UpdateThingRequest>("PATCH", "/v1/things/7", R"({"size_bytes":"5","owner":{},"tags":[]})"),
            Text<UpdateThingRequest>(R"(thing { id: "7" size_bytes: 5 owner {} }
                                          update_mask { paths: "size_bytes" paths: "tags" paths: "owner" })"));
  // The id from the body is in the mask too if the client sent it (and it must agree with the path).
  EXPECT_EQ(Request<UpdateThingRequest>("PATCH", "/v1/things/7", R"({"id":"7"})"),
            Text<UpdateThingRequest>(R"(thing { id: "7" } update_mask { paths: "id" })"));
  EXPECT_EQ(Request<UpdateThingRequest>("PATCH", "/v1/things/7", R"({"id":"8"})"),
            "ERROR INVALID_ARGUMENT: field thing.id: the path says \"7\" but the body differs");
}

TEST_F(TranscodeTest, PatchKeepsAClientMask) {
  EXPECT_EQ(Request<UpdateThingRequest>("PATCH", "/v1/things/7", R"({"displayName":"n","pinned":true})",
                                        {{"updateMask", "displayName"}}),
            Text<UpdateThingRequest>(R"(thing { id: "7" display_name: "n" pinned: true }
                                          update_mask { paths: "display_name" })"));
  EXPECT_EQ(Request<UpdateThingRequest>("PATCH", "/v1/things/7", R"({"displayName":"n"})",
                                        {{"update_mask", "displayName,owner.name"}}),
            Text<UpdateThingRequest>(R"(thing { id: "7" display_name: "n" }
                                          update_mask { paths: "display_name" paths: "owner.name" })"));
}

TEST_F(TranscodeTest, ResponseToJsonPrintsPerPolicy) {
  RouteMatch m = Match("GET", "/v1/things/7");
  testing::v1::Thing thing;
  thing.set_id("7");
  thing.set_size_bytes(9007199254740993);
  thing.set_state(testing::v1::THING_STATE_ARCHIVED);
  thing.add_tags("a");
  auto json = ResponseToJson(m, thing.SerializeAsString());
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json,
            R"({"id":"7","displayName":"","sizeBytes":"9007199254740993","pinned":false,)"
            R"("state":"THING_STATE_ARCHIVED","tags":["a"],"score":0,"version":"0"})");
  // An empty message prints every primitive field with its default.
  json = ResponseToJson(m, "");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json, R"({"id":"","displayName":"","sizeBytes":"0","pinned":false,)"
                   R"("state":"THING_STATE_UNSPECIFIED","tags":[],"score":0,"version":"0"})");
}

TEST_F(TranscodeTest, ResponseBodyField) {
  RouteMatch m = Match("GET", "/v1/things/7/owner");
  testing::v1::GetThingOwnerResponse resp;
  resp.mutable_owner()->set_name("ann");
  resp.set_etag("e1");
  auto json = ResponseToJson(m, resp.SerializeAsString());
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json, R"({"name":"ann","email":""})");
}

TEST_F(TranscodeTest, ResponseErrors) {
  RouteMatch m = Match("GET", "/v1/things/7");
  EXPECT_EQ(ResponseToJson(m, "\xff\xff\xff").status().code(), absl::StatusCode::kInternal);
  TranscodeLimits limits;
  limits.max_response_bytes = 2;
  EXPECT_EQ(ResponseToJson(m, "\x0a\x01x", limits).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(TranscodeTest, DeleteViaAdditionalBindings) {
  EXPECT_EQ(Request<testing::v1::DeleteThingRequest>("DELETE", "/v1/owners/ann/things/7", ""),
            Text<testing::v1::DeleteThingRequest>(R"(id: "7" owner: "ann")"));
  EXPECT_EQ(Request<testing::v1::DeleteThingRequest>("POST", "/v1/things/7:delete", "", {{"owner", "bob"}}),
            Text<testing::v1::DeleteThingRequest>(R"(id: "7" owner: "bob")"));
}

}  // namespace
}  // namespace crm::gateway

namespace crm::gateway {
namespace {

// Non-message body and response_body fields, on a pool built from a text descriptor.
class ScalarFieldsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"pb(
      name: "s.proto" package: "s" syntax: "proto3"
      enum_type { name: "Color" value { name: "RED" number: 0 } value { name: "BLUE" number: 1 } }
      message_type {
        name: "M"
        field { name: "tags" number: 1 type: TYPE_STRING label: LABEL_REPEATED json_name: "tags" }
        field { name: "count" number: 2 type: TYPE_INT64 label: LABEL_OPTIONAL json_name: "count" }
        field { name: "color" number: 3 type: TYPE_ENUM type_name: ".s.Color" label: LABEL_OPTIONAL
                json_name: "color" }
        field { name: "name" number: 4 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "name" }
      }
      service {
        name: "S"
        method { name: "Tags" input_type: ".s.M" output_type: ".s.M"
                 options { [google.api.http] { get: "/tags" response_body: "tags" } } }
        method { name: "Count" input_type: ".s.M" output_type: ".s.M"
                 options { [google.api.http] { get: "/count" response_body: "count" } } }
        method { name: "Color" input_type: ".s.M" output_type: ".s.M"
                 options { [google.api.http] { get: "/color" response_body: "color" } } }
        method { name: "SetTags" input_type: ".s.M" output_type: ".s.M"
                 options { [google.api.http] { post: "/tags/{name}" body: "tags" } } }
        method { name: "SetCount" input_type: ".s.M" output_type: ".s.M"
                 options { [google.api.http] { put: "/count" body: "count" } } }
      })pb", &file));
    ASSERT_NE(pool_.BuildFile(file), nullptr);
    auto router = Router::Build(pool_, {"s.S"});
    ASSERT_TRUE(router.ok()) << router.status();
    router_ = std::make_unique<Router>(*std::move(router));
  }

  std::string Json(std::string_view path, const std::string& response_text) {
    auto m = router_->Match("GET", path);
    EXPECT_TRUE(m.ok()) << m.status();
    std::unique_ptr<google::protobuf::Message> msg(m->factory->GetPrototype(m->method->output_type())->New());
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(response_text, msg.get()));
    auto json = ResponseToJson(*m, msg->SerializeAsString());
    return json.ok() ? *json : std::string(json.status().message());
  }

  std::string Body(std::string_view method, std::string_view path, std::string_view body) {
    auto m = router_->Match(method, path);
    EXPECT_TRUE(m.ok()) << m.status();
    auto bytes = BuildRequest(*m, body, {});
    if (!bytes.ok()) return "ERROR " + std::string(bytes.status().message());
    std::unique_ptr<google::protobuf::Message> msg(m->factory->GetPrototype(m->method->input_type())->New());
    EXPECT_TRUE(msg->ParseFromString(*bytes));
    return msg->ShortDebugString();
  }

  google::protobuf::DescriptorPool pool_;
  std::unique_ptr<Router> router_;
};

TEST_F(ScalarFieldsTest, ResponseBodyScalarsAndRepeated) {
  EXPECT_EQ(Json("/tags", R"(tags: "a" tags: "b\"c" count: 3)"), R"(["a","b\"c"])");
  EXPECT_EQ(Json("/tags", "count: 3"), "[]");
  EXPECT_EQ(Json("/count", R"(count: 12 tags: "x")"), R"("12")");
  EXPECT_EQ(Json("/count", ""), R"("0")");
  EXPECT_EQ(Json("/color", "color: BLUE"), R"("BLUE")");
  EXPECT_EQ(Json("/color", ""), R"("RED")");
}

TEST_F(ScalarFieldsTest, BodyScalarAndRepeatedFields) {
  EXPECT_EQ(Body("POST", "/tags/n", R"(["a","b"])"), R"(tags: "a" tags: "b" name: "n")");
  EXPECT_EQ(Body("PUT", "/count", R"("7")"), "count: 7");
  EXPECT_EQ(Body("PUT", "/count", "7"), "count: 7");
  // A body cannot smuggle in other fields around the value.
  EXPECT_EQ(Body("PUT", "/count", R"(7, "name": "x")"), "ERROR count: the body must be a single JSON value");
  EXPECT_EQ(Body("PUT", "/count", R"("x")"),
            "ERROR count: must be an integer from -9223372036854775808 to 9223372036854775807");
}

}  // namespace
}  // namespace crm::gateway
