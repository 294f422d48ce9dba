// File: services/identity/service.cc
#include "services/identity/service.h"

#include <pqxx/pqxx>
#include <set>

#include "absl/strings/str_cat.h"
#include "libs/auth/password.h"
#include "libs/auth/totp.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/uuid.h"
#include "libs/pg/pool.h"
#include "libs/rpc/call.h"
#include "services/identity/api_keys.h"
#include "services/identity/keys.h"
#include "services/identity/sealed.h"
#include "services/identity/sessions.h"
#include "services/identity/store.h"
#include "services/identity/validate.h"

namespace crm::identity {

using crm::common::v1::Principal;

namespace {

// The caller of a call that needs one; a restricted session is refused.
absl::StatusOr<Principal> SignedIn(const grpc::ServerContextBase& ctx) {
  CRM_ASSIGN_OR_RETURN(Principal p, rpc::Caller(ctx));
  if (IsRestricted(p)) {
    return absl::PermissionDeniedError(
        "second factor enrolment required: only EnrollTotp and ConfirmTotp are allowed");
  }
  return p;
}

std::string Metadata(const grpc::ServerContextBase& ctx, const char* key) {
  const auto& md = ctx.client_metadata();
  auto it = md.find(key);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// The client's address: the gateway's header on the gateway's calls, else the peer's host.
std::string ClientIp(const grpc::ServerContext& ctx) {
  absl::StatusOr<Principal> caller = rpc::Caller(ctx);
  if (caller.ok() && IsGateway(*caller)) {
    std::string ip = Metadata(ctx, kClientIpHeader);
    if (!ip.empty() && ip.size() <= 64) return ip;
  }
  std::string peer = ctx.peer();  // "ipv4:1.2.3.4:567", "ipv6:[::1]:567", "unix:..."
  if (peer.rfind("ipv4:", 0) == 0) {
    peer = peer.substr(5);
    return peer.substr(0, peer.rfind(':'));
  }
  if (peer.rfind("ipv6:", 0) == 0) {
    peer = peer.substr(5);
    const size_t close = peer.find(']');
    return close == std::string::npos ? peer : peer.substr(1, close - 1);
  }
  return peer;
}

Actor ActorOf(const grpc::ServerContextBase& ctx, const Principal& p) {
  return Actor{p, rpc::RequestId(ctx)};
}

// The idempotency of a creating call (store.h Idempotency): the caller's key for `method`, with the
// request its fingerprint is taken of.
Idempotency IdempotencyOf(const grpc::ServerContextBase& ctx, const Principal& caller,
                          std::string_view method, const google::protobuf::Message& request) {
  return Idempotency{.scope = {.caller = rpc::IdempotencyCaller(caller),
                               .method = std::string(method),
                               .key = rpc::IdempotencyKey(ctx)},
                     .request = &request};
}

// The idempotency of a call that carries a secret (sealed.h): kept under the hash of the client's key,
// which itself seals the secret; `request` is what is fingerprinted (its secrets blinded by the caller).
absl::StatusOr<Idempotency> SealedIdempotencyOf(const grpc::ServerContextBase& ctx, const Principal& caller,
                                                std::string_view method,
                                                const google::protobuf::Message& request) {
  Idempotency out = IdempotencyOf(ctx, caller, method, request);
  out.sealing_key = out.scope.key;
  CRM_ASSIGN_OR_RETURN(out.scope.key, SealedScopeKey(out.sealing_key));
  return out;
}

// The methods whose idempotency keys identity records (IdempotencyScope::method).
constexpr char kSetPasswordMethod[] = "crm.identity.v1.UserService/SetPassword";
constexpr char kCreateUserMethod[] = "crm.identity.v1.UserService/CreateUser";
constexpr char kCreateTeamMethod[] = "crm.identity.v1.UserService/CreateTeam";
constexpr char kCreateApiKeyMethod[] = "crm.identity.v1.ApiKeyService/CreateApiKey";
constexpr char kRevokeApiKeyMethod[] = "crm.identity.v1.ApiKeyService/RevokeApiKey";

const std::set<std::string>& UserPaths() {
  static const auto* const kPaths = new std::set<std::string>{
      "login", "full_name", "email", "phone", "active", "role_codes", "team_ids", "supervisor_id"};
  return *kPaths;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// AuthService

grpc::Status AuthServiceImpl::SignIn(grpc::ServerContext* ctx, const v1::SignInRequest* req,
                                     v1::Session* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(*out, deps_.sessions->SignIn(*req, ClientIp(*ctx)));
    return absl::OkStatus();
  });
}

grpc::Status AuthServiceImpl::Refresh(grpc::ServerContext* ctx, const v1::RefreshRequest* req,
                                      v1::Session* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(*out, deps_.sessions->Refresh(req->refresh_token(), rpc::RequestId(*ctx)));
    return absl::OkStatus();
  });
}

