// File: services/robots/wiring.h
// The robots service's wiring, shared by its binary (main.cc: crm::rpc::RunService("robots", ..., Wire))
// and by hosts that run the same service in process (tests/fuzz/hostile_requests.cc): reads the settings
// CRM_ROBOTS_<NAME> (README.md) from `env`, applies the migrations, adds the services, timers and
// consumers to `server`. Returns OK with env.status() bad when a setting is bad (RunService reports it),
// an error when wiring fails.
#ifndef CRM_SERVICES_ROBOTS_WIRING_H_
#define CRM_SERVICES_ROBOTS_WIRING_H_

#include <vector>

#include "absl/status/status.h"
#include "libs/config/config.h"
#include "libs/pg/migrations.h"
#include "libs/rpc/server.h"

namespace crm::robots {

// The DSN used when PG_DSN is unset.
inline constexpr char kDefaultDsn[] = "host=127.0.0.1 port=5432 dbname=robots user=robots";

// The events outbox's migrations followed by the service's own.
std::vector<crm::pg::Migration> AllMigrations();

// Wires the service into `server` (see the file comment).
absl::Status Wire(crm::config::Env& env, crm::rpc::Server& server);

}  // namespace crm::robots

#endif  // CRM_SERVICES_ROBOTS_WIRING_H_
