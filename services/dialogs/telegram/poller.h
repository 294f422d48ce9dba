// File: services/dialogs/telegram/poller.h
// -----------------------------------------------------------------------------
// Long polling (T1, §A2.5) for a bot in POLLING mode: getUpdates(offset, limit, timeout) and the batch
// stored exactly as the webhook stores an update (intake.h StoreUpdate), with the new offset
// (max update_id + 1) persisted in the SAME transaction — so the offset never confirms an update that is
// not stored, and a crash before the commit fetches the batch again (stored once: (bot, update_id)).
// One poller per bot across replicas: the caller holds the bot's advisory lock (workers.h).
#ifndef CRM_SERVICES_DIALOGS_TELEGRAM_POLLER_H_
#define CRM_SERVICES_DIALOGS_TELEGRAM_POLLER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crm {
class Clock;
namespace events {
class OutboxWriter;
}  // namespace events
namespace pg {
class Pool;
}  // namespace pg
}  // namespace crm

namespace crm::dialogs::telegram {

class BotApi;

struct PollResult {
  int received = 0;  // updates in the batch
  int stored = 0;    // of them new
};

class Poller {
 public:
  Poller(crm::pg::Pool& pool, const BotApi& api, crm::events::OutboxWriter& outbox, const crm::Clock& clock);

  // One getUpdates round for the bot (timeout = the long poll; 0 = short poll). FAILED_PRECONDITION when
  // Telegram says a webhook is set (409); UNAVAILABLE on a transport failure.
  absl::StatusOr<PollResult> PollOnce(const std::string& bot_id, const std::string& token, absl::Duration timeout);

 private:
  crm::pg::Pool& pool_;
  const BotApi& api_;
  crm::events::OutboxWriter& outbox_;
  const crm::Clock& clock_;
};

}  // namespace crm::dialogs::telegram

#endif  // CRM_SERVICES_DIALOGS_TELEGRAM_POLLER_H_
