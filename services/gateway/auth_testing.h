// File: services/gateway/auth_testing.h
// -----------------------------------------------------------------------------
// Test support for auth.h: token-signing keys given once, instead of fetched from identity.
#ifndef CRM_SERVICES_GATEWAY_AUTH_TESTING_H_
#define CRM_SERVICES_GATEWAY_AUTH_TESTING_H_

#include <memory>
#include <utility>

#include "libs/auth/jwt.h"
#include "services/gateway/auth.h"

namespace crm::gateway::testing {

// A JwksSource that always answers with the same keys.
class StaticKeys final : public JwksSource {
 public:
  explicit StaticKeys(auth::KeySet keys) : keys_(std::make_shared<const auth::KeySet>(std::move(keys))) {}
  absl::StatusOr<std::shared_ptr<const auth::KeySet>> Keys(absl::Time) override { return keys_; }

 private:
  std::shared_ptr<const auth::KeySet> keys_;
};

}  // namespace crm::gateway::testing

#endif  // CRM_SERVICES_GATEWAY_AUTH_TESTING_H_
