// File: services/dialogs/wiring.cc
#include "services/dialogs/wiring.h"

#include "libs/base/status.h"
#include "libs/parts/parts.h"
#include "services/dialogs/context.h"
#include "services/dialogs/inbox/wire.h"
#include "services/dialogs/outreach/qr.h"
#include "services/dialogs/outreach/wire.h"
#include "services/dialogs/routing/router.h"
#include "services/dialogs/routing/wire.h"
#include "services/dialogs/scenarios/runner.h"
#include "services/dialogs/scenarios/wire.h"
#include "services/dialogs/telegram/bots.h"
#include "services/dialogs/telegram/wire.h"

namespace crm::dialogs {

absl::Status Wire(crm::config::Env& env, crm::rpc::Server& server) {
  // The shared settings, the Context, the timer loop and the relay: libs/parts/parts.h. The company's
  // working calendar holds the bots' working hours and the response-time metrics (T8); PUBLIC_URL makes
  // the webhook URLs and deep links; deals answers the client search by phone (T2) and takes the
  // interactions every message becomes (D16).
  return crm::parts::WireService(
      env, server, {.service = "dialogs", .default_dsn = kDefaultDsn, .migrations = AllMigrations()},
      [&](Context& ctx) -> absl::Status {
        // The parts (README.md): each adds its services, workers and timer kinds.
        CRM_ASSIGN_OR_RETURN(telegram::TelegramPart * tg, telegram::WireTelegram(ctx));  // T1 (telegram/wire.h)
        CRM_ASSIGN_OR_RETURN(scenarios::ScenarioRunner * scenario_runner, WireScenarios(ctx));  // T3, T4
        // The inbox calls OnInput and sets its ActionSink (scenarios/runner.h); working hours and the
        // out-of-hours text are the bot's (hours.h), read from telegram's bots in the runner's transaction.
        if (tg != nullptr) scenario_runner->SetBotHours(&telegram::BotStore::Hours);
        if (!env.status().ok()) return absl::OkStatus();
        // T6, T8 (routing/wire.h): the inbox's seam gets the router before the inbox's workers start.
        CRM_ASSIGN_OR_RETURN(routing::Router * router,
                             routing::WireRouting(ctx, tg != nullptr ? BotHoursProvider(&telegram::BotStore::Hours)
                                                                     : BotHoursProvider()));
        // A client who came by an operator's personal QR code goes to that operator first (outreach/qr.h).
        if (router != nullptr) router->SetPreferredOperator(&outreach::PreferredOperator);
        // T2, T5, T7 (inbox/wire.h): the processor, the deals queue, the operator API; the runner's sink.
        CRM_ASSIGN_OR_RETURN(inbox::InboxPart * inbox_part, inbox::WireInbox(ctx, *tg, *scenario_runner));
        (void)inbox_part;
        if (!env.status().ok()) return absl::OkStatus();
        // T7's templates and QR codes, T9's mailings, robots' client messages, registers (outreach/wire.h).
        CRM_ASSIGN_OR_RETURN(outreach::OutreachPart * outreach_part, outreach::WireOutreach(ctx, *tg));
        (void)outreach_part;
        return absl::OkStatus();
      });
}

}  // namespace crm::dialogs
