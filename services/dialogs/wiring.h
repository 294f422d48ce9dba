// File: services/dialogs/wiring.h
// The dialogs service's wiring (T1–T9, issue 18), shared by its binary (main.cc) and by hosts that run
// the service in process (tests): reads the settings CRM_DIALOGS_<NAME> (README.md) from `env`, applies
// the migrations, builds the Context (context.h), wires each part, then starts the timer loops and the
// outbox relay. Returns OK with env.status() bad when a setting is bad (RunService reports it), an error
// when wiring fails.
#ifndef CRM_SERVICES_DIALOGS_WIRING_H_
#define CRM_SERVICES_DIALOGS_WIRING_H_

#include <vector>

#include "absl/status/status.h"
#include "libs/config/config.h"
#include "libs/rpc/server.h"
#include "services/dialogs/migrations.h"  // AllMigrations()

namespace crm::dialogs {

// The DSN used when PG_DSN is unset.
inline constexpr char kDefaultDsn[] = "host=127.0.0.1 port=5432 dbname=dialogs user=dialogs";

// Wires the service into `server` (see the file comment).
absl::Status Wire(crm::config::Env& env, crm::rpc::Server& server);

}  // namespace crm::dialogs

#endif  // CRM_SERVICES_DIALOGS_WIRING_H_
