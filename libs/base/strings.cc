#include "libs/base/strings.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace crm {

std::string QuoteForError(std::string_view s, size_t max_len) {
  const bool cut = s.size() > max_len;
  return absl::StrCat("\"", absl::CHexEscape(AsAbsl(s.substr(0, max_len))), cut ? "...\"" : "\"");
}

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool HasForbiddenControl(std::string_view text, size_t* offset) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = p[i];
    bool bad = false;
    if (c < 0x20) {
      bad = c != '\t' && c != '\n' && c != '\r';
    } else if (c == 0x7f) {
      bad = true;
    } else if (c == 0xc2 && i + 1 < text.size() && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
      bad = true;  // U+0080..U+009F, the C1 controls, are C2 80..C2 9F in UTF-8
    }
    if (bad) {
      if (offset != nullptr) *offset = i;
      return true;
    }
  }
  return false;
}

}  // namespace crm
