// File: services/identity/api_keys.cc
#include "services/identity/api_keys.h"

#include <algorithm>
#include <pqxx/pqxx>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/timestamp.pb.h"
#include "libs/auth/secrets.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/rpc/call.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/pool.h"
#include "services/identity/store.h"
#include "services/identity/validate.h"

namespace crm::identity {

using crm::common::v1::Principal;

namespace {

std::string KeyColumns() {
  return absl::StrCat("id::text, name, prefix, scopes, owner_user_id::text, ", SqlMicros("create_time"), ", ",
                      SqlMicros("expire_time"), ", ", SqlMicros("revoke_time"), ", ",
                      SqlMicros("last_used_time"), ", version, secret_hash");
}

v1::ApiKey ReadKey(const pqxx::row& r) {
  v1::ApiKey k;
  k.set_id(r[0].c_str());
  k.set_name(r[1].c_str());
  k.set_prefix(absl::StrCat("crm_", r[2].c_str(), "_…"));
  for (absl::string_view s : absl::StrSplit(r[3].c_str(), ' ', absl::SkipEmpty()))
    k.add_scopes(std::string(s));
  k.set_owner_user_id(r[4].c_str());
  *k.mutable_create_time() = ToProtoTimestamp(absl::FromUnixMicros(r[5].as<int64_t>()));
  if (!r[6].is_null()) *k.mutable_expire_time() = ToProtoTimestamp(absl::FromUnixMicros(r[6].as<int64_t>()));
  if (!r[7].is_null()) *k.mutable_revoke_time() = ToProtoTimestamp(absl::FromUnixMicros(r[7].as<int64_t>()));
  if (!r[8].is_null())
    *k.mutable_last_used_time() = ToProtoTimestamp(absl::FromUnixMicros(r[8].as<int64_t>()));
  k.set_version(r[9].as<int64_t>());
  return k;
}

absl::Status InvalidKey() { return absl::UnauthenticatedError("invalid API key"); }

}  // namespace

absl::StatusOr<v1::CreatedApiKey> ApiKeys::Create(const Principal& caller, const v1::ApiKey& key) {
  CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "api_keys.manage"));
  if (caller.kind() != Principal::KIND_USER) {
    return absl::PermissionDeniedError("only a signed-in user can create API keys");
  }
  CRM_RETURN_IF_ERROR(CheckText("api_key.name", key.name(), 200, /*required=*/true));
  if (key.scopes_size() == 0) return FieldError("api_key.scopes", "at least one scope is required");
  if (key.scopes_size() > 200) return FieldError("api_key.scopes", "at most 200");
  std::set<std::string> scopes;
  for (const std::string& s : key.scopes()) {
    CRM_RETURN_IF_ERROR(CheckPermissionCode("api_key.scopes", s));
    if (!rpc::HasPermission(caller, s)) {
      return FieldError(
          "api_key.scopes",
          absl::StrCat(QuoteForError(s), " is not a permission of the creator (scopes must be a subset)"));
    }
    scopes.insert(s);
  }
  const absl::Time now = store_.clock().Now();
  std::string expire;
  if (key.has_expire_time()) {
    const absl::Time t = FromProtoTimestamp(key.expire_time());
    if (t <= now) return FieldError("api_key.expire_time", "must be in the future");
    expire = SqlTime(t);
  }
  const auth::NewApiKey made = auth::MakeApiKey();
  const std::string id = NewUuidV7();
  v1::CreatedApiKey out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(store_.pool(), [&](pqxx::work& tx) -> absl::Status {
    pqxx::row r = tx.exec_params1(
        absl::StrCat(
            "INSERT INTO api_keys (id, name, prefix, secret_hash, scopes, owner_user_id, create_time, "
            "expire_time) VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, "
            "CASE WHEN $8 = '' THEN NULL ELSE $8::timestamptz END) RETURNING ",
            KeyColumns()),
        id, key.name(), made.id_prefix, made.hash, absl::StrJoin(scopes, " "), caller.id(), SqlTime(now),
        expire);
    *out.mutable_api_key() = ReadKey(r);
    return absl::OkStatus();
  }));
  out.set_secret(made.display);
  return out;
}

