#include "services/gateway/transcode/router.h"

#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "google/api/annotations.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "services/gateway/transcode/descriptor_set.h"

namespace crm::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr char kService[] = "crm.testing.v1.TranscodeTestService";

// Loads the descriptor set crm_descriptor_set() made from transcode.proto into `pool`.
std::vector<std::string> LoadTestingSet(google::protobuf::DescriptorPool* pool) {
  auto services = LoadDescriptorSetFiles({CRM_TRANSCODE_TESTING_PB}, pool);
  EXPECT_TRUE(services.ok()) << services.status();
  return services.ok() ? *services : std::vector<std::string>{};
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::string> services = LoadTestingSet(&pool_);
    ASSERT_THAT(services, ElementsAre(kService));
    auto router = Router::Build(pool_, services);
    ASSERT_TRUE(router.ok()) << router.status();
    router_ = std::make_unique<Router>(*std::move(router));
  }

  // Returns "<rpc name> k=v k=v" for a successful match, or the status code name.
  std::string MatchStr(std::string_view method, std::string_view path) {
    auto m = router_->Match(method, path);
    if (!m.ok()) return absl::StatusCodeToString(m.status().code());
    std::string out = m->method->name();
    for (const auto& [k, v] : m->variables) out += " " + k + "=" + v;
    return out;
  }

  google::protobuf::DescriptorPool pool_;
  std::unique_ptr<Router> router_;
};

TEST(DescriptorSetTest, HttpOptionSurvivesTheDescriptorSetFile) {
  google::protobuf::DescriptorPool pool;
  LoadTestingSet(&pool);
  const google::protobuf::MethodDescriptor* m =
      pool.FindMethodByName("crm.testing.v1.TranscodeTestService.UpdateThing");
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->options().HasExtension(google::api::http));
  const google::api::HttpRule& rule = m->options().GetExtension(google::api::http);
  EXPECT_EQ(rule.patch(), "/v1/things/{thing.id}");
  EXPECT_EQ(rule.body(), "thing");
  // Source info is kept (--include_source_info): comments reach the pool.
  google::protobuf::SourceLocation loc;
  ASSERT_TRUE(m->GetSourceLocation(&loc));
  EXPECT_THAT(loc.leading_comments, HasSubstr("PATCH"));
}

TEST(DescriptorSetTest, LoadingTwiceIntoOnePoolIsFine) {
  google::protobuf::DescriptorPool pool;
  auto services = LoadDescriptorSetFiles({CRM_TRANSCODE_TESTING_PB, CRM_TRANSCODE_TESTING_PB}, &pool);
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, ElementsAre(kService));
}

TEST(DescriptorSetTest, ADifferentFileOfTheSameNameIsRefused) {
  google::protobuf::DescriptorPool pool;
  google::protobuf::FileDescriptorProto other;
  other.set_name("google/api/http.proto");
  other.set_package("google.api");
  ASSERT_NE(pool.BuildFile(other), nullptr);
  auto services = LoadDescriptorSetFiles({CRM_TRANSCODE_TESTING_PB}, &pool);
  EXPECT_EQ(services.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(services.status().message()),
              HasSubstr("google/api/http.proto differs from the file of that name already loaded"));
}

