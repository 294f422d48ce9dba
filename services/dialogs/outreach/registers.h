// File: services/dialogs/outreach/registers.h
// -----------------------------------------------------------------------------
// The registers (T9; dialogs.read.all): the message history across dialogs — by client, bot and period
// (create_time in [from, to): message ids are UUIDv7, so a period is an id range on dialog_messages'
// primary key), newest first, keyset on the message id — and the bot ↔ chats mapping (tg_chats by chat
// id, each chat with its last dialog's client).
#ifndef CRM_SERVICES_DIALOGS_OUTREACH_REGISTERS_H_
#define CRM_SERVICES_DIALOGS_OUTREACH_REGISTERS_H_

#include "absl/status/statusor.h"
#include "crm/dialogs/v1/outreach.pb.h"
#include "services/dialogs/outreach/common.h"

namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::dialogs::outreach {

class Registers {
 public:
  explicit Registers(crm::pg::Pool& pool) : pool_(pool) {}

  absl::StatusOr<v1::ListMessageHistoryResponse> History(const Principal& caller,
                                                         const v1::ListMessageHistoryRequest& req);
  absl::StatusOr<v1::ListBotChatsResponse> BotChats(const Principal& caller, const v1::ListBotChatsRequest& req);

 private:
  crm::pg::Pool& pool_;
};

}  // namespace crm::dialogs::outreach

#endif  // CRM_SERVICES_DIALOGS_OUTREACH_REGISTERS_H_
