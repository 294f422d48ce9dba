// File: services/identity/validate.cc
#include "services/identity/validate.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "libs/auth/encoding.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/uuid.h"

namespace crm::identity {
namespace {

// Counts UTF-8 code points; returns -1 for invalid UTF-8.
int64_t Utf8Length(std::string_view s) {
  int64_t n = 0;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return -1;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return -1;
    }
    i += len;
    ++n;
  }
  return n;
}

constexpr char kPageTokenPrefix[] = "p1:";

}  // namespace

absl::Status FieldError(std::string_view field, std::string_view why) { return crm::InvalidFieldError(field, why); }

bool Violations::Check(const absl::Status& check) {
  if (check.ok()) return true;
  std::vector<FieldViolation> found = FieldViolations(check);
  if (check.code() == absl::StatusCode::kInvalidArgument && !found.empty()) {
    for (FieldViolation& f : found) violations_.push_back(std::move(f));
  } else if (other_.ok()) {
    other_ = check;
  }
  return false;
}

absl::Status Violations::Status() const {
  if (!violations_.empty()) return InvalidFieldsError(violations_);
  return other_;
}

absl::Status CheckId(std::string_view field, std::string_view id) {
  if (id.empty()) return FieldError(field, "required");
  if (!IsUuid(id)) return FieldError(field, "must be a UUID");
  return absl::OkStatus();
}

std::string NormalizeLogin(std::string_view login) {
  std::string out(login);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

absl::Status CheckLogin(std::string_view field, std::string_view login) {
  if (login.size() < 3 || login.size() > 64) return FieldError(field, "must be 3 to 64 characters");
  for (char c : login) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return FieldError(field, "may contain only a-z, 0-9, '.', '_' and '-'");
  }
  return absl::OkStatus();
}

absl::Status CheckPassword(std::string_view field, std::string_view password) {
  if (password.size() > 1024) return FieldError(field, "longer than 1024 bytes");
  const int64_t n = Utf8Length(password);
  if (n < 0) return FieldError(field, "not valid UTF-8");
  if (n < static_cast<int64_t>(kMinPasswordLength)) {
    return FieldError(field, absl::StrCat("must be at least ", kMinPasswordLength, " characters"));
  }
  return absl::OkStatus();
}

absl::Status CheckEmail(std::string_view field, std::string_view email) {
  if (email.empty()) return absl::OkStatus();
  if (email.size() > 254) return FieldError(field, "longer than 254 bytes");
  const size_t at = email.find('@');
  if (at == std::string_view::npos || at == 0 || email.find('@', at + 1) != std::string_view::npos) {
    return FieldError(field, "not an e-mail address");
  }
  for (char c : email) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return FieldError(field, "not an e-mail address");
  }
  std::string_view domain = email.substr(at + 1);
  const size_t dot = domain.find('.');
  if (domain.empty() || dot == std::string_view::npos || dot == 0 || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos) {
    return FieldError(field, "not an e-mail address");
  }
  if (Utf8Length(email) < 0) return FieldError(field, "not valid UTF-8");
  return absl::OkStatus();
}

absl::StatusOr<std::string> NormalizePhone(std::string_view field, std::string_view phone) {
  if (phone.empty()) return std::string();
  if (phone.size() > 32) return FieldError(field, "not a phone number");
  std::string digits;
  bool plus = false;
  for (size_t i = 0; i < phone.size(); ++i) {
    const char c = phone[i];
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
    } else if (c == '+' && digits.empty() && !plus) {
      plus = true;
    } else if (c == ' ' || c == '-' || c == '(' || c == ')' || c == '.') {
      continue;
    } else {
      return FieldError(field, "not a phone number");
    }
  }
  if (!plus) {
    if (digits.size() == 11 && (digits[0] == '8' || digits[0] == '7')) {
      digits = absl::StrCat("7", digits.substr(1));
    } else if (digits.size() == 10 && digits[0] == '9') {
      digits = absl::StrCat("7", digits);
    } else {
      return FieldError(field, "not a phone number (use +<country code><number>)");
    }
  }
  if (digits.size() < 8 || digits.size() > 15 || digits[0] == '0') {
    return FieldError(field, "not a phone number");
  }
  if (digits[0] == '7' && digits.size() != 11) return FieldError(field, "not a phone number");
  return absl::StrCat("+", digits);
}

absl::Status CheckText(std::string_view field, std::string_view text, size_t max_bytes, bool required) {
  if (required && text.empty()) return FieldError(field, "required");
  if (text.size() > max_bytes) return FieldError(field, absl::StrCat("longer than ", max_bytes, " bytes"));
  if (Utf8Length(text) < 0) return FieldError(field, "not valid UTF-8");
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20) return FieldError(field, "contains control characters");
  }
  return absl::OkStatus();
}

absl::Status CheckPermissionCode(std::string_view field, std::string_view code) {
  if (code.empty() || code.size() > 100 || code.front() == '.' || code.back() == '.' ||
      code.find("..") != std::string_view::npos) {
    return FieldError(field, absl::StrCat("not a permission code: ", QuoteForError(code)));
  }
  for (char c : code) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
    if (!ok) return FieldError(field, absl::StrCat("not a permission code: ", QuoteForError(code)));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> PageSize(int requested) {
  if (requested < 0) return FieldError("page_size", "must not be negative");
  if (requested == 0) return kDefaultPageSize;
  return std::min(requested, kMaxPageSize);
}

std::string EncodePageToken(std::string_view last) {
  return auth::Base64UrlEncode(absl::StrCat(kPageTokenPrefix, AsAbsl(last)));
}

absl::StatusOr<std::string> DecodePageToken(std::string_view token) {
  if (token.empty()) return std::string();
  std::optional<std::string> raw = auth::Base64UrlDecode(token);
  if (!raw.has_value() || raw->rfind(kPageTokenPrefix, 0) != 0) return FieldError("page_token", "invalid");
  return raw->substr(sizeof(kPageTokenPrefix) - 1);
}

bool IsSelf(const crm::common::v1::Principal& caller, std::string_view user_id) {
  return caller.kind() == crm::common::v1::Principal::KIND_USER && !user_id.empty() && caller.id() == user_id;
}

bool IsRestricted(const crm::common::v1::Principal& caller) {
  return caller.permissions_size() == 1 && caller.permissions(0) == kTotpEnrollScope;
}

bool IsGateway(const crm::common::v1::Principal& caller) {
  return caller.kind() == crm::common::v1::Principal::KIND_SERVICE && caller.service() == "gateway";
}

}  // namespace crm::identity
