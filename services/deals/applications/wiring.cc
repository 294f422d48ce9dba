// File: services/deals/applications/wiring.cc
#include "services/deals/applications/wiring.h"

#include <memory>
#include <string>

#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "services/deals/applications/service.h"
#include "services/deals/applications/store.h"

namespace crm::deals::applications {

absl::Status WireApplications(crm::config::Env& env, crm::rpc::Server& server, crm::pg::Pool& pool) {
  const std::string time_zone = env.String("TIME_ZONE", "Europe/Moscow");
  if (!env.status().ok()) return absl::OkStatus();  // RunService reports env.status()
  CRM_ASSIGN_OR_RETURN(absl::TimeZone zone, crm::LoadTimeZone(time_zone));
  auto* store = server.Own(std::make_unique<ApplicationStore>(pool, crm::SystemClock(), zone));
  server.AddService(server.Own(std::make_unique<DealApplicationServiceImpl>(*store)));
  return absl::OkStatus();
}

}  // namespace crm::deals::applications
