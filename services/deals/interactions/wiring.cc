// File: services/deals/interactions/wiring.cc
#include "services/deals/interactions/wiring.h"

#include <memory>
#include <string>

#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "services/deals/interactions/calendar_store.h"
#include "services/deals/interactions/interaction_store.h"
#include "services/deals/interactions/request_store.h"
#include "services/deals/interactions/service.h"

namespace crm {
const std::vector<crm::pg::Migration>& RequestsMigrations();
const std::vector<crm::pg::Migration>& InteractionComponentMigrations();
}  // namespace crm

namespace crm::deals::interactions {

const std::vector<crm::pg::Migration>& InteractionsMigrations() {
  static const auto* all = [] {
    auto* v = new std::vector<crm::pg::Migration>(crm::RequestsMigrations());
    v->insert(v->end(), crm::InteractionComponentMigrations().begin(), crm::InteractionComponentMigrations().end());
    return v;
  }();
  return *all;
}

absl::Status WireInteractions(crm::config::Env& env, crm::rpc::Server& server, crm::pg::Pool& pool) {
  const std::string time_zone = env.String("TIME_ZONE", "Europe/Moscow");
  if (!env.status().ok()) return absl::OkStatus();  // RunService reports env.status()
  CRM_ASSIGN_OR_RETURN(absl::TimeZone zone, crm::LoadTimeZone(time_zone));
  auto* requests = server.Own(std::make_unique<RequestStore>(pool, crm::SystemClock()));
  auto* interactions = server.Own(std::make_unique<InteractionStore>(pool, crm::SystemClock(), zone));
  auto* calendars = server.Own(std::make_unique<CalendarStore>(pool, crm::SystemClock(), zone));
  server.AddService(server.Own(std::make_unique<InteractionServiceImpl>(*interactions, *calendars)));
  server.AddService(server.Own(std::make_unique<ClientRequestServiceImpl>(*requests)));
  return absl::OkStatus();
}

}  // namespace crm::deals::interactions
