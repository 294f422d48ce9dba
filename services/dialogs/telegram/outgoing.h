// File: services/dialogs/telegram/outgoing.h
// -----------------------------------------------------------------------------
// Outgoing Telegram messages (T1, §D2): what the inbox, the scenario engine and operators send. A message
// is a row of tg_outgoing enqueued in the CALLER's transaction (so a reply exists iff the change that made
// it committed), sent later by the sender (sender.h) within Telegram's limits.
//
// Contract:
//   * Enqueue(tx, message) validates (INVALID_ARGUMENT listing every bad field, proto-style paths:
//     "text", "inline_keyboard[0][1].callback_data"), builds the Bot API parameters and inserts the row
//     `queued`; returns its id (UUIDv7: a chat's messages are sent in id order).
//   * Text is plain: it is HTML-escaped (& < >) and sent with parse_mode HTML, so a client's or
//     operator's "<b>" is shown as typed. Reply keyboards (request_contact for the phone), inline
//     keyboards (callback_data 1..64 bytes), documents by file_id or URL, answerCallbackQuery (sent before
//     any message, outside the per-chat limit: every callback_query must be answered).
//   * States: queued → sent (telegram_message_id) | failed (error_code, error: final). A 429 keeps it
//     queued with not_before = now + retry_after exactly; migrate_to_chat_id moves the chat's queue to the
//     new id. Every change (queued included) is, in the transaction that makes it, an
//     OutgoingStateChanged event on crm.dialogs.outgoing.v1 and a call of the registered hook (the inbox
//     updates its message row and the operator's screen from it). A hook error rolls the change back.
#ifndef CRM_SERVICES_DIALOGS_TELEGRAM_OUTGOING_H_
#define CRM_SERVICES_DIALOGS_TELEGRAM_OUTGOING_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm {
class Clock;
namespace events {
class OutboxWriter;
}  // namespace events
}  // namespace crm

namespace crm::dialogs::telegram {

inline constexpr char kSendMessage[] = "sendMessage";
inline constexpr char kSendDocument[] = "sendDocument";
inline constexpr char kAnswerCallbackQuery[] = "answerCallbackQuery";

struct KeyboardButton {
  std::string text;
  bool request_contact = false;  // private chats only: the client shares their own contact
};

struct InlineButton {
  std::string text;
  std::string callback_data;  // 1..64 bytes; or
  std::string url;            // a link button
};

struct OutgoingMessage {
  enum class Kind { kText, kDocument, kAnswerCallback };
  std::string bot_id;
  int64_t chat_id = 0;
  Kind kind = Kind::kText;
  std::string text;  // the message (1..4096 characters), a document's caption, a callback's notification
  std::vector<std::vector<KeyboardButton>> reply_keyboard;
  bool one_time_keyboard = false;
  bool remove_keyboard = false;  // hide a reply keyboard shown before
  std::vector<std::vector<InlineButton>> inline_keyboard;
  std::string document;           // kDocument: a file_id or an http(s) URL
  std::string callback_query_id;  // kAnswerCallback
  bool show_alert = false;        // kAnswerCallback
  int64_t reply_to_message_id = 0;
};

// A state change of one outgoing message, as the hook and the event see it.
struct OutgoingChange {
  std::string id;
  std::string bot_id;
  int64_t chat_id = 0;
  std::string method;
  std::string state;  // "queued", "sent", "failed", "retrying"
  int64_t telegram_message_id = 0;
  int error_code = 0;
  std::string error;
  absl::Time not_before;
  absl::Time time;
};

using OutgoingHook = std::function<absl::Status(pqxx::transaction_base&, const OutgoingChange&)>;

// "&", "<", ">" as HTML entities (parse_mode HTML).
std::string EscapeHtml(std::string_view text);

class Outgoing {
 public:
  Outgoing(crm::events::OutboxWriter& outbox, const crm::Clock& clock);

  // The inbox's hook (one; a second call replaces it). Register before the sender starts.
  void SetHook(OutgoingHook hook);

  // See the file comment.
  absl::StatusOr<std::string> Enqueue(pqxx::transaction_base& tx, const OutgoingMessage& message);

  // Records `change` (event + hook) in `tx`; the sender calls it for every transition.
  absl::Status Changed(pqxx::transaction_base& tx, const OutgoingChange& change);

  const crm::Clock& clock() const { return clock_; }

 private:
  crm::events::OutboxWriter& outbox_;
  const crm::Clock& clock_;
  absl::Mutex mu_;
  OutgoingHook hook_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crm::dialogs::telegram

#endif  // CRM_SERVICES_DIALOGS_TELEGRAM_OUTGOING_H_