TEST(DescriptorSetTest, Errors) {
  google::protobuf::DescriptorPool pool;
  EXPECT_EQ(LoadDescriptorSetFiles({"/nonexistent.pb"}, &pool).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(AddDescriptorSet("\xff\xff garbage", &pool).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RouterTest, ListsEveryBindingIncludingAdditionalOnesAndSkipsUnannotated) {
  std::vector<std::string> routes;
  for (const Route& r : router_->routes()) {
    routes.push_back(r.method->name() + " " + r.http_method + " " + r.path.ToString());
    EXPECT_TRUE(r.binding.additional_bindings().empty());
  }
  EXPECT_THAT(routes, ElementsAre("GetThing GET /v1/things/{id=*}", "ListThings GET /v1/things",
                                  "CreateThing POST /v1/things", "UpdateThing PATCH /v1/things/{thing.id=*}",
                                  "ArchiveThing POST /v1/things/{id=*}:archive",
                                  "GetBook GET /v1/{name=shelves/*/books/*}", "GetFile GET /v1/files/{path=**}",
                                  "DeleteThing DELETE /v1/things/{id=*}", "DeleteThing POST /v1/things/{id=*}:delete",
                                  "DeleteThing DELETE /v1/owners/{owner=*}/things/{id=*}",
                                  "GetThingOwner GET /v1/things/{id=*}/owner", "ReceiveHook POST /v1/hooks/{hook=*}",
                                  "UploadRaw POST /v1/raw", "GetThingImage GET /v1/things/{id=*}/image",
                                  "ExportThing GET /v1/things/{id=*}/export"));
}

TEST_F(RouterTest, MatchesEveryShape) {
  EXPECT_EQ(MatchStr("GET", "/v1/things/42"), "GetThing id=42");
  EXPECT_EQ(MatchStr("GET", "/v1/things"), "ListThings");
  EXPECT_EQ(MatchStr("GET", "/v1/things?page_size=3#frag"), "ListThings");
  EXPECT_EQ(MatchStr("POST", "/v1/things"), "CreateThing");
  EXPECT_EQ(MatchStr("PATCH", "/v1/things/7"), "UpdateThing thing.id=7");
  EXPECT_EQ(MatchStr("POST", "/v1/things/7:archive"), "ArchiveThing id=7");
  EXPECT_EQ(MatchStr("GET", "/v1/shelves/s1/books/b2"), "GetBook name=shelves/s1/books/b2");
  EXPECT_EQ(MatchStr("GET", "/v1/files/a/b/c.txt"), "GetFile path=a/b/c.txt");
  EXPECT_EQ(MatchStr("GET", "/v1/files"), "GetFile path=");  // "**" matches zero segments
  EXPECT_EQ(MatchStr("DELETE", "/v1/things/7"), "DeleteThing id=7");
  EXPECT_EQ(MatchStr("POST", "/v1/things/7:delete"), "DeleteThing id=7");
  EXPECT_EQ(MatchStr("DELETE", "/v1/owners/ann/things/7"), "DeleteThing owner=ann id=7");
  EXPECT_EQ(MatchStr("GET", "/v1/things/7/owner"), "GetThingOwner id=7");
}

TEST_F(RouterTest, MatchCarriesTheBindingAndTheMethod) {
  auto m = router_->Match("POST", "/v1/things/7:delete");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->method->full_name(), "crm.testing.v1.TranscodeTestService.DeleteThing");
  EXPECT_EQ(m->route->method, m->method);
  EXPECT_EQ(m->route->binding.post(), "/v1/things/{id}:delete");
  EXPECT_NE(m->factory, nullptr);
}

TEST_F(RouterTest, VerbFallsBackToAPlainSegment) {
  // No GET binding has the verb "archive", so the colon is part of the id.
  EXPECT_EQ(MatchStr("GET", "/v1/things/7:archive"), "GetThing id=7:archive");
  EXPECT_EQ(MatchStr("GET", "/v1/things/a:b:c"), "GetThing id=a:b:c");
  EXPECT_EQ(MatchStr("POST", "/v1/things/7:unknown"), "FAILED_PRECONDITION");  // path 7:unknown is GET/DELETE
}

TEST_F(RouterTest, NotFound) {
  EXPECT_EQ(MatchStr("GET", "/v2/things"), "NOT_FOUND");
  EXPECT_EQ(MatchStr("GET", "/v1/things/1/2/3"), "NOT_FOUND");
  EXPECT_EQ(MatchStr("GET", "/v1/shelves/s1/books"), "NOT_FOUND");
  EXPECT_EQ(MatchStr("GET", "/v1/things/"), "NOT_FOUND");  // empty segment is no id
  EXPECT_EQ(MatchStr("GET", "/"), "NOT_FOUND");
  EXPECT_EQ(MatchStr("GET", ""), "INVALID_ARGUMENT");
  EXPECT_EQ(MatchStr("GET", "v1/things"), "INVALID_ARGUMENT");
  auto m = router_->Match("GET", "/nope");
  EXPECT_FALSE(IsMethodNotAllowed(m.status()));
  EXPECT_EQ(AllowedMethods(m.status()), "");
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("/nope"));
}

