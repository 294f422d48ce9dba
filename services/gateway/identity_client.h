// File: services/gateway/identity_client.h
// -----------------------------------------------------------------------------
// What the gateway asks the identity service (services/identity) to know who is calling:
//
//   * IdentityJwksSource — the public keys access tokens are signed with, fetched with
//     AuthService.GetSigningKeys by a background thread every `refresh_interval`. Keys() never blocks
//     on identity: it returns the last keys fetched. A token naming a key id the gateway has not seen
//     (identity rotated its key a moment ago) makes the Authenticator call Refresh(), which fetches at
//     once — at most once per `min_refetch_interval`, so a flood of forged key ids cannot hammer
//     identity — and waits briefly for the answer.
//   * IdentityHealth — whether identity answers now (issue 15, /readyz): a background thread calls
//     grpc.health.v1.Health/Check on identity every `interval`; Ready() reads the cached outcome, so a
//     probe never waits on identity.
//   * IdentityApiKeyVerifier — an integrator's API key, checked with AuthService.VerifyApiKey on every
//     request (no cache: a revoked key stops working at once), called as the gateway's own signed
//     service principal.
//
// Example:
//   auto channel = grpc::CreateChannel("identity:7101", grpc::InsecureChannelCredentials());
//   AuthOptions o;
//   o.jwks = IdentityJwksSource::Start(channel);
//   o.api_keys = std::make_shared<IdentityApiKeyVerifier>(channel, service_key);
#ifndef CRM_SERVICES_GATEWAY_IDENTITY_CLIENT_H_
#define CRM_SERVICES_GATEWAY_IDENTITY_CLIENT_H_

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/auth/jwt.h"
#include "services/gateway/auth.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace crm::gateway {

struct IdentityJwksOptions {
  // How often the keys are re-fetched while all is well.
  absl::Duration refresh_interval = absl::Minutes(1);
  // After a failed fetch, the wait before the next attempt.
  absl::Duration retry_interval = absl::Seconds(2);
  // Refresh() fetches at most this often.
  absl::Duration min_refetch_interval = absl::Seconds(5);
  // Deadline of one GetSigningKeys call.
  absl::Duration call_timeout = absl::Seconds(2);
};

// Identity's published signing keys. Thread-safe.
class IdentityJwksSource final : public JwksSource {
 public:
  // Starts fetching from the identity service behind `channel` (the first fetch is under way when
  // this returns; identity need not be up yet).
  static std::shared_ptr<IdentityJwksSource> Start(std::shared_ptr<grpc::Channel> channel,
                                                   IdentityJwksOptions options = {});
  ~IdentityJwksSource() override;

  // The keys last fetched; Unavailable until the first fetch succeeded.
  absl::StatusOr<std::shared_ptr<const auth::KeySet>> Keys(absl::Time now) override;
  // Fetches now unless a fetch started less than min_refetch_interval ago, waiting up to `wait` for
  // it; returns the keys then known.
  absl::StatusOr<std::shared_ptr<const auth::KeySet>> Refresh(absl::Duration wait) override;
  // True once keys were fetched.
  bool Ready() const;

 private:
  struct State;
  explicit IdentityJwksSource(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

struct IdentityHealthOptions {
  // How often identity is asked, and the deadline of one check.
  absl::Duration interval = absl::Seconds(2);
  absl::Duration call_timeout = absl::Seconds(1);
  // Identity counts as down when no check succeeded for this long (a single lost check is tolerated).
  absl::Duration max_silence = absl::Seconds(5);
};

// Identity's health as last checked. Thread-safe.
class IdentityHealth {
 public:
  // Starts checking the identity service behind `channel` (grpc.health.v1.Health/Check, service "").
  static std::unique_ptr<IdentityHealth> Start(std::shared_ptr<grpc::Channel> channel,
                                               IdentityHealthOptions options = {});
  ~IdentityHealth();  // stops the thread
  IdentityHealth(const IdentityHealth&) = delete;
  IdentityHealth& operator=(const IdentityHealth&) = delete;

  // OK when a check answered SERVING within max_silence; otherwise Unavailable saying since when
  // identity has not (or that it was never reached) and the last error.
  absl::Status Ready() const;

 private:
  struct State;
  explicit IdentityHealth(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

// API keys checked by identity. Thread-safe.
class IdentityApiKeyVerifier final : public ApiKeyVerifier {
 public:
  // Calls the identity service behind `channel`, signing the gateway's principal with `service_key`.
  IdentityApiKeyVerifier(std::shared_ptr<grpc::Channel> channel, auth::SigningKey service_key,
                         absl::Duration call_timeout = absl::Seconds(2));
  absl::StatusOr<common::v1::Principal> Verify(std::string_view key, std::string_view request_id) override;

 private:
  std::shared_ptr<grpc::Channel> channel_;
  auth::SigningKey service_key_;
  absl::Duration call_timeout_;
};

// The principal the gateway calls backends as when it acts on its own, and for callers who are not
// signed in (sign-in itself): kind SERVICE, service "gateway", no permissions.
common::v1::Principal GatewayPrincipal();

}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_IDENTITY_CLIENT_H_
