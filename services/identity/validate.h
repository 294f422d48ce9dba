// File: services/identity/validate.h
// -----------------------------------------------------------------------------
// identity's input rules and small shared helpers: login, password, e-mail and phone checks (errors are
// INVALID_ARGUMENT naming the proto field), opaque page tokens, permission checks on a caller.
//
// Example:
//   CRM_RETURN_IF_ERROR(crm::identity::CheckLogin("user.login", req.user().login()));
//   CRM_ASSIGN_OR_RETURN(std::string phone, crm::identity::NormalizePhone("user.phone", "8 916 123-45-67"));
//   // phone == "+79161234567"
//   CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, "users.manage"));   // libs/rpc/call.h
#ifndef CRM_SERVICES_IDENTITY_VALIDATE_H_
#define CRM_SERVICES_IDENTITY_VALIDATE_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crm/common/v1/common.pb.h"

namespace crm::identity {

// The only permission of a restricted session (a user whose role requires TOTP, not yet enrolled).
inline constexpr char kTotpEnrollScope[] = "self.totp.enroll";
// Shortest password accepted.
inline constexpr size_t kMinPasswordLength = 10;
// Page size when the request names none, and the largest accepted.
inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 200;

// Returns InvalidArgument naming `field` with `why`: "<field>: <why>", carrying the field violation
// (crm::InvalidFieldError) so the gateway lists it in the error's details.
absl::Status FieldError(std::string_view field, std::string_view why);

// OK when `login` (already lower-cased by the caller) is 3..64 characters of [a-z0-9._-].
absl::Status CheckLogin(std::string_view field, std::string_view login);
// Returns `login` lower-cased (ASCII); logins compare case-insensitively.
std::string NormalizeLogin(std::string_view login);
// OK when `password` has at least kMinPasswordLength characters (UTF-8 code points) and at most 1024 bytes.
absl::Status CheckPassword(std::string_view field, std::string_view password);
// OK for "" or a plausible address: one '@', non-empty local part, a dotted domain, no spaces, ≤ 254 bytes.
absl::Status CheckEmail(std::string_view field, std::string_view email);
// Returns "" for "", else the E.164 form: "+<country><number>", 8..15 digits. Russian numbers written
// with a leading 8 or 7 (11 digits) or 10 digits starting with 9 become +7…; separators " -()." are
// ignored. InvalidArgument naming `field` for anything else.
absl::StatusOr<std::string> NormalizePhone(std::string_view field, std::string_view phone);
// OK for a short single-line text of valid UTF-8 (≤ max_bytes); `required` also refuses "".
absl::Status CheckText(std::string_view field, std::string_view text, size_t max_bytes, bool required);
// OK when `code` looks like a permission code: [a-z0-9_]+ separated by '.', ≤ 100 bytes.
absl::Status CheckPermissionCode(std::string_view field, std::string_view code);

// Returns the page size to use: kDefaultPageSize for 0, InvalidArgument naming `page_size` when
// negative or over kMaxPageSize.
absl::StatusOr<int> PageSize(int requested);
// An opaque page token for the keyset position `last` (base64url), and back. DecodePageToken returns
// "" for "" and InvalidArgument naming `page_token` for a token it did not make.
std::string EncodePageToken(std::string_view last);
absl::StatusOr<std::string> DecodePageToken(std::string_view token);

// Whether `caller` is the user `user_id`.
bool IsSelf(const crm::common::v1::Principal& caller, std::string_view user_id);
// Whether `caller` is a restricted session (only kTotpEnrollScope).
bool IsRestricted(const crm::common::v1::Principal& caller);
// Whether `caller` is the gateway service principal {kind SERVICE, service "gateway"}.
bool IsGateway(const crm::common::v1::Principal& caller);

}  // namespace crm::identity

#endif  // CRM_SERVICES_IDENTITY_VALIDATE_H_
