// File: services/mortgage/wiring.cc
#include "services/mortgage/wiring.h"

#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <vector>

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
#include "services/mortgage/deals_client.h"
#include "services/mortgage/demo.h"
#include "services/mortgage/service.h"
#include "services/mortgage/store.h"

namespace crm {
const std::vector<crm::pg::Migration>& MortgageMigrations();
}  // namespace crm

namespace crm::mortgage {

std::vector<crm::pg::Migration> AllMigrations() {
  std::vector<crm::pg::Migration> all = crm::EventsMigrations();
  all.insert(all.end(), crm::MortgageMigrations().begin(), crm::MortgageMigrations().end());
  return all;
}

absl::Status Wire(crm::config::Env& env, crm::rpc::Server& server) {
  const std::string dsn = env.String("PG_DSN", kDefaultDsn);
  const int pool_size = static_cast<int>(env.Int("PG_POOL_SIZE", 8, 2, 256));
  const bool relay_enabled = env.Bool("OUTBOX_RELAY", true);
  // The company's zone ("today" for calculations and reports) and working calendar (payment dates
  // of banks that move them off weekends and holidays: YYYY-MM-DD,...).
  const std::string time_zone = env.String("TIME_ZONE", "Europe/Moscow");
  const std::string holidays = env.String("HOLIDAYS", "");
  // How often a replica looks for reference changes made by another.
  const absl::Duration refresh = env.Duration("REFERENCE_REFRESH", absl::Seconds(1));
  // M4: deals, asked whether an application's client and deal exist and are the caller's to see.
  const std::string deals_address = env.String("DEALS_ADDRESS", "127.0.0.1:7102");
  const absl::Duration deals_timeout = env.Duration("DEALS_TIMEOUT", absl::Seconds(3));
  crm::events::RelayOptions relay_options = crm::events::RelayOptionsFromEnv(env, dsn);
  if (!env.status().ok()) return absl::OkStatus();  // RunService reports env.status() and exits 2

  const crm::Clock* clock = &crm::SystemClock();
  CRM_ASSIGN_OR_RETURN(absl::TimeZone zone, crm::LoadTimeZone(time_zone));
  CRM_ASSIGN_OR_RETURN(crm::calendar::WorkingCalendar cal_value,
                       crm::calendar::WorkingCalendar::FiveDay(time_zone, holidays));
  auto* calendar = server.Own(std::make_unique<crm::calendar::WorkingCalendar>(std::move(cal_value)));

  CRM_ASSIGN_OR_RETURN(std::unique_ptr<crm::pg::Pool> pool,
                       crm::pg::MigrateAndOpen(AllMigrations(),
                           {.dsn = dsn, .size = pool_size, .application_name = "mortgage"}));
  auto* p = server.Own(std::move(pool));

  auto* store = server.Own(std::make_unique<crm::mortgage::ReferenceStore>(
      *p, *clock, crm::mortgage::ReferenceStoreOptions{.refresh = refresh}));
  const crm::mortgage::CalculatorEnv calc{.clock = clock, .calendar = calendar};
  server.AddService(server.Own(std::make_unique<crm::mortgage::ReferenceServiceImpl>(*store, calc)));
  server.AddService(server.Own(std::make_unique<crm::mortgage::CalculatorServiceImpl>(*store, calc)));
  auto* applications = server.Own(std::make_unique<crm::mortgage::ApplicationStore>(*p, *clock));
  auto* deals = server.Own(crm::mortgage::DealsClient::Connect(
      {.target = deals_address, .default_timeout = deals_timeout}, server.service_key(), *clock));
  if (server.service_key() == nullptr) {
    crm::log::Warn(
        "no service key (CRM_MORTGAGE_SERVICE_KEY_FILE): deals will trust mortgage's calls only "
        "without trusted keys (development)");
  }
  server.AddService(server.Own(std::make_unique<crm::mortgage::ApplicationServiceImpl>(
      *applications,
      [store, calc](const crm::mortgage::v1::MultiCalculateRequest& request) {
        return crm::mortgage::RunMultiCalculation(*store, calc, request);
      },
      *deals)));
  server.AddService(server.Own(std::make_unique<crm::mortgage::DeskServiceImpl>(*applications, *clock, zone)));

  // Idempotency records past their 24 hours, hourly on every replica.
  server.Own(crm::pg::HourlyIdempotencyPurge(*p, *clock));
  if (relay_enabled) {
    CRM_ASSIGN_OR_RETURN(std::unique_ptr<crm::events::Relay> relay, crm::events::Relay::Create(relay_options));
    server.Own(std::move(relay))->Start();
  }
  return absl::OkStatus();
}

}  // namespace crm::mortgage
