// File: services/dialogs/telegram/group_commit.h
// -----------------------------------------------------------------------------
// Group commit of webhook updates (T1): concurrent TelegramIntake.ReceiveUpdate calls share one
// transaction instead of one each (the intake's cost was per transaction: tools/bench/README.md).
//
// Contract:
//   * A caller announces itself when its delivery arrives (Enter) and, once the body is checked and parsed,
//     hands the update over (Arrival::Store). Store returns only after the transaction holding the update
//     committed (or failed): an update Telegram sees acknowledged is stored, as before.
//   * At most `concurrent_batches` (2) batches commit at once; deliveries arriving meanwhile queue up.
//     Then the first of them leads
//     the next batch: it waits until max_rows updates are queued, or no other announced caller is still
//     on its way (Entered, not yet Stored), or `window` (1 ms) passed — and commits what is queued (at
//     most max_rows; the rest lead the batch after). One delivery alone never waits.
//   * One transaction of one statement per batch: StoreUpdates (intake.h) over the updates in (bot, chat,
//     update_id) order, so a chat's updates of one batch take their events' seqs in update order. A
//     redelivery in the same batch is
//     stored once. When the
//     batch's transaction fails, each of its updates is stored in a transaction of its own (one bad update
//     never fails another).
//
//   GroupCommit::Arrival a = group.Enter();        // before the (cheap) checks and the parse
//   ... refuse, or parse ...
//   CRM_ASSIGN_OR_RETURN(bool inserted, a.Store(bot_id, update));
#ifndef CRM_SERVICES_DIALOGS_TELEGRAM_GROUP_COMMIT_H_
#define CRM_SERVICES_DIALOGS_TELEGRAM_GROUP_COMMIT_H_

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/dialogs/telegram/updates.h"

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

struct GroupCommitOptions {
  absl::Duration window = absl::Milliseconds(1);  // the longest a leader waits for more updates
  int max_rows = 64;                              // a batch's largest size
  int concurrent_batches = 2;                     // batches committing at once (each on a connection)
};

class GroupCommit {
 public:
  GroupCommit(crm::pg::Pool& pool, crm::events::OutboxWriter& outbox, const crm::Clock& clock,
              GroupCommitOptions options = {});

  class Arrival {
   public:
    Arrival(Arrival&& other) noexcept : group_(other.group_) { other.group_ = nullptr; }
    Arrival(const Arrival&) = delete;
    Arrival& operator=(const Arrival&) = delete;
    Arrival& operator=(Arrival&&) = delete;
    ~Arrival();
    // Stores `update` of `bot_id` with the batch it joins; whether it was new. Once per Arrival.
    absl::StatusOr<bool> Store(std::string_view bot_id, const Update& update);

   private:
    friend class GroupCommit;
    explicit Arrival(GroupCommit* group) : group_(group) {}
    GroupCommit* group_;  // nullptr once stored (or moved from)
  };

  // A delivery arrived: a leader waits for it (up to the window) rather than commit without it.
  Arrival Enter();

  // Batches committed and updates in them so far (the bench prints the mean batch).
  struct Stats {
    int64_t batches = 0;
    int64_t rows = 0;
  };
  Stats stats();

 private:
  struct Item {
    std::string bot_id;
    const Update* update;
    absl::StatusOr<bool> result = false;
    bool taken = false;  // in a batch being committed
    bool done = false;
  };
  absl::StatusOr<bool> Store(std::string_view bot_id, const Update& update);
  // Commits `batch` (see the file comment) and fills each item's result.
  void Commit(std::deque<Item*>& batch);

  crm::pg::Pool& pool_;
  crm::events::OutboxWriter& outbox_;
  const crm::Clock& clock_;
  const GroupCommitOptions options_;
  absl::Mutex mu_;
  int coming_ ABSL_GUARDED_BY(mu_) = 0;       // Entered, neither Stored nor gone
  bool collecting_ ABSL_GUARDED_BY(mu_) = false;  // a leader is gathering the next batch
  int committing_ ABSL_GUARDED_BY(mu_) = 0;  // batches being committed
  std::deque<Item*> queue_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crm::dialogs::telegram

#endif  // CRM_SERVICES_DIALOGS_TELEGRAM_GROUP_COMMIT_H_
