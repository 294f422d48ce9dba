// File: services/identity/wiring.cc
#include "services/identity/wiring.h"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/base/periodic.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/config/config.h"
#include "libs/events/relay.h"
#include "libs/events/schema.h"
#include "libs/log/log.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/rpc/server.h"
#include "services/identity/api_keys.h"
#include "services/identity/demo.h"
#include "services/identity/keys.h"
#include "services/identity/service.h"
#include "services/identity/sessions.h"
#include "services/identity/store.h"

namespace crm {
const std::vector<crm::pg::Migration>& IdentityMigrations();
}  // namespace crm

namespace crm::identity {

std::vector<crm::pg::Migration> AllMigrations() {
  std::vector<crm::pg::Migration> all = crm::EventsMigrations();
  all.insert(all.end(), crm::IdentityMigrations().begin(), crm::IdentityMigrations().end());
  return all;
}

absl::Status Wire(crm::config::Env& env, crm::rpc::Server& server) {
  const std::string dsn = env.String("PG_DSN", kDefaultDsn);
  const int pool_size = static_cast<int>(env.Int("PG_POOL_SIZE", 8, 1, 256));
  crm::identity::SessionOptions sessions;
  sessions.access_token_ttl = env.Duration("ACCESS_TOKEN_TTL", absl::Minutes(10));
  sessions.refresh_token_ttl = env.Duration("REFRESH_TOKEN_TTL", absl::Hours(24 * 14));
  // Sign-in throttling (throttle.h): free failures per (login, address) and per address, then
  // doubling waits from SIGNIN_FIRST_DELAY up to SIGNIN_MAX_DELAY; SIGNIN_FORGET_AFTER without
  // failures clears a record.
  crm::identity::SignInThrottlePolicy& throttle = sessions.throttle;
  throttle.per_login_address.free_failures =
      static_cast<int>(env.Int("SIGNIN_FREE_FAILURES_PER_LOGIN", 5, 0, 1000));
  throttle.per_address.free_failures =
      static_cast<int>(env.Int("SIGNIN_FREE_FAILURES_PER_ADDRESS", 30, 0, 100000));
  for (crm::identity::DelayPolicy* p : {&throttle.per_login_address, &throttle.per_address}) {
    p->first_delay = env.Duration("SIGNIN_FIRST_DELAY", absl::Seconds(1));
    p->max_delay = env.Duration("SIGNIN_MAX_DELAY", absl::Minutes(15));
    p->forget_after = env.Duration("SIGNIN_FORGET_AFTER", absl::Hours(1));
  }
  if (throttle.per_address.first_delay <= absl::ZeroDuration())
    env.Reject("SIGNIN_FIRST_DELAY", "must be positive");
  if (throttle.per_address.max_delay < throttle.per_address.first_delay)
    env.Reject("SIGNIN_MAX_DELAY", "must not be shorter than SIGNIN_FIRST_DELAY");
  if (throttle.per_address.forget_after <= throttle.per_address.max_delay)
    env.Reject("SIGNIN_FORGET_AFTER", "must be longer than SIGNIN_MAX_DELAY");
  crm::identity::KeyRingOptions keys;
  keys.rotation = env.Duration("KEY_ROTATION", absl::Hours(24 * 30));
  keys.access_token_ttl = sessions.access_token_ttl;
  const absl::Duration key_reload = env.Duration("KEY_RELOAD_INTERVAL", absl::Minutes(1));
  keys.activation_delay = env.Duration("KEY_ACTIVATION_DELAY", absl::Minutes(3));
  if (keys.activation_delay <= key_reload) {
    env.Reject("KEY_ACTIVATION_DELAY",
               "must be longer than KEY_RELOAD_INTERVAL (replicas must see a key before it signs)");
  }
  const std::string admin_login = env.String("BOOTSTRAP_ADMIN_LOGIN", "");
  const std::string admin_password_file = env.String("BOOTSTRAP_ADMIN_PASSWORD_FILE", "");
  const bool relay_enabled = env.Bool("OUTBOX_RELAY", true);
  crm::events::RelayOptions relay_options = crm::events::RelayOptionsFromEnv(env, dsn);
  if (sessions.access_token_ttl <= absl::ZeroDuration())
    env.Reject("ACCESS_TOKEN_TTL", "must be positive");
  if (sessions.refresh_token_ttl <= absl::ZeroDuration())
    env.Reject("REFRESH_TOKEN_TTL", "must be positive");
  if (keys.rotation <= absl::ZeroDuration()) env.Reject("KEY_ROTATION", "must be positive");
  if (key_reload <= absl::ZeroDuration()) env.Reject("KEY_RELOAD_INTERVAL", "must be positive");
  if (admin_login.empty() != admin_password_file.empty()) {
    env.Reject("BOOTSTRAP_ADMIN_LOGIN", "set together with BOOTSTRAP_ADMIN_PASSWORD_FILE");
  }
  if (!env.status().ok()) return absl::OkStatus();  // RunService reports env.status() and exits 2

  CRM_ASSIGN_OR_RETURN(std::unique_ptr<crm::pg::Pool> pool,
                       crm::pg::MigrateAndOpen(AllMigrations(),
                           {.dsn = dsn, .size = pool_size, .application_name = "identity"}));
  auto* p = server.Own(std::move(pool));
  auto* store = server.Own(std::make_unique<crm::identity::Store>(*p, crm::SystemClock()));
  if (!admin_login.empty())
    CRM_RETURN_IF_ERROR(crm::identity::BootstrapAdmin(*store, admin_login, admin_password_file));
  auto* ring = server.Own(std::make_unique<crm::identity::KeyRing>(*p, crm::SystemClock(), keys));
  CRM_RETURN_IF_ERROR(ring->Maintain());
  ring->StartBackground(key_reload);
  auto* sess = server.Own(std::make_unique<crm::identity::Sessions>(*store, *ring, sessions));
  server.Own(std::make_unique<crm::Periodic>(absl::Hours(1), [sess] {
    if (absl::Status s = sess->Prune(); !s.ok())
      crm::log::Warn("cannot prune sessions", {{"error", s}});
  }));
  auto* api_keys = server.Own(std::make_unique<crm::identity::ApiKeys>(*store));
  const crm::identity::Deps deps{store, sess, ring, api_keys};
  server.AddService(server.Own(std::make_unique<crm::identity::AuthServiceImpl>(deps)));
  server.AddService(server.Own(std::make_unique<crm::identity::UserServiceImpl>(deps)));
  server.AddService(server.Own(std::make_unique<crm::identity::ApiKeyServiceImpl>(deps)));
  if (relay_enabled) {
    CRM_ASSIGN_OR_RETURN(std::unique_ptr<crm::events::Relay> relay,
                         crm::events::Relay::Create(relay_options));
    server.Own(std::move(relay))->Start();
  }
  return absl::OkStatus();
}

}  // namespace crm::identity
