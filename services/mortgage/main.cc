// File: services/mortgage/main.cc
// The crm-mortgage binary.
//   crm-mortgage        serves ReferenceService and CalculatorService (M1–M3), ApplicationService and
//                       DeskService (M4, M5) on gRPC 7106 (metrics 9106), and relays its outbox to
//                       crm.mortgage.*.v1.
//   crm-mortgage demo   applies migrations and installs the demo banks and programs (demo.h).
// Settings (CRM_MORTGAGE_<NAME> or CRM_<NAME>) are listed in README.md. Exit codes: 0 after a graceful
// stop; 2 for bad configuration; 1 when starting fails.
#include <malloc.h>

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

#include "libs/base/clock.h"
#include "libs/base/periodic.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/calendar/calendar.h"
#include "libs/config/config.h"
#include "libs/events/outbox.h"
#include "libs/events/relay.h"
#include "libs/events/schema.h"
#include "libs/log/log.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/rpc/server.h"
#include "services/mortgage/wiring.h"
#include "services/mortgage/applications.h"
#include "services/mortgage/demo.h"
#include "services/mortgage/service.h"
#include "services/mortgage/store.h"

namespace {

int DemoMain() {
  crm::log::Init("mortgage", crm::log::Level::kInfo);
  crm::config::Env env("mortgage");
  const std::string dsn = env.String("PG_DSN", crm::mortgage::kDefaultDsn);
  if (!env.status().ok()) return crm::config::ReportInvalid("mortgage", env.status());
  absl::StatusOr<bool> wrote = [&]() -> absl::StatusOr<bool> {
    CRM_ASSIGN_OR_RETURN(auto pool,
        crm::pg::MigrateAndOpen(crm::mortgage::AllMigrations(),
        {.dsn = dsn, .size = 1, .application_name = "mortgage-demo"}));
    crm::mortgage::ReferenceStore store(*pool, crm::SystemClock(), {});
    return store.Install(crm::mortgage::DemoCatalog());
  }();
  if (!wrote.ok()) {
    std::fprintf(stderr, "crm-mortgage demo: %s\n", std::string(wrote.status().ToString()).c_str());
    return 1;
  }
  std::printf(*wrote ? "demo banks and programs installed\n" : "demo banks and programs already there\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "demo") return DemoMain();
  // A multi-calculation with full schedules allocates a few MB of rows and frees them when answered.
  // glibc would give that memory back to the kernel after each call and fault it in again, zeroed, on
  // the next: more work than the calculation (tools/bench/mortgage_bench.cc measures it). Keep it.
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  return crm::rpc::RunService("mortgage", 7106, 9106, crm::mortgage::Wire);
}
