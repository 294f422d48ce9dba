// File: services/identity/identity_test.cc
// identity end to end: an in-process crm::rpc::Server with the three services on loopback, a fresh
// PostgreSQL database per test (CRM_TEST_PG_DSN), a ManualClock, and principals signed by a test
// "gateway" key the server trusts.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <pqxx/binarystring>
#include <pqxx/pqxx>
#include <set>
#include <sstream>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/identity/v1/events.pb.h"
#include "crm/identity/v1/identity.grpc.pb.h"
#include "libs/auth/jwt.h"
#include "libs/auth/secrets.h"
#include "libs/auth/service_credential.h"
#include "libs/auth/totp.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "libs/rpc/call.h"
#include "libs/rpc/client.h"
#include "libs/rpc/server.h"
#include "libs/rpc/signed_principal.h"
#include "services/identity/api_keys.h"
#include "services/identity/demo.h"
#include "services/identity/keys.h"
#include "services/identity/service.h"
#include "services/identity/sessions.h"
#include "services/identity/store.h"

namespace crm {
const std::vector<crm::pg::Migration>& IdentityMigrations();
}  // namespace crm

namespace crm::identity {
namespace {

namespace v1 = crm::identity::v1;
using crm::common::v1::Principal;

constexpr char kPassword[] = "correct horse battery";

std::string Msg(const grpc::Status& s) { return s.error_message(); }

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = pg::testing::TempDatabase::Create("identity");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    std::vector<pg::Migration> all = EventsMigrations();
    all.insert(all.end(), IdentityMigrations().begin(), IdentityMigrations().end());
    ASSERT_TRUE(pg::Migrate(db_->dsn(), all).ok());
    auto pool = pg::Pool::Create({.dsn = db_->dsn(), .size = 4});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
    store_ = std::make_unique<Store>(*pool_, clock_, auth::PasswordParams{.t_cost = 1, .m_cost_kib = 64});
    ring_ = std::make_unique<KeyRing>(*pool_, clock_, KeyRingOptions{});
    ASSERT_TRUE(ring_->Maintain().ok());
    sessions_ = std::make_unique<Sessions>(*store_, *ring_, SessionOptions{});
    api_keys_ = std::make_unique<ApiKeys>(*store_);
    gateway_key_ = *auth::SigningKey::Generate("gw-test");
    auth::KeySet trusted;
    trusted.Add(gateway_key_->public_key());
    static std::atomic<int> n{0};
    rpc::ServerOptions o;
    o.service = absl::StrCat("identity_t", n++);
    o.grpc_address = "127.0.0.1:0";
    o.metrics_address = "127.0.0.1:0";
    server_ = std::make_unique<rpc::Server>(o);
    server_->SetPrincipalVerifier(rpc::SignedPrincipals(trusted, clock_));
    const Deps deps{store_.get(), sessions_.get(), ring_.get(), api_keys_.get()};
    auth_svc_ = std::make_unique<AuthServiceImpl>(deps);
    user_svc_ = std::make_unique<UserServiceImpl>(deps);
    key_svc_ = std::make_unique<ApiKeyServiceImpl>(deps);
    server_->AddService(auth_svc_.get());
    server_->AddService(user_svc_.get());
    server_->AddService(key_svc_.get());
    ASSERT_TRUE(server_->Start().ok());
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->grpc_port()),
                                       grpc::InsecureChannelCredentials());
    auth_ = v1::AuthService::NewStub(channel);
    users_ = v1::UserService::NewStub(channel);
    keys_ = v1::ApiKeyService::NewStub(channel);
  }

  void TearDown() override {
    if (server_) {
      server_->Shutdown();
      server_->Wait();
    }
  }

  // A context carrying `p`, signed by the trusted gateway key.
  void As(grpc::ClientContext& ctx, const Principal& p) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    const std::string bytes = p.SerializeAsString();
    ctx.AddMetadata(rpc::kPrincipalHeader, bytes);
    ctx.AddMetadata(std::string(auth::kPrincipalSigHeader),
                    *auth::SignPrincipalBytes(bytes, *gateway_key_, clock_.Now()));
  }
  static Principal Gateway() {
    Principal p;
    p.set_kind(Principal::KIND_SERVICE);
    p.set_service("gateway");
    return p;
  }
  // The principal the gateway would forward for a user with `permissions`.
  static Principal UserP(const std::string& id, std::vector<std::string> permissions) {
    Principal p;
    p.set_kind(Principal::KIND_USER);
    p.set_id(id);
    for (auto& s : permissions) p.add_permissions(s);
    return p;
  }
  // The principal of a user's current permissions (as if from a fresh token).
  Principal PrincipalOf(const std::string& id) {
    auto a = store_->FindAuthById(id);
    Principal p = UserP(id, (*a)->permissions);
    for (const auto& t : (*a)->user.team_ids()) p.add_team_ids(t);
    return p;
  }

  v1::User MakeUser(const std::string& login, const std::string& role, std::vector<std::string> teams = {}) {
    v1::User u;
    u.set_login(login);
    u.set_full_name(absl::StrCat("User ", login));
    if (!role.empty()) u.add_role_codes(role);
    for (auto& t : teams) u.add_team_ids(t);
    Principal system;
    system.set_kind(Principal::KIND_SERVICE);
    system.set_service("test");
    auto made = store_->CreateUser(Actor{system, "test"}, u, kPassword);
    EXPECT_TRUE(made.ok()) << made.status();
    return made.ok() ? *made : v1::User();
  }

  grpc::Status SignIn(const std::string& login, const std::string& password, v1::Session* out,
                      const std::string& ip = "198.51.100.1", const std::string& code = "") {
    grpc::ClientContext ctx;
    As(ctx, Gateway());
    ctx.AddMetadata(kClientIpHeader, ip);
    v1::SignInRequest req;
    req.set_login(login);
    req.set_password(password);
    req.set_totp_code(code);
    return auth_->SignIn(&ctx, req, out);
  }

  grpc::Status Refresh(const std::string& token, v1::Session* out) {
    grpc::ClientContext ctx;
    As(ctx, Gateway());
    v1::RefreshRequest req;
    req.set_refresh_token(token);
    return auth_->Refresh(&ctx, req, out);
  }

  absl::StatusOr<auth::Claims> Verify(const std::string& token) {
    grpc::ClientContext ctx;
    As(ctx, Gateway());
    v1::SigningKeys keys;
    grpc::Status s = auth_->GetSigningKeys(&ctx, v1::GetSigningKeysRequest(), &keys);
    if (!s.ok()) return FromGrpcStatus(s);
    CRM_ASSIGN_OR_RETURN(auth::KeySet set, auth::KeySet::FromJwks(keys.jwks_json()));
    return auth::VerifyJwt(token, set, clock_.Now(), "crm-identity", "crm");
  }

  // Principal built from a token's claims, as the gateway's PrincipalFromClaims does.
  static Principal FromClaims(const auth::Claims& c) {
    Principal p = UserP(c.sub, c.scopes);
    for (auto& t : c.teams) p.add_team_ids(t);
    for (auto& r : c.roles) p.add_roles(r);
    return p;
  }

  ManualClock clock_{absl::FromUnixSeconds(1'795'000'000)};
  std::unique_ptr<pg::testing::TempDatabase> db_;
  std::unique_ptr<pg::Pool> pool_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<KeyRing> ring_;
  std::unique_ptr<Sessions> sessions_;
  std::unique_ptr<ApiKeys> api_keys_;
  std::unique_ptr<AuthServiceImpl> auth_svc_;
  std::unique_ptr<UserServiceImpl> user_svc_;
  std::unique_ptr<ApiKeyServiceImpl> key_svc_;
  std::optional<auth::SigningKey> gateway_key_;
  std::unique_ptr<rpc::Server> server_;
  std::unique_ptr<v1::AuthService::Stub> auth_;
  std::unique_ptr<v1::UserService::Stub> users_;
  std::unique_ptr<v1::ApiKeyService::Stub> keys_;
};

TEST_F(IdentityTest, SignInTokenVerifiesWithJwksAndCarriesPermissions) {
  v1::Team team;
  team.set_name("Отдел продаж");
  auto sales = store_->CreateTeam(team);
  ASSERT_TRUE(sales.ok());
  v1::User u = MakeUser("Anna.K", "manager", {sales->id()});
  EXPECT_EQ(u.login(), "anna.k");
  v1::Session s;
  ASSERT_TRUE(SignIn("ANNA.k", kPassword, &s).ok());
  EXPECT_EQ(s.token_type(), "Bearer");
  EXPECT_EQ(s.user().id(), u.id());
  auto claims = Verify(s.access_token());
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->sub, u.id());
  EXPECT_EQ(claims->kind, "user");
  EXPECT_FALSE(claims->sid.empty());
  EXPECT_FALSE(claims->jti.empty());
  EXPECT_EQ(claims->exp - claims->iat, absl::Minutes(10));
  EXPECT_EQ(claims->roles, std::vector<std::string>{"manager"});
  EXPECT_EQ(claims->teams, std::vector<std::string>{sales->id()});
  std::vector<std::string> want = {
      "checklists.fill", "clients.read",       "clients.write",      "deals.copy",     "deals.read.team",
      "deals.write.own", "interactions.read.team", "interactions.write.own",  // issue 17 (migration 0006)
      "mortgage.calculate", "notifications.read", "payments.write", "queue.operate",
      "robots.read",     "tasks.operate",      "users.read",         "visits.manage"};
  // Real estate (issue 17, D14; migration 0008).
  want.insert(want.end(), {"realty.read", "bookings.read.team", "bookings.write.own"});
  // Deal applications and the client card's passport (issue 17, D15; migration 0011).
  want.insert(want.end(), {"applications.read.team", "applications.write.own", "clients.passport.read"});
  std::sort(want.begin(), want.end());
  EXPECT_EQ(claims->scopes, want);
}

