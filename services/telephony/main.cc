// File: services/telephony/main.cc
// The crm-telephony binary (P1–P6, issue 19).
//   crm-telephony        serves the telephony API on gRPC 7105 (metrics 9105): calls from every configured PBX
//                        (Asterisk AMI, Mango Office) in one call model, caller identification, calls in the
//                        deals' timeline, the call-request queue; relays its outbox to crm.telephony.*.v1.
//   crm-telephony demo   applies migrations and installs the demo data.
// Settings (CRM_TELEPHONY_<NAME> or CRM_<NAME>) are listed in README.md. Exit codes: 0 after a graceful
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
#include "services/telephony/calls/demo.h"
#include "services/telephony/wiring.h"

namespace {

int DemoMain() {
  crm::log::Init("telephony", crm::log::Level::kInfo);
  crm::config::Env env("telephony");
  const std::string dsn = env.String("PG_DSN", crm::telephony::kDefaultDsn);
  if (!env.status().ok()) return crm::config::ReportInvalid("telephony", env.status());
  absl::Status s = [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(auto pool, crm::pg::MigrateAndOpen(crm::telephony::AllMigrations(),
                                        {.dsn = dsn, .size = 1, .application_name = "telephony-demo"}));
    // The parts' demo data (README.md): the calls part's extensions of the demo users (calls/demo.h).
    CRM_RETURN_IF_ERROR(crm::telephony::calls::InstallDemo(*pool));
    return absl::OkStatus();
  }();
  if (!s.ok()) {
    std::fprintf(stderr, "crm-telephony demo: %s\n", std::string(s.ToString()).c_str());
    return 1;
  }
  std::printf("telephony demo installed\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "demo") return DemoMain();
  return crm::rpc::RunService("telephony", 7105, 9105, crm::telephony::Wire);
}
