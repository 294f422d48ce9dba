// File: libs/auth/service_credential.h
// -----------------------------------------------------------------------------
// The signed service credential. The gateway (after verifying a JWT or API key) and the suite's own
// services put the caller's crm.common.v1.Principal in gRPC metadata; backends must believe that
// metadata only when it is signed by a key they trust, never because a client sent it. The signature
// travels beside the serialized principal in the `x-crm-principal-sig` header:
//
//   v1.<unix seconds>.<base64url Ed25519 signature>.<kid>
//
// where the signature is over the ASCII string  "v1." + base64url(principal bytes) + "." + <unix seconds>.
// Binding the timestamp bounds replay (VerifyPrincipal's max_age); binding the exact bytes means any
// change to the principal breaks the signature. The "v1." prefix cannot begin a JWT signing input
// ("eyJ..."), so one key's JWT signatures and principal signatures are never interchangeable; still,
// give services their own keys (kids) rather than sharing identity's JWT key.
//
// Example:
//   // Caller (gateway or a service):
//   std::string bytes = principal.SerializeAsString();
//   CRM_ASSIGN_OR_RETURN(std::string sig, crm::auth::SignPrincipal(principal, key, clock.Now()));
//   ctx.AddMetadata("x-crm-principal-bin", bytes);
//   ctx.AddMetadata(std::string(crm::auth::kPrincipalSigHeader), sig);
//   // Backend interceptor:
//   CRM_RETURN_IF_ERROR(crm::auth::VerifyPrincipal(bytes, sig, trusted_keys, clock.Now(),
//                                                  absl::Minutes(5)));
#ifndef CRM_LIBS_AUTH_SERVICE_CREDENTIAL_H_
#define CRM_LIBS_AUTH_SERVICE_CREDENTIAL_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crm::common::v1 {
class Principal;
}  // namespace crm::common::v1

namespace crm::auth {

class KeySet;
class SigningKey;

// The gRPC metadata key that carries the signature.
inline constexpr std::string_view kPrincipalSigHeader = "x-crm-principal-sig";

// How far in the future a signature's timestamp may be (clock skew between hosts) and still verify.
inline constexpr absl::Duration kPrincipalSigMaxSkew = absl::Seconds(10);

// Returns the `x-crm-principal-sig` value for `p.SerializeAsString()` (the bytes the caller must send
// alongside) signed by `key` at `now` (whole seconds). InvalidArgument if `now` is before the epoch.
absl::StatusOr<std::string> SignPrincipal(const crm::common::v1::Principal& p, const SigningKey& key,
                                          absl::Time now);

// SignPrincipal over already-serialized principal bytes.
absl::StatusOr<std::string> SignPrincipalBytes(std::string_view serialized_principal,
                                               const SigningKey& key, absl::Time now);

// Returns OK if `sig_header` is a v1 signature by the key in `keys` named by its kid over exactly
// `serialized_principal_bytes` and its timestamp ts, with now - max_age <= ts <= now +
// kPrincipalSigMaxSkew. Otherwise Unauthenticated naming the reason: "malformed principal signature",
// "unknown kid", "bad principal signature", "stale principal signature", "future-dated principal
// signature". Does not parse the principal itself.
absl::Status VerifyPrincipal(std::string_view serialized_principal_bytes, std::string_view sig_header,
                             const KeySet& keys, absl::Time now, absl::Duration max_age);

}  // namespace crm::auth

#endif  // CRM_LIBS_AUTH_SERVICE_CREDENTIAL_H_
