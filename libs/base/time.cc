#include "libs/base/time.h"

#include <algorithm>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/timestamp.pb.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"

namespace crm {
namespace {

constexpr char kUtcFormat[] = "%Y-%m-%d%ET%H:%M:%E*SZ";
constexpr char kLocalFormat[] = "%Y-%m-%d%ET%H:%M:%E*S%Ez";

// google.protobuf.Timestamp range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

bool IsZoneNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' || c == '_' ||
         c == '-' || c == '+';
}

}  // namespace

absl::StatusOr<absl::TimeZone> LoadTimeZone(std::string_view name) {
  // Names come from configuration and users: keep them to tzdata names, never paths or "file:" specs.
  const bool well_formed = !name.empty() && name.size() <= 64 && name.front() != '/' &&
                           name.find("..") == std::string_view::npos &&
                           std::all_of(name.begin(), name.end(), IsZoneNameChar);
  absl::TimeZone zone;
  if (!well_formed || !absl::LoadTimeZone(std::string(name), &zone)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown time zone ", QuoteForError(name)));
  }
  return zone;
}

std::string FormatRfc3339Utc(absl::Time t) { return absl::FormatTime(kUtcFormat, t, absl::UTCTimeZone()); }

std::string FormatRfc3339Local(absl::Time t, const absl::TimeZone& zone) {
  return absl::FormatTime(kLocalFormat, t, zone);
}

absl::StatusOr<absl::CivilDay> ParseCivilDay(std::string_view text, std::string_view field) {
  absl::CivilDay day;
  // ParseCivilTime normalises out-of-range fields: a round trip refuses such dates.
  if (text.size() != 10 || !absl::ParseCivilTime(AsAbsl(text), &day) || absl::FormatCivilTime(day) != AsAbsl(text)) {
    return InvalidFieldError(field, "must be a date YYYY-MM-DD");
  }
  return day;
}

absl::StatusOr<absl::Time> ParseRfc3339(std::string_view text) {
  absl::Time t;
  std::string err;
  // %Ez accepts "Z" as well as "+03:00"; a missing offset fails the parse.
  if (!absl::ParseTime(kLocalFormat, AsAbsl(text), &t, &err) || t == absl::InfiniteFuture() ||
      t == absl::InfinitePast()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an RFC 3339 time with offset (like 2026-11-24T10:00:00Z): ", QuoteForError(text)));
  }
  return t;
}

google::protobuf::Timestamp ToProtoTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  const absl::Time lo = absl::FromUnixSeconds(kMinTimestampSeconds);
  const absl::Time hi = absl::FromUnixSeconds(kMaxTimestampSeconds) + absl::Nanoseconds(999999999);
  t = std::clamp(t, lo, hi);
  const int64_t seconds = absl::ToUnixSeconds(t);  // floors
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
  return ts;
}

absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

}  // namespace crm
