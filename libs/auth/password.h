// File: libs/auth/password.h
// -----------------------------------------------------------------------------
// Password hashing for sign-in: argon2id (RFC 9106) through libargon2, stored as a PHC string
//   $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt, base64 no pad>$<hash, base64 no pad>
// with a fresh 16-byte random salt and a 32-byte hash; the same format the `argon2` CLI and most other
// libraries print, so stored hashes stay portable.
//
// Default cost: m=64 MiB, t=3, p=1 (RFC 9106 section 4's second recommended option is m=64 MiB, t=3,
// p=4; we keep one lane so a sign-in burst does not take every core of a 2-core host). On the 2-core
// development machine one HashPassword / VerifyPassword with the defaults took 0.15-0.17 s (2026-11)
// (auth_password_test logs the measurement: "HashPassword default cost took ..."). That bounds sign-in
// throughput per core, so the identity service must rate-limit sign-in attempts before hashing.
// Raise the cost by changing PasswordParams; NeedsRehash() tells the service to re-hash on the next
// successful sign-in.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(std::string phc, crm::auth::HashPassword(password));   // store phc
//   ...
//   CRM_ASSIGN_OR_RETURN(bool ok, crm::auth::VerifyPassword(attempt, stored_phc));
//   if (!ok) return absl::UnauthenticatedError("wrong email or password");
//   if (crm::auth::NeedsRehash(stored_phc, {})) { /* HashPassword(attempt) and store it */ }
#ifndef CRM_LIBS_AUTH_PASSWORD_H_
#define CRM_LIBS_AUTH_PASSWORD_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace crm::auth {

// The argon2id cost. The defaults are the suite's production setting.
struct PasswordParams {
  uint32_t t_cost = 3;          // passes over memory, 1..64
  uint32_t m_cost_kib = 65536;  // memory in KiB, 8*parallelism .. 4 GiB
  uint32_t parallelism = 1;     // lanes, 1..64
};

// Longest password accepted, in bytes (hashing is not free; the limit stops a huge-body DoS).
inline constexpr size_t kMaxPasswordBytes = 1024;

// Returns a PHC string of argon2id over `password` with `params` and a fresh random 16-byte salt; two
// calls with the same password return different strings. InvalidArgument (naming `password`) if the
// password is longer than kMaxPasswordBytes; InvalidArgument if `params` are out of range; Internal if
// the random source or libargon2 fails. The empty password is hashed like any other (policy is the
// caller's).
absl::StatusOr<std::string> HashPassword(std::string_view password, const PasswordParams& params = {});

// Returns whether `password` is the one `phc` was made from. InvalidArgument if `phc` is not a
// well-formed argon2id v=19 PHC string with in-range parameters (salt 8..64 bytes, hash 16..64 bytes);
// false (not an error) for a wrong password or one longer than kMaxPasswordBytes. The comparison of
// hashes takes the same time wherever they differ.
absl::StatusOr<bool> VerifyPassword(std::string_view password, std::string_view phc);

// Returns true if `phc` should be replaced by a fresh hash made with `params`: it is malformed, not
// argon2id v=19, has a different m/t/p, or a salt shorter than 16 or hash other than 32 bytes.
bool NeedsRehash(std::string_view phc, const PasswordParams& params);

namespace internal {
// HashPassword with a caller-chosen salt, for known-answer tests only. Same errors as HashPassword,
// and InvalidArgument if the salt is not 8..64 bytes.
absl::StatusOr<std::string> HashPasswordWithSalt(std::string_view password, std::string_view salt,
                                                 const PasswordParams& params);
}  // namespace internal

}  // namespace crm::auth

#endif  // CRM_LIBS_AUTH_PASSWORD_H_
