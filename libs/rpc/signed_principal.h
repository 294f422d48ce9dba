// File: libs/rpc/signed_principal.h
// -----------------------------------------------------------------------------
// Backends accept a caller's principal (x-crm-principal-bin) only when it carries a signature
// (x-crm-principal-sig, libs/auth/service_credential.h) made by a trusted key — the gateway's, or a
// service of the suite acting on its own — and made recently. A principal sent by anyone else, altered
// on the way, or replayed long after is turned away with UNAUTHENTICATED before the handler runs.
//
// The trusted keys are a JWKS file (CRM_<SERVICE>_TRUSTED_KEYS_FILE); RunService installs this
// verifier when the setting is present. Without it a service believes the header as sent and logs a
// warning at start: development only.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(auto keys, crm::auth::KeySet::FromJwks(jwks_json));
//   server.SetPrincipalVerifier(crm::rpc::SignedPrincipals(std::move(keys)));
#ifndef CRM_LIBS_RPC_SIGNED_PRINCIPAL_H_
#define CRM_LIBS_RPC_SIGNED_PRINCIPAL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/auth/jwt.h"
#include "libs/rpc/call.h"

namespace crm {
class Clock;
}  // namespace crm

namespace crm::rpc {

// A verifier accepting principals signed by one of `trusted` within `max_age` of `clock`'s now.
std::shared_ptr<const PrincipalVerifier> SignedPrincipals(auth::KeySet trusted, const Clock& clock,
                                                          absl::Duration max_age = absl::Minutes(5));
std::shared_ptr<const PrincipalVerifier> SignedPrincipals(auth::KeySet trusted);

// Reads a JWKS file of trusted keys; NotFound / InvalidArgument naming the file.
absl::StatusOr<auth::KeySet> LoadTrustedKeys(const std::string& path);

}  // namespace crm::rpc

#endif  // CRM_LIBS_RPC_SIGNED_PRINCIPAL_H_
