#include "libs/base/file_name.h"

#include <string>

#include "absl/strings/ascii.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"

namespace crm {
namespace {

// RFC 6838 §4.2 restricted-name characters (letters, digits and ! # $ & - ^ _ . +).
bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '!' || c == '#' || c == '$' || c == '&' ||
         c == '-' || c == '^' || c == '_' || c == '.' || c == '+';
}

bool IsToken(std::string_view s) {
  if (s.empty() || s.size() > 127) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}


}  // namespace

absl::Status CheckFileName(std::string_view field, std::string_view name) {
  if (name.empty()) return InvalidFieldError(field, "required");
  if (CodePoints(name) > static_cast<size_t>(kMaxFileNameChars)) {
    return InvalidFieldError(field, "longer than 255 characters");
  }
  if (name == "." || name == "..") return InvalidFieldError(field, "not a file name");
  if (name.find_first_of("/\\") != std::string_view::npos) {
    return InvalidFieldError(field, "must be a name without a path (no / or \\)");
  }
  // The suite's text rule, and no tab or line break either: a name is one line of a header.
  if (HasForbiddenControl(name) || name.find_first_of("\t\r\n") != std::string_view::npos) {
    return InvalidFieldError(field, "holds a control character");
  }
  if (name.front() == ' ' || name.back() == ' ') return InvalidFieldError(field, "starts or ends with a space");
  return absl::OkStatus();
}

absl::Status CheckMediaType(std::string_view field, std::string_view media_type) {
  const absl::Status bad = InvalidFieldError(field, "not a media type (type/subtype, e.g. application/pdf)");
  if (media_type.size() > 255) return InvalidFieldError(field, "longer than 255 bytes");
  // type/subtype, then any number of "; name=value" (spaces allowed after the ';').
  size_t end = media_type.find(';');
  const std::string_view essence = Trim(media_type.substr(0, end));
  const size_t slash = essence.find('/');
  if (slash == std::string_view::npos || !IsToken(essence.substr(0, slash)) || !IsToken(essence.substr(slash + 1))) {
    return bad;
  }
  while (end != std::string_view::npos) {
    const size_t next = media_type.find(';', end + 1);
    const size_t length = next == std::string_view::npos ? next : next - end - 1;
    const std::string_view param = Trim(media_type.substr(end + 1, length));
    const size_t eq = param.find('=');
    if (eq == std::string_view::npos || !IsToken(param.substr(0, eq)) || !IsToken(param.substr(eq + 1))) return bad;
    end = next;
  }
  return absl::OkStatus();
}

}  // namespace crm
