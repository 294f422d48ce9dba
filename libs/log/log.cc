#include "libs/log/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"

namespace crm::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};

absl::Mutex g_service_mu(absl::kConstInit);
std::string* g_service ABSL_GUARDED_BY(g_service_mu) = nullptr;  // nullptr means "unknown"

absl::Mutex g_sink_mu(absl::kConstInit);
std::function<void(std::string_view)>* g_sink ABSL_GUARDED_BY(g_sink_mu) = nullptr;

thread_local std::string tls_request_id;

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD
constexpr char kHexDigits[] = "0123456789abcdef";

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "unknown";
}

bool IsReservedKey(std::string_view key) {
  return key == "ts" || key == "level" || key == "service" || key == "request_id" || key == "msg";
}

void AppendDouble(std::string* out, double v) {
  if (std::isnan(v)) {
    out->append("\"NaN\"");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  } else {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip form
    out->append(buf, ec == std::errc() ? end : buf);
  }
}

void WriteAllToStderr(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report it
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

absl::StatusOr<Level> ParseLevel(std::string_view name) {
  const std::string lower = absl::AsciiStrToLower(AsAbsl(name));
  if (lower == "debug") return Level::kDebug;
  if (lower == "info") return Level::kInfo;
  if (lower == "warn" || lower == "warning") return Level::kWarn;
  if (lower == "error") return Level::kError;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level ", QuoteForError(name), ": expected debug, info, warn or error"));
}

void Init(std::string_view service, Level min_level) {
  {
    absl::MutexLock lock(&g_service_mu);
    delete g_service;
    g_service = new std::string(service);
  }
  g_min_level.store(static_cast<int>(min_level), std::memory_order_relaxed);
}

bool Enabled(Level level) { return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed); }

void SetSinkForTesting(std::function<void(std::string_view line)> sink) {
  absl::MutexLock lock(&g_sink_mu);
  delete g_sink;
  g_sink = sink ? new std::function<void(std::string_view)>(std::move(sink)) : nullptr;
}

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out->append("\\\"");
          break;
        case '\\':
          out->append("\\\\");
          break;
        case '\n':
          out->append("\\n");
          break;
        case '\r':
          out->append("\\r");
          break;
        case '\t':
          out->append("\\t");
          break;
        case '\b':
          out->append("\\b");
          break;
        case '\f':
          out->append("\\f");
          break;
        default:
          if (c < 0x20 || c == 0x7F) {
            out->append("\\u00");
            out->push_back(kHexDigits[c >> 4]);
            out->push_back(kHexDigits[c & 0xF]);
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // A multi-byte sequence (Unicode Table 3-7): its length and the allowed range of its second byte,
    // which excludes overlong forms, surrogates and code points above U+10FFFF.
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c == 0xE0) {
      len = 3, lo = 0xA0;
    } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
      len = 3;
    } else if (c == 0xED) {
      len = 3, hi = 0x9F;
    } else if (c == 0xF0) {
      len = 4, lo = 0x90;
    } else if (c >= 0xF1 && c <= 0xF3) {
      len = 4;
    } else if (c == 0xF4) {
      len = 4, hi = 0x8F;
    }
    size_t j = 1;
    while (j < len && i + j < n) {
      const unsigned char cc = static_cast<unsigned char>(s[i + j]);
      if (cc < (j == 1 ? lo : 0x80) || cc > (j == 1 ? hi : 0xBF)) break;
      ++j;
    }
    if (len != 0 && j == len) {
      out->append(s.substr(i, len));
    } else {
      out->append(kReplacementChar);  // one U+FFFD per maximal invalid subsequence
    }
    i += j;
  }
  out->push_back('"');
}

void Field::AppendTo(std::string* out) const {
  out->push_back(',');
  if (IsReservedKey(key_)) {
    AppendJsonString(out, absl::StrCat("_", AsAbsl(key_)));
  } else {
    AppendJsonString(out, key_);
  }
  out->push_back(':');
  switch (kind_) {
    case Kind::kNull:
      out->append("null");
      break;
    case Kind::kString:
      AppendJsonString(out, str_);
      break;
    case Kind::kInt:
      absl::StrAppend(out, int_);
      break;
    case Kind::kUint:
      absl::StrAppend(out, uint_);
      break;
    case Kind::kDouble:
      AppendDouble(out, double_);
      break;
    case Kind::kBool:
      out->append(bool_ ? "true" : "false");
      break;
    case Kind::kStatus:
      AppendJsonString(out, status_->ok() ? std::string("OK")
                                          : absl::StrCat(absl::StatusCodeToString(status_->code()), ": ",
                                                         status_->message()));
      break;
    case Kind::kTime:
      AppendJsonString(out, FormatRfc3339Utc(time_));
      break;
    case Kind::kDuration:
      AppendDouble(out, absl::ToDoubleSeconds(duration_));
      break;
  }
}

void Log(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  std::string line;
  line.reserve(160 + msg.size());
  line.append("{\"ts\":\"");
  line.append(absl::FormatTime("%Y-%m-%d%ET%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone()));
  line.append("\",\"level\":\"");
  line.append(LevelName(level));
  line.append("\",\"service\":");
  {
    absl::ReaderMutexLock lock(&g_service_mu);
    AppendJsonString(&line,
                     g_service == nullptr ? std::string_view("unknown") : std::string_view(*g_service));
  }
  if (!tls_request_id.empty()) {
    line.append(",\"request_id\":");
    AppendJsonString(&line, tls_request_id);
  }
  line.append(",\"msg\":");
  AppendJsonString(&line, msg);
  for (const Field& f : fields) f.AppendTo(&line);
  line.push_back('}');

  {
    absl::MutexLock lock(&g_sink_mu);
    if (g_sink != nullptr) {
      (*g_sink)(line);
      return;
    }
  }
  line.push_back('\n');
  WriteAllToStderr(line);
}

ScopedRequestId::ScopedRequestId(std::string id) : previous_(std::move(tls_request_id)) {
  tls_request_id = std::move(id);
}

ScopedRequestId::~ScopedRequestId() { tls_request_id = std::move(previous_); }

std::string_view CurrentRequestId() { return tls_request_id; }

}  // namespace crm::log
