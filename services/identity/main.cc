// File: services/identity/main.cc
// The crm-identity binary.
//   crm-identity                      serves AuthService, UserService and ApiKeyService (gRPC 7101,
//                                     metrics 9101), runs the outbox relay and the signing-key ring.
//   crm-identity demo-users --credentials PATH --totp-secrets PATH
//                                     applies migrations and creates the demo users (demo.h).
// Settings (CRM_IDENTITY_<NAME> or CRM_<NAME>) are listed in README.md. Exit codes: 0 after a graceful
// stop; 2 for bad configuration; 1 when starting fails.
#include <cstdio>
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
#include "services/identity/wiring.h"
#include "services/identity/api_keys.h"
#include "services/identity/demo.h"
#include "services/identity/keys.h"
#include "services/identity/service.h"
#include "services/identity/sessions.h"
#include "services/identity/store.h"

namespace {

int DemoUsersMain(int argc, char** argv) {
  crm::log::Init("identity", crm::log::Level::kInfo);
  crm::identity::DemoOptions options;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--credentials") {
      options.credentials_path = argv[i + 1];
    } else if (flag == "--totp-secrets") {
      options.totp_path = argv[i + 1];
    } else {
      std::fprintf(stderr, "crm-identity demo-users: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (options.credentials_path.empty() || options.totp_path.empty()) {
    std::fprintf(stderr, "usage: crm-identity demo-users --credentials PATH --totp-secrets PATH\n");
    return 2;
  }
  crm::config::Env env("identity");
  const std::string dsn = env.String("PG_DSN", crm::identity::kDefaultDsn);
  if (!env.status().ok()) return crm::config::ReportInvalid("identity", env.status());
  absl::Status status = [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(auto pool,
        crm::pg::MigrateAndOpen(crm::identity::AllMigrations(),
        {.dsn = dsn, .size = 2, .application_name = "identity-demo"}));
    crm::identity::Store store(*pool, crm::SystemClock());
    return crm::identity::CreateDemoUsers(store, options);
  }();
  if (!status.ok()) {
    std::fprintf(stderr, "crm-identity demo-users: %s\n", std::string(status.ToString()).c_str());
    return 1;
  }
  std::printf("demo users ready: credentials in %s, TOTP secrets in %s\n", options.credentials_path.c_str(),
              options.totp_path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "demo-users") return DemoUsersMain(argc, argv);
  return crm::rpc::RunService("identity", 7101, 9101, crm::identity::Wire);
}
