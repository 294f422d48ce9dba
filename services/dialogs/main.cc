// File: services/dialogs/main.cc
// The crm-dialogs binary (T1–T9, issue 18).
//   crm-dialogs        serves the dialogs API on gRPC 7104 (metrics 9104), takes Telegram's updates (webhook
//                      through the gateway, or long polling), runs the chat-bot scenarios, routes dialogs to
//                      operators, sends within Telegram's limits and relays its outbox to crm.dialogs.*.v1.
//   crm-dialogs demo   applies migrations and installs the demo bot and the seed's scenario.
// Settings (CRM_DIALOGS_<NAME> or CRM_<NAME>) are listed in README.md. Exit codes: 0 after a graceful
// stop; 2 for bad configuration; 1 when starting fails.
#include <cstdio>
#include <string>
#include <string_view>

#include "libs/base/status.h"
#include "libs/config/config.h"
#include "libs/log/log.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/rpc/server.h"
#include "services/dialogs/scenarios/demo.h"
#include "services/dialogs/telegram/wire.h"
#include "services/dialogs/wiring.h"

namespace {

int DemoMain() {
  crm::log::Init("dialogs", crm::log::Level::kInfo);
  crm::config::Env env("dialogs");
  const std::string dsn = env.String("PG_DSN", crm::dialogs::kDefaultDsn);
  if (!env.status().ok()) return crm::config::ReportInvalid("dialogs", env.status());
  absl::Status s = [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(auto pool, crm::pg::MigrateAndOpen(crm::dialogs::AllMigrations(),
                                        {.dsn = dsn, .size = 1, .application_name = "dialogs-demo"}));
    // The parts' demo data goes here (README.md).
    // T1: the demo bot (its hours and out-of-hours text), then T3: the seed's flow as its scenario.
    CRM_RETURN_IF_ERROR(crm::dialogs::telegram::InstallDemoBot(env, *pool, crm::dialogs::scenarios::kDemoBotId));
    CRM_RETURN_IF_ERROR(crm::dialogs::scenarios::InstallDemoScenario(*pool));
    return absl::OkStatus();
  }();
  if (!s.ok()) {
    std::fprintf(stderr, "crm-dialogs demo: %s\n", std::string(s.ToString()).c_str());
    return 1;
  }
  std::printf("dialogs demo installed\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "demo") return DemoMain();
  return crm::rpc::RunService("dialogs", 7104, 9104, crm::dialogs::Wire);
}
