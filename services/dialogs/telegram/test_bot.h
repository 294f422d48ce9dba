// File: services/dialogs/telegram/test_bot.h
// -----------------------------------------------------------------------------
// Tests only: the statement that makes a bot row (tg_bots) without the Bot API — the token and the secret
// are placeholders, the intake is long polling, `hook` its (unused) webhook path. For tests of the parts
// that only need a bot to exist (inbox, routing, outreach, the plan tests).
#ifndef CRM_SERVICES_DIALOGS_TELEGRAM_TEST_BOT_H_
#define CRM_SERVICES_DIALOGS_TELEGRAM_TEST_BOT_H_

#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace crm::dialogs::telegram {

inline std::string InsertTestBotSql(std::string_view id, std::string_view name, std::string_view hook) {
  return absl::StrCat(
      "INSERT INTO tg_bots (id, name, token_sealed, intake_mode, hook, secret_sealed, create_time, update_time) "
      "VALUES ('", absl::string_view(id.data(), id.size()), "', '", absl::string_view(name.data(), name.size()),
      "', 'x', 'POLLING', '", absl::string_view(hook.data(), hook.size()), "', 'x', now(), now())");
}

}  // namespace crm::dialogs::telegram

#endif  // CRM_SERVICES_DIALOGS_TELEGRAM_TEST_BOT_H_
