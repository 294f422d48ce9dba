// File: services/identity/keys.h
// -----------------------------------------------------------------------------
// The ring of Ed25519 keys that sign access tokens, kept in table signing_keys so every replica signs
// with the same key and publishes the same JWKS.
//
// Maintain() (at start, then periodically on every replica) does, under a PostgreSQL advisory lock:
// make a new key when there is none or the newest one is older than `rotation`; drop keys retired
// longer than access-token TTL + `grace` ago (no token they signed can still be valid); then reload
// the ring. Every key not yet dropped is published by Jwks().
//
// A new key is published at once but signs only `activation_delay` later (the previous key signs
// until then and is retired at that moment), so every replica has reloaded, and serves the new key in
// its JWKS, before any token signed by it exists. The very first key signs at once.
//
// Example:
//   crm::identity::KeyRing ring(*pool, crm::SystemClock(), {.rotation = absl::Hours(24 * 30)});
//   CRM_RETURN_IF_ERROR(ring.Maintain());
//   ring.StartBackground(absl::Minutes(1));
//   CRM_ASSIGN_OR_RETURN(crm::auth::SigningKey key, ring.Current());
#ifndef CRM_SERVICES_IDENTITY_KEYS_H_
#define CRM_SERVICES_IDENTITY_KEYS_H_

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/auth/jwt.h"

namespace crm {
class Clock;
namespace pg {
class Pool;
}  // namespace pg
}  // namespace crm

namespace crm::identity {

struct KeyRingOptions {
  absl::Duration rotation = absl::Hours(24 * 30);       // age at which a new key takes over
  absl::Duration access_token_ttl = absl::Minutes(10);  // how long a retired key's tokens may live on
  absl::Duration grace = absl::Hours(1);                // extra time a retired key stays published
  absl::Duration activation_delay = absl::Minutes(3);   // published-before-signing time; > reload interval
};

class KeyRing {
 public:
  // `pool` and `clock` must outlive the ring.
  KeyRing(pg::Pool& pool, const Clock& clock, KeyRingOptions options = {});
  ~KeyRing();  // stops the background thread
  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;

  // Rotates and prunes as the file comment says (at most one replica at a time), then reloads.
  absl::Status Maintain();
  // Reloads the ring from the database only.
  absl::Status Reload();

  // The key that signs new tokens as of the last Maintain()/Reload(): the newest key at least
  // activation_delay old and not retired (the newest key while there is only one). FailedPrecondition
  // before a successful Maintain()/Reload() found one.
  absl::StatusOr<auth::SigningKey> Current() const;
  // The published public keys as a JWKS document; their kids, the signing key first, then the others
  // newest first.
  std::string Jwks() const;
  std::vector<std::string> KeyIds() const;

  // Runs Maintain() every `every` on a background thread (errors are logged) until destruction.
  void StartBackground(absl::Duration every);

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  const KeyRingOptions options_;

  mutable absl::Mutex mu_;
  std::optional<auth::SigningKey> current_ ABSL_GUARDED_BY(mu_);
  std::vector<auth::PublicKey> published_ ABSL_GUARDED_BY(mu_);  // newest first
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace crm::identity

#endif  // CRM_SERVICES_IDENTITY_KEYS_H_
