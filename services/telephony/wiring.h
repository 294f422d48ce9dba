// File: services/telephony/wiring.h
// The telephony service's wiring (P1–P6, issue 19), shared by its binary (main.cc) and by hosts that run
// the service in process (tests): reads the settings CRM_TELEPHONY_<NAME> (README.md) from `env`, applies
// the migrations, builds the Context (context.h), wires each part, then starts the timer loops and the
// outbox relay. Returns OK with env.status() bad when a setting is bad (RunService reports it), an error
// when wiring fails.
#ifndef CRM_SERVICES_TELEPHONY_WIRING_H_
#define CRM_SERVICES_TELEPHONY_WIRING_H_

#include <vector>

#include "absl/status/status.h"
#include "libs/config/config.h"
#include "libs/rpc/server.h"
#include "services/telephony/migrations.h"  // AllMigrations()

namespace crm::telephony {

// The DSN used when PG_DSN is unset.
inline constexpr char kDefaultDsn[] = "host=127.0.0.1 port=5432 dbname=telephony user=telephony";

// Wires the service into `server` (see the file comment).
absl::Status Wire(crm::config::Env& env, crm::rpc::Server& server);

}  // namespace crm::telephony

#endif  // CRM_SERVICES_TELEPHONY_WIRING_H_