TEST_F(RouterTest, MethodNotAllowedListsTheAllowedMethods) {
  auto m = router_->Match("PUT", "/v1/things/7");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(IsMethodNotAllowed(m.status()));
  EXPECT_EQ(AllowedMethods(m.status()), "DELETE, GET, PATCH");
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("method not allowed"));
  EXPECT_EQ(AllowedMethods(router_->Match("DELETE", "/v1/things").status()), "GET, POST");
  EXPECT_EQ(AllowedMethods(router_->Match("GET", "/v1/things/7:archive:x").status()), "");  // GET matches
  // Case-sensitive methods: "get" is not GET.
  EXPECT_TRUE(IsMethodNotAllowed(router_->Match("get", "/v1/things").status()));
}

TEST_F(RouterTest, PercentDecoding) {
  // A single-segment variable decodes everything, %2F included.
  EXPECT_EQ(MatchStr("GET", "/v1/things/a%2Fb%20c%3A"), "GetThing id=a/b c:");
  // A multi-segment variable keeps %2F so its own '/' stay distinguishable.
  EXPECT_EQ(MatchStr("GET", "/v1/files/dir%2Fname/x%20y"), "GetFile path=dir%2Fname/x y");
  EXPECT_EQ(MatchStr("GET", "/v1/shelves/s%31/books/b%2f"), "GetBook name=shelves/s1/books/b%2f");
  // Literals are compared undecoded.
  EXPECT_EQ(MatchStr("GET", "/v1/thing%73"), "NOT_FOUND");
  // Broken escapes in a captured value.
  EXPECT_EQ(MatchStr("GET", "/v1/things/%zz"), "INVALID_ARGUMENT");
  EXPECT_EQ(MatchStr("GET", "/v1/things/abc%2"), "INVALID_ARGUMENT");
}

// A pool with one file built from `methods` (text-format MethodDescriptorProtos of service p.S whose
// input is p.Req {id, name, a, b, path: string; sub: p.Sub {x}}).
absl::StatusOr<Router> BuildSynthetic(google::protobuf::DescriptorPool* pool, const std::string& methods) {
  google::protobuf::FileDescriptorProto file;
  std::string text = R"pb(
    name: "p.proto" package: "p" syntax: "proto3"
    message_type { name: "Sub" field { name: "x" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL } }
    message_type {
      name: "Req"
      field { name: "id" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL }
      field { name: "name" number: 2 type: TYPE_STRING label: LABEL_OPTIONAL }
      field { name: "a" number: 3 type: TYPE_STRING label: LABEL_OPTIONAL }
      field { name: "b" number: 4 type: TYPE_STRING label: LABEL_OPTIONAL }
      field { name: "path" number: 5 type: TYPE_STRING label: LABEL_OPTIONAL }
      field { name: "sub" number: 6 type: TYPE_MESSAGE type_name: ".p.Sub" label: LABEL_OPTIONAL }
      field { name: "tags" number: 7 type: TYPE_STRING label: LABEL_REPEATED }
    }
    service { name: "S" )pb" + methods + "}";
  if (!google::protobuf::TextFormat::ParseFromString(text, &file)) {
    return absl::InternalError("bad test descriptor text");
  }
  if (pool->BuildFile(file) == nullptr) return absl::InternalError("test descriptor does not build");
  return Router::Build(*pool, {"p.S"});
}

std::string Method(const std::string& name, const std::string& rule) {
  return "method { name: \"" + name + "\" input_type: \".p.Req\" output_type: \".p.Sub\" " +
         "options { [google.api.http] { " + rule + " } } }";
}