grpc::Status AuthServiceImpl::SignOut(grpc::ServerContext* ctx, const v1::SignOutRequest* req,
                                      google::protobuf::Empty*) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    return deps_.sessions->SignOut(req->refresh_token(), rpc::RequestId(*ctx));
  });
}

grpc::Status AuthServiceImpl::VerifyApiKey(grpc::ServerContext* ctx, const v1::VerifyApiKeyRequest* req,
                                           Principal* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    absl::StatusOr<Principal> caller = rpc::Caller(*ctx);
    if (!caller.ok() || !IsGateway(*caller)) {
      return absl::PermissionDeniedError("VerifyApiKey is for the gateway only");
    }
    CRM_ASSIGN_OR_RETURN(*out, deps_.api_keys->Verify(req->key()));
    return absl::OkStatus();
  });
}

grpc::Status AuthServiceImpl::GetSigningKeys(grpc::ServerContext* ctx, const v1::GetSigningKeysRequest*,
                                             v1::SigningKeys* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    out->set_jwks_json(deps_.keys->Jwks());
    for (const std::string& kid : deps_.keys->KeyIds()) out->add_key_ids(kid);
    return absl::OkStatus();
  });
}

// ---------------------------------------------------------------------------------------------------
// UserService

grpc::Status UserServiceImpl::ListUsers(grpc::ServerContext* ctx, const v1::ListUsersRequest* req,
                                        v1::ListUsersResponse* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, SignedIn(*ctx));
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "users.read"));
    CRM_ASSIGN_OR_RETURN(*out, deps_.store->ListUsers(*req));
    return absl::OkStatus();
  });
}

grpc::Status UserServiceImpl::GetUser(grpc::ServerContext* ctx, const v1::GetUserRequest* req,
                                      v1::User* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, SignedIn(*ctx));
    CRM_RETURN_IF_ERROR(CheckId("id", req->id()));
    if (!IsSelf(caller, req->id())) CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "users.read"));
    CRM_ASSIGN_OR_RETURN(*out, deps_.store->GetUser(req->id()));
    return absl::OkStatus();
  });
}

grpc::Status UserServiceImpl::BatchGetUsers(grpc::ServerContext* ctx, const v1::BatchGetUsersRequest* req,
                                            v1::BatchGetUsersResponse* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, SignedIn(*ctx));
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "users.read"));
    CRM_ASSIGN_OR_RETURN(*out, deps_.store->BatchGetUsers(*req));
    return absl::OkStatus();
  });
}

grpc::Status UserServiceImpl::CreateUser(grpc::ServerContext* ctx, const v1::CreateUserRequest* req,
                                         v1::User* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, SignedIn(*ctx));
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "users.manage"));
    CRM_ASSIGN_OR_RETURN(*out, deps_.store->CreateUser(ActorOf(*ctx, caller), req->user(), req->password(),
                                                       IdempotencyOf(*ctx, caller, kCreateUserMethod, *req)));
    return absl::OkStatus();
  });
}

