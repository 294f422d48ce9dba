// File: services/robots/main.cc
// The crm-robots binary.
//   crm-robots        serves RuleService and ExecutionService (gRPC 7103, metrics 9103), consumes the
//                     suite's events (deals, tasks, calls, dialogs) and identity's users, fires durable
//                     timers and schedules, calls deals to act, and relays its outbox to crm.robots.*.v1.
//   crm-robots demo   applies migrations and installs the demo rules of seeds 001 and 002 (demo.h).
// Settings (CRM_ROBOTS_<NAME> or CRM_<NAME>) are listed in README.md. Exit codes: 0 after a graceful
// stop; 2 for bad configuration; 1 when starting fails.
#include <cstdio>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/calendar/calendar.h"
#include "libs/config/config.h"
#include "libs/log/log.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/rpc/server.h"
#include "services/robots/demo.h"
#include "services/robots/rule_store.h"
#include "libs/timers/schedules.h"
#include "services/robots/wiring.h"

namespace {

int DemoMain() {
  crm::log::Init("robots", crm::log::Level::kInfo);
  crm::config::Env env("robots");
  const std::string dsn = env.String("PG_DSN", crm::robots::kDefaultDsn);
  const std::string zone = env.String("TIME_ZONE", "Europe/Moscow");
  if (!env.status().ok()) return crm::config::ReportInvalid("robots", env.status());
  absl::Status status = [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(auto pool,
        crm::pg::MigrateAndOpen(crm::robots::AllMigrations(), {.dsn = dsn, .size = 2, .application_name = "robots-demo"}));
    crm::timers::ScheduleStore schedules(*pool, crm::SystemClock(), [&](std::string_view) {
      return absl::StatusOr<crm::calendar::WorkingCalendar>(
          crm::calendar::WorkingCalendar::FiveDay(*crm::LoadTimeZone(zone)));
    });
    crm::robots::RuleStore rules(*pool, crm::SystemClock(), &schedules, {.time_zone = zone});
    return crm::robots::InstallDemoRules(rules);
  }();
  if (!status.ok()) {
    std::fprintf(stderr, "crm-robots demo: %s\n", std::string(status.ToString()).c_str());
    return 1;
  }
  std::printf("demo rules ready\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "demo") return DemoMain();
  return crm::rpc::RunService("robots", 7103, 9103, crm::robots::Wire);
}
