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

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crm/common/v1/common.pb.h"
#include "libs/base/status.h"

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

// A request's field violations, collected so that a check reports every bad field at once
// (crm::InvalidFieldsError), not the first (issue 16).
//
// Example:
//   Violations v;
//   v.Check(CheckLogin("user.login", login));
//   if (user.role_codes_size() > 50) v.Add("user.role_codes", "at most 50");
//   CRM_RETURN_IF_ERROR(v.Status());
class Violations {
 public:
  void Add(std::string_view field, std::string_view description) {
    violations_.push_back({std::string(field), std::string(description)});
  }
  // Keeps the field violations of `check` (an INVALID_ARGUMENT naming its fields); an error of another
  // kind is kept whole and reported by Status() when no violation is. Returns whether `check` is OK.
  bool Check(const absl::Status& check);
  // The value of `value`, or nullopt after keeping its error as Check() does.
  template <typename T>
  std::optional<T> Value(absl::StatusOr<T> value) {
    if (!Check(value.status())) return std::nullopt;
    return *std::move(value);
  }
  bool ok() const { return violations_.empty() && other_.ok(); }
  // OK when nothing was kept; else INVALID_ARGUMENT with every violation in the order found (or the
  // first error of another kind when there is no violation).
  absl::Status Status() const;

 private:
  std::vector<FieldViolation> violations_;
  absl::Status other_;
};

// OK when `id` is a UUID; else INVALID_ARGUMENT naming `field` ("required" when empty). A malformed id
// is a bad request (400) everywhere, never "not found".
absl::Status CheckId(std::string_view field, std::string_view id);

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

// Returns the page size to use, by the suite's one page rule (issue 16): kDefaultPageSize for 0,
// kMaxPageSize for anything above it, InvalidArgument naming `page_size` when negative.
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
