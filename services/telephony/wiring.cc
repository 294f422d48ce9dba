// File: services/telephony/wiring.cc
#include "services/telephony/wiring.h"

#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <utility>

#include "crm/deals/v1/clients.grpc.pb.h"
#include "libs/base/clock.h"
#include "libs/base/periodic.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/calendar/calendar.h"
#include "libs/events/outbox.h"
#include "libs/events/relay.h"
#include "libs/log/log.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/rpc/client.h"
#include "libs/timers/timers.h"
#include "services/telephony/ami/wire.h"
#include "services/telephony/calls/wire.h"
#include "services/telephony/context.h"
#include "services/telephony/requests/wire.h"

namespace crm::telephony {

absl::Status Wire(crm::config::Env& env, crm::rpc::Server& server) {
  const std::string dsn = env.String("PG_DSN", kDefaultDsn);
  const int pool_size = static_cast<int>(env.Int("PG_POOL_SIZE", 8, 2, 256));
  const bool relay_enabled = env.Bool("OUTBOX_RELAY", true);
  // The company's working calendar: "today", working time in the statistics and planned calls.
  const std::string time_zone = env.String("TIME_ZONE", "Europe/Moscow");
  const std::string holidays = env.String("HOLIDAYS", "");
  // Where cloud PBXs reach the suite: their callback URLs are made on it.
  const std::string public_url = env.String("PUBLIC_URL", "http://127.0.0.1:8080");
  // deals: caller identification by phone (P2) and the interaction every finished call becomes (D16).
  const std::string deals_address = env.String("DEALS_ADDRESS", "127.0.0.1:7102");
  // Durable timers (offers' accept timers, planned calls): the longest sleep between passes and the batch.
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
                       crm::pg::MigrateAndOpen(AllMigrations(),
                           {.dsn = dsn, .size = pool_size, .application_name = "telephony"}));
  auto* p = server.Own(std::move(pool));
  auto* outbox = server.Own(std::make_unique<crm::events::OutboxWriter>("telephony", *clock));
  auto* timers = server.Own(std::make_unique<crm::timers::TimerStore>(*p, *clock));
  auto* kinds = server.Own(std::make_unique<TimerKinds>());
  // Client::descriptor() links clients.proto's descriptor in (else the generated pool may not know
  // ClientService yet: a null descriptor).
  const auto* clients = crm::deals::v1::Client::descriptor()->file()->FindServiceByName("ClientService");
  if (clients == nullptr) return absl::InternalError("deals' ClientService descriptor is missing");
  if (server.service_key() == nullptr) {
    crm::log::Warn("no service key (CRM_TELEPHONY_SERVICE_KEY_FILE): deals will trust telephony's calls only "
                   "without trusted keys (development)");
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
  // The parts (README.md): the calls part first — the adapters feed its intake and add their commands to
  // its registry; then the PBX adapters; then the call-request queue.
  CRM_ASSIGN_OR_RETURN(calls::CallsPart * calls_part, calls::WireCalls(ctx));  // P1, P2 (calls/wire.h)
  if (!env.status().ok()) return absl::OkStatus();
  CRM_RETURN_IF_ERROR(ami::WireAmi(ctx, *calls_part));                          // P1: Asterisk (ami/wire.h)
  if (!env.status().ok()) return absl::OkStatus();
  CRM_RETURN_IF_ERROR(requests::WireRequests(ctx, *calls_part));                // P4 (requests/wire.h)
  if (!env.status().ok()) return absl::OkStatus();

  // Timers of every registered kind, on every replica (SKIP LOCKED: each fires once).
  server.Own(std::make_unique<crm::timers::TimerLoop>(
      *timers, kinds->Dispatcher(),
      crm::timers::TimerLoopOptions{.poll_interval = timer_poll, .batch_size = timer_batch}));
  // Idempotency records past their 24 hours, hourly on every replica.
  server.Own(crm::pg::HourlyIdempotencyPurge(*p, *clock));
  if (relay_enabled) {
    CRM_ASSIGN_OR_RETURN(std::unique_ptr<crm::events::Relay> relay, crm::events::Relay::Create(relay_options));
    server.Own(std::move(relay))->Start();
  }
  return absl::OkStatus();
}

}  // namespace crm::telephony
