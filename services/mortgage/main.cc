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
#include "services/mortgage/applications.h"
#include "services/mortgage/demo.h"
#include "services/mortgage/service.h"
#include "services/mortgage/store.h"

namespace crm {
const std::vector<crm::pg::Migration>& MortgageMigrations();
}  // namespace crm

namespace {

constexpr char kDefaultDsn[] = "host=127.0.0.1 port=5432 dbname=mortgage user=mortgage";

std::vector<crm::pg::Migration> AllMigrations() {
  std::vector<crm::pg::Migration> all = crm::EventsMigrations();
  all.insert(all.end(), crm::MortgageMigrations().begin(), crm::MortgageMigrations().end());
  return all;
}

int DemoMain() {
  crm::log::Init("mortgage", crm::log::Level::kInfo);
  crm::config::Env env("mortgage");
  const std::string dsn = env.String("PG_DSN", kDefaultDsn);
  if (!env.status().ok()) return crm::config::ReportInvalid("mortgage", env.status());
  absl::StatusOr<bool> wrote = [&]() -> absl::StatusOr<bool> {
    CRM_RETURN_IF_ERROR(crm::pg::Migrate(dsn, AllMigrations()).status());
    CRM_ASSIGN_OR_RETURN(auto pool,
                         crm::pg::Pool::Create({.dsn = dsn, .size = 1, .application_name = "mortgage-demo"}));
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
  return crm::rpc::RunService(
      "mortgage", 7106, 9106, [](crm::config::Env& env, crm::rpc::Server& server) -> absl::Status {
        const std::string dsn = env.String("PG_DSN", kDefaultDsn);
        const int pool_size = static_cast<int>(env.Int("PG_POOL_SIZE", 8, 2, 256));
        const bool relay_enabled = env.Bool("OUTBOX_RELAY", true);
        // The company's zone ("today" for calculations and reports) and working calendar (payment dates
        // of banks that move them off weekends and holidays: YYYY-MM-DD,...).
        const std::string time_zone = env.String("TIME_ZONE", "Europe/Moscow");
        const std::string holidays = env.String("HOLIDAYS", "");
        // How often a replica looks for reference changes made by another.
        const absl::Duration refresh = env.Duration("REFERENCE_REFRESH", absl::Seconds(1));
        crm::events::RelayOptions relay_options = crm::events::RelayOptionsFromEnv(env, dsn);
        if (!env.status().ok()) return absl::OkStatus();  // RunService reports env.status() and exits 2

        const crm::Clock* clock = &crm::SystemClock();
        CRM_ASSIGN_OR_RETURN(absl::TimeZone zone, crm::LoadTimeZone(time_zone));
        CRM_ASSIGN_OR_RETURN(crm::calendar::WorkingCalendar cal_value,
                             crm::calendar::WorkingCalendar::FiveDay(time_zone, holidays));
        auto* calendar = server.Own(std::make_unique<crm::calendar::WorkingCalendar>(std::move(cal_value)));

        CRM_ASSIGN_OR_RETURN(int applied, crm::pg::Migrate(dsn, AllMigrations()));
        crm::log::Info("migrations applied", {{"count", applied}});
        CRM_ASSIGN_OR_RETURN(std::unique_ptr<crm::pg::Pool> pool,
                             crm::pg::Pool::Create({.dsn = dsn, .size = pool_size, .application_name = "mortgage"}));
        auto* p = server.Own(std::move(pool));

        auto* store = server.Own(std::make_unique<crm::mortgage::ReferenceStore>(
            *p, *clock, crm::mortgage::ReferenceStoreOptions{.refresh = refresh}));
        const crm::mortgage::CalculatorEnv calc{.clock = clock, .calendar = calendar};
        server.AddService(server.Own(std::make_unique<crm::mortgage::ReferenceServiceImpl>(*store, calc)));
        server.AddService(server.Own(std::make_unique<crm::mortgage::CalculatorServiceImpl>(*store, calc)));
        auto* applications = server.Own(std::make_unique<crm::mortgage::ApplicationStore>(*p, *clock));
        server.AddService(server.Own(std::make_unique<crm::mortgage::ApplicationServiceImpl>(
            *applications, [store, calc](const crm::mortgage::v1::MultiCalculateRequest& request) {
              return crm::mortgage::RunMultiCalculation(*store, calc, request);
            })));
        server.AddService(server.Own(std::make_unique<crm::mortgage::DeskServiceImpl>(*applications, *clock, zone)));

        // Idempotency records past their 24 hours, hourly on every replica.
        server.Own(std::make_unique<crm::Periodic>(absl::Hours(1), [p, clock] {
          absl::Status s = crm::pg::InTransaction(
              *p, [clock](pqxx::work& tx) { return crm::pg::PurgeIdempotency(tx, clock->Now()).status(); });
          if (!s.ok()) crm::log::Warn("cannot purge idempotency records", {{"error", s}});
        }));
        if (relay_enabled) {
          CRM_ASSIGN_OR_RETURN(std::unique_ptr<crm::events::Relay> relay, crm::events::Relay::Create(relay_options));
          server.Own(std::move(relay))->Start();
        }
        return absl::OkStatus();
      });
}