grpc::Status UserServiceImpl::UpdateUser(grpc::ServerContext* ctx, const v1::UpdateUserRequest* req,
                                         v1::User* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, SignedIn(*ctx));
    Violations v;  // issue 16: every bad field at once
    v.Check(CheckId("user.id", req->user().id()));
    if (req->update_mask().paths_size() == 0) v.Add("update_mask", "required: name the fields to change");
    std::vector<std::string> paths;
    bool self_editable = true;
    for (const std::string& p : req->update_mask().paths()) {
      if (p == "id" || p == "version") continue;  // identify and guard the update; never changed
      if (!UserPaths().count(p)) {
        v.Add("update_mask", absl::StrCat("unknown or read-only field ", QuoteForError(p)));
        continue;
      }
      if (p != "full_name" && p != "email" && p != "phone") self_editable = false;
      paths.push_back(p);
    }
    CRM_RETURN_IF_ERROR(v.Status());
    if (!(IsSelf(caller, req->user().id()) && self_editable))
      CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "users.manage"));
    CRM_ASSIGN_OR_RETURN(*out, deps_.store->UpdateUser(ActorOf(*ctx, caller), req->user(), paths));
    return absl::OkStatus();
  });
}

grpc::Status UserServiceImpl::SetPassword(grpc::ServerContext* ctx, const v1::SetPasswordRequest* req,
                                          google::protobuf::Empty*) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, SignedIn(*ctx));
    const bool self = IsSelf(caller, req->user_id());
    if (!self) CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "users.manage"));
    Violations v;  // issue 16: every bad field at once
    v.Check(CheckId("user_id", req->user_id()));
    v.Check(CheckPassword("new_password", req->new_password()));
    if (self && req->current_password().empty()) v.Add("current_password", "required");
    CRM_RETURN_IF_ERROR(v.Status());
    // Issue 16: honours Idempotency-Key, the passwords blinded in the fingerprint (sealed.h).
    v1::SetPasswordRequest fingerprinted = *req;
    CRM_ASSIGN_OR_RETURN(Idempotency idempotency,
                         SealedIdempotencyOf(*ctx, caller, kSetPasswordMethod, fingerprinted));
    if (!idempotency.sealing_key.empty()) {
      fingerprinted.set_new_password(
          Blind(idempotency.sealing_key, "SetPassword.new_password", req->new_password()));
      fingerprinted.set_current_password(
          Blind(idempotency.sealing_key, "SetPassword.current_password", req->current_password()));
    }
    CRM_ASSIGN_OR_RETURN(std::string phc,
                         auth::HashPassword(req->new_password(), deps_.store->password_params()));
    return deps_.store->SetPassword(ActorOf(*ctx, caller), req->user_id(), phc,
                                    self ? &req->current_password() : nullptr, idempotency);
  });
}

grpc::Status UserServiceImpl::EnrollTotp(grpc::ServerContext* ctx, const v1::EnrollTotpRequest* req,
                                         v1::TotpEnrollment* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, rpc::Caller(*ctx));
    CRM_RETURN_IF_ERROR(CheckId("user_id", req->user_id()));
    if (!IsSelf(caller, req->user_id()))
      return absl::PermissionDeniedError("users enrol their own second factor only");
    CRM_ASSIGN_OR_RETURN(v1::User user, deps_.store->GetUser(req->user_id()));
    CRM_ASSIGN_OR_RETURN(std::string secret, auth::NewTotpSecret());
    CRM_RETURN_IF_ERROR(deps_.store->SetPendingTotp(user.id(), secret));
    out->set_secret(secret);
    out->set_otpauth_uri(auth::OtpAuthUri("CRM", user.login(), secret));
    return absl::OkStatus();
  });
}

grpc::Status UserServiceImpl::ConfirmTotp(grpc::ServerContext* ctx, const v1::ConfirmTotpRequest* req,
                                          v1::User* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, rpc::Caller(*ctx));
    CRM_RETURN_IF_ERROR(CheckId("user_id", req->user_id()));
    if (!IsSelf(caller, req->user_id()))
      return absl::PermissionDeniedError("users enrol their own second factor only");
    CRM_ASSIGN_OR_RETURN(*out,
                         deps_.sessions->ConfirmTotp(ActorOf(*ctx, caller), req->user_id(), req->code()));
    return absl::OkStatus();
  });
}

