// File: services/gateway/transcode/path_template.h
// -----------------------------------------------------------------------------
// Parses the path templates of google.api.HttpRule (google/api/http.proto):
//
//   Template = "/" Segments [ Verb ] ;
//   Segments = Segment { "/" Segment } ;
//   Segment  = "*" | "**" | LITERAL | Variable ;
//   Variable = "{" FieldPath [ "=" Segments ] "}" ;
//   FieldPath = IDENT { "." IDENT } ;
//   Verb     = ":" LITERAL ;
//
// `{var}` means `{var=*}`. `**` may only be the last segment (a verb may follow). Variables do not nest.
// The parsed form is flat: a list of segments (literal, `*` or `**`) plus the variables, each naming
// the run of segments it captures. Two templates that differ only in variable names have the same
// Shape() - the router uses that to detect conflicting bindings.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(PathTemplate t, ParsePathTemplate("/v1/{name=shelves/*/books/*}:get"));
//   // t.segments: v1, shelves, *, books, *   t.variables: {name, segments [1,5)}   t.verb: "get"
#ifndef CRM_SERVICES_GATEWAY_TRANSCODE_PATH_TEMPLATE_H_
#define CRM_SERVICES_GATEWAY_TRANSCODE_PATH_TEMPLATE_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace crm::gateway {

// One segment of a parsed template.
struct PathSegment {
  enum class Kind { kLiteral, kSingle /* "*" */, kMulti /* "**" */ };
  Kind kind = Kind::kLiteral;
  std::string literal;  // set only for kLiteral; never empty
  bool operator==(const PathSegment&) const = default;
};

// A `{field.path=...}` variable: captures segments [begin, end) of the template.
struct PathVariable {
  std::vector<std::string> field_path;  // e.g. {"thing", "id"}; never empty
  size_t begin = 0;
  size_t end = 0;
  // Returns the field path joined with ".".
  std::string FieldPathString() const;
  bool operator==(const PathVariable&) const = default;
};

// A parsed template. Promises: segments is non-empty; at most the last segment is kMulti; variables
// are ordered, do not overlap, and each covers at least one segment.
struct PathTemplate {
  std::vector<PathSegment> segments;
  std::vector<PathVariable> variables;
  std::string verb;  // without the ':'; empty when there is none

  // Returns the template text in canonical form (`{x}` printed as `{x=*}`).
  std::string ToString() const;
  // Returns the template with variable names erased ("/v1/things/*:archive"): equal shapes match the
  // same request paths.
  std::string Shape() const;
};

// Parses `text`. Errors are INVALID_ARGUMENT and name the template and the byte position of the fault.
absl::StatusOr<PathTemplate> ParsePathTemplate(std::string_view text);

// Returns `in` with every %XX escape decoded; with keep_slash, an escaped '/' (%2F, %2f) stays as it
// was. INVALID_ARGUMENT (quoting `in`) for a '%' not followed by two hex digits.
absl::StatusOr<std::string> PercentDecode(std::string_view in, bool keep_slash = false);

}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_TRANSCODE_PATH_TEMPLATE_H_
