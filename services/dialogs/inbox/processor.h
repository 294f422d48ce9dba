// File: services/dialogs/inbox/processor.h
// -----------------------------------------------------------------------------
// Pipeline step 2 (T2; README.md "The pipeline"): the processor of stored Telegram updates. A worker
// claims a chat (telegram/updates.h ClaimChat: FOR UPDATE SKIP LOCKED — two replicas never share a chat)
// and handles its updates in update_id order, all in the chat's ONE transaction:
//   * the client on the bot's spam list (T4) gets nothing: the update is only marked processed;
//   * the chat's open dialog is found, or opened (/start opens or continues it; any message does);
//   * the message is stored (store.h RecordMessage: MessageExchanged and the D16 interaction queue);
//   * a shared contact is the client's only when contact.user_id == from.id; otherwise, or when the
//     number is not a phone, the client is told so (texts.h) and the scenario does not see it; an
//     accepted one sets the dialog's phone (E.164) and queues the client search in deals (deals_sync.h:
//     one client → linked, several → candidates for the operator's PickClient, none → the phone kept);
//   * /stop revokes: the phone and the client are unlinked and the client told so;
//   * every callback query is answered (answerCallbackQuery, an outgoing row);
//   * the scenario runner steps (scenarios/runner.h OnInput) and its actions are applied: texts and menus
//     become outgoing rows and the dialog's messages, topic and project are set, DISTRIBUTE and FINISH
//     hand the dialog to routing (routing.h: QUEUED), CLOSE and MARK_SPAM close it. A bot without an
//     active scenario hands every new dialog to routing at once;
//   * MarkProcessed for each before the commit.
// Intake first: while webhook deliveries keep coming (one within kBurstGap of now, SetLastDelivery), a
// worker claims only chats with an update at least `intake_first` old: Telegram's deliveries are then
// acknowledged at the intake's own speed instead of sharing the machine with their processing, and the
// burst is processed as soon as it ends — or, when it goes on, with `intake_first` of delay, oldest first
// (never starved). At the rates a company's bots see outside bursts nothing waits.
// A failure rolls the chat's transaction back: its updates stay unprocessed for the next claim.
// Timer-driven actions (the scenario's waiting timeouts and paused actions) come through ApplyTimerActions,
// the runner's ActionSink, in the timer's transaction.
#ifndef CRM_SERVICES_DIALOGS_INBOX_PROCESSOR_H_
#define CRM_SERVICES_DIALOGS_INBOX_PROCESSOR_H_

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crm/dialogs/v1/scenarios.pb.h"
#include "services/dialogs/inbox/store.h"
#include "services/dialogs/scenarios/runner.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm {
class Clock;
}  // namespace crm
namespace crm::events {
class OutboxWriter;
}  // namespace crm::events
namespace crm::pg {
class Pool;
}  // namespace crm::pg
namespace crm::dialogs::telegram {
class Outgoing;
struct Update;
struct ClaimedChat;
}  // namespace crm::dialogs::telegram

namespace crm::dialogs::inbox {

struct ProcessorOptions {
  int workers = 2;                                // threads per replica (CRM_DIALOGS_INBOX_WORKERS)
  absl::Duration poll = absl::Milliseconds(500);  // the longest a worker waits before claiming again
  int batch = 100;                                // updates per claim
  // During a burst of deliveries, updates younger than this wait (CRM_DIALOGS_INBOX_INTAKE_FIRST; zero:
  // never). See the file comment.
  absl::Duration intake_first = absl::Seconds(2);
};

// Deliveries closer together than this make a burst (intake first).
inline constexpr absl::Duration kBurstGap = absl::Milliseconds(20);

class Processor {
 public:
  Processor(crm::pg::Pool& pool, const Clock& clock, const crm::events::OutboxWriter& outbox,
            telegram::Outgoing& outgoing, scenarios::ScenarioRunner& runner, ProcessorOptions options = {});
  ~Processor();  // stops the workers

  // Claims one chat and handles its updates in `tx`; false when no update was waiting.
  absl::StatusOr<bool> ProcessOnce(pqxx::transaction_base& tx);
  // ProcessOnce, each in its own transaction, until no update is waiting; returns the chats handled.
  absl::StatusOr<int> DrainOnce();

  // The runner's ActionSink: timer-driven actions of `dialog` in the timer's transaction.
  absl::Status ApplyTimerActions(pqxx::transaction_base& tx, const scenarios::DialogRef& dialog,
                                 const std::vector<v1::Action>& actions);

  // Starts options.workers threads running DrainOnce, waiting at most options.poll between passes (or
  // until Wake); Stop (and the destructor) ends them.
  void Start();
  void Stop();
  void Wake();

  // The intake's last delivery (telegram/intake.h WebhookIntake::last_delivery), for intake first; set
  // before Start. Without it nothing waits.
  void SetLastDelivery(std::function<absl::Time()> last_delivery) { last_delivery_ = std::move(last_delivery); }

 private:
  absl::Status HandleUpdate(pqxx::transaction_base& tx, const telegram::ClaimedChat& chat,
                            const telegram::Update& u);
  absl::Status Apply(pqxx::transaction_base& tx, StoredDialog& dialog, const std::vector<v1::Action>& actions);
  // Sends the bot's text (and keyboard) to the dialog's chat and stores it as the bot's message.
  absl::Status SendBot(pqxx::transaction_base& tx, StoredDialog& dialog, const v1::Action& action);
  absl::Status Reload(pqxx::transaction_base& tx, StoredDialog& dialog);
  void Loop();

  crm::pg::Pool& pool_;
  const Clock& clock_;
  const crm::events::OutboxWriter& outbox_;
  telegram::Outgoing& outgoing_;
  scenarios::ScenarioRunner& runner_;
  const ProcessorOptions options_;
  std::function<absl::Time()> last_delivery_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int wakes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> threads_;
};

}  // namespace crm::dialogs::inbox

#endif  // CRM_SERVICES_DIALOGS_INBOX_PROCESSOR_H_
