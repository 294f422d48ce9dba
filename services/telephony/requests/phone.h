// File: services/telephony/requests/phone.h
// -----------------------------------------------------------------------------
// A request's phone as deals stores phones: E.164 through libphonenumber, default region RU ("8 916
// 123-45-67", "79161234567" and "+7 (916) 123-45-67" are one number).
#ifndef CRM_SERVICES_TELEPHONY_REQUESTS_PHONE_H_
#define CRM_SERVICES_TELEPHONY_REQUESTS_PHONE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace crm::telephony::requests {

// "+79161234567"; INVALID_ARGUMENT naming `field` for what is not a valid number.
absl::StatusOr<std::string> NormalizePhone(std::string_view field, std::string_view raw);

}  // namespace crm::telephony::requests

#endif  // CRM_SERVICES_TELEPHONY_REQUESTS_PHONE_H_
