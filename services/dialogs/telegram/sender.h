// File: services/dialogs/telegram/sender.h
// -----------------------------------------------------------------------------
// The sender (T1, §D2): sends the queued rows of tg_outgoing (outgoing.h) within Telegram's limits.
//
// Contract:
//   * One sender per bot at a time across replicas: each pass holds a transaction-level advisory lock
//     on the bot (another replica's pass for the same bot does nothing and says when to look again), and
//     reads the rows it sends after taking it: a row sent by another replica's pass is never sent again.
//   * The paces are shared, not per process: a pass reads the bot's and its head chats' last sends from
//     tg_send_paces and writes back what it sent, under that lock. Passes of two replicas take turns, so
//     together they keep the limits below, and a new leader after a crash goes on from the old one's
//     paces. (Replicas' clocks should agree to well within `margin`.)
//   * A chat's messages go in id order, one at a time (only a chat's head is eligible); answerCallbackQuery
//     rows go first, outside the per-chat pace (they are not messages).
//   * Limits as sliding windows on the injected clock (stricter than a token bucket, which lets 2N through
//     in one window): per bot at most `per_bot` (30) messages in any `bot_window` (1 s), per private chat
//     `per_chat` (1) in any `chat_window` (1 s), per group (chat id < 0) `per_group` (20) in any
//     `group_window` (60 s). A message goes when the message N sends back is at least the window plus
//     `margin` (10 ms: network jitter must not make two windows' messages arrive in one) ago. Under backlog
//     a late pass catches up (the window looks back at sends, not at the pass), so the limits are met.
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

#include <string>

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
  int per_bot = 30;
  absl::Duration bot_window = absl::Seconds(1);
  int per_chat = 1;
  absl::Duration chat_window = absl::Seconds(1);
  int per_group = 20;
  absl::Duration group_window = absl::Minutes(1);
  absl::Duration margin = absl::Milliseconds(10);
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
  crm::pg::Pool& pool_;
  const BotApi& api_;
  const SecretBox& box_;
  Outgoing& outgoing_;
  const SenderLimits limits_;
  absl::Mutex mu_;  // one pass at a time in this process
};

}  // namespace crm::dialogs::telegram

#endif  // CRM_SERVICES_DIALOGS_TELEGRAM_SENDER_H_
