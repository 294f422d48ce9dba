// Tests of the gateway's OpenAPI document (openapi.h) over the descriptor sets the gateway loads: the
// transcoder's test service (every HttpRule shape), identity's real API, and small synthetic files.
#include "services/gateway/openapi/openapi.h"

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/gateway/transcode/descriptor_set.h"
#include "services/gateway/transcode/router.h"

namespace crm::gateway {
namespace {

using Json = nlohmann::json;

const std::vector<std::string> kPublic = {"crm.identity.v1.AuthService.SignIn",
                                          "crm.identity.v1.AuthService.Refresh",
                                          "crm.identity.v1.AuthService.GetSigningKeys"};

absl::StatusOr<std::string> Generate(const std::string& set, const OpenApiOptions& options) {
  google::protobuf::DescriptorPool pool;
  absl::StatusOr<std::vector<std::string>> services = LoadDescriptorSetFiles({set}, &pool);
  if (!services.ok()) return services.status();
  absl::StatusOr<Router> router = Router::Build(pool, *services);
  if (!router.ok()) return router.status();
  return BuildOpenApiJson(*router, options);
}

Json Doc(const std::string& set) {
  OpenApiOptions o;
  o.public_methods = kPublic;
  absl::StatusOr<std::string> text = Generate(set, o);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? Json::parse(*text) : Json();
}

// Follows a local "$ref" ("#/components/schemas/x") in `doc`; an empty object when it does not resolve.
Json Resolve(const Json& doc, const Json& node) {
  if (!node.is_object() || !node.contains("$ref")) return node;
  const std::string ref = node["$ref"];
  if (ref.rfind("#/", 0) != 0) return Json::object();
  Json::json_pointer ptr(ref.substr(1));
  return doc.contains(ptr) ? doc[ptr] : Json::object();
}

// The parameter named `name` of `op` (refs resolved), or null.
Json Param(const Json& doc, const Json& op, const std::string& name) {
  for (const Json& p : op.value("parameters", Json::array())) {
    Json r = Resolve(doc, p);
    if (r.value("name", "") == name) return r;
  }
  return nullptr;
}

std::set<std::string> ParamNames(const Json& doc, const Json& op, const std::string& in) {
  std::set<std::string> names;
  for (const Json& p : op.value("parameters", Json::array())) {
    Json r = Resolve(doc, p);
    if (r.value("in", "") == in) names.insert(r["name"].get<std::string>());
  }
  return names;
}

void CollectRefs(const Json& node, std::vector<std::string>& refs) {
  if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (it.key() == "$ref" && it->is_string()) refs.push_back(*it);
      CollectRefs(*it, refs);
    }
  } else if (node.is_array()) {
    for (const Json& n : node) CollectRefs(n, refs);
  }
}

class TranscodeDocTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { doc_ = new Json(Doc(CRM_TRANSCODE_TESTING_PB)); }
  static void TearDownTestSuite() { delete doc_; }
  const Json& doc() { return *doc_; }
  Json Schema(const std::string& name) { return doc()["components"]["schemas"][name]; }
  static Json* doc_;
};
Json* TranscodeDocTest::doc_ = nullptr;

TEST_F(TranscodeDocTest, IsOpenApi303WithSecurity) {
  EXPECT_EQ(doc()["openapi"], "3.0.3");
  EXPECT_EQ(doc()["security"], Json::parse(R"([{"bearerAuth":[]},{"apiKey":[]}])"));
  const Json& schemes = doc()["components"]["securitySchemes"];
  EXPECT_EQ(schemes["bearerAuth"]["type"], "http");
  EXPECT_EQ(schemes["bearerAuth"]["scheme"], "bearer");
  EXPECT_EQ(schemes["bearerAuth"]["bearerFormat"], "JWT");
  EXPECT_EQ(schemes["apiKey"]["type"], "apiKey");
  EXPECT_EQ(schemes["apiKey"]["in"], "header");
  EXPECT_EQ(schemes["apiKey"]["name"], "X-Api-Key");
}