absl::StatusOr<v1::ListApiKeysResponse> ApiKeys::List(const Principal& caller,
                                                      const v1::ListApiKeysRequest& req) {
  const bool all = rpc::HasPermission(caller, "api_keys.manage.all");
  if (!all) CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "api_keys.manage"));
  CRM_ASSIGN_OR_RETURN(int size, PageSize(req.page_size()));
  CRM_ASSIGN_OR_RETURN(std::string after, DecodePageToken(req.page_token()));
  if (!after.empty() && !IsUuid(after)) return FieldError("page_token", "invalid");
  const std::string owner = all ? std::string() : caller.id();
  if (!all && !IsUuid(owner)) return absl::PermissionDeniedError("missing permission api_keys.manage.all");
  v1::ListApiKeysResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      store_.pool(),
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        pqxx::result r =
            tx.exec_params(absl::StrCat("SELECT ", KeyColumns(),
                                        " FROM api_keys WHERE ($1 = '' OR id > NULLIF($1, '')::uuid) "
                                        "AND ($2 = '' OR owner_user_id = NULLIF($2, '')::uuid) "
                                        "AND ($3 OR (revoke_time IS NULL AND (expire_time IS NULL OR "
                                        "expire_time > $4::timestamptz))) "
                                        "ORDER BY id LIMIT $5"),
                           after, owner, req.include_inactive(), SqlTime(store_.clock().Now()), size + 1);
        for (size_t i = 0; i < r.size() && static_cast<int>(i) < size; ++i)
          *out.add_api_keys() = ReadKey(r[i]);
        if (static_cast<int>(r.size()) > size)
          out.set_next_page_token(EncodePageToken(out.api_keys().rbegin()->id()));
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::ApiKey> ApiKeys::Revoke(const Principal& caller, std::string_view id) {
  const bool all = rpc::HasPermission(caller, "api_keys.manage.all");
  if (!all) CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "api_keys.manage"));
  if (!IsUuid(id)) return absl::NotFoundError("API key not found");
  v1::ApiKey out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(store_.pool(), [&](pqxx::work& tx) -> absl::Status {
    pqxx::result r = tx.exec_params(
        absl::StrCat("SELECT ", KeyColumns(), " FROM api_keys WHERE id = $1 FOR UPDATE"), std::string(id));
    if (r.empty()) return absl::NotFoundError("API key not found");
    out = ReadKey(r[0]);
    if (!all && out.owner_user_id() != caller.id())
      return absl::PermissionDeniedError("missing permission api_keys.manage.all");
    if (out.has_revoke_time()) return absl::OkStatus();
    pqxx::row row = tx.exec_params1(
        absl::StrCat("UPDATE api_keys SET revoke_time = $2::timestamptz, version = version + 1 WHERE id = $1 "
                     "RETURNING ",
                     KeyColumns()),
        std::string(id), SqlTime(store_.clock().Now()));
    out = ReadKey(row);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<Principal> ApiKeys::Verify(std::string_view presented) {
  absl::StatusOr<std::pair<std::string, std::string>> parts = auth::ParseApiKey(presented);
  if (!parts.ok()) return InvalidKey();
  const absl::Time now = store_.clock().Now();
  std::optional<v1::ApiKey> key;
  std::string hash;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      store_.pool(),
      [&](pqxx::work& tx) -> absl::Status {
        pqxx::result r = tx.exec_params(
            absl::StrCat("SELECT ", KeyColumns(), " FROM api_keys WHERE prefix = $1"), parts->first);
        if (r.empty()) return absl::OkStatus();
        key = ReadKey(r[0]);
        hash = r[0][10].c_str();
        return absl::OkStatus();
      },
      {.read_only = true}));
  if (!key || !auth::VerifyApiKeySecret(parts->second, hash)) return InvalidKey();
  if (key->has_revoke_time()) return InvalidKey();
  if (key->has_expire_time() && FromProtoTimestamp(key->expire_time()) <= now) return InvalidKey();
  CRM_ASSIGN_OR_RETURN(std::optional<UserAuth> owner, store_.FindAuthById(key->owner_user_id()));
  if (!owner || !owner->user.active()) return InvalidKey();
  if (!key->has_last_used_time() || now - FromProtoTimestamp(key->last_used_time()) >= absl::Minutes(1)) {
    CRM_RETURN_IF_ERROR(pg::InTransaction(store_.pool(), [&](pqxx::work& tx) -> absl::Status {
      tx.exec_params(
          "UPDATE api_keys SET last_used_time = $2::timestamptz WHERE id = $1 "
          "AND (last_used_time IS NULL OR last_used_time <= $3::timestamptz)",
          key->id(), SqlTime(now), SqlTime(now - absl::Minutes(1)));
      return absl::OkStatus();
    }));
  }
  Principal p;
  p.set_kind(Principal::KIND_API_KEY);
  p.set_id(key->id());
  p.set_on_behalf_of_user_id(owner->user.id());
  for (const std::string& t : owner->user.team_ids()) p.add_team_ids(t);
  for (const std::string& s : key->scopes()) {
    if (std::binary_search(owner->permissions.begin(), owner->permissions.end(), s)) p.add_permissions(s);
  }
  return p;
}

}  // namespace crm::identity
