// File: services/dialogs/outreach/common.h
// -----------------------------------------------------------------------------
// What the outreach's stores share: the page rule, a template as an outgoing Telegram message, the
// caller's rights on a dialog (the inbox's rules, access.h), timestamps from the columns' microseconds.
#ifndef CRM_SERVICES_DIALOGS_OUTREACH_COMMON_H_
#define CRM_SERVICES_DIALOGS_OUTREACH_COMMON_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "crm/common/v1/common.pb.h"
#include "crm/dialogs/v1/outreach.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "services/dialogs/inbox/store.h"
#include "services/dialogs/telegram/outgoing.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm::dialogs::outreach {

namespace v1 = ::crm::dialogs::v1;
using crm::common::v1::Principal;

inline constexpr int kDefaultPage = 50;
inline constexpr int kMaxPage = 200;

// The page rule: < 0 refused (nullopt), 0 = 50, above 200 clamped.
int PageSizeOr(int32_t size, bool* bad);

google::protobuf::Timestamp FromMicros(int64_t us);

// `r` sent to `chat_id` of `bot_id` (keyboards as the template has them).
telegram::OutgoingMessage ToOutgoing(std::string_view bot_id, int64_t chat_id, const v1::RenderedTemplate& r);

// The dialog as `caller` may answer it (seen as the inbox sees it; theirs unless they supervise);
// NOT_FOUND when they may not see it, FAILED_PRECONDITION when it is closed or not theirs. Row-locked.
absl::StatusOr<inbox::StoredDialog> AnswerableDialog(pqxx::transaction_base& tx, const Principal& caller,
                                                    std::string_view dialog_id);

// Whether `user` operates `bot` (bot_operators).
bool Operates(pqxx::transaction_base& tx, std::string_view bot, std::string_view user);

}  // namespace crm::dialogs::outreach

#endif  // CRM_SERVICES_DIALOGS_OUTREACH_COMMON_H_
