// File: libs/log/log.h
// -----------------------------------------------------------------------------
// Structured logging: one JSON object per line on stderr, which Kubernetes and any log shipper collect
// as is. Each line carries the time (UTC, microseconds), level, service name, the request id of the
// current thread when one is set, the message, then the caller's fields in order:
//
//   {"ts":"2026-11-24T10:00:00.123456Z","level":"info","service":"deals","request_id":"019a...",
//    "msg":"deal moved","deal_id":"019a...","stage":3,"took_s":0.012}
//
// Lines are written with a single write(2) each, so concurrent threads and processes sharing stderr do
// not interleave (for lines up to PIPE_BUF when stderr is a pipe). Strings are JSON-escaped (quotes,
// backslash, control characters) and invalid UTF-8 is replaced by U+FFFD, so every line parses. Calls
// below the minimum level return before formatting anything.
//
// Example:
//   crm::log::Init("deals", crm::log::ParseLevel(level_name).value_or(crm::log::Level::kInfo));
//   crm::log::ScopedRequestId rid(request_id_from_metadata);   // for the length of one RPC
//   crm::log::Info("deal moved", {{"deal_id", id}, {"stage", 3}, {"took", elapsed}});
//   crm::log::Error("publish failed", {{"status", status}, {"attempt", n}});
#ifndef CRM_LIBS_LOG_LOG_H_
#define CRM_LIBS_LOG_LOG_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace crm::log {

// Severity, in increasing order.
enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug", "info", "warn"/"warning" or "error", in any case; InvalidArgument naming the input
// otherwise.
absl::StatusOr<Level> ParseLevel(std::string_view name);

// Sets the process-wide service name written on every line and the minimum level logged. May be called
// again at any time. Until the first call the service is "unknown" and the level kInfo.
void Init(std::string_view service, Level min_level);

// Returns true if a call at `level` would write a line: use it to skip building costly fields.
bool Enabled(Level level);

// Sends every line (without its trailing newline) to `sink` instead of stderr; calls to the sink are
// serialised, one line at a time. nullptr restores stderr.
void SetSinkForTesting(std::function<void(std::string_view line)> sink);

// One "key": value pair of a line. Built implicitly from {key, value}; it only refers to its arguments,
// so it must not outlive the call it is passed to. Values are written as:
//   strings (std::string_view, absl::string_view,
//            const char*, std::string)                     JSON strings (a null const char* as null)
//   integers, double                                        JSON numbers (NaN and infinities as strings)
//   bool                                                    true / false
//   absl::Status                                            "CODE: message", or "OK"
//   absl::Time                                              RFC 3339 UTC string
//   absl::Duration                                          seconds as a JSON number
// The keys ts, level, service, request_id and msg are reserved: such a field is written as "_<key>".
class Field {
 public:
  Field(std::string_view key, std::string_view value) : key_(key), kind_(Kind::kString), str_(value) {}
  Field(std::string_view key, const char* value)
      : key_(key),
        kind_(value == nullptr ? Kind::kNull : Kind::kString),
        str_(value == nullptr ? "" : value) {}
  Field(std::string_view key, const std::string& value) : key_(key), kind_(Kind::kString), str_(value) {}
  Field(std::string_view key, absl::string_view value)  // e.g. absl::Status::message()
      : key_(key), kind_(Kind::kString), str_(value.data(), value.size()) {}
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Field(std::string_view key, T value) : key_(key) {
    if constexpr (std::is_signed_v<T>) {
      kind_ = Kind::kInt;
      int_ = value;
    } else {
      kind_ = Kind::kUint;
      uint_ = value;
    }
  }
  Field(std::string_view key, double value) : key_(key), kind_(Kind::kDouble), double_(value) {}
  Field(std::string_view key, bool value) : key_(key), kind_(Kind::kBool), bool_(value) {}
  Field(std::string_view key, const absl::Status& value) : key_(key), kind_(Kind::kStatus), status_(&value) {}
  Field(std::string_view key, absl::Time value) : key_(key), kind_(Kind::kTime), time_(value) {}
  Field(std::string_view key, absl::Duration value) : key_(key), kind_(Kind::kDuration), duration_(value) {}

  // Appends `,"key":value` to `out`.
  void AppendTo(std::string* out) const;

 private:
  enum class Kind { kNull, kString, kInt, kUint, kDouble, kBool, kStatus, kTime, kDuration };
  std::string_view key_;
  Kind kind_;
  std::string_view str_;
  int64_t int_ = 0;
  uint64_t uint_ = 0;
  double double_ = 0;
  bool bool_ = false;
  const absl::Status* status_ = nullptr;
  absl::Time time_;
  absl::Duration duration_;
};

// Writes one line at `level` if it is at or above the minimum level.
void Log(Level level, std::string_view msg, std::initializer_list<Field> fields = {});
inline void Debug(std::string_view msg, std::initializer_list<Field> fields = {}) {
  Log(Level::kDebug, msg, fields);
}
inline void Info(std::string_view msg, std::initializer_list<Field> fields = {}) {
  Log(Level::kInfo, msg, fields);
}
inline void Warn(std::string_view msg, std::initializer_list<Field> fields = {}) {
  Log(Level::kWarn, msg, fields);
}
inline void Error(std::string_view msg, std::initializer_list<Field> fields = {}) {
  Log(Level::kError, msg, fields);
}

// Sets the current thread's request id for its lifetime and restores the previous one (possibly none)
// when destroyed. Nest them in stack order on one thread; the id is not inherited by other threads.
class ScopedRequestId {
 public:
  explicit ScopedRequestId(std::string id);
  ~ScopedRequestId();
  ScopedRequestId(const ScopedRequestId&) = delete;
  ScopedRequestId& operator=(const ScopedRequestId&) = delete;

 private:
  std::string previous_;
};

// Returns the current thread's request id, or "" when none is set. Valid until the id changes.
std::string_view CurrentRequestId();

// Appends `s` to `out` as a JSON string literal (with the quotes), escaping as described above and
// replacing each maximal invalid UTF-8 subsequence with U+FFFD. Exposed for other JSON writers.
void AppendJsonString(std::string* out, std::string_view s);

}  // namespace crm::log

#endif  // CRM_LIBS_LOG_LOG_H_
