// File: services/mortgage/paging.h
// -----------------------------------------------------------------------------
// The suite's one page rule (issue 16, decided for deals) for every list of mortgage: a negative
// page_size is INVALID_ARGUMENT naming page_size, 0 is the list's default, above the list's maximum is
// the maximum. And opaque page tokens over a keyset position ("the last row of the page"): a token
// carries the values of the row's sort key, each base64url-encoded, so any text (a bank's name) fits.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(int size, PageSize(req.page_size(), 50, 200));
//   CRM_ASSIGN_OR_RETURN(std::vector<std::string> after, DecodePageToken(req.page_token(), 2));  // {} = first page
//   ... WHERE (name, id) > (after[0], after[1]) ORDER BY name, id LIMIT size + 1 ...
//   if (more) out.set_next_page_token(EncodePageToken({last.name(), last.id()}));
#ifndef CRM_SERVICES_MORTGAGE_PAGING_H_
#define CRM_SERVICES_MORTGAGE_PAGING_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"

namespace crm::mortgage {

// The page size to use for `requested` (see the file comment).
inline absl::StatusOr<int> PageSize(int32_t requested, int default_size, int max_size) {
  if (requested < 0) return InvalidFieldError("page_size", "must not be negative");
  if (requested == 0) return default_size;
  return std::min<int>(requested, max_size);
}

// A page token for the sort key `parts` of a page's last row.
inline std::string EncodePageToken(const std::vector<std::string>& parts) {
  std::vector<std::string> encoded;
  for (const std::string& p : parts) encoded.push_back(absl::WebSafeBase64Escape(p));
  return absl::StrCat("k1.", absl::StrJoin(encoded, "."));
}

// The sort key of a token EncodePageToken made with `parts` values; {} for "" (the first page);
// INVALID_ARGUMENT naming page_token for anything else.
inline absl::StatusOr<std::vector<std::string>> DecodePageToken(std::string_view token, size_t parts) {
  if (token.empty()) return std::vector<std::string>();
  const absl::Status bad = InvalidFieldError("page_token", "not a token this list returned");
  if (token.substr(0, 3) != "k1.") return bad;
  std::vector<std::string> out;
  for (absl::string_view piece : absl::StrSplit(AsAbsl(token.substr(3)), '.')) {
    std::string raw;
    if (!absl::WebSafeBase64Unescape(piece, &raw)) return bad;
    out.push_back(std::move(raw));
  }
  if (out.size() != parts) return bad;
  return out;
}

}  // namespace crm::mortgage

#endif  // CRM_SERVICES_MORTGAGE_PAGING_H_
