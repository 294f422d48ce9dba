// File: libs/auth/encoding.h
// -----------------------------------------------------------------------------
// The byte-to-text encodings the auth primitives put on the wire (RFC 4648): base64url without padding
// (JWT segments, JWK "x", tokens, signatures) and standard base64 without padding (the salt and hash in
// argon2 PHC strings). Decoders are strict: they refuse padding, whitespace, characters outside the
// alphabet and non-canonical trailing bits, so every accepted text has exactly one byte string and
// every byte string exactly one text (no malleability in signed data).
//
// Example:
//   std::string text = crm::auth::Base64UrlEncode(raw);        // "hgyY0il_MGCj..."
//   std::optional<std::string> back = crm::auth::Base64UrlDecode(text);
//   if (!back) return absl::UnauthenticatedError("malformed token");
#ifndef CRM_LIBS_AUTH_ENCODING_H_
#define CRM_LIBS_AUTH_ENCODING_H_

#include <optional>
#include <string>
#include <string_view>

namespace crm::auth {

// Returns `bytes` in the base64url alphabet ("-" and "_"), without "=" padding.
std::string Base64UrlEncode(std::string_view bytes);

// Returns the bytes of unpadded base64url `text`, or nullopt if `text` is not the canonical unpadded
// base64url encoding of some byte string.
std::optional<std::string> Base64UrlDecode(std::string_view text);

// Returns `bytes` in the standard base64 alphabet ("+" and "/"), without "=" padding (PHC strings).
std::string Base64NoPadEncode(std::string_view bytes);

// Returns the bytes of unpadded standard base64 `text`, or nullopt if it is not canonical.
std::optional<std::string> Base64NoPadDecode(std::string_view text);

// Returns `bytes` as lowercase hexadecimal, two digits per byte.
std::string HexEncode(std::string_view bytes);

}  // namespace crm::auth

#endif  // CRM_LIBS_AUTH_ENCODING_H_