TEST(RouterPrecedenceTest, LiteralBeatsStarBeatsDoubleStarWithBacktracking) {
  google::protobuf::DescriptorPool pool;
  auto router = BuildSynthetic(&pool, Method("ById", R"(get: "/p/{id}")") +
                                          Method("Special", R"(get: "/p/special")") +
                                          Method("Rest", R"(get: "/p/{path=**}")") +
                                          Method("StarX", R"(get: "/p/{a}/x")") +
                                          Method("SpecialStar", R"(get: "/p/special/{b}")"));
  ASSERT_TRUE(router.ok()) << router.status();
  auto name = [&](std::string_view path) {
    auto m = router->Match("GET", path);
    return m.ok() ? m->method->name() : std::string(absl::StatusCodeToString(m.status().code()));
  };
  EXPECT_EQ(name("/p/special"), "Special");
  EXPECT_EQ(name("/p/other"), "ById");
  EXPECT_EQ(name("/p/special/x"), "SpecialStar");
  EXPECT_EQ(name("/p/q/x"), "StarX");
  EXPECT_EQ(name("/p/special/x/y"), "Rest");  // both literal and "*" branches fail further down
  EXPECT_EQ(name("/p/a/b/c"), "Rest");
}

TEST(RouterBuildTest, ConflictingBindingsNameBothMethods) {
  google::protobuf::DescriptorPool pool;
  auto router = BuildSynthetic(&pool, Method("A", R"(get: "/p/{id}")") + Method("B", R"(get: "/p/{name}")"));
  ASSERT_FALSE(router.ok());
  EXPECT_EQ(router.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(router.status().message()), HasSubstr("conflicting http bindings GET /p/*"));
  EXPECT_THAT(std::string(router.status().message()), HasSubstr("p.S.A"));
  EXPECT_THAT(std::string(router.status().message()), HasSubstr("p.S.B"));
}

TEST(RouterBuildTest, ConflictInsideAdditionalBindings) {
  google::protobuf::DescriptorPool pool;
  auto router = BuildSynthetic(
      &pool, Method("A", R"(get: "/p/{id}" additional_bindings { get: "/p/{name}" })"));
  EXPECT_THAT(std::string(router.status().message()), HasSubstr("conflicting"));
}

TEST(RouterBuildTest, SamePathOtherMethodOrVerbIsNoConflict) {
  google::protobuf::DescriptorPool pool;
  auto router = BuildSynthetic(&pool, Method("A", R"(get: "/p/{id}")") + Method("B", R"(delete: "/p/{id}")") +
                                          Method("C", R"(get: "/p/{id}:x")") +
                                          Method("D", R"(custom { kind: "HEAD" path: "/p/{id}" })"));
  ASSERT_TRUE(router.ok()) << router.status();
  auto m = router->Match("HEAD", "/p/1");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->method->name(), "D");
}

TEST(RouterBuildTest, BadRulesNameTheMethod) {
  struct Case {
    std::string rule;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {R"(get: "p/{id}")", "path template \"p/{id}\" at position 0"},
           {R"(get: "/p/{nope}")", "no field nope in p.Req"},
           {R"(get: "/p/{tags}")", "field tags is repeated"},
           {R"(get: "/p/{sub}")", "field sub is a message"},
           {R"(get: "/p/{id.x}")", "field id is not a message"},
           {R"(post: "/p" body: "nope")", "body names no field"},
           {R"(get: "/p" response_body: "nope")", "response_body names no field"},
           {R"(body: "*")", "without a pattern"},
           {R"(get: "/p" additional_bindings { get: "/q" additional_bindings { get: "/r" } })", "must not nest"},
       }) {
    google::protobuf::DescriptorPool pool;
    auto router = BuildSynthetic(&pool, Method("Bad", c.rule));
    ASSERT_FALSE(router.ok()) << c.rule;
    EXPECT_EQ(router.status().code(), absl::StatusCode::kInvalidArgument) << c.rule;
    EXPECT_THAT(std::string(router.status().message()), HasSubstr("p.S.Bad")) << c.rule;
    EXPECT_THAT(std::string(router.status().message()), HasSubstr(c.message)) << c.rule;
  }
}

TEST(RouterBuildTest, ServicesMustBeNamedAndExist) {
  google::protobuf::DescriptorPool pool;
  LoadTestingSet(&pool);
  EXPECT_EQ(Router::Build(pool, {}).status().code(), absl::StatusCode::kInvalidArgument);
  auto r = Router::Build(pool, {"crm.testing.v1.Nope"});
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("crm.testing.v1.Nope"));
}

}  // namespace
}  // namespace crm::gateway
