// File: services/deals/main.cc
// The crm-deals binary.
//   crm-deals        serves PipelineService and DealService (gRPC 7102, metrics 9102) and relays its
//                    outbox to crm.deals.*.v1.
//   crm-deals demo   applies migrations and loads the demo pipelines of seeds 001 and 002 (demo.h).
// Settings (CRM_DEALS_<NAME> or CRM_<NAME>) are listed in README.md. Exit codes: 0 after a graceful
// stop; 2 for bad configuration; 1 when starting fails.
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>
#include <thread>

#include "libs/base/periodic.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/config/config.h"
#include "libs/events/consumer.h"
#include "libs/events/relay.h"
#include "libs/events/schema.h"
#include "libs/log/log.h"
#include "libs/pg/migrations.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/rpc/server.h"
#include "services/deals/wiring.h"
#include "services/deals/realty/demo.h"
#include "services/deals/clients.h"
#include "services/deals/deals.h"
#include "services/deals/listing.h"
#include "services/deals/demo.h"
#include "services/deals/erp/demo.h"
#include "services/deals/interactions/demo.h"
#include "services/deals/applications/demo.h"
#include "services/deals/orders.h"
#include "services/deals/payments.h"
#include "services/deals/pipelines.h"
#include "services/deals/products.h"
#include "services/deals/tasks.h"
#include "services/deals/timeline.h"
#include "services/deals/users.h"

namespace {

int DemoMain() {
  crm::log::Init("deals", crm::log::Level::kInfo);
  crm::config::Env env("deals");
  const std::string dsn = env.String("PG_DSN", crm::deals::kDefaultDsn);
  const std::string time_zone = env.String("TIME_ZONE", crm::deals::kDefaultPaymentTimeZone);
  if (!env.status().ok()) return crm::config::ReportInvalid("deals", env.status());
  absl::Status status = [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(auto pool,
        crm::pg::MigrateAndOpen(crm::deals::AllMigrations(),
            {.dsn = dsn, .size = 2, .application_name = "deals-demo"}));
    CRM_RETURN_IF_ERROR(crm::deals::LoadDemoPipelines(*pool));
    CRM_RETURN_IF_ERROR(crm::deals::realty::LoadDemoRealty(*pool));  // D14: a project, two buildings, bookings
    // Issue 17: the 1C side's demo deals, proposal and documents (services/deals/erp/demo.h).
    CRM_RETURN_IF_ERROR(crm::deals::erp::LoadDemoErp(*pool, crm::SystemClock()));
    // Issue 17: requests and interactions of the demo clients (services/deals/interactions/demo.h).
    CRM_ASSIGN_OR_RETURN(absl::TimeZone zone, crm::LoadTimeZone(time_zone));
    CRM_RETURN_IF_ERROR(crm::deals::interactions::LoadDemoInteractions(*pool, zone, crm::SystemClock()));
    // Issue 17: deal applications of the demo requests (services/deals/applications/demo.h).
    return crm::deals::applications::LoadDemoApplications(*pool, zone, crm::SystemClock());
  }();
  if (!status.ok()) {
    std::fprintf(stderr, "crm-deals demo: %s\n", std::string(status.ToString()).c_str());
    return 1;
  }
  std::printf("demo pipelines ready\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "demo") return DemoMain();
  return crm::rpc::RunService("deals", 7102, 9102, crm::deals::Wire);
}
