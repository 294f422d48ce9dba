#include "libs/rpc/signed_principal.h"

#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server_context.h"
#include "libs/auth/service_credential.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
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
    const absl::Time now = clock_.Now();
    // The gateway reuses a signature for a few seconds; a pair (signature, bytes) verified before
    // needs only its age checked again.
    std::optional<absl::Time> signed_at = SignedAt(sig);
    if (signed_at.has_value()) {
      absl::ReaderMutexLock lock(&mu_);
      auto hit = verified_.find(AsAbsl(sig));
      if (hit != verified_.end() && hit->second == raw && now - max_age_ <= *signed_at &&
          *signed_at <= now + auth::kPrincipalSigMaxSkew) {
        return absl::OkStatus();
      }
    }
    CRM_RETURN_IF_ERROR(auth::VerifyPrincipal(raw, sig, trusted_, now, max_age_));
    if (signed_at.has_value()) {
      absl::MutexLock lock(&mu_);
      if (verified_.size() >= kMaxRemembered) verified_.clear();
      verified_.insert_or_assign(std::string(sig), std::string(raw));
    }
    return absl::OkStatus();
  }

 private:
  static constexpr size_t kMaxRemembered = 10'000;

  // The timestamp of a "v1.<unix seconds>.<sig>.<kid>" header, or nullopt.
  static std::optional<absl::Time> SignedAt(std::string_view sig) {
    if (sig.substr(0, 3) != "v1.") return std::nullopt;
    const size_t end = sig.find('.', 3);
    int64_t secs = 0;
    if (end == std::string_view::npos || !absl::SimpleAtoi(AsAbsl(sig.substr(3, end - 3)), &secs)) {
      return std::nullopt;
    }
    return absl::FromUnixSeconds(secs);
  }

  const auth::KeySet trusted_;
  const Clock& clock_;
  const absl::Duration max_age_;
  mutable absl::Mutex mu_;
  // Signature header → the principal bytes it was verified over.
  mutable absl::flat_hash_map<std::string, std::string> verified_ ABSL_GUARDED_BY(mu_);
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
