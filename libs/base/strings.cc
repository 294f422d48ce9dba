#include "libs/base/strings.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace crm {

std::string QuoteForError(std::string_view s, size_t max_len) {
  const bool cut = s.size() > max_len;
  return absl::StrCat("\"", absl::CHexEscape(AsAbsl(s.substr(0, max_len))), cut ? "...\"" : "\"");
}

}  // namespace crm
