// File: libs/auth/totp.h
// -----------------------------------------------------------------------------
// Two-factor codes from authenticator apps: TOTP (RFC 6238) over HOTP (RFC 4226) with HMAC-SHA1, a
// 30-second step and 6 digits by default, the settings every common app supports. Secrets travel as
// RFC 4648 base32 (what apps scan from the otpauth:// QR code). VerifyTotp returns the time step that
// matched; the caller stores it with the user and passes it back as `last_used_step`, so a code (or
// any older one) is accepted at most once: an intercepted code cannot be replayed.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(std::string secret, crm::auth::NewTotpSecret());   // store encrypted
//   std::string uri = crm::auth::OtpAuthUri("Acme CRM", "ana@acme.example", secret);  // QR code
//   ...
//   std::optional<int64_t> step =
//       crm::auth::VerifyTotp(secret, code, clock.Now(), /*window_steps=*/1, user.totp_last_step);
//   if (!step) return absl::UnauthenticatedError("wrong code");
//   user.totp_last_step = *step;   // persist before answering
#ifndef CRM_LIBS_AUTH_TOTP_H_
#define CRM_LIBS_AUTH_TOTP_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crm::auth {

// Code length and time step. Digits 6..8; step 1 s .. 10 min, whole seconds.
struct TotpParams {
  int digits = 6;
  absl::Duration step = absl::Seconds(30);
};

// Returns `bytes` in RFC 4648 base32 (upper case, "=" padded to a multiple of 8 characters).
std::string Base32Encode(std::string_view bytes);

// Returns the bytes of base32 `text`. Accepts lower case, spaces (as apps display secrets in groups),
// and missing or present "=" padding; nullopt for any other character, an impossible length, or
// non-zero trailing bits.
std::optional<std::string> Base32Decode(std::string_view text);

// Returns a new secret: 20 random bytes (160 bits, RFC 4226's recommendation), base32, 32 characters
// without padding. Internal if the random source fails.
absl::StatusOr<std::string> NewTotpSecret();

// Returns the otpauth:// URI for authenticator apps (Key Uri Format):
// otpauth://totp/<issuer>:<account>?secret=<secret>&issuer=<issuer>&algorithm=SHA1&digits=6&period=30,
// with issuer and account percent-encoded (RFC 3986 unreserved characters kept).
std::string OtpAuthUri(std::string_view issuer, std::string_view account,
                       std::string_view base32_secret, const TotpParams& params = {});

// Returns the HOTP value of raw `key` at `counter` as exactly `digits` decimal digits (RFC 4226).
std::string HotpCode(std::string_view key, uint64_t counter, int digits);

// Returns the TOTP code of base32 `base32_secret` at time `t`. InvalidArgument for a malformed secret
// or params out of range, or a time before the Unix epoch.
absl::StatusOr<std::string> TotpCode(std::string_view base32_secret, absl::Time t,
                                     const TotpParams& params = {});

// Returns the time step (floor(unix seconds / step)) whose code equals `code`, searching the steps
// from window_steps before to window_steps after the one containing `now` (window clamped to 0..10),
// and only steps greater than `last_used_step`; nullopt if none matches, if `code` is not exactly
// params.digits ASCII digits, or if the secret or params are malformed. When several steps match,
// returns the latest. Codes are compared in constant time.
std::optional<int64_t> VerifyTotp(std::string_view base32_secret, std::string_view code, absl::Time now,
                                  int window_steps = 1, int64_t last_used_step = -1,
                                  const TotpParams& params = {});

}  // namespace crm::auth

#endif  // CRM_LIBS_AUTH_TOTP_H_
