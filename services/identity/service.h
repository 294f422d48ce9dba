// File: services/identity/service.h
// -----------------------------------------------------------------------------
// The gRPC handlers of AuthService, UserService and ApiKeyService: thin wrappers that identify the
// caller (crm::rpc::Caller), check permissions from the caller's `permissions`, and call the store,
// sessions, key ring and API keys. A restricted session (scopes ["self.totp.enroll"]) may call only
// EnrollTotp / ConfirmTotp on itself. The client IP used for sign-in throttling is the gateway's
// x-crm-client-ip header when the caller is the gateway's service principal, else the peer address.
// CreateUser, CreateTeam and CreateApiKey honour an `idempotency-key` header: the same key from the
// same caller within 24 hours returns the first response (for CreateApiKey without the secret, which
// is never stored).
//
// Example:
//   crm::identity::Deps deps{&store, &sessions, &ring, &api_keys};
//   server.AddService(server.Own(std::make_unique<crm::identity::AuthServiceImpl>(deps)));
//   server.AddService(server.Own(std::make_unique<crm::identity::UserServiceImpl>(deps)));
//   server.AddService(server.Own(std::make_unique<crm::identity::ApiKeyServiceImpl>(deps)));
#ifndef CRM_SERVICES_IDENTITY_SERVICE_H_
#define CRM_SERVICES_IDENTITY_SERVICE_H_

#include "crm/identity/v1/identity.grpc.pb.h"

namespace crm::identity {

class ApiKeys;
class KeyRing;
class Sessions;
class Store;

// What the handlers use; every pointer must outlive the services.
struct Deps {
  Store* store;
  Sessions* sessions;
  KeyRing* keys;
  ApiKeys* api_keys;
};

// The metadata key of the client's address, set by the gateway.
inline constexpr char kClientIpHeader[] = "x-crm-client-ip";

class AuthServiceImpl final : public crm::identity::v1::AuthService::Service {
 public:
  explicit AuthServiceImpl(Deps deps) : deps_(deps) {}
  grpc::Status SignIn(grpc::ServerContext* ctx, const v1::SignInRequest* req, v1::Session* out) override;
  grpc::Status Refresh(grpc::ServerContext* ctx, const v1::RefreshRequest* req, v1::Session* out) override;
  grpc::Status SignOut(grpc::ServerContext* ctx, const v1::SignOutRequest* req,
                       google::protobuf::Empty* out) override;
  grpc::Status VerifyApiKey(grpc::ServerContext* ctx, const v1::VerifyApiKeyRequest* req,
                            crm::common::v1::Principal* out) override;
  grpc::Status GetSigningKeys(grpc::ServerContext* ctx, const v1::GetSigningKeysRequest* req,
                              v1::SigningKeys* out) override;

 private:
  Deps deps_;
};

class UserServiceImpl final : public crm::identity::v1::UserService::Service {
 public:
  explicit UserServiceImpl(Deps deps) : deps_(deps) {}
  grpc::Status ListUsers(grpc::ServerContext* ctx, const v1::ListUsersRequest* req,
                         v1::ListUsersResponse* out) override;
  grpc::Status GetUser(grpc::ServerContext* ctx, const v1::GetUserRequest* req, v1::User* out) override;
  grpc::Status BatchGetUsers(grpc::ServerContext* ctx, const v1::BatchGetUsersRequest* req,
                             v1::BatchGetUsersResponse* out) override;
  grpc::Status CreateUser(grpc::ServerContext* ctx, const v1::CreateUserRequest* req, v1::User* out) override;
  grpc::Status UpdateUser(grpc::ServerContext* ctx, const v1::UpdateUserRequest* req, v1::User* out) override;
  grpc::Status SetPassword(grpc::ServerContext* ctx, const v1::SetPasswordRequest* req,
                           google::protobuf::Empty* out) override;
  grpc::Status EnrollTotp(grpc::ServerContext* ctx, const v1::EnrollTotpRequest* req,
                          v1::TotpEnrollment* out) override;
  grpc::Status ConfirmTotp(grpc::ServerContext* ctx, const v1::ConfirmTotpRequest* req,
                           v1::User* out) override;
  grpc::Status ListTeams(grpc::ServerContext* ctx, const v1::ListTeamsRequest* req,
                         v1::ListTeamsResponse* out) override;
  grpc::Status GetTeam(grpc::ServerContext* ctx, const v1::GetTeamRequest* req, v1::Team* out) override;
  grpc::Status CreateTeam(grpc::ServerContext* ctx, const v1::CreateTeamRequest* req, v1::Team* out) override;
  grpc::Status ListRoles(grpc::ServerContext* ctx, const v1::ListRolesRequest* req,
                         v1::ListRolesResponse* out) override;
  grpc::Status UpdateRole(grpc::ServerContext* ctx, const v1::UpdateRoleRequest* req, v1::Role* out) override;

 private:
  Deps deps_;
};

class ApiKeyServiceImpl final : public crm::identity::v1::ApiKeyService::Service {
 public:
  explicit ApiKeyServiceImpl(Deps deps) : deps_(deps) {}
  grpc::Status CreateApiKey(grpc::ServerContext* ctx, const v1::CreateApiKeyRequest* req,
                            v1::CreatedApiKey* out) override;
  grpc::Status ListApiKeys(grpc::ServerContext* ctx, const v1::ListApiKeysRequest* req,
                           v1::ListApiKeysResponse* out) override;
  grpc::Status RevokeApiKey(grpc::ServerContext* ctx, const v1::RevokeApiKeyRequest* req,
                            v1::ApiKey* out) override;

 private:
  Deps deps_;
};

}  // namespace crm::identity

#endif  // CRM_SERVICES_IDENTITY_SERVICE_H_
