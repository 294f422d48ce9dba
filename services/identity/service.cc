// File: services/identity/service.cc
#include "services/identity/service.h"

#include <pqxx/binarystring>
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

// Runs `fn` once per (caller, method, idempotency-key) within 24 hours; repeats return the stored reply.
// `redact` (optional) removes what must not be stored (an API key's secret) from the stored copy.
template <typename Msg>
absl::Status Idempotent(Store& store, const grpc::ServerContextBase& ctx, const Principal& caller,
                        std::string_view method, Msg* out, absl::FunctionRef<absl::StatusOr<Msg>()> fn,
                        void (*redact)(Msg&) = nullptr) {
  const std::string key = rpc::IdempotencyKey(ctx);
  if (key.empty()) {
    CRM_ASSIGN_OR_RETURN(*out, fn());
    return absl::OkStatus();
  }
  if (key.size() > 200) return FieldError("idempotency-key", "longer than 200 bytes");
  const std::string who = absl::StrCat(caller.kind(), ":", caller.id(), ":", caller.service());
  const absl::Time now = store.clock().Now();
  bool found = false;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      store.pool(),
      [&](pqxx::work& tx) -> absl::Status {
        pqxx::result r = tx.exec_params(
            "SELECT response FROM idempotency WHERE caller = $1 AND method = $2 AND key = $3 "
            "AND create_time > $4::timestamptz",
            who, std::string(method), key, SqlTime(now - absl::Hours(24)));
        if (r.empty()) return absl::OkStatus();
        pqxx::binarystring raw(r[0][0]);
        found = out->ParseFromArray(raw.data(), static_cast<int>(raw.size()));
        return absl::OkStatus();
      },
      {.read_only = true}));
  if (found) return absl::OkStatus();
  CRM_ASSIGN_OR_RETURN(*out, fn());
  Msg stored = *out;
  if (redact != nullptr) redact(stored);
  const std::string bytes = stored.SerializeAsString();
  return pg::InTransaction(store.pool(), [&](pqxx::work& tx) -> absl::Status {
    tx.exec_params(
        "INSERT INTO idempotency (caller, method, key, response, create_time) VALUES ($1, $2, $3, $4, "
        "$5::timestamptz) "
        "ON CONFLICT (caller, method, key) DO UPDATE SET response = EXCLUDED.response, create_time = "
        "EXCLUDED.create_time "
        "WHERE idempotency.create_time <= $6::timestamptz",
        who, std::string(method), key, pqxx::binarystring(bytes.data(), bytes.size()), SqlTime(now),
        SqlTime(now - absl::Hours(24)));
    return absl::OkStatus();
  });
}

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
    if (!IsSelf(caller, req->id())) CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "users.read"));
    CRM_ASSIGN_OR_RETURN(*out, deps_.store->GetUser(req->id()));
    return absl::OkStatus();
  });
}

grpc::Status UserServiceImpl::CreateUser(grpc::ServerContext* ctx, const v1::CreateUserRequest* req,
                                         v1::User* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, SignedIn(*ctx));
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "users.manage"));
    return Idempotent<v1::User>(*deps_.store, *ctx, caller, "CreateUser", out, [&]() {
      return deps_.store->CreateUser(ActorOf(*ctx, caller), req->user(), req->password());
    });
  });
}

grpc::Status UserServiceImpl::UpdateUser(grpc::ServerContext* ctx, const v1::UpdateUserRequest* req,
                                         v1::User* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, SignedIn(*ctx));
    if (req->update_mask().paths_size() == 0) return FieldError("update_mask", "required");
    std::vector<std::string> paths;
    bool self_editable = true;
    for (const std::string& p : req->update_mask().paths()) {
      if (!UserPaths().count(p))
        return FieldError("update_mask", absl::StrCat("unknown or read-only field ", QuoteForError(p)));
      if (p != "full_name" && p != "email" && p != "phone") self_editable = false;
      paths.push_back(p);
    }
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
    CRM_RETURN_IF_ERROR(CheckPassword("new_password", req->new_password()));
    CRM_ASSIGN_OR_RETURN(std::optional<UserAuth> user, deps_.store->FindAuthById(req->user_id()));
    if (!user) return absl::NotFoundError("user not found");
    if (self) {
      if (req->current_password().empty()) return FieldError("current_password", "required");
      CRM_ASSIGN_OR_RETURN(bool ok, auth::VerifyPassword(req->current_password(), user->password_hash));
      if (!ok) return FieldError("current_password", "wrong password");
    }
    CRM_ASSIGN_OR_RETURN(std::string phc,
                         auth::HashPassword(req->new_password(), deps_.store->password_params()));
    return deps_.store->SetPasswordHash(ActorOf(*ctx, caller), req->user_id(), phc);
  });
}

grpc::Status UserServiceImpl::EnrollTotp(grpc::ServerContext* ctx, const v1::EnrollTotpRequest* req,
                                         v1::TotpEnrollment* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, rpc::Caller(*ctx));
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
    return Idempotent<v1::Team>(*deps_.store, *ctx, caller, "CreateTeam", out,
                                [&]() { return deps_.store->CreateTeam(req->team()); });
  });
}

grpc::Status UserServiceImpl::ListRoles(grpc::ServerContext* ctx, const v1::ListRolesRequest*,
                                        v1::ListRolesResponse* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, SignedIn(*ctx));
    CRM_ASSIGN_OR_RETURN(*out, deps_.store->ListRoles());
    return absl::OkStatus();
  });
}

grpc::Status UserServiceImpl::UpdateRole(grpc::ServerContext* ctx, const v1::UpdateRoleRequest* req,
                                         v1::Role* out) {
  return rpc::Handle(*ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(Principal caller, SignedIn(*ctx));
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "roles.manage"));
    if (req->update_mask().paths_size() == 0) return FieldError("update_mask", "required");
    std::vector<std::string> paths;
    for (const std::string& p : req->update_mask().paths()) {
      if (p != "name" && p != "permissions" && p != "requires_totp") {
        return FieldError("update_mask", absl::StrCat("unknown or read-only field ", QuoteForError(p)));
      }
      paths.push_back(p);
    }
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
    return Idempotent<v1::CreatedApiKey>(
        *deps_.store, *ctx, caller, "CreateApiKey", out,
        [&]() { return deps_.api_keys->Create(caller, req->api_key()); },
        // The secret is never stored: a repeat returns the key without it.
        [](v1::CreatedApiKey& k) { k.clear_secret(); });
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
    CRM_ASSIGN_OR_RETURN(*out, deps_.api_keys->Revoke(caller, req->id()));
    return absl::OkStatus();
  });
}

}  // namespace crm::identity
