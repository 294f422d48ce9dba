// File: services/dialogs/outreach/wire.h
// -----------------------------------------------------------------------------
// Wires the outreach (T7's rest, T9) into the dialogs service (services/dialogs/wiring.cc, after the
// inbox): its migrations (component "outreach"), TemplateService, QrCodeService, MailingService and
// RegisterService, the mailing worker, robots' notifications consumer, the processor's client-input hook
// (start_hook.h) and telegram's outgoing-state hook (the inbox's, then the mailings' and robots').
//
// Settings (CRM_DIALOGS_<NAME>): MAILING_INTERVAL (1s: the worker's pass), MAILING_WINDOW (1000: a
// mailing's messages in telegram's queue at once), ROBOTS_NOTIFICATIONS (true: consume
// crm.robots.notification.v1 — KAFKA_BROKERS, 127.0.0.1:9092, in the group CONSUMER_GROUP + ".outreach"), QR_KEY_FILE (the QR payloads' signing key
// material; else SECRETS_KEY_FILE's, else SERVICE_KEY_FILE's, else a development key with a warning).
#ifndef CRM_SERVICES_DIALOGS_OUTREACH_WIRE_H_
#define CRM_SERVICES_DIALOGS_OUTREACH_WIRE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "libs/pg/migrations.h"
#include "services/dialogs/context.h"

namespace crm {
// Generated from outreach/migrations (component "outreach").
const std::vector<crm::pg::Migration>& DialogsOutreachMigrations();
}  // namespace crm

namespace crm::dialogs::telegram {
struct TelegramPart;
}  // namespace crm::dialogs::telegram

namespace crm::dialogs::outreach {

class Mailings;
class QrCodes;
class Templates;

struct OutreachPart {
  Templates* templates;
  QrCodes* qr_codes;
  Mailings* mailings;
};

// See the file comment. Objects are owned by ctx.server.
absl::StatusOr<OutreachPart*> WireOutreach(Context& ctx, telegram::TelegramPart& tg);

}  // namespace crm::dialogs::outreach

#endif  // CRM_SERVICES_DIALOGS_OUTREACH_WIRE_H_
