// File: services/dialogs/inbox/store.h
// -----------------------------------------------------------------------------
// Dialogs and their messages in PostgreSQL (T5), as the processor and the operator API change them — all
// in the CALLER's transaction (the chat's, an operator call's, a timer's). SQL is sql.h's.
//
//   * One continuous dialog per (bot, chat) while it is not closed: OpenDialog inserts under the partial
//     unique index dialogs_open_chat and reads the winner back, so two processors never make two.
//   * A new dialog carries the phone and the client of the Telegram user's previous dialog on the bot
//     (the link outlives a closed dialog until the client revokes it with /stop).
//   * RecordMessage stores a message, moves the dialog's activity (and its unread count for a client's
//     message), publishes MessageExchanged on crm.dialogs.dialog.v1 through the outbox (key = dialog id)
//     and, for a client's or an operator's message, queues its D16 interaction for deals (deals_sync: due
//     once the dialog has a client and a responsible, parked until then) — one transaction.
#ifndef CRM_SERVICES_DIALOGS_INBOX_STORE_H_
#define CRM_SERVICES_DIALOGS_INBOX_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crm/common/v1/common.pb.h"
#include "crm/dialogs/v1/inbox.pb.h"

namespace pqxx {
class transaction_base;
class row;
}  // namespace pqxx
namespace crm::events {
class OutboxWriter;
}  // namespace crm::events
namespace crm::dialogs::telegram {
struct OutgoingChange;
}  // namespace crm::dialogs::telegram

namespace crm::dialogs::inbox {

namespace v1 = ::crm::dialogs::v1;

// "000000269".
std::string FormatNumber(int64_t number);
// The status as stored ("QUEUED") and as staff read it («В очереди»).
const char* StatusCode(v1::DialogStatus status);
v1::DialogStatus StatusOf(std::string_view code);
const char* StatusName(v1::DialogStatus status);

struct StoredDialog {
  v1::Dialog dialog;
  std::vector<std::string> team_ids;  // the responsible's teams when they took it (dialogs.read.team)
  std::string responsible_supervisor_id;  // the responsible's supervisor now (user_directory; T6), "" if none
};

// Reads a row of sql.h's CRM_INBOX_DIALOG_COLUMNS.
StoredDialog DialogOf(const pqxx::row& r);

// The dialog, optionally row-locked; nullopt when there is none.
absl::StatusOr<std::optional<StoredDialog>> LoadDialog(pqxx::transaction_base& tx, std::string_view id,
                                                       bool for_update);
// The chat's open dialog, row-locked; nullopt when there is none.
absl::StatusOr<std::optional<StoredDialog>> OpenDialogOfChat(pqxx::transaction_base& tx, std::string_view bot_id,
                                                             int64_t chat_id);

struct NewDialog {
  std::string bot_id;
  int64_t chat_id = 0;
  bool private_chat = true;
  int64_t tg_user_id = 0;
  std::string client_display;
};
// The chat's open dialog, made when there is none (status BOT); `opened` says which.
absl::StatusOr<StoredDialog> OpenDialog(pqxx::transaction_base& tx, const NewDialog& d, absl::Time now,
                                        bool* opened);

struct NewMessage {
  v1::MessageDirection direction = v1::MESSAGE_DIRECTION_IN;
  v1::MessageAuthor author = v1::MESSAGE_AUTHOR_CLIENT;
  std::string author_user_id;  // the operator
  std::string text;
  std::vector<v1::MessageFile> files;
  std::string contact_phone;
  int64_t contact_user_id = 0;
  std::string callback_data;
  int64_t update_id = 0;
  int64_t telegram_message_id = 0;
  std::string outgoing_id;  // the tg_outgoing row of an outgoing message
};

// See the file comment. `actor` is who caused it (the event's actor). Returns the stored message.
absl::StatusOr<v1::Message> RecordMessage(pqxx::transaction_base& tx, const crm::events::OutboxWriter& outbox,
                                          const v1::Dialog& dialog, const NewMessage& m,
                                          const crm::common::v1::Principal& actor, absl::Time now);

// Queues a 'link' job: deals is asked for the clients with `phone` (deals_sync.h).
absl::Status EnqueueLink(pqxx::transaction_base& tx, std::string_view dialog_id, std::string_view phone,
                         absl::Time now);
// Makes the dialog's parked interactions due when it has both a client and a responsible.
absl::Status UnparkIfReady(pqxx::transaction_base& tx, const v1::Dialog& dialog, absl::Time now);

// telegram's outgoing-state hook (telegram/outgoing.h; wire.cc registers it): the message sent through
// that outgoing row shows its state (queued, retrying, sent, failed), error and Telegram message id.
absl::Status ApplyOutgoingChange(pqxx::transaction_base& tx, const telegram::OutgoingChange& change);

// Reads a message row of sql::kListMessages / kMessageById.
v1::Message MessageOf(const pqxx::row& r);

}  // namespace crm::dialogs::inbox

#endif  // CRM_SERVICES_DIALOGS_INBOX_STORE_H_