TEST_F(TranscodeDocTest, PathParametersKeepFieldPathsAndShareIdenticalPaths) {
  const Json& item = doc()["paths"]["/v1/things/{id}"];
  ASSERT_TRUE(item.is_object());
  EXPECT_EQ(item["get"]["operationId"], "TranscodeTestService_GetThing");
  EXPECT_EQ(item["delete"]["operationId"], "TranscodeTestService_DeleteThing");
  // PATCH /v1/things/{thing.id} is the same OpenAPI path: it shares the name `id` and says which field.
  EXPECT_EQ(item["patch"]["operationId"], "TranscodeTestService_UpdateThing");
  Json p = Param(doc(), item["patch"], "id");
  ASSERT_TRUE(p.is_object());
  EXPECT_EQ(p["in"], "path");
  EXPECT_EQ(p["required"], true);
  EXPECT_EQ(p["x-field-path"], "thing.id");
  EXPECT_FALSE(doc()["paths"].contains("/v1/things/{thing.id}"));
  Json g = Param(doc(), item["get"], "id");
  EXPECT_EQ(g["x-field-path"], "id");
  EXPECT_EQ(g["schema"]["type"], "string");
}

TEST_F(TranscodeDocTest, MultiSegmentCapturesHaveAPattern) {
  Json book = Param(doc(), doc()["paths"]["/v1/{name}"]["get"], "name");
  ASSERT_TRUE(book.is_object());
  EXPECT_EQ(book["schema"]["pattern"], "^shelves/[^/]+/books/[^/]+$");
  Json file = Param(doc(), doc()["paths"]["/v1/files/{path}"]["get"], "path");
  ASSERT_TRUE(file.is_object());
  EXPECT_EQ(file["schema"]["pattern"], "^.*$");
  EXPECT_NE(file["description"].get<std::string>().find("unescaped"), std::string::npos);
}

TEST_F(TranscodeDocTest, QueryParametersAreFlattenedLeafFields) {
  const Json& op = doc()["paths"]["/v1/things"]["get"];
  EXPECT_EQ(op["operationId"], "TranscodeTestService_ListThings");
  // Repeated message `owners` cannot be set from a query: not documented.
  EXPECT_EQ(ParamNames(doc(), op, "query"),
            (std::set<std::string>{"pageSize", "pageToken", "filter.owner", "filter.includeArchived", "tags",
                                   "state", "minSize"}));
  Json page_size = Param(doc(), op, "pageSize");
  EXPECT_EQ(page_size["schema"], Json::parse(R"({"type":"integer","format":"int32"})"));
  EXPECT_EQ(page_size["required"], false);
  Json tags = Param(doc(), op, "tags");
  EXPECT_EQ(tags["schema"]["type"], "array");
  EXPECT_EQ(tags["schema"]["items"]["type"], "string");
  EXPECT_EQ(tags["explode"], true);
  EXPECT_EQ(tags["style"], "form");
  Json state = Resolve(doc(), Param(doc(), op, "state")["schema"]);
  EXPECT_EQ(state["type"], "string");
  EXPECT_EQ(state["enum"], Json::parse(R"(["THING_STATE_UNSPECIFIED","THING_STATE_ACTIVE","THING_STATE_ARCHIVED"])"));
  Json min_size = Param(doc(), op, "minSize");
  EXPECT_EQ(min_size["schema"]["type"], "string");
  EXPECT_EQ(min_size["schema"]["format"], "int64");
  Json include = Param(doc(), op, "filter.includeArchived");
  EXPECT_EQ(include["schema"]["type"], "boolean");
  EXPECT_FALSE(op.contains("requestBody"));
}

