// File: services/identity/api_keys.h
// -----------------------------------------------------------------------------
// API keys for integrators: "crm_<prefix>_<secret>", shown once at creation; the database keeps the
// prefix and the SHA-256 of the secret only. A key's scopes must be a subset of its creator's
// permissions at creation, and when used it grants scopes ∩ the owner's permissions *now*, so
// demoting or deactivating the owner limits or stops the key at once. Revocation is immediate.
//
// Permissions: api_keys.manage creates, lists and revokes one's own keys; api_keys.manage.all lists
// and revokes anyone's. Verify() is for the gateway (the caller checks that).
//
// Example:
//   crm::identity::ApiKeys keys(store);
//   CRM_ASSIGN_OR_RETURN(auto created, keys.Create(caller, api_key));   // created.secret(): show once
//   CRM_ASSIGN_OR_RETURN(crm::common::v1::Principal p, keys.Verify(created.secret()));
#ifndef CRM_SERVICES_IDENTITY_API_KEYS_H_
#define CRM_SERVICES_IDENTITY_API_KEYS_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "crm/common/v1/common.pb.h"
#include "crm/identity/v1/identity.pb.h"

namespace crm::identity {

class Store;
struct Idempotency;

class ApiKeys {
 public:
  // `store` must outlive this object.
  explicit ApiKeys(Store& store) : store_(store) {}

  // Creates a key owned by `caller` (a user). INVALID_ARGUMENT naming api_key.name / api_key.scopes /
  // api_key.expire_time; PERMISSION_DENIED "missing permission api_keys.manage". A repeat under
  // `idempotency` returns the first reply, its secret included when idempotency.sealing_key is set: the
  // record keeps it sealed under that key (sealed.h), never in clear (without a sealing key, no secret).
  absl::StatusOr<crm::identity::v1::CreatedApiKey> Create(const crm::common::v1::Principal& caller,
                                                          const crm::identity::v1::ApiKey& key,
                                                          const Idempotency& idempotency);
  absl::StatusOr<crm::identity::v1::CreatedApiKey> Create(const crm::common::v1::Principal& caller,
                                                          const crm::identity::v1::ApiKey& key);
  // The caller's keys (everyone's with api_keys.manage.all), by id; active only unless include_inactive.
  absl::StatusOr<crm::identity::v1::ListApiKeysResponse> List(
      const crm::common::v1::Principal& caller, const crm::identity::v1::ListApiKeysRequest& req);
  // Revokes a key (idempotent). INVALID_ARGUMENT naming `id` when it is not a UUID; NOT_FOUND for an
  // unknown id; PERMISSION_DENIED for another user's key without api_keys.manage.all. A repeat under
  // `idempotency` returns the first reply.
  absl::StatusOr<crm::identity::v1::ApiKey> Revoke(const crm::common::v1::Principal& caller,
                                                   std::string_view id, const Idempotency& idempotency);
  absl::StatusOr<crm::identity::v1::ApiKey> Revoke(const crm::common::v1::Principal& caller,
                                                   std::string_view id);
  // The principal of the presented key; UNAUTHENTICATED "invalid API key" when it is malformed,
  // unknown, revoked, expired, or its owner is inactive. Records last use (at most once a minute).
  absl::StatusOr<crm::common::v1::Principal> Verify(std::string_view presented);

 private:
  Store& store_;
};

}  // namespace crm::identity

#endif  // CRM_SERVICES_IDENTITY_API_KEYS_H_
