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
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/pool.h"
#include "libs/rpc/call.h"
#include "services/identity/sealed.h"
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

// What the secret of key `id` is sealed for in its idempotency record (sealed.h).
std::string SecretContext(std::string_view id) { return std::string("CreateApiKey.secret/").append(id); }

}  // namespace

absl::StatusOr<v1::CreatedApiKey> ApiKeys::Create(const Principal& caller, const v1::ApiKey& key) {
  return Create(caller, key, Idempotency{});
}

absl::StatusOr<v1::CreatedApiKey> ApiKeys::Create(const Principal& caller, const v1::ApiKey& key,
                                                  const Idempotency& idempotency) {
  CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "api_keys.manage"));
  if (caller.kind() != Principal::KIND_USER) {
    return absl::PermissionDeniedError("only a signed-in user can create API keys");
  }
  Violations v;  // issue 16: every bad field at once
  v.Check(CheckText("api_key.name", key.name(), 200, /*required=*/true));
  if (key.scopes_size() == 0) v.Add("api_key.scopes", "at least one scope is required");
  if (key.scopes_size() > 200) v.Add("api_key.scopes", "at most 200");
  std::set<std::string> scopes;
  for (int i = 0; i < key.scopes_size() && i < 200; ++i) {
    const std::string& s = key.scopes(i);
    const std::string field = absl::StrCat("api_key.scopes[", i, "]");
    if (!v.Check(CheckPermissionCode(field, s))) continue;
    if (!rpc::HasPermission(caller, s)) {
      v.Add(field,
            absl::StrCat(QuoteForError(s), " is not a permission of the creator (scopes must be a subset)"));
    }
    scopes.insert(s);
  }
  const absl::Time now = store_.clock().Now();
  std::string expire;
  if (key.has_expire_time()) {
    const absl::Time t = FromProtoTimestamp(key.expire_time());
    if (t <= now) v.Add("api_key.expire_time", "must be in the future");
    expire = SqlTime(t);
  }
  CRM_RETURN_IF_ERROR(v.Status());
  const auth::NewApiKey made = auth::MakeApiKey();
  const std::string id = NewUuidV7();
  // What the idempotency record keeps: the key, its secret sealed under the client's key (sealed.h), so
  // a repeat returns the same secret while the table alone cannot tell it.
  v1::CreatedApiKey kept;
  bool made_now = false;
  CRM_RETURN_IF_ERROR(pg::InTransaction(store_.pool(), [&](pqxx::work& tx) -> absl::Status {
    return RunIdempotentIn(tx, idempotency, now, kept, [&]() -> absl::Status {
      made_now = true;
      pqxx::row r = tx.exec_params1(
          absl::StrCat(
              "INSERT INTO api_keys (id, name, prefix, secret_hash, scopes, owner_user_id, create_time, "
              "expire_time) VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, "
              "CASE WHEN $8 = '' THEN NULL ELSE $8::timestamptz END) RETURNING ",
              KeyColumns()),
          id, key.name(), made.id_prefix, made.hash, absl::StrJoin(scopes, " "), caller.id(), SqlTime(now),
          expire);
      *kept.mutable_api_key() = ReadKey(r);
      if (!idempotency.sealing_key.empty()) {
        kept.set_secret(Seal(idempotency.sealing_key, SecretContext(id), made.display));
      }
      return absl::OkStatus();
    });
  }));
  v1::CreatedApiKey out = kept;
  if (made_now) {
    out.set_secret(made.display);
  } else if (!idempotency.sealing_key.empty()) {
    CRM_ASSIGN_OR_RETURN(*out.mutable_secret(),
                         Unseal(idempotency.sealing_key, SecretContext(out.api_key().id()), kept.secret()));
  } else {
    out.clear_secret();  // a record made without a sealing key holds no secret
  }
  return out;
}

absl::StatusOr<v1::ListApiKeysResponse> ApiKeys::List(const Principal& caller,
                                                      const v1::ListApiKeysRequest& req) {
  const bool all = rpc::HasPermission(caller, "api_keys.manage.all");
  if (!all) CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "api_keys.manage"));
  Violations v;  // issue 16: every bad field at once
  const std::optional<int> size_or = v.Value(PageSize(req.page_size()));
  std::optional<std::string> after_or = v.Value(DecodePageToken(req.page_token()));
  if (after_or && !after_or->empty() && !IsUuid(*after_or)) v.Add("page_token", "invalid");
  CRM_RETURN_IF_ERROR(v.Status());
  const int size = *size_or;
  const std::string& after = *after_or;
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
  return Revoke(caller, id, Idempotency{});
}

absl::StatusOr<v1::ApiKey> ApiKeys::Revoke(const Principal& caller, std::string_view id,
                                           const Idempotency& idempotency) {
  const bool all = rpc::HasPermission(caller, "api_keys.manage.all");
  if (!all) CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, "api_keys.manage"));
  CRM_RETURN_IF_ERROR(CheckId("id", id));
  v1::ApiKey out;
  const absl::Time now = store_.clock().Now();
  CRM_RETURN_IF_ERROR(pg::InTransaction(store_.pool(), [&](pqxx::work& tx) -> absl::Status {
    return RunIdempotentIn(tx, idempotency, now, out, [&]() -> absl::Status {
      pqxx::result r = tx.exec_params(
          absl::StrCat("SELECT ", KeyColumns(), " FROM api_keys WHERE id = $1 FOR UPDATE"), std::string(id));
      if (r.empty()) return absl::NotFoundError("API key not found");
      out = ReadKey(r[0]);
      if (!all && out.owner_user_id() != caller.id())
        return absl::PermissionDeniedError("missing permission api_keys.manage.all");
      if (out.has_revoke_time()) return absl::OkStatus();
      pqxx::row row = tx.exec_params1(
          absl::StrCat(
              "UPDATE api_keys SET revoke_time = $2::timestamptz, version = version + 1 WHERE id = $1 "
              "RETURNING ",
              KeyColumns()),
          std::string(id), SqlTime(now));
      out = ReadKey(row);
      return absl::OkStatus();
    });
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
