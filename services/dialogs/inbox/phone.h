// File: services/dialogs/inbox/phone.h
// -----------------------------------------------------------------------------
// A client's phone as deals stores phones (T2): E.164 through libphonenumber, default region RU. Telegram
// sends a shared contact's number in international form, often without "+" ("79161234567").
#ifndef CRM_SERVICES_DIALOGS_INBOX_PHONE_H_
#define CRM_SERVICES_DIALOGS_INBOX_PHONE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace crm::dialogs::inbox {

// "+79161234567"; INVALID_ARGUMENT naming `field` for what is not a valid number.
absl::StatusOr<std::string> NormalizePhone(std::string_view field, std::string_view raw);

}  // namespace crm::dialogs::inbox

#endif  // CRM_SERVICES_DIALOGS_INBOX_PHONE_H_
