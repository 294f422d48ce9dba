// File: services/dialogs/telegram/updates.h
// -----------------------------------------------------------------------------
// Telegram updates as the inbox reads them (T1 → T2): the typed Update and the claim API over the
// stored raw updates (tg_updates; intake.h stores them).
//
// Contract (README.md "The pipeline", step 2):
//   * ClaimChat(tx) picks the chat of the oldest unprocessed update that no other transaction holds and
//     holds it in `tx` (a transaction-level advisory lock, sql.h kHoldChat): while `tx` is open no other
//     claimer gets that chat, and claimers never wait on each other. It returns the chat's unprocessed
//     updates in update_id order (at most `limit`), parsed, read after the lock was taken (so never one a
//     claim that just committed processed; `tx` must be READ COMMITTED, InTransaction's default). The
//     chat joins the bot's chats (tg_chats: the T9 register of a bot's chats) in the same `tx`.
//   * The caller handles them in the same `tx` and calls MarkProcessed(tx, …) for each it handled, then
//     commits. Updates stored meanwhile, or beyond `limit`, stay unprocessed: the next claim finds them.
//     There is no mark to keep in step with the intake (intake.h writes the update and its event only).
//   * The update's bytes stay as Telegram sent them (Update::raw) for whatever the struct does not carry.
//
// Example:
//   crm::pg::InTransaction(pool, [&](pqxx::work& tx) -> absl::Status {
//     CRM_ASSIGN_OR_RETURN(std::optional<ClaimedChat> chat, ClaimChat(tx));
//     if (!chat) return absl::OkStatus();
//     for (const Update& u : chat->updates) {
//       ...  // the dialog, the message, the scenario
//       CRM_RETURN_IF_ERROR(MarkProcessed(tx, chat->bot_id, u.update_id, clock.Now()));
//     }
//     return absl::OkStatus();
//   });
#ifndef CRM_SERVICES_DIALOGS_TELEGRAM_UPDATES_H_
#define CRM_SERVICES_DIALOGS_TELEGRAM_UPDATES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm::dialogs::telegram {

struct User {
  int64_t id = 0;
  bool is_bot = false;
  std::string first_name;
  std::string last_name;
  std::string username;
  std::string language_code;
};

struct Chat {
  int64_t id = 0;      // 64-bit: groups and channels are below -10^12
  std::string type;    // "private", "group", "supergroup", "channel"
  std::string title;
  std::string username;
};

// A shared contact. The phone is the client's only when user_id == the sender's id (the inbox checks).
struct Contact {
  std::string phone_number;
  std::string first_name;
  std::string last_name;
  int64_t user_id = 0;  // 0 when the contact is not a Telegram user
};

// A file the client sent: document, photo (its largest size), audio, video, voice, video_note, animation.
// Download with getFile; name and MIME are kept from the message (Telegram may lose them later).
struct File {
  std::string kind;  // "document", "photo", "audio", "video", "voice", "video_note", "animation", "sticker"
  std::string file_id;         // reusable to download or resend
  std::string file_unique_id;  // stable across bots, not downloadable
  std::string file_name;       // "" when Telegram gave none
  std::string mime_type;       // "" when Telegram gave none
  int64_t file_size = 0;       // bytes, 0 when unknown
};

struct Message {
  int64_t message_id = 0;
  int64_t date = 0;  // Unix seconds
  Chat chat;
  std::optional<User> from;
  std::string text;     // text, or a media message's caption
  std::vector<File> files;
  std::optional<Contact> contact;
  int64_t reply_to_message_id = 0;
  int64_t migrate_to_chat_id = 0;  // a service message: the group became this supergroup
};

struct CallbackQuery {
  std::string id;  // answer with answerCallbackQuery (outgoing.h)
  User from;
  std::optional<Message> message;  // the bot's message with the inline keyboard, when known
  std::string data;                // callback_data, 1..64 bytes
};

struct Update {
  int64_t update_id = 0;
  int64_t chat_id = 0;  // the chat the update belongs to (see ChatOf)
  // One of them is set for the kinds the inbox handles; `kind` names what Telegram sent
  // ("message", "edited_message", "callback_query", "my_chat_member", ...).
  std::string kind;
  std::optional<Message> message;  // message or edited_message (then kind says which)
  std::optional<CallbackQuery> callback_query;
  std::string raw;  // the JSON as stored
};

// Parses an update (INVALID_ARGUMENT naming the field for a body without update_id or with a malformed
// field the struct carries). Unknown kinds parse with only update_id, chat_id and kind set.
absl::StatusOr<Update> ParseUpdate(std::string_view json);

// A chat claimed for processing.
struct ClaimedChat {
  std::string bot_id;
  int64_t chat_id = 0;
  std::vector<Update> updates;  // update_id order
};

// See the file comment. `limit` bounds the updates returned (the rest stay for the next claim). With
// `received_by`, only a chat with an update received by then is claimed (then with all its waiting
// updates): younger ones wait (the inbox's intake-first rule, inbox/processor.h).
absl::StatusOr<std::optional<ClaimedChat>> ClaimChat(pqxx::transaction_base& tx, int limit = 100,
                                                     std::optional<absl::Time> received_by = std::nullopt);
// Marks one update processed at `now` (NOT_FOUND when it is not stored, FAILED_PRECONDITION when it was
// already processed).
absl::Status MarkProcessed(pqxx::transaction_base& tx, std::string_view bot_id, int64_t update_id, absl::Time now);

}  // namespace crm::dialogs::telegram

#endif  // CRM_SERVICES_DIALOGS_TELEGRAM_UPDATES_H_