grpc::Status UserServiceImpl::ListTeams(grpc::ServerContext* ctx, const v1::ListTeamsRequest* req,
                                        v1::ListTeamsResponse* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, SignedIn(*ctx));
    CRM_ASSIGN_OR_RETURN(*out, deps_.store->ListTeams(*req));
    return absl::OkStatus();
  });
}

grpc::Status UserServiceImpl::GetTeam(grpc::ServerContext* ctx, const v1::GetTeamRequest* req,
                                      v1::Team* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, SignedIn(*ctx));
    CRM_ASSIGN_OR_RETURN(*out, deps_.store->GetTeam(req->id()));
    return absl::OkStatus();
  });
}

grpc::Status UserServiceImpl::CreateTeam(grpc::ServerContext* ctx, const v1::CreateTeamRequest* req,
                                         v1::Team* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, SignedIn(*ctx));
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "teams.manage"));
    CRM_ASSIGN_OR_RETURN(
        *out, deps_.store->CreateTeam(req->team(), IdempotencyOf(*ctx, caller, kCreateTeamMethod, *req)));
    return absl::OkStatus();
  });
}

grpc::Status UserServiceImpl::ListRoles(grpc::ServerContext* ctx, const v1::ListRolesRequest* req,
                                        v1::ListRolesResponse* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, SignedIn(*ctx));
    CRM_ASSIGN_OR_RETURN(*out, deps_.store->ListRoles(*req));
    return absl::OkStatus();
  });
}

grpc::Status UserServiceImpl::UpdateRole(grpc::ServerContext* ctx, const v1::UpdateRoleRequest* req,
                                         v1::Role* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, SignedIn(*ctx));
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "roles.manage"));
    Violations v;  // issue 16: every bad field at once
    if (req->update_mask().paths_size() == 0) v.Add("update_mask", "required: name the fields to change");
    std::vector<std::string> paths;
    for (const std::string& p : req->update_mask().paths()) {
      if (p == "code" || p == "version") continue;  // identify and guard the update; never changed
      if (p != "name" && p != "permissions" && p != "requires_totp") {
        v.Add("update_mask", absl::StrCat("unknown or read-only field ", QuoteForError(p)));
        continue;
      }
      paths.push_back(p);
    }
    CRM_RETURN_IF_ERROR(v.Status());
    CRM_ASSIGN_OR_RETURN(*out, deps_.store->UpdateRole(req->role(), paths));
    return absl::OkStatus();
  });
}

// ---------------------------------------------------------------------------------------------------
// ApiKeyService

grpc::Status ApiKeyServiceImpl::CreateApiKey(grpc::ServerContext* ctx, const v1::CreateApiKeyRequest* req,
                                             v1::CreatedApiKey* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, SignedIn(*ctx));
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "api_keys.manage"));
    // Issue 16: a repeat returns the same secret, kept sealed under the client's key (sealed.h).
    CRM_ASSIGN_OR_RETURN(Idempotency idempotency,
                         SealedIdempotencyOf(*ctx, caller, kCreateApiKeyMethod, *req));
    CRM_ASSIGN_OR_RETURN(*out, deps_.api_keys->Create(caller, req->api_key(), idempotency));
    return absl::OkStatus();
  });
}

grpc::Status ApiKeyServiceImpl::ListApiKeys(grpc::ServerContext* ctx, const v1::ListApiKeysRequest* req,
                                            v1::ListApiKeysResponse* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, SignedIn(*ctx));
    CRM_ASSIGN_OR_RETURN(*out, deps_.api_keys->List(caller, *req));
    return absl::OkStatus();
  });
}

grpc::Status ApiKeyServiceImpl::RevokeApiKey(grpc::ServerContext* ctx, const v1::RevokeApiKeyRequest* req,
                                             v1::ApiKey* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, SignedIn(*ctx));
    CRM_ASSIGN_OR_RETURN(
        *out,
        deps_.api_keys->Revoke(caller, req->id(), IdempotencyOf(*ctx, caller, kRevokeApiKeyMethod, *req)));
    return absl::OkStatus();
  });
}

}  // namespace crm::identity