TEST_F(IdentityTest, WrongPasswordUnknownLoginAndInactiveUserGetTheSameError) {
  v1::User u = MakeUser("boris", "manager");
  v1::Session s;
  grpc::Status wrong = SignIn("boris", "not the password", &s);
  grpc::Status unknown = SignIn("nobody.here", kPassword, &s);
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Msg(wrong), "invalid login or password");
  EXPECT_EQ(Msg(unknown), Msg(wrong));
  v1::User off = u;
  off.set_active(false);
  ASSERT_TRUE(store_->UpdateUser(Actor{}, off, {"active"}).ok());
  grpc::Status inactive = SignIn("boris", kPassword, &s);
  EXPECT_EQ(inactive.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Msg(inactive), Msg(wrong));
}

TEST_F(IdentityTest, AGuesserElsewhereDoesNotSlowTheOwnerDown) {
  MakeUser("vera", "manager");
  v1::Session s;
  // Someone guesses vera's password from 203.0.113.66: six free failures, then waits.
  for (int i = 0; i < 6; ++i)
    ASSERT_EQ(SignIn("vera", "bad password!", &s, "203.0.113.66").error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status slowed = SignIn("vera", kPassword, &s, "203.0.113.66");  // the right password: refused
  EXPECT_EQ(slowed.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Msg(slowed), "too many failed sign-in attempts; try again in 1 second");
  EXPECT_EQ(RetryDelay(FromGrpcStatus(slowed)), absl::Seconds(1));
  // vera at her own address is not affected, whatever the guesser does.
  for (int i = 0; i < 20; ++i) SignIn("vera", "bad password!", &s, "203.0.113.66");
  EXPECT_TRUE(SignIn("vera", kPassword, &s, "198.51.100.1").ok());
  // Unknown logins are throttled the same way (no enumeration).
  for (int i = 0; i < 6; ++i) SignIn("ghost", "whatever12345", &s, "203.0.113.67");
  EXPECT_EQ(SignIn("ghost", "whatever12345", &s, "203.0.113.67").error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(IdentityTest, ThrottleDelaysDoubleAreCappedAndAreRefusedBeforeThePassword) {
  MakeUser("vera", "manager");
  v1::Session s;
  const std::string ip = "203.0.113.70";
  for (int i = 0; i < 6; ++i) SignIn("vera", "bad password!", &s, ip);
  absl::Duration want = absl::Seconds(1);
  for (int round = 0; round < 14; ++round) {
    grpc::Status refused = SignIn("vera", "bad password!", &s, ip);
    ASSERT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << round;
    ASSERT_EQ(RetryDelay(FromGrpcStatus(refused)), want) << round;
    clock_.Advance(want - absl::Milliseconds(1));
    ASSERT_EQ(SignIn("vera", kPassword, &s, ip).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << round;
    clock_.Advance(absl::Milliseconds(1));
    ASSERT_EQ(SignIn("vera", "bad password!", &s, ip).error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << round;
    want = std::min(want * 2, absl::Minutes(15));
  }
  EXPECT_EQ(want, absl::Minutes(15));
  // A refused attempt was not counted: the wait is still 15 minutes, not more.
  EXPECT_EQ(RetryDelay(FromGrpcStatus(SignIn("vera", kPassword, &s, ip))), absl::Minutes(15));
  // After the wait the right password works and clears the pair's record.
  clock_.Advance(absl::Minutes(15));
  ASSERT_TRUE(SignIn("vera", kPassword, &s, ip).ok());
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(SignIn("vera", "bad password!", &s, ip).error_code(), grpc::StatusCode::UNAUTHENTICATED) << i;
}

TEST_F(IdentityTest, AQuietHourForgetsTheFailures) {
  MakeUser("vera", "manager");
  v1::Session s;
  for (int i = 0; i < 6; ++i) SignIn("vera", "bad password!", &s);
  EXPECT_EQ(SignIn("vera", "bad password!", &s).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  clock_.Advance(absl::Hours(1));
  for (int i = 0; i < 6; ++i)  // counting starts again from zero: six free failures
    EXPECT_EQ(SignIn("vera", "bad password!", &s).error_code(), grpc::StatusCode::UNAUTHENTICATED) << i;
  EXPECT_EQ(RetryDelay(FromGrpcStatus(SignIn("vera", kPassword, &s))), absl::Seconds(1));
}

TEST_F(IdentityTest, RefreshRotatesAndReuseRevokesTheSession) {
  MakeUser("dina", "manager");
  v1::Session first, second, third;
  ASSERT_TRUE(SignIn("dina", kPassword, &first).ok());
  ASSERT_TRUE(Refresh(first.refresh_token(), &second).ok());
  EXPECT_NE(second.refresh_token(), first.refresh_token());
  EXPECT_EQ(Verify(second.access_token())->sid, Verify(first.access_token())->sid);
  grpc::Status reuse = Refresh(first.refresh_token(), &third);
  EXPECT_EQ(reuse.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // The whole session is gone: the newest token no longer works either.
  EXPECT_EQ(Refresh(second.refresh_token(), &third).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(IdentityTest, SignOutAndExpiryEndRefresh) {
  MakeUser("egor", "manager");
  v1::Session s, t;
  ASSERT_TRUE(SignIn("egor", kPassword, &s).ok());
  grpc::ClientContext ctx;
  As(ctx, Gateway());
  v1::SignOutRequest out;
  out.set_refresh_token(s.refresh_token());
  google::protobuf::Empty empty;
  ASSERT_TRUE(auth_->SignOut(&ctx, out, &empty).ok());
  EXPECT_EQ(Refresh(s.refresh_token(), &t).error_code(), grpc::StatusCode::UNAUTHENTICATED);

  ASSERT_TRUE(SignIn("egor", kPassword, &s).ok());
  clock_.Advance(absl::Hours(24 * 14) + absl::Seconds(1));
  grpc::Status expired = Refresh(s.refresh_token(), &t);
  EXPECT_EQ(expired.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Msg(expired), "refresh token expired");
}

TEST_F(IdentityTest, RoleChangesApplyAtNextRefresh) {
  v1::User u = MakeUser("fedor", "telegram_operator");
  v1::Session s, t;
  ASSERT_TRUE(SignIn("fedor", kPassword, &s).ok());
  EXPECT_FALSE(absl::c_linear_search(Verify(s.access_token())->scopes, "users.read"));
  v1::User change = u;
  change.clear_role_codes();
  change.add_role_codes("manager");
  ASSERT_TRUE(store_->UpdateUser(Actor{}, change, {"role_codes"}).ok());
  ASSERT_TRUE(Refresh(s.refresh_token(), &t).ok());
  EXPECT_TRUE(absl::c_linear_search(Verify(t.access_token())->scopes, "users.read"));
}

TEST_F(IdentityTest, TotpRoleGetsRestrictedSessionThenEnrolsAndNeedsCodes) {
  v1::User u = MakeUser("waiter1", "waiter");
  v1::Session s;
  ASSERT_TRUE(SignIn("waiter1", kPassword, &s).ok());
  auto claims = Verify(s.access_token());
  ASSERT_TRUE(claims.ok());
  EXPECT_FALSE(claims->mfa);
  EXPECT_EQ(claims->scopes, std::vector<std::string>{"self.totp.enroll"});
  const Principal restricted = FromClaims(*claims);
  {
    grpc::ClientContext ctx;
    As(ctx, restricted);
    v1::ListRolesResponse roles;
    EXPECT_EQ(users_->ListRoles(&ctx, v1::ListRolesRequest(), &roles).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  v1::User other = MakeUser("waiter2", "waiter");
  {
    grpc::ClientContext ctx;
    As(ctx, restricted);
    v1::EnrollTotpRequest req;
    req.set_user_id(other.id());
    v1::TotpEnrollment e;
    EXPECT_EQ(users_->EnrollTotp(&ctx, req, &e).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  v1::TotpEnrollment e;
  {
    grpc::ClientContext ctx;
    As(ctx, restricted);
    v1::EnrollTotpRequest req;
    req.set_user_id(u.id());
    ASSERT_TRUE(users_->EnrollTotp(&ctx, req, &e).ok());
    EXPECT_TRUE(absl::StartsWith(e.otpauth_uri(), "otpauth://totp/"));
  }
  {
    grpc::ClientContext ctx;
    As(ctx, restricted);
    v1::ConfirmTotpRequest req;
    req.set_user_id(u.id());
    req.set_code("000000");
    v1::User out;
    grpc::Status bad = users_->ConfirmTotp(&ctx, req, &out);
    if (*auth::TotpCode(e.secret(), clock_.Now()) != "000000") {
      EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    }
  }
  {
    grpc::ClientContext ctx;
    As(ctx, restricted);
    v1::ConfirmTotpRequest req;
    req.set_user_id(u.id());
    req.set_code(*auth::TotpCode(e.secret(), clock_.Now()));
    v1::User out;
    ASSERT_TRUE(users_->ConfirmTotp(&ctx, req, &out).ok());
    EXPECT_TRUE(out.totp_enabled());
    EXPECT_EQ(out.version(), u.version() + 1);
  }
  grpc::Status no_code = SignIn("waiter1", kPassword, &s);
  EXPECT_EQ(no_code.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Msg(no_code), "second factor required");
  clock_.Advance(absl::Seconds(30));
  const std::string code = *auth::TotpCode(e.secret(), clock_.Now());
  ASSERT_TRUE(SignIn("waiter1", kPassword, &s, "198.51.100.1", code).ok());
  claims = Verify(s.access_token());
  EXPECT_TRUE(claims->mfa);
  EXPECT_TRUE(absl::c_linear_search(claims->scopes, "tasks.operate"));
  grpc::Status replay = SignIn("waiter1", kPassword, &s, "198.51.100.1", code);
  EXPECT_EQ(replay.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Msg(replay), "invalid code");
}

TEST_F(IdentityTest, PermissionChecks) {
  v1::User manager = MakeUser("mila", "manager");
  v1::User tg = MakeUser("tolya", "telegram_operator");
  {
    grpc::ClientContext ctx;
    As(ctx, PrincipalOf(tg.id()));
    v1::ListUsersResponse out;
    grpc::Status s = users_->ListUsers(&ctx, v1::ListUsersRequest(), &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_TRUE(absl::StrContains(Msg(s), "users.read")) << Msg(s);
  }
  {
    grpc::ClientContext ctx;
    As(ctx, PrincipalOf(tg.id()));
    v1::GetUserRequest req;
    req.set_id(tg.id());
    v1::User out;
    EXPECT_TRUE(users_->GetUser(&ctx, req, &out).ok());  // oneself: always
  }
  {
    grpc::ClientContext ctx;
    As(ctx, PrincipalOf(manager.id()));
    v1::CreateUserRequest req;
    req.mutable_user()->set_login("newbie");
    req.mutable_user()->set_full_name("N");
    req.set_password(kPassword);
    v1::User out;
    grpc::Status s = users_->CreateUser(&ctx, req, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_TRUE(absl::StrContains(Msg(s), "users.manage"));
  }
  {
    grpc::ClientContext ctx;
    As(ctx, PrincipalOf(manager.id()));
    v1::UpdateUserRequest req;
    *req.mutable_user() = manager;
    req.mutable_user()->add_role_codes("administrator");
    req.mutable_update_mask()->add_paths("role_codes");
    v1::User out;
    EXPECT_EQ(users_->UpdateUser(&ctx, req, &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    As(ctx, PrincipalOf(manager.id()));
    v1::UpdateUserRequest req;
    *req.mutable_user() = manager;
    req.mutable_user()->set_full_name("Мила Новая");
    req.mutable_update_mask()->add_paths("full_name");
    v1::User out;
    ASSERT_TRUE(users_->UpdateUser(&ctx, req, &out).ok());
    EXPECT_EQ(out.full_name(), "Мила Новая");
  }
  {
    grpc::ClientContext ctx;
    As(ctx, PrincipalOf(manager.id()));
    v1::CreateTeamRequest req;
    req.mutable_team()->set_name("X");
    v1::Team out;
    grpc::Status s = users_->CreateTeam(&ctx, req, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_TRUE(absl::StrContains(Msg(s), "teams.manage"));
  }
  {
    grpc::ClientContext ctx;
    As(ctx, PrincipalOf(manager.id()));
    v1::VerifyApiKeyRequest req;
    req.set_key("crm_000000000000_0000");
    Principal out;
    EXPECT_EQ(auth_->VerifyApiKey(&ctx, req, &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    // Own password: needs the current one.
    grpc::ClientContext ctx;
    As(ctx, PrincipalOf(manager.id()));
    v1::SetPasswordRequest req;
    req.set_user_id(manager.id());
    req.set_new_password("another long password");
    google::protobuf::Empty out;
    grpc::Status s = users_->SetPassword(&ctx, req, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(absl::StrContains(Msg(s), "current_password"));
  }
  {
    grpc::ClientContext ctx;
    As(ctx, PrincipalOf(manager.id()));
    v1::SetPasswordRequest req;
    req.set_user_id(manager.id());
    req.set_current_password(kPassword);
    req.set_new_password("another long password");
    google::protobuf::Empty out;
    ASSERT_TRUE(users_->SetPassword(&ctx, req, &out).ok());
    v1::Session s;
    EXPECT_TRUE(SignIn("mila", "another long password", &s).ok());
  }
}

TEST_F(IdentityTest, ValidationNamesTheField) {
  v1::User admin = MakeUser("root.admin", "administrator");
  const Principal p = PrincipalOf(admin.id());
  auto create = [&](std::function<void(v1::CreateUserRequest&)> edit) {
    v1::CreateUserRequest req;
    req.mutable_user()->set_login("valid.login");
    req.mutable_user()->set_full_name("Имя Фамилия");
    req.set_password(kPassword);
    edit(req);
    grpc::ClientContext ctx;
    As(ctx, p);
    v1::User out;
    grpc::Status s = users_->CreateUser(&ctx, req, &out);
    return std::make_pair(s, out);
  };
  auto expect_field = [&](std::function<void(v1::CreateUserRequest&)> edit, const std::string& field) {
    auto [s, out] = create(edit);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_TRUE(absl::StartsWith(Msg(s), field + ":")) << Msg(s);
  };
  expect_field([](auto& r) { r.mutable_user()->set_login("ab"); }, "user.login");
  expect_field([](auto& r) { r.mutable_user()->set_login("bad login!"); }, "user.login");
  expect_field([](auto& r) { r.set_password("short"); }, "password");
  expect_field([](auto& r) { r.mutable_user()->set_email("not-an-email"); }, "user.email");
  expect_field([](auto& r) { r.mutable_user()->set_phone("call me"); }, "user.phone");
  expect_field([](auto& r) { r.mutable_user()->set_phone("12345"); }, "user.phone");
  expect_field([](auto& r) { r.mutable_user()->add_role_codes("pope"); }, "user.role_codes");
  expect_field([](auto& r) { r.mutable_user()->add_team_ids("01890000-0000-7000-8000-000000000000"); },
               "user.team_ids");
  expect_field([](auto& r) { r.mutable_user()->set_supervisor_id("01890000-0000-7000-8000-000000000000"); },
               "user.supervisor_id");
  auto [ok, made] = create([&](auto& r) {
    r.mutable_user()->set_login("Valid.Login");
    r.mutable_user()->set_phone("8 (916) 123-45-67");
    r.mutable_user()->set_email("v@example.ru");
    r.mutable_user()->set_supervisor_id(admin.id());
  });
  ASSERT_TRUE(ok.ok()) << Msg(ok);
  EXPECT_EQ(made.phone(), "+79161234567");
  EXPECT_EQ(made.login(), "valid.login");
  EXPECT_TRUE(made.active());
  auto [dup, ignored] = create([](auto&) {});
  EXPECT_EQ(dup.error_code(), grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(IdentityTest, UpdateChecksVersionAndMask) {
  v1::User admin = MakeUser("root.admin", "administrator");
  v1::User u = MakeUser("zoya", "manager");
  auto update = [&](v1::User user, std::vector<std::string> paths, v1::User* out) {
    grpc::ClientContext ctx;
    As(ctx, PrincipalOf(admin.id()));
    v1::UpdateUserRequest req;
    *req.mutable_user() = user;
    for (auto& p : paths) req.mutable_update_mask()->add_paths(p);
    return users_->UpdateUser(&ctx, req, out);
  };
  v1::User out;
  v1::User edit = u;
  edit.set_phone("+7 916 000 00 01");
  ASSERT_TRUE(update(edit, {"phone"}, &out).ok());
  EXPECT_EQ(out.version(), u.version() + 1);
  EXPECT_EQ(out.phone(), "+79160000001");
  grpc::Status stale = update(edit, {"full_name"}, &out);  // still carries the old version
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(Msg(stale), "version mismatch");
  grpc::Status mask = update(edit, {"totp_enabled"}, &out);
  EXPECT_EQ(mask.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(Msg(mask), "update_mask")) << Msg(mask);
  EXPECT_EQ(update(edit, {}, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::User self_sup = u;
  self_sup.set_version(0);
  self_sup.set_supervisor_id(u.id());
  grpc::Status sup = update(self_sup, {"supervisor_id"}, &out);
  EXPECT_TRUE(absl::StartsWith(Msg(sup), "user.supervisor_id")) << Msg(sup);
}

TEST_F(IdentityTest, ListUsersPaginates) {
  v1::User admin = MakeUser("a.admin", "administrator");
  for (int i = 0; i < 5; ++i) MakeUser(absl::StrCat("p.user", i), "manager");
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    grpc::ClientContext ctx;
    As(ctx, PrincipalOf(admin.id()));
    v1::ListUsersRequest req;
    req.set_page_size(2);
    req.set_page_token(token);
    req.set_role("manager");
    v1::ListUsersResponse out;
    ASSERT_TRUE(users_->ListUsers(&ctx, req, &out).ok());
    for (const auto& u : out.users()) seen.push_back(u.login());
    token = out.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<std::string>{"p.user0", "p.user1", "p.user2", "p.user3", "p.user4"}));
  // The suite's page rule (issue 16): above the maximum is the maximum, negative is refused.
  auto list = [&](int size, v1::ListUsersResponse* out) {
    grpc::ClientContext ctx;
    As(ctx, PrincipalOf(admin.id()));
    v1::ListUsersRequest req;
    req.set_page_size(size);
    return users_->ListUsers(&ctx, req, out);
  };
  v1::ListUsersResponse out;
  ASSERT_TRUE(list(100000, &out).ok());
  EXPECT_EQ(out.users_size(), 6);
  grpc::Status negative = list(-1, &out);
  EXPECT_EQ(negative.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldViolations(FromGrpcStatus(negative)).at(0).field, "page_size");
}

TEST_F(IdentityTest, ApiKeysCreateVerifyRevoke) {
  v1::User integ = MakeUser("integ", "integrator");
  const Principal owner = PrincipalOf(integ.id());
  v1::CreatedApiKey created;
  {
    grpc::ClientContext ctx;
    As(ctx, owner);
    v1::CreateApiKeyRequest req;
    req.mutable_api_key()->set_name("1С обмен");
    req.mutable_api_key()->add_scopes("deals.read.all");
    req.mutable_api_key()->add_scopes("users.manage");
    grpc::Status s = keys_->CreateApiKey(&ctx, req, &created);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(absl::StartsWith(Msg(s), "api_key.scopes")) << Msg(s);
  }
  {
    grpc::ClientContext ctx;
    As(ctx, owner);
    v1::CreateApiKeyRequest req;
    req.mutable_api_key()->set_name("1С обмен");
    req.mutable_api_key()->add_scopes("deals.read.all");
    req.mutable_api_key()->add_scopes("clients.read");
    ASSERT_TRUE(keys_->CreateApiKey(&ctx, req, &created).ok());
    EXPECT_TRUE(absl::StartsWith(created.secret(), "crm_"));
  }
  auto verify = [&](Principal* out) {
    grpc::ClientContext ctx;
    As(ctx, Gateway());
    v1::VerifyApiKeyRequest req;
    req.set_key(created.secret());
    return auth_->VerifyApiKey(&ctx, req, out);
  };
  Principal p;
  ASSERT_TRUE(verify(&p).ok());
  EXPECT_EQ(p.kind(), Principal::KIND_API_KEY);
  EXPECT_EQ(p.id(), created.api_key().id());
  EXPECT_EQ(p.on_behalf_of_user_id(), integ.id());
  EXPECT_EQ(std::set<std::string>(p.permissions().begin(), p.permissions().end()),
            (std::set<std::string>{"clients.read", "deals.read.all"}));
  {
    grpc::ClientContext ctx;
    As(ctx, owner);
    v1::ListApiKeysResponse out;
    ASSERT_TRUE(keys_->ListApiKeys(&ctx, v1::ListApiKeysRequest(), &out).ok());
    ASSERT_EQ(out.api_keys_size(), 1);
    EXPECT_TRUE(out.api_keys(0).has_last_used_time());
  }
  {
    // Another integrator may not revoke it.
    v1::User other = MakeUser("integ2", "integrator");
    grpc::ClientContext ctx;
    As(ctx, PrincipalOf(other.id()));
    v1::RevokeApiKeyRequest req;
    req.set_id(created.api_key().id());
    v1::ApiKey out;
    EXPECT_EQ(keys_->RevokeApiKey(&ctx, req, &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    As(ctx, owner);
    v1::RevokeApiKeyRequest req;
    req.set_id(created.api_key().id());
    v1::ApiKey out;
    ASSERT_TRUE(keys_->RevokeApiKey(&ctx, req, &out).ok());
    EXPECT_TRUE(out.has_revoke_time());
  }
  grpc::Status revoked = verify(&p);
  EXPECT_EQ(revoked.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(IdentityTest, KeyRotationKeepsTheOldKeyPublishedForTheWindow) {
  MakeUser("olga", "manager");
  v1::Session s;
  ASSERT_TRUE(SignIn("olga", kPassword, &s).ok());
  const std::vector<std::string> before = ring_->KeyIds();
  ASSERT_EQ(before.size(), 1u);
  clock_.Advance(absl::Hours(24 * 30) + absl::Minutes(1));
  ASSERT_TRUE(ring_->Maintain().ok());
  std::vector<std::string> after = ring_->KeyIds();
  ASSERT_EQ(after.size(), 2u);
  // The new key is published at once but the old one signs until the activation delay has passed.
  EXPECT_EQ(after[0], before[0]);
  EXPECT_EQ(ring_->Current()->kid(), before[0]);
  const std::string fresh = after[1];
  clock_.Advance(absl::Minutes(3));
  ASSERT_TRUE(ring_->Maintain().ok());
  after = ring_->KeyIds();
  EXPECT_EQ(after, (std::vector<std::string>{fresh, before[0]}));
  EXPECT_EQ(ring_->Current()->kid(), fresh);
  // A second replica's ring agrees after reload.
  KeyRing replica(*pool_, clock_, KeyRingOptions{});
  ASSERT_TRUE(replica.Reload().ok());
  EXPECT_EQ(replica.KeyIds(), after);
  EXPECT_EQ(replica.Current()->kid(), fresh);
  // The old token (minted before rotation) still verifies against the JWKS by kid.
  auth::KeySet set = *auth::KeySet::FromJwks(ring_->Jwks());
  EXPECT_NE(set.Find(before[0]), nullptr);
  // Still published just inside access-token TTL + 1 h after retirement ...
  clock_.Advance(absl::Minutes(10) + absl::Hours(1) - absl::Minutes(1));
  ASSERT_TRUE(ring_->Maintain().ok());
  EXPECT_EQ(ring_->KeyIds().size(), 2u);
  // ... and dropped after it.
  clock_.Advance(absl::Minutes(2));
  ASSERT_TRUE(ring_->Maintain().ok());
  EXPECT_EQ(ring_->KeyIds(), std::vector<std::string>{fresh});
  v1::Session t;
  ASSERT_TRUE(SignIn("olga", kPassword, &t).ok());
  EXPECT_EQ(Verify(t.access_token())->sub, s.user().id());
  EXPECT_EQ(Verify(s.access_token()).status().code(), absl::StatusCode::kUnauthenticated);  // old kid gone
}

TEST_F(IdentityTest, UserEventsGoToTheOutboxInTheSameTransaction) {
  v1::User admin = MakeUser("root.admin", "administrator");
  auto count = [&]() {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    return tx.exec1("SELECT count(*) FROM outbox")[0].as<int>();
  };
  const int before = count();
  grpc::ClientContext ctx;
  As(ctx, PrincipalOf(admin.id()));
  ctx.AddMetadata("x-request-id", "req-outbox-1");
  v1::CreateUserRequest req;
  req.mutable_user()->set_login("evented");
  req.mutable_user()->set_full_name("E");
  req.set_password(kPassword);
  v1::User made;
  ASSERT_TRUE(users_->CreateUser(&ctx, req, &made).ok());
  EXPECT_EQ(count(), before + 1);
  pqxx::connection c(db_->dsn());
  pqxx::work tx(c);
  pqxx::row r = tx.exec1(
      "SELECT aggregatetype, aggregateid, type, topic, payload FROM outbox ORDER BY seq DESC LIMIT 1");
  EXPECT_EQ(std::string(r[0].c_str()), "user");
  EXPECT_EQ(std::string(r[1].c_str()), made.id());
  EXPECT_EQ(std::string(r[2].c_str()), "crm.identity.user.created.v1");
  EXPECT_EQ(std::string(r[3].c_str()), "crm.identity.user.v1");
  pqxx::binarystring raw(r[4]);
  crm::events::v1::Envelope env;
  ASSERT_TRUE(env.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
  EXPECT_EQ(env.actor().id(), admin.id());
  EXPECT_EQ(env.request_id(), "req-outbox-1");
  ASSERT_EQ(env.visible_to_user_ids_size(), 1);
  EXPECT_EQ(env.visible_to_user_ids(0), made.id());
  v1::UserCreated payload;
  ASSERT_TRUE(env.payload().UnpackTo(&payload));
  EXPECT_EQ(payload.user().login(), "evented");
  // A failed create (duplicate login) leaves no event.
  grpc::ClientContext ctx2;
  As(ctx2, PrincipalOf(admin.id()));
  EXPECT_EQ(users_->CreateUser(&ctx2, req, &made).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(count(), before + 1);
}

TEST_F(IdentityTest, CreateTeamHonoursIdempotencyKey) {
  v1::User admin = MakeUser("root.admin", "administrator");
  v1::Team first, second;
  for (v1::Team* out : {&first, &second}) {
    grpc::ClientContext ctx;
    As(ctx, PrincipalOf(admin.id()));
    ctx.AddMetadata("idempotency-key", "team-once");
    v1::CreateTeamRequest req;
    req.mutable_team()->set_name("Колл-центр");
    ASSERT_TRUE(users_->CreateTeam(&ctx, req, out).ok());
  }
  EXPECT_EQ(first.id(), second.id());
  EXPECT_EQ(FromProtoTimestamp(first.create_time()), clock_.Now());  // issue 16: teams carry create_time
  auto list = store_->ListTeams(v1::ListTeamsRequest());
  EXPECT_EQ(list->teams_size(), 1);
}

// Issue 16: identity's creating calls use libs/pg's idempotency — the record written with the change,
// the key bound to the request it was first used with (a reuse with another request is 400 naming
// idempotency-key), RevokeApiKey too.
TEST_F(IdentityTest, IdempotencyKeysAreBoundToTheirFirstRequest) {
  v1::User admin = MakeUser("root.admin", "administrator");
  auto create = [&](const std::string& login, v1::User* out) {
    grpc::ClientContext ctx;
    As(ctx, PrincipalOf(admin.id()));
    ctx.AddMetadata("idempotency-key", "user-once");
    v1::CreateUserRequest req;
    req.mutable_user()->set_login(login);
    req.mutable_user()->set_full_name("Ирина Котова");
    req.set_password(kPassword);
    return users_->CreateUser(&ctx, req, out);
  };
  v1::User first, second;
  ASSERT_TRUE(create("irina", &first).ok());
  ASSERT_TRUE(create("irina", &second).ok());
  EXPECT_EQ(first.SerializeAsString(), second.SerializeAsString());
  grpc::Status other = create("irina.k", &second);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldViolations(FromGrpcStatus(other)).at(0).field, "idempotency-key");
  EXPECT_FALSE(store_->FindAuthByLogin("irina.k")->has_value());

  v1::User integ = MakeUser("integ", "integrator");
  v1::ApiKey want;
  want.set_name("1С");
  want.add_scopes("clients.read");
  auto a = api_keys_->Create(PrincipalOf(integ.id()), want);
  auto b = api_keys_->Create(PrincipalOf(integ.id()), want);
  ASSERT_TRUE(a.ok() && b.ok());
  auto revoke = [&](const std::string& id, v1::ApiKey* out) {
    grpc::ClientContext ctx;
    As(ctx, PrincipalOf(integ.id()));
    ctx.AddMetadata("idempotency-key", "revoke-once");
    v1::RevokeApiKeyRequest req;
    req.set_id(id);
    return keys_->RevokeApiKey(&ctx, req, out);
  };
  v1::ApiKey r1, r2;
  ASSERT_TRUE(revoke(a->api_key().id(), &r1).ok());
  ASSERT_TRUE(revoke(a->api_key().id(), &r2).ok());
  EXPECT_EQ(r1.SerializeAsString(), r2.SerializeAsString());
  other = revoke(b->api_key().id(), &r2);
  EXPECT_EQ(FieldViolations(FromGrpcStatus(other)).at(0).field, "idempotency-key");
  EXPECT_TRUE(api_keys_->Verify(b->secret()).ok());  // the second key is not revoked
  pqxx::connection c(db_->dsn());
  pqxx::work tx(c);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM idempotency WHERE length(request_sha256) = 32")[0].as<int>(), 2);
}

std::vector<std::string> FieldsOf(const grpc::Status& s) {
  std::vector<std::string> out;
  for (const FieldViolation& f : FieldViolations(FromGrpcStatus(s))) out.push_back(f.field);
  return out;
}

// Issue 16: every violation at once; a malformed id is 400 naming its field, never 404.
TEST_F(IdentityTest, EveryBadFieldIsNamedAtOnceAndMalformedIdsAre400) {
  v1::User admin = MakeUser("root.admin", "administrator");
  const Principal as_admin = PrincipalOf(admin.id());
  {
    grpc::ClientContext ctx;
    As(ctx, as_admin);
    v1::CreateUserRequest req;
    req.mutable_user()->set_login("Я");
    req.mutable_user()->set_email("no-at-sign");
    req.mutable_user()->set_phone("12");
    req.set_password("short");
    v1::User out;
    grpc::Status s = users_->CreateUser(&ctx, req, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(FieldsOf(s), (std::vector<std::string>{"user.login", "user.full_name", "user.email",
                                                     "user.phone", "password"}));
    EXPECT_TRUE(absl::StrContains(s.error_message(), "(and 4 more)")) << s.error_message();
  }
  {
    v1::User made = MakeUser("roles.test", "manager");
    grpc::ClientContext ctx;
    As(ctx, as_admin);
    v1::UpdateUserRequest req;
    req.mutable_user()->set_id(made.id());
    req.mutable_user()->add_role_codes("no_such_role");
    req.mutable_user()->add_team_ids("01900000-0000-7000-8000-00000000dead");
    req.mutable_update_mask()->add_paths("role_codes");
    req.mutable_update_mask()->add_paths("team_ids");
    v1::User out;
    EXPECT_EQ(FieldsOf(users_->UpdateUser(&ctx, req, &out)),
              (std::vector<std::string>{"user.role_codes", "user.team_ids"}));
  }
  auto get_user = [&](const std::string& id) {
    grpc::ClientContext ctx;
    As(ctx, as_admin);
    v1::GetUserRequest req;
    req.set_id(id);
    v1::User out;
    return users_->GetUser(&ctx, req, &out);
  };
  EXPECT_EQ(get_user("nobody").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldsOf(get_user("nobody")), std::vector<std::string>{"id"});
  EXPECT_EQ(get_user("01900000-0000-7000-8000-00000000dead").error_code(), grpc::StatusCode::NOT_FOUND);
  {
    grpc::ClientContext ctx;
    As(ctx, as_admin);
    v1::GetTeamRequest req;
    req.set_id("x");
    v1::Team out;
    EXPECT_EQ(FieldsOf(users_->GetTeam(&ctx, req, &out)), std::vector<std::string>{"id"});
  }
  {
    grpc::ClientContext ctx;
    As(ctx, as_admin);
    v1::SetPasswordRequest req;
    req.set_user_id("x");
    req.set_new_password("short");
    google::protobuf::Empty out;
    EXPECT_EQ(FieldsOf(users_->SetPassword(&ctx, req, &out)),
              (std::vector<std::string>{"user_id", "new_password"}));
  }
  {
    grpc::ClientContext ctx;
    As(ctx, as_admin);
    v1::RevokeApiKeyRequest req;
    req.set_id("x");
    v1::ApiKey out;
    EXPECT_EQ(FieldsOf(keys_->RevokeApiKey(&ctx, req, &out)), std::vector<std::string>{"id"});
  }
}

// Issue 16: the roles are a list like the others, paged by code.
TEST_F(IdentityTest, RolesArePaged) {
  v1::User u = MakeUser("roles.reader", "manager");
  std::vector<std::string> codes;
  v1::ListRolesRequest req;
  req.set_page_size(5);
  int pages = 0;
  do {
    grpc::ClientContext ctx;
    As(ctx, PrincipalOf(u.id()));
    v1::ListRolesResponse out;
    ASSERT_TRUE(users_->ListRoles(&ctx, req, &out).ok());
    EXPECT_LE(out.roles_size(), 5);
    for (const v1::Role& r : out.roles()) codes.push_back(r.code());
    req.set_page_token(out.next_page_token());
    ++pages;
  } while (!req.page_token().empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(codes.size(), 13u);
  EXPECT_TRUE(std::is_sorted(codes.begin(), codes.end()));
  auto all = store_->ListRoles();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->roles_size(), 13);
}

// Issue 16: one version rule for identity's updates — 0 = any version (last writer wins), another than the
// stored one ABORTED; roles are versioned too; id/code and version in update_mask are ignored (a client
// may send back what it read: the gateway derives the mask from the body's keys).
TEST_F(IdentityTest, UpdatesFollowOneVersionRule) {
  v1::User admin = MakeUser("root.admin", "administrator");
  const Principal as_admin = PrincipalOf(admin.id());
  auto update_role = [&](int64_t version, std::vector<std::string> paths, v1::Role* out) {
    grpc::ClientContext ctx;
    As(ctx, as_admin);
    v1::UpdateRoleRequest req;
    req.mutable_role()->set_code("manager");
    req.mutable_role()->set_name("Менеджер по продажам");
    req.mutable_role()->set_version(version);
    for (auto& p : paths) req.mutable_update_mask()->add_paths(p);
    return users_->UpdateRole(&ctx, req, out);
  };
  v1::Role role;
  ASSERT_TRUE(update_role(1, {"name", "code", "version"}, &role).ok());
  EXPECT_EQ(role.version(), 2);
  EXPECT_EQ(role.name(), "Менеджер по продажам");
  EXPECT_EQ(update_role(1, {"name"}, &role).error_code(), grpc::StatusCode::ABORTED);
  ASSERT_TRUE(update_role(0, {"name"}, &role).ok());
  EXPECT_EQ(role.version(), 3);
  grpc::Status unknown = update_role(0, {"name", "colour"}, &role);
  EXPECT_EQ(FieldViolations(FromGrpcStatus(unknown)).at(0).field, "update_mask");

  v1::User u = MakeUser("versioned", "manager");
  auto update_user = [&](int64_t version, v1::User* out) {
    grpc::ClientContext ctx;
    As(ctx, as_admin);
    v1::UpdateUserRequest req;
    *req.mutable_user() = u;
    req.mutable_user()->set_full_name(absl::StrCat("Версия ", version));
    req.mutable_user()->set_version(version);
    for (const char* p : {"id", "full_name", "version"}) req.mutable_update_mask()->add_paths(p);
    return users_->UpdateUser(&ctx, req, out);
  };
  v1::User out;
  ASSERT_TRUE(update_user(1, &out).ok());
  EXPECT_EQ(out.version(), 2);
  EXPECT_EQ(update_user(1, &out).error_code(), grpc::StatusCode::ABORTED);
  ASSERT_TRUE(update_user(0, &out).ok());
  EXPECT_EQ(out.version(), 3);
  EXPECT_EQ(out.full_name(), "Версия 0");
}

// Issue 16: one call for the users a screen shows — in the order asked, with roles, teams and the
// teams' names; ids with no user reported; bad ids named; users.read required.
TEST_F(IdentityTest, BatchGetUsersAnswersManyIdsInOneCall) {
  v1::Team team;
  team.set_name("Отдел продаж");
  auto sales = store_->CreateTeam(team);
  ASSERT_TRUE(sales.ok());
  v1::User anna = MakeUser("anna", "manager", {sales->id()});
  v1::User boris = MakeUser("boris", "head_of_sales");
  const std::string nobody = "01900000-0000-7000-8000-00000000dead";
  auto batch = [&](const Principal& as, std::vector<std::string> ids, v1::BatchGetUsersResponse* out) {
    grpc::ClientContext ctx;
    As(ctx, as);
    v1::BatchGetUsersRequest req;
    for (auto& id : ids) req.add_ids(id);
    return users_->BatchGetUsers(&ctx, req, out);
  };
  v1::BatchGetUsersResponse out;
  grpc::Status s = batch(PrincipalOf(anna.id()), {boris.id(), nobody, anna.id(), boris.id()}, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(out.users_size(), 2);
  EXPECT_EQ(out.users(0).id(), boris.id());
  EXPECT_EQ(out.users(0).full_name(), "User boris");
  EXPECT_EQ(std::vector<std::string>(out.users(0).role_codes().begin(), out.users(0).role_codes().end()),
            std::vector<std::string>{"head_of_sales"});
  EXPECT_EQ(out.users(1).id(), anna.id());
  ASSERT_EQ(out.users(1).team_ids_size(), 1);
  EXPECT_EQ(out.team_names().at(sales->id()), "Отдел продаж");
  EXPECT_EQ(std::vector<std::string>(out.missing_ids().begin(), out.missing_ids().end()),
            std::vector<std::string>{nobody});

  s = batch(PrincipalOf(anna.id()), {anna.id(), "x", "y"}, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldsOf(s), (std::vector<std::string>{"ids[1]", "ids[2]"}));
  EXPECT_EQ(FieldsOf(batch(PrincipalOf(anna.id()), {}, &out)), std::vector<std::string>{"ids"});
  v1::User driver = MakeUser("driver", "driver");  // no users.read
  EXPECT_EQ(batch(PrincipalOf(driver.id()), {anna.id()}, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(IdentityTest, DemoUsersAreIdempotent) {
  const std::string dir = ::testing::TempDir();
  const std::string creds = absl::StrCat(dir, "/identity_creds_", db_->name());
  const std::string totp = absl::StrCat(dir, "/identity_totp_", db_->name());
  ASSERT_TRUE(CreateDemoUsers(*store_, {creds, totp}).ok());
  auto read = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  const std::string c1 = read(creds), t1 = read(totp);
  struct stat st {};
  ASSERT_EQ(::stat(creds.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(std::count(c1.begin(), c1.end(), '\n'), 13);
  EXPECT_EQ(std::count(t1.begin(), t1.end(), '\n'), 5);  // admin, service, parking, waiter, driver
  ASSERT_TRUE(CreateDemoUsers(*store_, {creds, totp}).ok());
  EXPECT_EQ(read(creds), c1);
  EXPECT_EQ(read(totp), t1);
  EXPECT_EQ(*store_->CountUsers(), 13);
  // rop signs in with the file's password; manager is in «Отдел продаж» under rop.
  std::string rop_password;
  std::istringstream lines(c1);
  for (std::string line; std::getline(lines, line);) {
    if (absl::StartsWith(line, "rop\t")) rop_password = line.substr(4, 16);
  }
  v1::Session s;
  ASSERT_TRUE(SignIn("rop", rop_password, &s).ok());
  auto manager = store_->FindAuthByLogin("manager");
  ASSERT_TRUE(manager.ok() && manager->has_value());
  EXPECT_EQ((*manager)->user.supervisor_id(), s.user().id());
  EXPECT_EQ((*manager)->user.team_ids(0), s.user().team_ids(0));
  std::remove(creds.c_str());
  std::remove(totp.c_str());
}

TEST_F(IdentityTest, ApiKeyGrantsOnlyWhatItsOwnerStillHas) {
  v1::User integ = MakeUser("integ", "integrator");
  v1::ApiKey want;
  want.set_name("сайт: заявки");
  want.add_scopes("clients.write");
  want.add_scopes("deals.write.all");
  auto created = api_keys_->Create(PrincipalOf(integ.id()), want);
  ASSERT_TRUE(created.ok()) << created.status();
  v1::User demoted = integ;
  demoted.set_version(0);
  demoted.clear_role_codes();
  demoted.add_role_codes("call_center_operator");  // has clients.write, not deals.write.all
  ASSERT_TRUE(store_->UpdateUser(Actor{}, demoted, {"role_codes"}).ok());
  auto p = api_keys_->Verify(created->secret());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(std::vector<std::string>(p->permissions().begin(), p->permissions().end()),
            std::vector<std::string>{"clients.write"});
  demoted.set_active(false);
  ASSERT_TRUE(store_->UpdateUser(Actor{}, demoted, {"active"}).ok());
  EXPECT_EQ(api_keys_->Verify(created->secret()).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(api_keys_->Verify("crm_nonsense").status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(IdentityTest, InactiveUsersCannotRefresh) {
  v1::User u = MakeUser("ilya", "manager");
  v1::Session s, t;
  ASSERT_TRUE(SignIn("ilya", kPassword, &s).ok());
  u.set_active(false);
  u.set_version(0);
  ASSERT_TRUE(store_->UpdateUser(Actor{}, u, {"active"}).ok());
  EXPECT_EQ(Refresh(s.refresh_token(), &t).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(IdentityTest, WrongEnrolmentCodesAreThrottled) {
  v1::User u = MakeUser("kira", "driver");
  ASSERT_TRUE(store_->SetPendingTotp(u.id(), *auth::NewTotpSecret()).ok());
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(sessions_->ConfirmTotp(Actor{}, u.id(), "12345x").status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  absl::Status refused = sessions_->ConfirmTotp(Actor{}, u.id(), "123456").status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(RetryDelay(refused), absl::Seconds(1));
}

TEST_F(IdentityTest, PruneDropsExpiredSessions) {
  MakeUser("lev", "manager");
  v1::Session s, t;
  ASSERT_TRUE(SignIn("lev", kPassword, &s).ok());
  ASSERT_TRUE(sessions_->Prune().ok());
  ASSERT_TRUE(Refresh(s.refresh_token(), &t).ok());
  clock_.Advance(absl::Hours(24 * 16));
  ASSERT_TRUE(sessions_->Prune().ok());
  pqxx::connection c(db_->dsn());
  pqxx::work tx(c);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM sessions")[0].as<int>(), 0);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM refresh_tokens")[0].as<int>(), 0);
}

// Issue 16: a repeated CreateApiKey answers what the first did, its secret included (the suite's
// idempotency walk compares the two bodies); the record keeps the secret sealed under the client's key
// and is kept under the key's hash, so neither the secret nor the key is in the table.
TEST_F(IdentityTest, CreateApiKeyRepeatReturnsTheSameSecretNeverStoredInClear) {
  v1::User integ = MakeUser("integ", "integrator");
  auto create = [&](const std::string& name, v1::CreatedApiKey* out) {
    grpc::ClientContext ctx;
    As(ctx, PrincipalOf(integ.id()));
    ctx.AddMetadata("idempotency-key", "key-once");
    v1::CreateApiKeyRequest req;
    req.mutable_api_key()->set_name(name);
    req.mutable_api_key()->add_scopes("clients.read");
    return keys_->CreateApiKey(&ctx, req, out);
  };
  v1::CreatedApiKey first, second;
  ASSERT_TRUE(create("1С", &first).ok());
  ASSERT_TRUE(create("1С", &second).ok());
  EXPECT_EQ(first.SerializeAsString(), second.SerializeAsString());
  EXPECT_FALSE(first.secret().empty());
  EXPECT_TRUE(api_keys_->Verify(second.secret()).ok());
  v1::CreatedApiKey other;
  EXPECT_EQ(FieldsOf(create("сайт", &other)), std::vector<std::string>{"idempotency-key"});
  pqxx::connection c(db_->dsn());
  pqxx::work tx(c);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM api_keys")[0].as<int>(), 1);
  pqxx::row rec = tx.exec1("SELECT key, response FROM idempotency");
  EXPECT_EQ(rec[0].as<std::string>(), auth::Sha256Hex("key-once"));
  const std::string raw = pqxx::binarystring(rec[1]).str();
  const std::string hex_secret = first.secret().substr(first.secret().rfind('_') + 1);
  EXPECT_EQ(raw.find(hex_secret), std::string::npos);
  EXPECT_NE(raw.find(first.api_key().id()), std::string::npos);  // the record is there, the secret is not
}

// Issue 16: SetPassword honours Idempotency-Key — a repeat (the old current password no longer verifies
// then) answers OK from the record and does not end the sessions made since; another password under the
// key is 400 naming idempotency-key; the passwords are blinded in the record's fingerprint.
TEST_F(IdentityTest, SetPasswordHonoursIdempotencyKey) {
  v1::User mila = MakeUser("mila", "manager");
  auto set = [&](const std::string& next) {
    grpc::ClientContext ctx;
    As(ctx, PrincipalOf(mila.id()));
    ctx.AddMetadata("idempotency-key", "pw-once");
    v1::SetPasswordRequest req;
    req.set_user_id(mila.id());
    req.set_current_password(kPassword);
    req.set_new_password(next);
    google::protobuf::Empty out;
    return users_->SetPassword(&ctx, req, &out);
  };
  ASSERT_TRUE(set("another long password").ok());
  v1::Session since;
  ASSERT_TRUE(SignIn("mila", "another long password", &since).ok());
  grpc::Status again = set("another long password");
  EXPECT_TRUE(again.ok()) << again.error_message();
  v1::Session refreshed;
  EXPECT_TRUE(Refresh(since.refresh_token(), &refreshed).ok());  // not ended by the repeat
  EXPECT_EQ(FieldsOf(set("a third long password")), std::vector<std::string>{"idempotency-key"});
  EXPECT_TRUE(SignIn("mila", "another long password", &since).ok());
  pqxx::connection c(db_->dsn());
  pqxx::work tx(c);
  EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM idempotency WHERE key = $1", auth::Sha256Hex("pw-once"))[0]
                .as<int>(),
            1);
  // Without a key every call runs: the old password no longer verifies.
  grpc::ClientContext ctx;
  As(ctx, PrincipalOf(mila.id()));
  v1::SetPasswordRequest req;
  req.set_user_id(mila.id());
  req.set_current_password(kPassword);
  req.set_new_password("another long password");
  google::protobuf::Empty out;
  EXPECT_EQ(FieldsOf(users_->SetPassword(&ctx, req, &out)), std::vector<std::string>{"current_password"});
}

// ---- issue 15: session revocations are published ----

// One SessionRevoked row of the outbox, with its envelope.
struct RevokedRow {
  std::string aggregate_type, aggregate_id, topic;
  crm::events::v1::Envelope envelope;
  v1::SessionRevoked event;
};

class RevocationTest : public IdentityTest {
 protected:
  // The SessionRevoked events in the outbox, oldest first.
  std::vector<RevokedRow> Revoked() {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    std::vector<RevokedRow> out;
    for (const pqxx::row& r : tx.exec_params(
             "SELECT aggregatetype, aggregateid, topic, payload FROM outbox WHERE type = $1 ORDER BY seq",
             std::string(v1::kSessionRevokedType))) {
      RevokedRow row{r[0].c_str(), r[1].c_str(), r[2].c_str(), {}, {}};
      pqxx::binarystring raw(r[3]);
      EXPECT_TRUE(row.envelope.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
      EXPECT_TRUE(row.envelope.payload().UnpackTo(&row.event));
      out.push_back(std::move(row));
    }
    return out;
  }
  std::string Sid(const v1::Session& s) { return Verify(s.access_token())->sid; }
  std::set<std::string> SessionIds(const std::vector<RevokedRow>& rows) {
    std::set<std::string> ids;
    for (const RevokedRow& r : rows) ids.insert(r.aggregate_id);
    return ids;
  }
  // Makes every SessionRevoked insert fail, so the revoking transaction rolls back.
  void BreakTheOutboxForRevocations() {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    tx.exec(
        "CREATE FUNCTION refuse_revoked() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.type = 'crm.identity.session.revoked.v1' THEN RAISE EXCEPTION 'outbox down'; END IF; "
        "RETURN NEW; END $$");
    tx.exec(
        "CREATE TRIGGER refuse_revoked BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION "
        "refuse_revoked()");
    tx.commit();
  }
  grpc::Status SignOut(const v1::Session& s, const std::string& request_id = "req-sign-out") {
    grpc::ClientContext ctx;
    As(ctx, Gateway());
    ctx.AddMetadata("x-request-id", request_id);
    v1::SignOutRequest req;
    req.set_refresh_token(s.refresh_token());
    google::protobuf::Empty empty;
    return auth_->SignOut(&ctx, req, &empty);
  }
};

TEST_F(RevocationTest, SignOutPublishesOneSessionRevokedWithTheLastTokensExpiry) {
  v1::User u = MakeUser("olga", "manager");
  v1::Session s, t;
  ASSERT_TRUE(SignIn("olga", kPassword, &s).ok());
  clock_.Advance(absl::Minutes(3));
  ASSERT_TRUE(Refresh(s.refresh_token(), &t).ok());  // the session's last access token: now + 10 min
  const absl::Time last_issue = clock_.Now();
  clock_.Advance(absl::Minutes(1));
  EXPECT_TRUE(Revoked().empty());
  ASSERT_TRUE(SignOut(t).ok());
  std::vector<RevokedRow> rows = Revoked();
  ASSERT_EQ(rows.size(), 1u);
  const RevokedRow& r = rows[0];
  EXPECT_EQ(r.aggregate_type, "session");
  EXPECT_EQ(r.aggregate_id, Sid(s));
  EXPECT_EQ(r.topic, "crm.identity.session.v1");
  EXPECT_EQ(r.topic, v1::kSessionTopic);
  EXPECT_EQ(store_->outbox().TopicFor("session"), v1::kSessionTopic);
  EXPECT_EQ(store_->outbox().TopicFor("user"), v1::kUserTopic);
  EXPECT_EQ(r.envelope.type(), "crm.identity.session.revoked.v1");
  EXPECT_EQ(r.envelope.request_id(), "req-sign-out");
  EXPECT_EQ(r.envelope.actor().kind(), Principal::KIND_USER);
  EXPECT_EQ(r.envelope.actor().id(), u.id());
  EXPECT_EQ(std::vector<std::string>(r.envelope.visible_to_user_ids().begin(),
                                     r.envelope.visible_to_user_ids().end()),
            std::vector<std::string>{u.id()});
  EXPECT_EQ(r.event.session_id(), Sid(s));
  EXPECT_EQ(r.event.user_id(), u.id());
  EXPECT_EQ(r.event.reason(), "sign_out");
  EXPECT_EQ(FromProtoTimestamp(r.event.revoke_time()), clock_.Now());
  EXPECT_EQ(FromProtoTimestamp(r.event.tokens_expire_time()), last_issue + absl::Minutes(10));
  EXPECT_EQ(Verify(t.access_token())->exp, FromProtoTimestamp(r.event.tokens_expire_time()));
  // Signing out again (or with an unknown token) ends nothing and publishes nothing.
  ASSERT_TRUE(SignOut(t).ok());
  ASSERT_TRUE(SignOut(s).ok());
  v1::Session unknown;
  unknown.set_refresh_token("no-such-token");
  ASSERT_TRUE(SignOut(unknown).ok());
  EXPECT_EQ(Revoked().size(), 1u);
}

TEST_F(RevocationTest, RefreshTokenReusePublishesRefreshReuse) {
  v1::User u = MakeUser("pavel", "manager");
  v1::Session first, second, third;
  ASSERT_TRUE(SignIn("pavel", kPassword, &first).ok());
  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(Refresh(first.refresh_token(), &second).ok());
  const absl::Time last_issue = clock_.Now();
  clock_.Advance(absl::Minutes(2));
  ASSERT_EQ(Refresh(first.refresh_token(), &third).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_EQ(Refresh(first.refresh_token(), &third).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  std::vector<RevokedRow> rows = Revoked();
  ASSERT_EQ(rows.size(), 1u);  // the second reuse finds the session already ended
  EXPECT_EQ(rows[0].aggregate_id, Sid(first));
  EXPECT_EQ(rows[0].event.reason(), "refresh_reuse");
  EXPECT_EQ(rows[0].event.user_id(), u.id());
  EXPECT_EQ(FromProtoTimestamp(rows[0].event.revoke_time()), clock_.Now());
  EXPECT_EQ(FromProtoTimestamp(rows[0].event.tokens_expire_time()), last_issue + absl::Minutes(10));
  EXPECT_EQ(rows[0].envelope.actor().kind(), Principal::KIND_SERVICE);
  EXPECT_EQ(rows[0].envelope.actor().service(), "identity");
}

TEST_F(RevocationTest, PasswordChangePublishesOnePerOpenSession) {
  v1::User admin = MakeUser("root.admin", "administrator");
  v1::User u = MakeUser("raisa", "manager");
  v1::Session a, b, ended, other;
  ASSERT_TRUE(SignIn("raisa", kPassword, &a).ok());
  ASSERT_TRUE(SignIn("raisa", kPassword, &b, "198.51.100.20").ok());
  ASSERT_TRUE(SignIn("raisa", kPassword, &ended).ok());
  ASSERT_TRUE(SignIn("root.admin", kPassword, &other).ok());
  ASSERT_TRUE(SignOut(ended).ok());
  clock_.Advance(absl::Minutes(1));
  grpc::ClientContext ctx;
  As(ctx, PrincipalOf(admin.id()));
  ctx.AddMetadata("x-request-id", "req-password");
  v1::SetPasswordRequest req;
  req.set_user_id(u.id());
  req.set_new_password("another long password");
  google::protobuf::Empty empty;
  ASSERT_TRUE(users_->SetPassword(&ctx, req, &empty).ok());
  std::vector<RevokedRow> rows = Revoked();
  ASSERT_EQ(rows.size(), 3u);  // sign_out of `ended`, then one per open session of raisa
  rows.erase(rows.begin());
  EXPECT_EQ(SessionIds(rows), (std::set<std::string>{Sid(a), Sid(b)}));
  for (const RevokedRow& r : rows) {
    EXPECT_EQ(r.event.reason(), "password_changed");
    EXPECT_EQ(r.event.user_id(), u.id());
    EXPECT_EQ(r.envelope.actor().id(), admin.id());
    EXPECT_EQ(r.envelope.request_id(), "req-password");
    EXPECT_EQ(FromProtoTimestamp(r.event.tokens_expire_time()),
              FromProtoTimestamp(r.event.revoke_time()) - absl::Minutes(1) + absl::Minutes(10));
  }
  v1::Session t;
  EXPECT_EQ(Refresh(a.refresh_token(), &t).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Refresh(other.refresh_token(), &t).ok());  // the administrator's own session goes on
}

TEST_F(RevocationTest, DeactivationPublishesUserDeactivatedPerSession) {
  v1::User admin = MakeUser("root.admin", "administrator");
  v1::User u = MakeUser("semen", "manager");
  v1::Session a, b;
  ASSERT_TRUE(SignIn("semen", kPassword, &a).ok());
  ASSERT_TRUE(SignIn("semen", kPassword, &b).ok());
  grpc::ClientContext ctx;
  As(ctx, PrincipalOf(admin.id()));
  v1::UpdateUserRequest req;
  req.mutable_user()->set_id(u.id());
  req.mutable_user()->set_active(false);
  req.mutable_update_mask()->add_paths("active");
  v1::User out;
  ASSERT_TRUE(users_->UpdateUser(&ctx, req, &out).ok());
  std::vector<RevokedRow> rows = Revoked();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(SessionIds(rows), (std::set<std::string>{Sid(a), Sid(b)}));
  for (const RevokedRow& r : rows) {
    EXPECT_EQ(r.event.reason(), "user_deactivated");
    EXPECT_EQ(r.envelope.actor().id(), admin.id());
  }
  // Other changes of the user revoke nothing.
  grpc::ClientContext ctx2;
  As(ctx2, PrincipalOf(admin.id()));
  req.mutable_user()->set_full_name("Семён");
  req.mutable_update_mask()->add_paths("full_name");
  ASSERT_TRUE(users_->UpdateUser(&ctx2, req, &out).ok());
  EXPECT_EQ(Revoked().size(), 2u);
}

TEST_F(RevocationTest, NothingIsRevokedOrPublishedWhenTheTransactionFails) {
  v1::User u = MakeUser("taras", "manager");
  v1::Session s, t;
  ASSERT_TRUE(SignIn("taras", kPassword, &s).ok());
  BreakTheOutboxForRevocations();
  EXPECT_FALSE(SignOut(s).ok());
  EXPECT_FALSE(
      store_->SetPasswordHash(Actor{}, u.id(), "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g").ok());
  v1::User off = u;
  off.set_active(false);
  EXPECT_FALSE(store_->UpdateUser(Actor{}, off, {"active"}).ok());
  EXPECT_TRUE(Revoked().empty());
  // The session was not ended by any of them, the password did not change, the user is still active.
  EXPECT_TRUE(store_->GetUser(u.id())->active());
  ASSERT_TRUE(Refresh(s.refresh_token(), &t).ok());
  EXPECT_TRUE(SignIn("taras", kPassword, &s).ok());
}

// ---- issue 15: the role matrix (README "Roles") ----

TEST_F(IdentityTest, EveryRoleHasExactlyThePermissionsOfTheReadmeMatrix) {
  using Set = std::set<std::string>;
  const Set wo_manager = {"visits.manage", "clients.read", "clients.write", "tasks.operate",
                          "notifications.read"};
  std::map<std::string, Set> want = {
      {"head_of_sales",
       {"users.read",        "identity.read.all", "deals.read.all",     "deals.write.all",  "deals.copy",
        "pipelines.manage",  "catalog.manage",    "payments.write",     "clients.read",     "clients.write",
        "robots.read",       "robots.manage",     "robots.read.all",    "approvals.decide", "reports.read",
        "reports.manage",    "checklists.review", "telephony.read.all", "dialogs.read.all", "queue.read.all",
        "mortgage.calculate"}},
      {"manager",
       {"users.read", "deals.read.team", "deals.write.own", "deals.copy", "payments.write", "clients.read",
        "clients.write", "robots.read", "mortgage.calculate", "queue.operate", "checklists.fill",
        "visits.manage", "tasks.operate", "notifications.read"}},
      {"telegram_operator", {"dialogs.operate", "clients.read", "deals.read.own", "checklists.fill"}},
      {"telegram_supervisor",
       {"users.read", "dialogs.operate", "dialogs.supervise", "dialogs.read.all", "bots.manage",
        "reports.read", "checklists.review"}},
      {"call_center_operator",
       {"calls.operate", "clients.read", "clients.write", "deals.read.own", "deals.write.own",
        "checklists.fill"}},
      {"mortgage_specialist",
       {"mortgage.calculate", "mortgage.manage", "mortgage.read.all", "deals.read.team", "clients.read"}},
      {"service_manager",
       {"visits.manage", "clients.read", "clients.write", "parking.operate", "notifications.read",
        "tasks.operate", "queue.operate", "queue.read.all", "deals.read.own", "checklists.fill"}},
      {"parking_attendant", {"parking.operate"}},
      {"waiter", {"tasks.operate", "notifications.read"}},
      {"driver", {"tasks.operate", "notifications.read"}},
      {"quality_controller",
       {"users.read", "quality.review", "checklists.review", "reports.read", "dialogs.read.all",
        "telephony.read.all"}},
      {"integrator",
       {"users.read", "identity.read.all", "api_keys.manage", "deals.read.all", "deals.write.all",
        "clients.read", "clients.write", "catalog.manage"}},
  };
  // Real estate (issue 17, D14; migration 0009, README "Real estate").
  want["head_of_sales"].insert({"realty.read", "realty.manage", "bookings.read.all", "bookings.write.all"});
  want["manager"].insert({"realty.read", "bookings.read.team", "bookings.write.own"});
  want["call_center_operator"].insert("realty.read");
  want["integrator"].insert({"realty.read", "realty.manage"});
  // Issue 17 (migration 0008): interactions and client requests (services/deals/interactions/access.h).
  want["head_of_sales"].insert({"interactions.read.all", "interactions.write.all", "interactions.slots.manage"});
  want["manager"].insert({"interactions.read.team", "interactions.write.own"});
  want["service_manager"].insert({"interactions.read.all", "interactions.write.own"});
  want["call_center_operator"].insert({"interactions.read.own", "interactions.write.own"});
  want["mortgage_specialist"].insert({"interactions.read.own", "interactions.write.own"});
  want["quality_controller"].insert({"interactions.read.all"});
  want["integrator"].insert({"interactions.read.all", "interactions.write.all"});
  // Issue 17 (migration 0010): the 1C side of deals (services/deals/erp/README.md).
  want["head_of_sales"].insert("erp.manage");
  want["integrator"].insert("erp.sync");
  // Issue 17 (migration 0011): deal applications and the client card's passport (services/deals/applications).
  want["head_of_sales"].insert({"applications.read.all", "applications.write.all", "clients.passport.read"});
  want["manager"].insert({"applications.read.team", "applications.write.own", "clients.passport.read"});
  want["mortgage_specialist"].insert({"applications.read.all", "clients.passport.read"});
  // Issue 18 (migration 0012): the dialogs service's scenarios and reading scopes.
  want["telegram_operator"].insert("dialogs.read.own");
  // The administrator has every permission any role has (and the administration ones).
  Set all = {"users.manage",   "teams.manage",     "roles.manage",      "api_keys.manage.all",
             "deals.read.own", "deals.read.team",  "deals.write.own",   "deals.write.team",
             "deals.delete",   "telephony.manage", "reporting.read.all"};
  all.insert({"bookings.read.own", "bookings.write.team"});  // real estate, administrator only
  for (const auto& [code, perms] : want) all.insert(perms.begin(), perms.end());
  all.insert({"interactions.read.team", "interactions.write.team"});  // issue 17: no other role has these
  all.insert({"applications.read.own", "applications.write.team"});  // issue 17: no other role has these
  all.insert({"dialogs.admin", "dialogs.read.team"});  // issue 18: no other role has these
  want["administrator"] = all;
  auto roles = store_->ListRoles();
  ASSERT_TRUE(roles.ok()) << roles.status();
  ASSERT_EQ(roles->roles_size(), static_cast<int>(want.size()));
  for (const v1::Role& role : roles->roles()) {
    ASSERT_TRUE(want.count(role.code())) << role.code();
    EXPECT_EQ(Set(role.permissions().begin(), role.permissions().end()), want[role.code()]) << role.code();
  }
  // Least privilege: the Welcome Office's on-site roles read no deals, hence no pipelines, deal fields or
  // lost reasons (the deals service requires deals.read.* for those).
  for (const std::string code : {"parking_attendant", "waiter", "driver"}) {
    for (const std::string& p : want[code]) EXPECT_FALSE(absl::StartsWith(p, "deals.")) << code << " " << p;
  }
  // Seed 004 §2.1's manager and service manager do what the Welcome Office gives them.
  for (const std::string& p : wo_manager) {
    EXPECT_TRUE(want["manager"].count(p)) << p;
    EXPECT_TRUE(want["service_manager"].count(p)) << p;
  }
}

}  // namespace
}  // namespace crm::identity
