// File: services/telephony/requests/phone.cc
#include "services/telephony/requests/phone.h"

#include <phonenumbers/phonenumberutil.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"

namespace crm::telephony::requests {

absl::StatusOr<std::string> NormalizePhone(std::string_view field, std::string_view raw) {
  using i18n::phonenumbers::PhoneNumberUtil;
  std::string text(absl::StripAsciiWhitespace(AsAbsl(raw)));
  if (text.empty()) return InvalidFieldError(field, "empty phone number");
  if (text.size() > 64) return InvalidFieldError(field, "not a phone number");
  // An international number typed without its "+": 11 digits and more are a country code and a number
  // (but Russia's national "8 ..." is not).
  if (text.size() >= 11 && text[0] != '8' && std::all_of(text.begin(), text.end(), [](char c) { return absl::ascii_isdigit(c); })) {
    text = absl::StrCat("+", text);
  }
  const PhoneNumberUtil* util = PhoneNumberUtil::GetInstance();
  i18n::phonenumbers::PhoneNumber number;
  if (util->Parse(text, "RU", &number) != PhoneNumberUtil::NO_PARSING_ERROR || !util->IsValidNumber(number)) {
    return InvalidFieldError(field, absl::StrCat("not a valid phone number: ", text));
  }
  std::string out;
  util->Format(number, PhoneNumberUtil::E164, &out);
  return out;
}

}  // namespace crm::telephony::requests
