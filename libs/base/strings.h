// File: libs/base/strings.h
// -----------------------------------------------------------------------------
// Debian's Abseil (20220623) is built with ABSL_OPTION_USE_STD_STRING_VIEW=0, so absl::string_view is
// its own type, not std::string_view, and neither converts to the other implicitly. Our public APIs take
// std::string_view; these two zero-copy adapters bridge the gap when calling Abseil (StrCat, Status,
// ParseTime, SimpleAtoi, ...) or reading what it returns (Status::message()). Also the one way we quote
// untrusted input inside error messages.
//
// Example:
//   absl::Status Bad(std::string_view field) {
//     return absl::InvalidArgumentError(absl::StrCat("bad field ", crm::AsAbsl(field)));
//   }
//   std::string_view msg = crm::AsStd(status.message());
//   absl::InvalidArgumentError(absl::StrCat("bad port ", crm::QuoteForError(value)));  // "bad port \"8o\""
#ifndef CRM_LIBS_BASE_STRINGS_H_
#define CRM_LIBS_BASE_STRINGS_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace crm {

// The number of Unicode characters (code points) of UTF-8 text `s`.
size_t CodePoints(std::string_view s);

// The suite's text rule (issue 15; libs/rpc/input_guard.h applies it to every request): whether `text`
// (UTF-8) holds a control character other than TAB, LF and CR — C0 controls, DEL, or C1 controls
// (U+0080..U+009F). `*offset` gets the byte offset of the first one.
bool HasForbiddenControl(std::string_view text, size_t* offset = nullptr);

// Returns a view of the same characters as an absl::string_view (no copy; same lifetime as `s`).
inline absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Returns a view of the same characters as a std::string_view (no copy; same lifetime as `s`).
inline std::string_view AsStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }

// The value of a hexadecimal digit ('0'-'9', 'a'-'f', 'A'-'F'), or -1 for any other character.
inline int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Returns `s` in double quotes with C-style escapes for quotes, backslashes, control and non-ASCII
// bytes, cut to `max_len` input bytes with "..." marking the cut: safe to put in an error or a log line.
std::string QuoteForError(std::string_view s, size_t max_len = 64);

}  // namespace crm

#endif  // CRM_LIBS_BASE_STRINGS_H_
