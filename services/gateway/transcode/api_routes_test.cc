// The suite's public APIs (build/proto/crm_api.pb, the descriptor set the gateway loads) route: every
// google.api.http binding is valid, none conflicts, and the resource-oriented paths front-end teams
// are promised exist — here for identity (G2).
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "gtest/gtest.h"
#include "services/gateway/transcode/descriptor_set.h"
#include "services/gateway/transcode/router.h"
#include "services/gateway/transcode/transcode.h"

namespace crm::gateway {
namespace {

using ::testing::Contains;

class ApiRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto services = LoadDescriptorSetFiles({CRM_API_PB}, &pool_);
    ASSERT_TRUE(services.ok()) << services.status();
    services_ = *services;
    auto router = Router::Build(pool_, services_);
    ASSERT_TRUE(router.ok()) << router.status();
    router_ = std::make_unique<Router>(*std::move(router));
  }

  std::string MethodFor(std::string_view http_method, std::string_view path) {
    auto m = router_->Match(http_method, path);
    if (!m.ok()) return std::string(m.status().message());
    return m->method->full_name();
  }

  google::protobuf::DescriptorPool pool_;
  std::vector<std::string> services_;
  std::unique_ptr<Router> router_;
};

TEST_F(ApiRoutesTest, IdentityServicesAreInTheDescriptorSet) {
  EXPECT_THAT(services_, Contains("crm.identity.v1.AuthService"));
  EXPECT_THAT(services_, Contains("crm.identity.v1.UserService"));
  EXPECT_THAT(services_, Contains("crm.identity.v1.ApiKeyService"));
}

TEST_F(ApiRoutesTest, IdentityRoutesFollowResourceOrientedDesign) {
  EXPECT_EQ(MethodFor("POST", "/v1/auth:signIn"), "crm.identity.v1.AuthService.SignIn");
  EXPECT_EQ(MethodFor("POST", "/v1/auth:refresh"), "crm.identity.v1.AuthService.Refresh");
  EXPECT_EQ(MethodFor("POST", "/v1/auth:signOut"), "crm.identity.v1.AuthService.SignOut");
  EXPECT_EQ(MethodFor("GET", "/v1/auth/keys"), "crm.identity.v1.AuthService.GetSigningKeys");
  EXPECT_EQ(MethodFor("GET", "/v1/users"), "crm.identity.v1.UserService.ListUsers");
  EXPECT_EQ(MethodFor("GET", "/v1/users/0190f0e2-7c1a-7000-8000-000000000001"),
            "crm.identity.v1.UserService.GetUser");
  EXPECT_EQ(MethodFor("POST", "/v1/users"), "crm.identity.v1.UserService.CreateUser");
  EXPECT_EQ(MethodFor("PATCH", "/v1/users/u1"), "crm.identity.v1.UserService.UpdateUser");
  EXPECT_EQ(MethodFor("POST", "/v1/users/u1:setPassword"), "crm.identity.v1.UserService.SetPassword");
  EXPECT_EQ(MethodFor("POST", "/v1/users/u1/totp:enroll"), "crm.identity.v1.UserService.EnrollTotp");
  EXPECT_EQ(MethodFor("POST", "/v1/users/u1/totp:confirm"), "crm.identity.v1.UserService.ConfirmTotp");
  EXPECT_EQ(MethodFor("GET", "/v1/teams"), "crm.identity.v1.UserService.ListTeams");
  EXPECT_EQ(MethodFor("GET", "/v1/roles"), "crm.identity.v1.UserService.ListRoles");
  EXPECT_EQ(MethodFor("POST", "/v1/apiKeys"), "crm.identity.v1.ApiKeyService.CreateApiKey");
  EXPECT_EQ(MethodFor("GET", "/v1/apiKeys"), "crm.identity.v1.ApiKeyService.ListApiKeys");
  EXPECT_EQ(MethodFor("POST", "/v1/apiKeys/k1:revoke"), "crm.identity.v1.ApiKeyService.RevokeApiKey");
  EXPECT_TRUE(IsMethodNotAllowed(router_->Match("DELETE", "/v1/users/u1").status()));
}

TEST_F(ApiRoutesTest, UpdateUserTakesItsMaskFromThePatchBody) {
  auto m = router_->Match("PATCH", "/v1/users/u1");
  ASSERT_TRUE(m.ok()) << m.status();
  auto bytes = BuildRequest(*m, R"({"fullName":"Иванова Анна Сергеевна","version":"3"})", {});
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  google::protobuf::DynamicMessageFactory factory(&pool_);
  std::unique_ptr<google::protobuf::Message> request(factory.GetPrototype(m->method->input_type())->New());
  ASSERT_TRUE(request->ParseFromString(*bytes));
  EXPECT_EQ(request->ShortDebugString(),
            "user { id: \"u1\" full_name: \"\\320\\230\\320\\262\\320\\260\\320\\275\\320\\276\\320\\262\\320\\260 "
            "\\320\\220\\320\\275\\320\\275\\320\\260 \\320\\241\\320\\265\\321\\200\\320\\263\\320\\265\\320\\265\\320"
            "\\262\\320\\275\\320\\260\" version: 3 } update_mask { paths: \"full_name\" paths: \"version\" }");
}

}  // namespace
}  // namespace crm::gateway
