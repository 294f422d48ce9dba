// File: services/dialogs/outreach/common.cc
#include "services/dialogs/outreach/common.h"

#include <pqxx/pqxx>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/uuid.h"
#include "libs/pg/prepared.h"
#include "libs/rpc/call.h"
#include "services/dialogs/inbox/access.h"
#include "services/dialogs/inbox/sql.h"

namespace crm::dialogs::outreach {

int PageSizeOr(int32_t size, bool* bad) {
  if (size < 0) {
    *bad = true;
    return kDefaultPage;
  }
  if (size == 0) return kDefaultPage;
  return std::min<int>(size, kMaxPage);
}

google::protobuf::Timestamp FromMicros(int64_t us) {
  google::protobuf::Timestamp t;
  t.set_seconds(us / 1000000);
  t.set_nanos(static_cast<int32_t>((us % 1000000) * 1000));
  return t;
}

telegram::OutgoingMessage ToOutgoing(std::string_view bot_id, int64_t chat_id, const v1::RenderedTemplate& r) {
  telegram::OutgoingMessage m{.bot_id = std::string(bot_id), .chat_id = chat_id};
  m.text = r.text();
  for (const v1::TemplateButtonRow& row : r.inline_keyboard()) {
    auto& out = m.inline_keyboard.emplace_back();
    for (const v1::TemplateButton& b : row.buttons()) {
      out.push_back({.text = b.text(), .callback_data = b.callback_data(), .url = b.url()});
    }
  }
  for (const v1::TemplateButtonRow& row : r.reply_keyboard()) {
    auto& out = m.reply_keyboard.emplace_back();
    for (const v1::TemplateButton& b : row.buttons()) {
      out.push_back({.text = b.text(), .request_contact = b.request_contact()});
    }
  }
  m.one_time_keyboard = !m.reply_keyboard.empty();
  return m;
}

bool Operates(pqxx::transaction_base& tx, std::string_view bot, std::string_view user) {
  return IsUuid(user) && IsUuid(bot) &&
         !crm::pg::ExecPrepared(tx, inbox::sql::kIsBotOperator, std::string(bot), std::string(user)).empty();
}

absl::StatusOr<inbox::StoredDialog> AnswerableDialog(pqxx::transaction_base& tx, const Principal& caller,
                                                    std::string_view dialog_id) {
  const std::string me = inbox::CallerUserId(caller);
  CRM_ASSIGN_OR_RETURN(std::optional<inbox::StoredDialog> d, inbox::LoadDialog(tx, dialog_id, true));
  if (!d || !inbox::CanSee(caller, *d, Operates(tx, d->dialog.bot_id(), me))) {
    return absl::NotFoundError(absl::StrCat("dialog ", AsAbsl(dialog_id), " not found"));
  }
  if (d->dialog.closed()) {
    return absl::FailedPreconditionError(absl::StrCat("dialog ", d->dialog.number(), " is closed"));
  }
  if (d->dialog.responsible_id() != me && !crm::rpc::HasPermission(caller, inbox::kSupervise)) {
    return absl::FailedPreconditionError(
        absl::StrCat("dialog ", d->dialog.number(), " is not yours: take it in work first (or ask a supervisor)"));
  }
  return *std::move(d);
}

}  // namespace crm::dialogs::outreach
