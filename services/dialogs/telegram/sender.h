// File: services/dialogs/telegram/sender.h
// -----------------------------------------------------------------------------
// The sender (T1, §D2): sends the queued rows of tg_outgoing (outgoing.h) within Telegram's limits.
//
// Contract:
//   * One sender per bot at a time across replicas: each pass holds a transaction-level advisory lock
//     on the bot (another replica's pass for the same bot does nothing and says when to look again).
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

#include <cstdint>
#include <deque>
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
  // The last sends (at most the limit's N) of a bot or a chat.
  struct Window {
    std::deque<absl::Time> sent;
    // When the next send may go under "at most n in any `window`".
    absl::Time ReadyAt(int n, absl::Duration window, absl::Duration margin) const {
      return static_cast<int>(sent.size()) < n ? absl::InfinitePast() : sent.front() + window + margin;
    }
    void Take(absl::Time now, int n) {
      sent.push_back(now);
      while (static_cast<int>(sent.size()) > n) sent.pop_front();
    }
  };

  crm::pg::Pool& pool_;
  const BotApi& api_;
  const SecretBox& box_;
  Outgoing& outgoing_;
  const SenderLimits limits_;
  absl::Mutex mu_;  // one pass at a time in this process
  absl::flat_hash_map<std::string, Window> bots_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::flat_hash_map<int64_t, Window>> chats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crm::dialogs::telegram

#endif  // CRM_SERVICES_DIALOGS_TELEGRAM_SENDER_H_
