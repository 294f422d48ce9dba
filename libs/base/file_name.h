// File: libs/base/file_name.h
// -----------------------------------------------------------------------------
// What the suite accepts as a file's name and media type when a client uploads one (a deal's attachment,
// a Telegram file, a call recording): a name is shown to people and goes back out in a
// Content-Disposition header; a media type goes out in Content-Type. So a name is one path component
// (no "/", "\", "." or "..": nothing a store or a browser could take for a path) without control
// characters (no CR/LF to split a header), and a media type is the RFC 6838 shape `type/subtype`, with
// optional `; name=value` parameters of token characters. Refused, not repaired: the client learns
// which field and why (issue 15).
//
// Example:
//   CRM_RETURN_IF_ERROR(crm::CheckFileName("file_name", req.file_name()));
//   if (!req.content_type().empty()) CRM_RETURN_IF_ERROR(crm::CheckMediaType("content_type", req.content_type()));
#ifndef CRM_LIBS_BASE_FILE_NAME_H_
#define CRM_LIBS_BASE_FILE_NAME_H_

#include <string_view>

#include "absl/status/status.h"

namespace crm {

// The longest name, in characters.
inline constexpr int kMaxFileNameChars = 255;

// OK, or INVALID_ARGUMENT naming `field`: empty, longer than kMaxFileNameChars characters, "." or "..",
// holding "/" or "\", a control character (tab and line breaks included), or starting or ending with
// a space.
absl::Status CheckFileName(std::string_view field, std::string_view name);

// OK, or INVALID_ARGUMENT naming `field`: not `type/subtype[; name=value]...` of RFC 6838 token
// characters (quoted parameter values are refused too), or longer than 255 bytes.
absl::Status CheckMediaType(std::string_view field, std::string_view media_type);

}  // namespace crm

#endif  // CRM_LIBS_BASE_FILE_NAME_H_
