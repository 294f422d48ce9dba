// File: services/dialogs/inbox/wire.h
// -----------------------------------------------------------------------------
// Wires the inbox (T2, T5, T7) into the dialogs service (services/dialogs/wiring.cc): its migrations
// (component "inbox"), the DialogService, the processor's workers (pipeline step 2), the deals queue's
// worker (step 4), the runner's ActionSink, telegram's outgoing-state hook and the consumer of identity's users.
//
// Settings (CRM_DIALOGS_<NAME>): INBOX_WORKERS (2; 0 = this replica processes no updates),
// INBOX_POLL_INTERVAL (500ms: the longest a worker waits before looking for pending chats again),
// INBOX_INTAKE_FIRST (2s: during a burst of deliveries younger updates wait, processor.h),
// DEALS_SYNC (true: this replica works the deals queue), DEALS_SYNC_INTERVAL (1s), DEALS_TIMEOUT (5s);
// KAFKA_BROKERS and CONSUMER_GROUP ("dialogs") for identity's users (users.h).
#ifndef CRM_SERVICES_DIALOGS_INBOX_WIRE_H_
#define CRM_SERVICES_DIALOGS_INBOX_WIRE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "libs/pg/migrations.h"
#include "services/dialogs/context.h"

namespace crm {
// Generated from inbox/migrations (component "inbox").
const std::vector<crm::pg::Migration>& DialogsInboxMigrations();
}  // namespace crm

namespace crm::dialogs::telegram {
struct TelegramPart;
}  // namespace crm::dialogs::telegram
namespace crm::dialogs::scenarios {
class ScenarioRunner;
}  // namespace crm::dialogs::scenarios

namespace crm::dialogs::inbox {

class DealsSync;
class Inbox;
class Processor;

struct InboxPart {
  Processor* processor;
  DealsSync* deals_sync;  // nullptr when DEALS_SYNC is off
  Inbox* inbox;
};

// See the file comment. Objects are owned by ctx.server.
absl::StatusOr<InboxPart*> WireInbox(Context& ctx, telegram::TelegramPart& tg, scenarios::ScenarioRunner& runner);

}  // namespace crm::dialogs::inbox

#endif  // CRM_SERVICES_DIALOGS_INBOX_WIRE_H_
