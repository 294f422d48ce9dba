// File: services/dialogs/telegram/workers.h
// -----------------------------------------------------------------------------
// The Telegram part's background work on every replica (T1):
//   * a supervisor (every `refresh`): registers each bot's intake at Telegram when it is not what the bot
//     says (bots.h Register: setWebhook / deleteWebhook), and keeps one poll thread per POLLING bot;
//   * a poll thread per POLLING bot: leader by a session advisory lock on a connection of its own (one
//     replica polls a bot), then PollOnce in a loop (poller.h);
//   * a sender thread: Sender::SendDue for every bot, sleeping until the earliest next due time (at most
//     `send_poll`, to see rows enqueued meanwhile).
// Destroying it stops them (a poll in flight finishes its long poll first).
#ifndef CRM_SERVICES_DIALOGS_TELEGRAM_WORKERS_H_
#define CRM_SERVICES_DIALOGS_TELEGRAM_WORKERS_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace crm::dialogs::telegram {

class BotStore;
class Poller;
class Sender;

struct WorkerOptions {
  std::string dsn;  // the poll threads' own connections (their advisory locks)
  absl::Duration refresh = absl::Seconds(5);
  absl::Duration poll_timeout = absl::Seconds(25);
  absl::Duration send_poll = absl::Milliseconds(200);
};

class Workers {
 public:
  Workers(BotStore& bots, Poller& poller, Sender& sender, WorkerOptions options);
  ~Workers();
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;

 private:
  struct PollThread;
  void Supervise();
  void SendLoop();
  void PollLoop(PollThread* t);
  bool Wait(absl::Duration d);  // false once stopping

  BotStore& bots_;
  Poller& poller_;
  Sender& sender_;
  const WorkerOptions options_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> bot_ids_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::unique_ptr<PollThread>> polls_;  // the supervisor's
  std::thread supervisor_;
  std::thread sender_thread_;
};

}  // namespace crm::dialogs::telegram

#endif  // CRM_SERVICES_DIALOGS_TELEGRAM_WORKERS_H_
