// File: services/dialogs/telegram/sender.h
// -----------------------------------------------------------------------------
// The sender (T1, §D2): sends the queued rows of tg_outgoing (outgoing.h) within Telegram's limits.
//
// Contract:
//   * One sender per bot at a time across replicas: each pass holds a transaction-level advisory lock
//     on the bot (another replica's pass for the same bot does nothing and says when to look again).
//   * A chat's messages go in id order, one at a time (only a chat's head is eligible); answerCallbackQuery
//     rows go first, outside the per-chat pace (they are not messages).
//   * Pace (GCRA, on the injected clock): per bot one message per `per_bot` (default 1/30 s), per private
//     chat one per `per_chat` (1 s), per group (chat id < 0) one per `per_group` (3 s = 20/min); `burst`
//     messages may go back to back. In any window [t, t + n·interval) at most n + burst − 1 go.
//   * 429: the row stays queued with not_before = now + retry_after exactly (the chat is held: its later
//     rows wait behind it); migrate_to_chat_id: the chat's queued rows (and tg_chats) move to the new
//     id and are sent there; any other refusal: failed (final) with error_code and description; a transport
//     failure: retried with backoff (1 s, 2 s, ... 60 s) up to max_attempts, then failed.
//   * A crash between Telegram's answer and the commit sends that row again (at least once).
//
// Driving it: SendDue(bot) runs one pass and returns when the bot next has something due
// (absl::InfiniteFuture() when its queue is empty). Tests move a ManualClock to that time; the service's
// loop (workers.h) sleeps until then (at most a short poll, to see new rows).
#ifndef CRM_SERVICES_DIALOGS_TELEGRAM_SENDER_H_
#define CRM_SERVICES_DIALOGS_TELEGRAM_SENDER_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::dialogs::telegram {

class BotApi;
class Outgoing;
class SecretBox;

struct SenderLimits {
  absl::Duration per_bot = absl::Seconds(1) / 30;
  absl::Duration per_chat = absl::Seconds(1);
  absl::Duration per_group = absl::Seconds(3);
  int burst = 1;
  int max_attempts = 10;  // transport failures before a row fails
  int batch = 100;        // callbacks answered per pass
};

class Sender {
 public:
  Sender(crm::pg::Pool& pool, const BotApi& api, const SecretBox& box, Outgoing& outgoing, SenderLimits limits);

  // One pass for `bot_id` (see the file comment). Errors are the database's; a Bot API failure is the
  // row's state, not an error.
  absl::StatusOr<absl::Time> SendDue(const std::string& bot_id);

 private:
  struct Pace {
    absl::Time tat = absl::InfinitePast();  // GCRA's theoretical arrival time
  };
  absl::Time ReadyAt(const Pace& pace, absl::Duration interval) const;
  void Take(Pace& pace, absl::Duration interval, absl::Time now) const;

  crm::pg::Pool& pool_;
  const BotApi& api_;
  const SecretBox& box_;
  Outgoing& outgoing_;
  const SenderLimits limits_;
  absl::Mutex mu_;  // one pass at a time in this process
  absl::flat_hash_map<std::string, Pace> bots_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::flat_hash_map<int64_t, Pace>> chats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crm::dialogs::telegram

#endif  // CRM_SERVICES_DIALOGS_TELEGRAM_SENDER_H_
