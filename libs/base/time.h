// File: libs/base/time.h
// -----------------------------------------------------------------------------
// Time at the edges. Storage and APIs carry UTC instants (absl::Time inside, google.protobuf.Timestamp
// on the wire, RFC 3339 text in JSON and logs); business rules use a company's IANA time zone
// ("Europe/Moscow"), loaded from the system tzdata in /usr/share/zoneinfo.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(absl::TimeZone msk, crm::LoadTimeZone("Europe/Moscow"));
//   CRM_ASSIGN_OR_RETURN(absl::Time t, crm::ParseRfc3339("2026-11-24T13:00:00+03:00"));
//   crm::FormatRfc3339Utc(t);         // "2026-11-24T10:00:00Z"
//   crm::FormatRfc3339Local(t, msk);  // "2026-11-24T13:00:00+03:00"
//   *reply.mutable_created_at() = crm::ToProtoTimestamp(t);
//
// The Timestamp functions only forward-declare the message: include "google/protobuf/timestamp.pb.h"
// where you call them.
#ifndef CRM_LIBS_BASE_TIME_H_
#define CRM_LIBS_BASE_TIME_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace google::protobuf {
class Timestamp;
}  // namespace google::protobuf

namespace crm {

// Loads an IANA time zone by name ("Europe/Moscow", "UTC"). InvalidArgument naming the zone if the name
// is empty, malformed (absolute path, "..") or not in the tzdata.
absl::StatusOr<absl::TimeZone> LoadTimeZone(std::string_view name);

// Formats `t` as RFC 3339 in UTC with a "Z" suffix, with a fraction only when non-zero and then only as
// many digits as needed: "2026-11-24T10:00:00Z", "2026-11-24T10:00:00.123Z". Infinite times format as
// "infinite-future" / "infinite-past".
std::string FormatRfc3339Utc(absl::Time t);

// Formats `t` as RFC 3339 wall time in `zone` with its UTC offset: "2026-11-24T13:00:00+03:00"
// (fraction as in FormatRfc3339Utc).
std::string FormatRfc3339Local(absl::Time t, const absl::TimeZone& zone);

// Parses an RFC 3339 date-time that carries an explicit offset or "Z" ("2026-11-24T10:00:00.5Z",
// "2026-11-24T13:00:00+03:00"). InvalidArgument (quoting the input) if it has no offset or is malformed.
absl::StatusOr<absl::Time> ParseRfc3339(std::string_view text);

// Parses a civil date "YYYY-MM-DD" exactly: no normalisation ("2026-02-30" is refused, not read as
// 2 March), no trailing text. InvalidArgument naming `field` ("issue_date: must be a date YYYY-MM-DD").
absl::StatusOr<absl::CivilDay> ParseCivilDay(std::string_view text, std::string_view field);

// Converts to a Timestamp (seconds floored, nanos in [0, 1e9)). Times outside the Timestamp range
// 0001-01-01..9999-12-31 (including infinite ones) are clamped to its ends.
google::protobuf::Timestamp ToProtoTimestamp(absl::Time t);

// Converts a Timestamp to absl::Time exactly (nanos outside [0, 1e9) are normalised, not rejected).
absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& ts);

}  // namespace crm

#endif  // CRM_LIBS_BASE_TIME_H_
