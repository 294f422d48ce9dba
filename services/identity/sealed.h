// File: services/identity/sealed.h
// -----------------------------------------------------------------------------
// Idempotency for calls that carry a secret (issue 16, G1): CreateApiKey answers with the key's secret,
// SetPassword is asked with passwords. Their Idempotency-Key is honoured like every other creating call's
// (libs/pg/idempotency.h), yet the idempotency table must not become a copy of those secrets. So, for
// these calls only:
//   * the record is kept under SealedScopeKey(key) — the SHA-256 of the client's key, never the key;
//   * a secret in the recorded reply is Seal()ed: XORed with an HMAC-SHA256 stream keyed by the client's
//     key, so only a repeat that presents that key again can Unseal() it (the table alone cannot);
//   * a secret in the request is Blind()ed before the request is fingerprinted (an HMAC under the client's
//     key, not a bare SHA-256 a dictionary would invert).
// Each seal names its `context` (the method, the field and the object's id), so no keystream is used twice.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(std::string scope_key, SealedScopeKey(rpc::IdempotencyKey(ctx)));
//   kept.set_secret(Seal(client_key, absl::StrCat("CreateApiKey.secret/", id), made.display));
//   ...  // a repeat: CRM_ASSIGN_OR_RETURN(std::string secret, Unseal(client_key, context, kept.secret()));
#ifndef CRM_SERVICES_IDENTITY_SEALED_H_
#define CRM_SERVICES_IDENTITY_SEALED_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace crm::identity {

// The key a sealed call's idempotency record is kept under: "" for no key (the call is not
// idempotent), else the SHA-256 hex of `client_key`. INVALID_ARGUMENT naming idempotency-key for a key
// longer than pg::kMaxIdempotencyKeyBytes (the limit every other call applies).
absl::StatusOr<std::string> SealedScopeKey(std::string_view client_key);

// `secret` sealed under `client_key` for `context` (unpadded base64url).
std::string Seal(std::string_view client_key, std::string_view context, std::string_view secret);

// The secret of Seal(client_key, context, secret); INTERNAL when `sealed` is not a sealed value.
absl::StatusOr<std::string> Unseal(std::string_view client_key, std::string_view context,
                                   std::string_view sealed);

// What a request's `secret` field is fingerprinted as: HMAC-SHA256(client_key, context, secret), base64url.
std::string Blind(std::string_view client_key, std::string_view context, std::string_view secret);

}  // namespace crm::identity

#endif  // CRM_SERVICES_IDENTITY_SEALED_H_
