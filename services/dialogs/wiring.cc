// File: services/dialogs/wiring.cc
#include "services/dialogs/wiring.h"

#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "crm/deals/v1/clients.grpc.pb.h"
#include "libs/base/clock.h"
#include "libs/base/periodic.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/calendar/calendar.h"
#include "libs/events/outbox.h"
#include "libs/events/relay.h"
#include "libs/events/schema.h"
#include "libs/log/log.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/rpc/client.h"
#include "libs/timers/timers.h"
#include "services/dialogs/context.h"
#include "services/dialogs/telegram/bots.h"
#include "services/dialogs/telegram/wire.h"
#include "services/dialogs/scenarios/runner.h"
#include "services/dialogs/scenarios/wire.h"
#include "services/dialogs/inbox/wire.h"
#include "services/dialogs/routing/router.h"
#include "services/dialogs/routing/wire.h"
#include "services/dialogs/outreach/qr.h"
#include "services/dialogs/outreach/wire.h"

namespace crm::dialogs {

absl::Status Wire(crm::config::Env& env, crm::rpc::Server& server) {
  const std::string dsn = env.String("PG_DSN", kDefaultDsn);
  const int pool_size = static_cast<int>(env.Int("PG_POOL_SIZE", 8, 2, 256));
  const bool relay_enabled = env.Bool("OUTBOX_RELAY", true);
  // The company's working calendar: the bots' working hours and the response-time metrics (T8) are in
  // it (zone, five-day week, holidays YYYY-MM-DD,...).
  const std::string time_zone = env.String("TIME_ZONE", "Europe/Moscow");
  const std::string holidays = env.String("HOLIDAYS", "");
  // Where Telegram and clients reach the suite: webhook URLs and deep links are made on it.
  const std::string public_url = env.String("PUBLIC_URL", "http://127.0.0.1:8080");
  // deals: the client search by phone (T2) and the interactions every message becomes (D16).
  const std::string deals_address = env.String("DEALS_ADDRESS", "127.0.0.1:7102");
  // Durable timers (reply timeouts, redistribution): the longest sleep between passes and the batch.
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
                           {.dsn = dsn, .size = pool_size, .application_name = "dialogs"}));
  auto* p = server.Own(std::move(pool));
  auto* outbox = server.Own(std::make_unique<crm::events::OutboxWriter>("dialogs", *clock));
  auto* timers = server.Own(std::make_unique<crm::timers::TimerStore>(*p, *clock));
  auto* kinds = server.Own(std::make_unique<TimerKinds>());
  // Client::descriptor() links clients.proto's descriptor in (nothing else of it may be linked yet, and
  // then the generated pool does not know ClientService: a null descriptor).
  const auto* clients = crm::deals::v1::Client::descriptor()->file()->FindServiceByName("ClientService");
  if (clients == nullptr) return absl::InternalError("deals' ClientService descriptor is missing");
  if (server.service_key() == nullptr) {
    crm::log::Warn("no service key (CRM_DIALOGS_SERVICE_KEY_FILE): deals will trust dialogs' calls only "
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
  // The parts (README.md): each adds its services, workers and timer kinds.
  CRM_ASSIGN_OR_RETURN(telegram::TelegramPart * tg, telegram::WireTelegram(ctx));  // T1 (telegram/wire.h)
  CRM_ASSIGN_OR_RETURN(scenarios::ScenarioRunner* scenario_runner, WireScenarios(ctx));  // T3, T4
  // The inbox calls OnInput and sets its ActionSink (scenarios/runner.h); working hours and the
  // out-of-hours text are the bot's (hours.h), read from telegram's bots in the runner's transaction.
  if (tg != nullptr) scenario_runner->SetBotHours(&telegram::BotStore::Hours);
  if (!env.status().ok()) return absl::OkStatus();
  // T6, T8 (routing/wire.h): the inbox's seam gets the router before the inbox's workers start.
  CRM_ASSIGN_OR_RETURN(
      routing::Router * router,
      routing::WireRouting(ctx, tg != nullptr ? BotHoursProvider(&telegram::BotStore::Hours) : BotHoursProvider()));
  // A client who came by an operator's personal QR code goes to that operator first (outreach/qr.h).
  if (router != nullptr) router->SetPreferredOperator(&outreach::PreferredOperator);
  // T2, T5, T7 (inbox/wire.h): the processor, the deals queue, the operator API; the runner's sink.
  CRM_ASSIGN_OR_RETURN(inbox::InboxPart * inbox_part, inbox::WireInbox(ctx, *tg, *scenario_runner));
  (void)inbox_part;
  if (!env.status().ok()) return absl::OkStatus();
  // T7's templates and QR codes, T9's mailings, robots' client messages, registers (outreach/wire.h).
  CRM_ASSIGN_OR_RETURN(outreach::OutreachPart * outreach_part, outreach::WireOutreach(ctx, *tg));
  (void)outreach_part;
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

}  // namespace crm::dialogs
