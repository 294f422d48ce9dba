// File: libs/parts/parts.cc
#include "libs/parts/parts.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "crm/deals/v1/clients.grpc.pb.h"
#include "libs/base/clock.h"
#include "libs/base/periodic.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/calendar/calendar.h"
#include "libs/config/config.h"
#include "libs/events/outbox.h"
#include "libs/events/relay.h"
#include "libs/log/log.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/rpc/client.h"
#include "libs/rpc/server.h"
#include "libs/timers/timers.h"

namespace crm::parts {

absl::Status WireService(crm::config::Env& env, crm::rpc::Server& server, const Options& options,
                         absl::FunctionRef<absl::Status(Context&)> wire_parts) {
  const std::string dsn = env.String("PG_DSN", options.default_dsn);
  const int pool_size = static_cast<int>(env.Int("PG_POOL_SIZE", 8, 2, 256));
  const bool relay_enabled = env.Bool("OUTBOX_RELAY", true);
  const std::string time_zone = env.String("TIME_ZONE", "Europe/Moscow");
  const std::string holidays = env.String("HOLIDAYS", "");
  const std::string public_url = env.String("PUBLIC_URL", "http://127.0.0.1:8080");
  const std::string deals_address = env.String("DEALS_ADDRESS", "127.0.0.1:7102");
  const absl::Duration timer_poll = env.Duration("TIMER_POLL_INTERVAL", absl::Seconds(1));
  const int timer_batch = static_cast<int>(env.Int("TIMER_BATCH", 100, 1, 10000));
  crm::events::RelayOptions relay_options = crm::events::RelayOptionsFromEnv(env, dsn);
  if (!env.status().ok()) return absl::OkStatus();  // RunService reports env.status() and exits 2

  const crm::Clock* clock = &crm::SystemClock();
  CRM_ASSIGN_OR_RETURN(absl::TimeZone zone, crm::LoadTimeZone(time_zone));
  CRM_ASSIGN_OR_RETURN(crm::calendar::WorkingCalendar cal_value,
                       crm::calendar::WorkingCalendar::FiveDay(time_zone, holidays));
  auto* calendar = server.Own(std::make_unique<crm::calendar::WorkingCalendar>(std::move(cal_value)));
  CRM_ASSIGN_OR_RETURN(std::unique_ptr<crm::pg::Pool> pool,
                       crm::pg::MigrateAndOpen(options.migrations,
                                               {.dsn = dsn, .size = pool_size, .application_name = options.service}));
  auto* p = server.Own(std::move(pool));
  auto* outbox = server.Own(std::make_unique<crm::events::OutboxWriter>(options.service, *clock));
  auto* timers = server.Own(std::make_unique<crm::timers::TimerStore>(*p, *clock));
  auto* kinds = server.Own(std::make_unique<crm::timers::TimerKinds>());
  // Client::descriptor() links clients.proto's descriptor in (else the generated pool may not know
  // ClientService yet: a null descriptor).
  const auto* clients = crm::deals::v1::Client::descriptor()->file()->FindServiceByName("ClientService");
  if (clients == nullptr) return absl::InternalError("deals' ClientService descriptor is missing");
  if (server.service_key() == nullptr) {
    crm::log::Warn(absl::StrCat("no service key: deals will trust ", options.service,
                                "'s calls only without trusted keys (development)"));
  }
  Context ctx{.env = env,
              .server = server,
              .pool = *p,
              .clock = *clock,
              .calendar = *calendar,
              .zone = zone,
              .outbox = *outbox,
              .timers = *timers,
              .timer_kinds = *kinds,
              .deals = crm::rpc::MakeChannel({.target = deals_address}, *clients),
              .service_key = server.service_key(),
              .public_url = public_url};
  CRM_RETURN_IF_ERROR(wire_parts(ctx));
  if (!env.status().ok()) return absl::OkStatus();

  server.Own(std::make_unique<crm::timers::TimerLoop>(
      *timers, kinds->Dispatcher(),
      crm::timers::TimerLoopOptions{.poll_interval = timer_poll, .batch_size = timer_batch}));
  server.Own(crm::pg::HourlyIdempotencyPurge(*p, *clock));
  if (relay_enabled) {
    CRM_ASSIGN_OR_RETURN(std::unique_ptr<crm::events::Relay> relay, crm::events::Relay::Create(relay_options));
    server.Own(std::move(relay))->Start();
  }
  return absl::OkStatus();
}

}  // namespace crm::parts
