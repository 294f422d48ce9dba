#include "libs/rpc/signed_principal.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/server_context.h"
#include "libs/auth/service_credential.h"
#include "libs/base/clock.h"
#include "libs/base/strings.h"

namespace crm::rpc {
namespace {

class SignedPrincipalVerifier final : public PrincipalVerifier {
 public:
  SignedPrincipalVerifier(auth::KeySet trusted, const Clock& clock, absl::Duration max_age)
      : trusted_(std::move(trusted)), clock_(clock), max_age_(max_age) {}

  absl::Status Verify(const grpc::ServerContextBase& ctx, std::string_view raw,
                      const crm::common::v1::Principal&) const override {
    const auto& metadata = ctx.client_metadata();
    auto it = metadata.find(std::string(auth::kPrincipalSigHeader));
    if (it == metadata.end()) {
      return absl::UnauthenticatedError(
          absl::StrCat(kPrincipalHeader, " without ", AsAbsl(auth::kPrincipalSigHeader)));
    }
    const std::string_view sig(it->second.data(), it->second.size());
    return auth::VerifyPrincipal(raw, sig, trusted_, clock_.Now(), max_age_);
  }

 private:
  const auth::KeySet trusted_;
  const Clock& clock_;
  const absl::Duration max_age_;
};

}  // namespace

std::shared_ptr<const PrincipalVerifier> SignedPrincipals(auth::KeySet trusted, const Clock& clock,
                                                          absl::Duration max_age) {
  return std::make_shared<SignedPrincipalVerifier>(std::move(trusted), clock, max_age);
}

std::shared_ptr<const PrincipalVerifier> SignedPrincipals(auth::KeySet trusted) {
  return SignedPrincipals(std::move(trusted), SystemClock());
}

absl::StatusOr<auth::KeySet> LoadTrustedKeys(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("trusted keys file ", path, ": cannot read"));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<auth::KeySet> keys = auth::KeySet::FromJwks(text.str());
  if (!keys.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("trusted keys file ", path, ": ", keys.status().message()));
  }
  return keys;
}

}  // namespace crm::rpc
