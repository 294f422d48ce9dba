// File: services/dialogs/telegram/intake.h
// -----------------------------------------------------------------------------
// Storing Telegram's updates (T1, §D1): the webhook (ReceiveWebhook) and long polling (poller.h) both
// end in StoreUpdate, so both keep the same promise.
//
// Contract:
//   * StoreUpdate inserts the raw update under (bot_id, update_id) ON CONFLICT DO NOTHING in the caller's
//     transaction and, only when it is new, appends UpdateReceived to the outbox (crm.dialogs.update.v1,
//     key "<bot>:<chat>") — nothing else: the inbox finds the chat through its unprocessed updates
//     (updates.h). A redelivered update changes nothing. The events of one chat's updates are not
//     ordered among themselves when Telegram delivered them concurrently (no chat row is locked to order
//     them; consumers order by update_id, as the inbox does).
//   * ReceiveWebhook answers OK only after that transaction committed: an update Telegram saw
//     acknowledged is stored. It refuses (PERMISSION_DENIED, the same text for both) an unknown hook and
//     a wrong or missing secret — compared in constant time — before reading the body; a body over
//     kMaxUpdateBytes or not an Update is INVALID_ARGUMENT. A found bot's hook and secret are kept in
//     memory (they never change). Concurrent deliveries share one transaction (group_commit.h: a leader
//     gathers them for at most 1 ms or 64 updates; each is answered after that commit).
#ifndef CRM_SERVICES_DIALOGS_TELEGRAM_INTAKE_H_
#define CRM_SERVICES_DIALOGS_TELEGRAM_INTAKE_H_

#include <atomic>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/dialogs/telegram/group_commit.h"
#include "services/dialogs/telegram/updates.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx
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

class SecretBox;

// The largest update body accepted (Telegram's are a few KiB; text ≤ 4096 characters).
inline constexpr size_t kMaxUpdateBytes = 256 * 1024;

// See the file comment. Returns whether the update was new.
absl::StatusOr<bool> StoreUpdate(pqxx::transaction_base& tx, crm::events::OutboxWriter& outbox,
                                 std::string_view bot_id, const Update& update, absl::Time now);

// StoreUpdate for many updates in ONE statement (group commit, group_commit.h): whether each was new, in
// the order given (a redelivery within `updates` is new once, at its first place).
struct BotUpdate {
  std::string_view bot_id;
  const Update* update;
};
absl::StatusOr<std::vector<bool>> StoreUpdates(pqxx::transaction_base& tx, crm::events::OutboxWriter& outbox,
                                                const std::vector<BotUpdate>& updates, absl::Time now);

class WebhookIntake {
 public:
  WebhookIntake(crm::pg::Pool& pool, crm::events::OutboxWriter& outbox, const SecretBox& box,
                const crm::Clock& clock, GroupCommitOptions group_commit = {});

  // `secret` is the X-Telegram-Bot-Api-Secret-Token header ("" when absent). Returns whether the update
  // was new (a repeat is OK too).
  absl::StatusOr<bool> Receive(std::string_view hook, std::string_view secret, std::string_view body);

  GroupCommit::Stats group_commit_stats() { return group_.stats(); }

  // When the last delivery with the right secret arrived (InfinitePast before any): the inbox holds back
  // while deliveries keep coming (inbox/processor.h, intake first).
  absl::Time last_delivery() const {
    const int64_t micros = last_delivery_micros_.load(std::memory_order_relaxed);
    return micros == 0 ? absl::InfinitePast() : absl::FromUnixMicros(micros);
  }

 private:
  struct Bot {
    std::string id;
    std::string secret;
  };
  // The bot of a hook (kept once found: hooks and secrets never change); NOT_FOUND for none.
  absl::StatusOr<Bot> Find(std::string_view hook);

  crm::pg::Pool& pool_;
  crm::events::OutboxWriter& outbox_;
  const SecretBox& box_;
  const crm::Clock& clock_;
  GroupCommit group_;
  std::atomic<int64_t> last_delivery_micros_{0};
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bot> bots_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crm::dialogs::telegram

#endif  // CRM_SERVICES_DIALOGS_TELEGRAM_INTAKE_H_
