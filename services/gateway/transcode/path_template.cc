#include "services/gateway/transcode/path_template.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/base/strings.h"

namespace crm::gateway {
namespace {

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }

// Characters allowed in a LITERAL: RFC 3986 unreserved, sub-delims other than those with a meaning
// here, '@', and percent escapes.
bool IsLiteralChar(char c) {
  if (IsIdentChar(c)) return true;
  switch (c) {
    case '-': case '.': case '~': case '%': case '!': case '$': case '&': case '\'': case '(':
    case ')': case '+': case ',': case ';': case '@':
      return true;
    default:
      return false;
  }
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  absl::StatusOr<PathTemplate> Parse() {
    if (text_.empty() || text_[0] != '/') return Error("must start with '/'");
    ++pos_;
    if (auto s = ParseSegments(/*in_variable=*/false); !s.ok()) return s;
    if (pos_ < text_.size() && text_[pos_] == ':') {
      ++pos_;
      size_t start = pos_;
      while (pos_ < text_.size() && IsLiteralChar(text_[pos_])) ++pos_;
      if (pos_ == start) return Error("empty verb");
      out_.verb = std::string(text_.substr(start, pos_ - start));
    }
    if (pos_ != text_.size()) return Error(absl::StrCat("unexpected ", QuoteForError(text_.substr(pos_, 1))));
    for (size_t i = 0; i + 1 < out_.segments.size(); ++i) {
      if (out_.segments[i].kind == PathSegment::Kind::kMulti) {
        return absl::InvalidArgumentError(absl::StrCat("path template ", QuoteForError(text_, 200),
                                                       ": '**' must be the last segment"));
      }
    }
    return std::move(out_);
  }

 private:
  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("path template ", QuoteForError(text_, 200),
                                                   " at position ", pos_, ": ", AsAbsl(what)));
  }

  absl::Status ParseSegments(bool in_variable) {
    while (true) {
      if (auto s = ParseSegment(in_variable); !s.ok()) return s;
      if (pos_ < text_.size() && text_[pos_] == '/') {
        ++pos_;
        continue;
      }
      return absl::OkStatus();
    }
  }

  absl::Status ParseSegment(bool in_variable) {
    if (pos_ >= text_.size()) return Error("expected a segment");
    char c = text_[pos_];
    if (c == '*') {
      if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '*') {
        pos_ += 2;
        out_.segments.push_back({PathSegment::Kind::kMulti, ""});
      } else {
        ++pos_;
        out_.segments.push_back({PathSegment::Kind::kSingle, ""});
      }
      return absl::OkStatus();
    }
    if (c == '{') {
      if (in_variable) return Error("variables cannot nest");
      return ParseVariable();
    }
    size_t start = pos_;
    while (pos_ < text_.size() && IsLiteralChar(text_[pos_])) ++pos_;
    if (pos_ == start) return Error(absl::StrCat("expected a segment, got ", QuoteForError(text_.substr(pos_, 1))));
    out_.segments.push_back({PathSegment::Kind::kLiteral, std::string(text_.substr(start, pos_ - start))});
    return absl::OkStatus();
  }

  absl::Status ParseVariable() {
    ++pos_;  // '{'
    PathVariable var;
    while (true) {
      size_t start = pos_;
      if (pos_ >= text_.size() || !IsIdentStart(text_[pos_])) return Error("expected a field name");
      while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
      var.field_path.emplace_back(text_.substr(start, pos_ - start));
      if (pos_ < text_.size() && text_[pos_] == '.') {
        ++pos_;
        continue;
      }
      break;
    }
    var.begin = out_.segments.size();
    if (pos_ < text_.size() && text_[pos_] == '=') {
      ++pos_;
      if (auto s = ParseSegments(/*in_variable=*/true); !s.ok()) return s;
    } else {
      out_.segments.push_back({PathSegment::Kind::kSingle, ""});
    }
    if (pos_ >= text_.size() || text_[pos_] != '}') return Error("expected '}'");
    ++pos_;
    var.end = out_.segments.size();
    for (const PathVariable& other : out_.variables) {
      if (other.field_path == var.field_path) {
        return Error(absl::StrCat("variable ", var.FieldPathString(), " appears twice"));
      }
    }
    out_.variables.push_back(std::move(var));
    return absl::OkStatus();
  }

  std::string_view text_;
  size_t pos_ = 0;
  PathTemplate out_;
};

std::string SegmentText(const PathSegment& s) {
  switch (s.kind) {
    case PathSegment::Kind::kSingle: return "*";
    case PathSegment::Kind::kMulti: return "**";
    case PathSegment::Kind::kLiteral: break;
  }
  return s.literal;
}

}  // namespace

std::string PathVariable::FieldPathString() const { return absl::StrJoin(field_path, "."); }

std::string PathTemplate::ToString() const {
  std::string out;
  size_t v = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    out += '/';
    if (v < variables.size() && variables[v].begin == i) {
      absl::StrAppend(&out, "{", variables[v].FieldPathString(), "=");
    }
    out += SegmentText(segments[i]);
    if (v < variables.size() && variables[v].end == i + 1) {
      out += '}';
      ++v;
    }
  }
  if (!verb.empty()) absl::StrAppend(&out, ":", verb);
  return out;
}

std::string PathTemplate::Shape() const {
  std::string out;
  for (const PathSegment& s : segments) absl::StrAppend(&out, "/", SegmentText(s));
  if (!verb.empty()) absl::StrAppend(&out, ":", verb);
  return out;
}

absl::StatusOr<PathTemplate> ParsePathTemplate(std::string_view text) { return Parser(text).Parse(); }

absl::StatusOr<std::string> PercentDecode(std::string_view in, bool keep_slash) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    int hi = i + 2 < in.size() ? HexDigitValue(in[i + 1]) : -1;
    int lo = hi >= 0 ? HexDigitValue(in[i + 2]) : -1;
    if (lo < 0) return absl::InvalidArgumentError(absl::StrCat("bad percent-encoding in ", QuoteForError(in)));
    char c = static_cast<char>(hi * 16 + lo);
    if (keep_slash && c == '/') {
      out.append(in.substr(i, 3));
    } else {
      out += c;
    }
    i += 2;
  }
  return out;
}

}  // namespace crm::gateway