TEST_F(TranscodeDocTest, BodyFieldIsTheBodyAndOtherFieldsAreQuery) {
  const Json& create = doc()["paths"]["/v1/things"]["post"];
  EXPECT_EQ(create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/crm.testing.v1.Thing");
  EXPECT_EQ(ParamNames(doc(), create, "query"), (std::set<std::string>{"validateOnly"}));
  // POST takes an Idempotency-Key and X-Skip-Automation; the body message has an int64 version: If-Match.
  EXPECT_EQ(ParamNames(doc(), create, "header"),
            (std::set<std::string>{"Idempotency-Key", "X-Skip-Automation", "If-Match"}));
  EXPECT_EQ(Param(doc(), create, "X-Skip-Automation")["required"], false);
  EXPECT_TRUE(create["responses"].contains("412"));

  const Json& update = doc()["paths"]["/v1/things/{id}"]["patch"];
  EXPECT_EQ(update["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/crm.testing.v1.Thing");
  EXPECT_EQ(ParamNames(doc(), update, "query"), (std::set<std::string>{"updateMask"}));
  EXPECT_EQ(Param(doc(), update, "updateMask")["schema"]["type"], "string");  // FieldMask
  EXPECT_EQ(ParamNames(doc(), update, "header"), (std::set<std::string>{"X-Skip-Automation", "If-Match"}));
}

TEST_F(TranscodeDocTest, BodyStarIsTheRequestWithoutPathFields) {
  const Json& op = doc()["paths"]["/v1/things/{id}:archive"]["post"];
  EXPECT_EQ(op["operationId"], "TranscodeTestService_ArchiveThing");
  EXPECT_TRUE(ParamNames(doc(), op, "query").empty());
  EXPECT_EQ(ParamNames(doc(), op, "path"), (std::set<std::string>{"id"}));
  const Json& schema = op["requestBody"]["content"]["application/json"]["schema"];
  EXPECT_EQ(schema["type"], "object");
  std::set<std::string> props;
  for (auto it = schema["properties"].begin(); it != schema["properties"].end(); ++it) props.insert(it.key());
  EXPECT_EQ(props, (std::set<std::string>{"reason", "force"}));
  // ArchiveThingRequest has no version: no If-Match, no 412.
  EXPECT_EQ(ParamNames(doc(), op, "header"), (std::set<std::string>{"Idempotency-Key", "X-Skip-Automation"}));
  EXPECT_FALSE(op["responses"].contains("412"));
}

// google.api.HttpBody bodies (transcode/http_body.h) are raw bytes of any type, not a JSON message.
TEST_F(TranscodeDocTest, AnHttpBodyIsARawBody) {
  const Json& hook = doc()["paths"]["/v1/hooks/{hook}"]["post"];
  EXPECT_EQ(hook["requestBody"]["content"]["*/*"]["schema"], (Json{{"type", "string"}, {"format", "binary"}}));
  EXPECT_FALSE(hook["requestBody"]["content"].contains("application/json"));
  EXPECT_EQ(ParamNames(doc(), hook, "query"), (std::set<std::string>{"attempt"}));
  const Json& raw = doc()["paths"]["/v1/raw"]["post"];
  EXPECT_EQ(raw["requestBody"]["content"]["*/*"]["schema"]["format"], "binary");
  EXPECT_FALSE(doc()["components"]["schemas"].contains("google.api.HttpBody"));
}

// Issue 18 (T7, the QR image): a google.api.HttpBody reply (or response_body field) is documented as raw
// bytes of its own type, as the gateway answers it — not as the HttpBody JSON message.
TEST_F(TranscodeDocTest, AnHttpBodyReplyIsRawBytes) {
  const Json binary = Json{{"type", "string"}, {"format", "binary"}};
  for (const std::string path : {"/v1/things/{id}/image", "/v1/things/{id}/export"}) {
    const Json& ok = doc()["paths"][path]["get"]["responses"]["200"];
    ASSERT_TRUE(ok.is_object()) << path;
    EXPECT_EQ(ok["content"], (Json{{"*/*", {{"schema", binary}}}})) << path;
    EXPECT_NE(ok["description"].get<std::string>().find("content_type"), std::string::npos) << path;
    EXPECT_FALSE(ok["headers"].contains("ETag")) << path;
    // Errors stay the JSON error body.
    EXPECT_EQ(doc()["paths"][path]["get"]["responses"]["404"]["$ref"], "#/components/responses/NotFound") << path;
  }
  EXPECT_NE(doc()["paths"]["/v1/things/{id}/export"]["get"]["responses"]["200"]["description"].get<std::string>().find(
                "`file` of `crm.testing.v1.ExportThingResponse`"),
            std::string::npos);
  EXPECT_FALSE(doc()["components"]["schemas"].contains("google.api.HttpBody"));
  EXPECT_FALSE(doc()["components"]["schemas"].contains("google.protobuf.Any"));
}

TEST_F(TranscodeDocTest, AdditionalBindingsAreOperationsToo) {
  EXPECT_EQ(doc()["paths"]["/v1/things/{id}:delete"]["post"]["operationId"], "TranscodeTestService_DeleteThing_1");
  const Json& owner = doc()["paths"]["/v1/owners/{owner}/things/{id}"]["delete"];
  EXPECT_EQ(owner["operationId"], "TranscodeTestService_DeleteThing_2");
  EXPECT_EQ(ParamNames(doc(), owner, "path"), (std::set<std::string>{"owner", "id"}));
  EXPECT_TRUE(ParamNames(doc(), owner, "query").empty());
  EXPECT_EQ(ParamNames(doc(), owner, "header"), (std::set<std::string>{"X-Skip-Automation"}));
  // The primary binding has `owner` as a query parameter.
  EXPECT_EQ(ParamNames(doc(), doc()["paths"]["/v1/things/{id}"]["delete"], "query"),
            (std::set<std::string>{"owner"}));
}

TEST_F(TranscodeDocTest, ResponsesUseTheMessageOrResponseBodyField) {
  const Json& get = doc()["paths"]["/v1/things/{id}"]["get"]["responses"]["200"];
  EXPECT_EQ(get["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/crm.testing.v1.Thing");
  EXPECT_TRUE(get["headers"].contains("ETag"));  // Thing has an int64 version
  EXPECT_TRUE(get["headers"].contains("X-Request-Id"));
  const Json& del = doc()["paths"]["/v1/things/{id}"]["delete"]["responses"]["200"];
  EXPECT_FALSE(del["headers"].contains("ETag"));
  const Json& owner = doc()["paths"]["/v1/things/{id}/owner"]["get"]["responses"]["200"];
  EXPECT_EQ(owner["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/crm.testing.v1.Owner");
}

TEST_F(TranscodeDocTest, MessageSchemasFollowTheProto3JsonMapping) {
  const Json thing = Schema("crm.testing.v1.Thing");
  ASSERT_TRUE(thing.is_object());
  const Json& p = thing["properties"];
  EXPECT_EQ(p["displayName"]["type"], "string");
  EXPECT_FALSE(p.contains("display_name"));
  EXPECT_EQ(p["sizeBytes"]["type"], "string");
  EXPECT_EQ(p["sizeBytes"]["format"], "int64");
  EXPECT_EQ(p["pinned"]["type"], "boolean");
  EXPECT_EQ(p["state"]["$ref"], "#/components/schemas/crm.testing.v1.ThingState");
  EXPECT_EQ(p["tags"]["type"], "array");
  EXPECT_EQ(p["score"]["type"], "number");
  EXPECT_EQ(p["owner"]["$ref"], "#/components/schemas/crm.testing.v1.Owner");
  // A field comment becomes its description (a $ref is wrapped in allOf to keep it).
  EXPECT_NE(p["version"]["description"].get<std::string>().find("Optimistic concurrency"), std::string::npos);
  EXPECT_EQ(Schema("crm.testing.v1.File")["properties"]["size"]["format"], "uint64");
  // Properties keep the declaration order (nlohmann::json sorts keys: look at the text).
  OpenApiOptions o;
  absl::StatusOr<std::string> text = Generate(CRM_TRANSCODE_TESTING_PB, o);
  ASSERT_TRUE(text.ok());
  const size_t thing_at = text->find("\"crm.testing.v1.Thing\": {");
  ASSERT_NE(thing_at, std::string::npos);
  EXPECT_LT(text->find("\"displayName\"", thing_at), text->find("\"sizeBytes\"", thing_at));
  EXPECT_LT(text->find("\"sizeBytes\"", thing_at), text->find("\"version\"", thing_at));
}

TEST_F(TranscodeDocTest, UnroutedMethodsAreNotDocumented) {
  std::string text = doc().dump();
  EXPECT_EQ(text.find("TranscodeTestService.Internal"), std::string::npos);
  EXPECT_NE(text.find("TranscodeTestService.GetThing"), std::string::npos);
}

TEST_F(TranscodeDocTest, ErrorResponsesReferenceTheErrorBody) {
  const Json& error = Schema("Error");
  EXPECT_EQ(error["required"], Json::parse(R"(["error"])"));
  const Json& inner = error["properties"]["error"];
  EXPECT_EQ(inner["required"], Json::parse(R"(["code","status","message","details"])"));
  std::set<std::string> fields;
  for (auto it = inner["properties"].begin(); it != inner["properties"].end(); ++it) fields.insert(it.key());
  EXPECT_EQ(fields, (std::set<std::string>{"code", "status", "message", "details", "retryDelay", "requestId"}));
  std::set<std::string> detail;
  const Json& item = inner["properties"]["details"]["items"]["properties"];
  for (auto it = item.begin(); it != item.end(); ++it) detail.insert(it.key());
  EXPECT_EQ(detail, (std::set<std::string>{"field", "description"}));

  int operations = 0;
  for (auto path = doc()["paths"].begin(); path != doc()["paths"].end(); ++path) {
    for (auto op = path->begin(); op != path->end(); ++op) {
      ++operations;
      const Json& responses = (*op)["responses"];
      ASSERT_TRUE(responses.contains("default")) << path.key() << " " << op.key();
      for (auto r = responses.begin(); r != responses.end(); ++r) {
        if (r.key() == "200") continue;
        Json resolved = Resolve(doc(), *r);
        EXPECT_EQ(resolved["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Error")
            << path.key() << " " << op.key() << " " << r.key();
        EXPECT_TRUE(resolved["headers"].contains("X-Request-Id"));
      }
    }
  }
  EXPECT_EQ(operations, 15 + 4);  // 13 RPCs with 2 additional bindings, and the gateway's own 4
  for (const char* status : {"400", "401", "403", "404", "409", "429", "503", "504"}) {
    EXPECT_TRUE(doc()["paths"]["/v1/things/{id}"]["get"]["responses"].contains(status)) << status;
  }
}

TEST_F(TranscodeDocTest, EveryRefResolvesAndOperationIdsAreUnique) {
  std::vector<std::string> refs;
  CollectRefs(doc(), refs);
  EXPECT_FALSE(refs.empty());
  for (const std::string& ref : refs) {
    EXPECT_NE(Resolve(doc(), Json{{"$ref", ref}}), Json::object()) << ref;
  }
  std::set<std::string> ids;
  for (auto path = doc()["paths"].begin(); path != doc()["paths"].end(); ++path) {
    for (auto op = path->begin(); op != path->end(); ++op) {
      EXPECT_TRUE(ids.insert((*op)["operationId"].get<std::string>()).second) << (*op)["operationId"];
      EXPECT_FALSE((*op)["summary"].get<std::string>().empty());
    }
  }
}

TEST_F(TranscodeDocTest, GatewayEndpointsAreDocumented) {
  EXPECT_EQ(doc()["paths"]["/healthz"]["get"]["security"], Json::array());
  EXPECT_EQ(doc()["paths"]["/readyz"]["get"]["security"], Json::array());
  EXPECT_EQ(doc()["paths"]["/openapi.json"]["get"]["security"], Json::array());
  const Json& stream = doc()["paths"]["/v1/stream"]["get"];
  EXPECT_FALSE(stream.contains("security"));  // needs a caller
  EXPECT_TRUE(stream["responses"]["200"]["content"].contains("text/event-stream"));
  EXPECT_EQ(ParamNames(doc(), stream, "query"), (std::set<std::string>{"access_token"}));
  EXPECT_EQ(ParamNames(doc(), stream, "header"), (std::set<std::string>{"Last-Event-ID"}));
}

TEST(OpenApiTest, OutputIsDeterministic) {
  OpenApiOptions o;
  o.public_methods = kPublic;
  absl::StatusOr<std::string> a = Generate(CRM_OPENAPI_IDENTITY_PB, o);
  absl::StatusOr<std::string> b = Generate(CRM_OPENAPI_IDENTITY_PB, o);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*a, *b);
  // The same document whatever order the public methods are listed in.
  o.public_methods = {kPublic[2], kPublic[0], kPublic[1]};
  absl::StatusOr<std::string> c = Generate(CRM_OPENAPI_IDENTITY_PB, o);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*a, *c);
  o.indent = -1;
  absl::StatusOr<std::string> compact = Generate(CRM_OPENAPI_IDENTITY_PB, o);
  ASSERT_TRUE(compact.ok());
  EXPECT_EQ(compact->find('\n'), std::string::npos);
  EXPECT_EQ(Json::parse(*compact), Json::parse(*a));
}

TEST(OpenApiTest, IdentityApi) {
  Json doc = Doc(CRM_OPENAPI_IDENTITY_PB);
  const Json& paths = doc["paths"];
  // Public methods have empty security; the others inherit the global bearer / API key requirement.
  const Json& sign_in = paths["/v1/auth:signIn"]["post"];
  EXPECT_EQ(sign_in["security"], Json::array());
  EXPECT_EQ(sign_in["operationId"], "AuthService_SignIn");
  EXPECT_EQ(sign_in["tags"], Json::parse(R"(["AuthService"])"));
  EXPECT_EQ(sign_in["summary"],
            "Signs in with a login and password, plus a TOTP code when the user has two-factor enabled or a "
            "role requires it.");
  EXPECT_EQ(paths["/v1/auth/keys"]["get"]["security"], Json::array());
  EXPECT_FALSE(paths["/v1/auth:signOut"]["post"].contains("security"));
  EXPECT_FALSE(paths["/v1/users/{id}"]["get"].contains("security"));
  // Without a comment the summary comes from the method name.
  EXPECT_EQ(paths["/v1/users/{id}"]["get"]["summary"], "Get user");

  // Timestamp, FieldMask, Empty.
  const Json& user = doc["components"]["schemas"]["crm.identity.v1.User"];
  EXPECT_EQ(user["properties"]["createTime"]["type"], "string");
  EXPECT_EQ(user["properties"]["createTime"]["format"], "date-time");
  EXPECT_EQ(user["properties"]["version"]["type"], "string");
  EXPECT_NE(user["properties"]["login"]["description"].get<std::string>().find("case-insensitive"),
            std::string::npos);
  EXPECT_FALSE(doc["components"]["schemas"].contains("google.protobuf.Timestamp"));
  EXPECT_EQ(paths["/v1/auth:signOut"]["post"]["responses"]["200"]["content"]["application/json"]["schema"],
            Json::parse(R"({"type":"object"})"));

  // Dotted path variables keep the field path as the name.
  Json role = Param(doc, paths["/v1/roles/{role.code}"]["patch"], "role.code");
  ASSERT_TRUE(role.is_object());
  EXPECT_EQ(role["x-field-path"], "role.code");
  // UpdateUser: If-Match (User.version), ETag on the reply, updateMask from the query.
  const Json& update = paths["/v1/users/{id}"]["patch"];
  EXPECT_EQ(Param(doc, update, "id")["x-field-path"], "user.id");
  EXPECT_EQ(ParamNames(doc, update, "header"), (std::set<std::string>{"X-Skip-Automation", "If-Match"}));
  EXPECT_EQ(ParamNames(doc, update, "query"), (std::set<std::string>{"updateMask"}));
  EXPECT_TRUE(update["responses"]["200"]["headers"].contains("ETag"));
  EXPECT_TRUE(update["responses"].contains("412"));

  // Tags carry the service comments; the unbound VerifyApiKey is absent.
  bool found = false;
  for (const Json& tag : doc["tags"]) {
    if (tag["name"] == "UserService") {
      found = true;
      EXPECT_EQ(tag["description"].get<std::string>().rfind("Users, teams and roles.", 0), 0u);
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(doc.dump().find("VerifyApiKey"), std::string::npos);

  std::vector<std::string> refs;
  CollectRefs(doc, refs);
  for (const std::string& ref : refs) EXPECT_NE(Resolve(doc, Json{{"$ref", ref}}), Json::object()) << ref;
}

// A pool with one synthetic file: messages of `messages` and service p.S with `methods` (text format).
absl::StatusOr<std::string> Synthetic(const std::string& messages, const std::string& methods) {
  google::protobuf::FileDescriptorProto file;
  const std::string text = R"pb(name: "p.proto" package: "p" syntax: "proto3" )pb" + messages +
                           " service { name: \"S\" " + methods + "}";
  if (!google::protobuf::TextFormat::ParseFromString(text, &file)) return absl::InternalError("bad test descriptor");
  google::protobuf::DescriptorPool pool;
  if (pool.BuildFile(file) == nullptr) return absl::InternalError("test descriptor does not build");
  absl::StatusOr<Router> router = Router::Build(pool, {"p.S"});
  if (!router.ok()) return router.status();
  return BuildOpenApiJson(*router, OpenApiOptions{});
}

constexpr char kMessages[] = R"pb(
  message_type {
    name: "Node"
    field { name: "id" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL }
    field { name: "parent" number: 2 type: TYPE_MESSAGE type_name: ".p.Node" label: LABEL_OPTIONAL }
    field { name: "labels" number: 3 type: TYPE_MESSAGE type_name: ".p.Node.LabelsEntry" label: LABEL_REPEATED }
    field { name: "text" number: 4 type: TYPE_STRING label: LABEL_OPTIONAL oneof_index: 0 }
    field { name: "count" number: 5 type: TYPE_UINT64 label: LABEL_OPTIONAL oneof_index: 0 }
    field { name: "blob" number: 6 type: TYPE_BYTES label: LABEL_OPTIONAL }
    oneof_decl { name: "value" }
    nested_type {
      name: "LabelsEntry"
      field { name: "key" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL }
      field { name: "value" number: 2 type: TYPE_INT64 label: LABEL_OPTIONAL }
      options { map_entry: true }
    }
  }
  message_type {
    name: "Req"
    field { name: "a" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL }
    field { name: "b" number: 2 type: TYPE_STRING label: LABEL_OPTIONAL }
    field { name: "node" number: 3 type: TYPE_MESSAGE type_name: ".p.Node" label: LABEL_OPTIONAL }
  }
)pb";

std::string Method(const std::string& name, const std::string& rule) {
  return "method { name: \"" + name + "\" input_type: \".p.Req\" output_type: \".p.Node\" " +
         "options { [google.api.http] { " + rule + " } } }";
}

TEST(OpenApiTest, MapsOneofsRecursionAndBytes) {
  absl::StatusOr<std::string> text = Synthetic(kMessages, Method("Get", R"(get: "/p/{a}")"));
  ASSERT_TRUE(text.ok()) << text.status();
  Json doc = Json::parse(*text);
  const Json& node = doc["components"]["schemas"]["p.Node"];
  EXPECT_EQ(node["properties"]["parent"]["$ref"], "#/components/schemas/p.Node");  // recursion by $ref
  EXPECT_EQ(node["properties"]["labels"]["type"], "object");
  EXPECT_EQ(node["properties"]["labels"]["additionalProperties"]["format"], "int64");
  EXPECT_EQ(node["properties"]["blob"]["format"], "byte");
  EXPECT_NE(node["properties"]["text"]["description"].get<std::string>().find("oneof `value`"), std::string::npos);
  EXPECT_NE(node["description"].get<std::string>().find("`text`, `count`"), std::string::npos);
  EXPECT_FALSE(doc["components"]["schemas"].contains("p.Node.LabelsEntry"));
  // Query: recursion stops, maps are not query parameters.
  Json op = doc["paths"]["/p/{a}"]["get"];
  EXPECT_EQ(ParamNames(doc, op, "query"),
            (std::set<std::string>{"b", "node.id", "node.text", "node.count", "node.blob"}));
}

TEST(OpenApiTest, NestedPathFieldsLeaveTheStarBody) {
  absl::StatusOr<std::string> text =
      Synthetic(kMessages, Method("Put", R"(put: "/p/{node.id}" body: "*")"));
  ASSERT_TRUE(text.ok()) << text.status();
  Json doc = Json::parse(*text);
  const Json& body = doc["paths"]["/p/{node.id}"]["put"]["requestBody"]["content"]["application/json"]["schema"];
  EXPECT_TRUE(body["properties"].contains("a"));
  const Json& node = body["properties"]["node"];
  EXPECT_FALSE(node["properties"].contains("id"));
  EXPECT_TRUE(node["properties"].contains("parent"));
}

TEST(OpenApiTest, RoutesOpenApiCannotTellApartAreAnError) {
  absl::StatusOr<std::string> text = Synthetic(
      kMessages, Method("A", R"(get: "/p/{a=x/*}")") + Method("B", R"(get: "/p/{b=y/*}")"));
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(text.status().message().find("p.S.A"), std::string::npos);
  EXPECT_NE(text.status().message().find("p.S.B"), std::string::npos);
  // Different methods on one path are fine.
  EXPECT_TRUE(Synthetic(kMessages, Method("A", R"(get: "/p/{a=x/*}")") + Method("B", R"(delete: "/p/{b=y/*}")")).ok());
}

TEST(OpenApiTest, CustomKindsAreListedAsUndocumented) {
  absl::StatusOr<std::string> text =
      Synthetic(kMessages, Method("A", R"(get: "/p/{a}")") + Method("L", R"(custom { kind: "LIST" path: "/p" })"));
  ASSERT_TRUE(text.ok()) << text.status();
  Json doc = Json::parse(*text);
  ASSERT_EQ(doc["x-undocumented-routes"].size(), 1u);
  EXPECT_EQ(doc["x-undocumented-routes"][0]["grpcMethod"], "p.S.L");
  EXPECT_FALSE(doc["paths"].contains("/p"));
}

}  // namespace
}  // namespace crm::gateway
