#include "services/gateway/transcode/json_print.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/stubs/strutil.h"
#include "google/protobuf/unknown_field_set.h"
#include "libs/base/status.h"
#include "services/gateway/transcode/json_policy.h"

// How protobuf 3.21 prints (src/google/protobuf/util/json_util.cc and util/internal/), which this file
// reproduces without the binary round trip:
//   MessageToJsonString() serializes the message and lets ProtoStreamObjectSource read it back: fields
//   come in serialization order (Reflection::ListFields: field-number order; a map's entries as its
//   repeated representation holds them; every map entry carries key and value). Type renderers print
//   the well-known types. Each event goes to a JsonObjectWriter (keys escaped, ',' before every value
//   but the first of its container), or - with always_print_primitive_fields - first to a
//   DefaultValueObjectWriter, which builds a tree and prints it at the end:
//     - an object node of a known message type is "populated" before its first field arrives: one child
//       per field in declaration order - a default value per singular non-oneof scalar, an empty list
//       per repeated field, an empty object per map, and a placeholder (printed only if the field
//       arrives as an object) per singular message field; oneof and proto3-optional scalars get none;
//     - an arriving field replaces its child of the same name and kind; otherwise it is appended. So
//       a set oneof scalar, and a message field that the renderers turn into a JSON scalar or list
//       (Timestamp, Duration, FieldMask, wrappers, ListValue, Value other than a struct), come last;
//     - nodes of Struct, Value, Timestamp, Duration and Any are never populated; an Any node is
//       populated (with "@type" kept first) as the type its "@type" names, at its first field;
//     - a node opened where no typed child exists (inside a Struct, or the Any inside an Any) has no
//       type: nothing in it is populated, and it is an object node that merges repeated keys.
// Anything this file does not model (see the header) makes Print() return false, and PrintJson() asks
// MessageToJsonString() instead.
// Map entries are read through the repeated representation (GetRepeatedMessage), which is what
// serialization walks for a parsed message and what it is synced to from a map that was built through
// the map API. The one state it does not follow - a map filled through its repeated form (parsing,
// Reflection::AddMessage) and then read through the map API (private in Reflection; a generated class's
// map accessor), after which serialization walks the hash map - does not occur for the gateway's
// DynamicMessages.

namespace crm::gateway {
namespace {

namespace gpb = ::google::protobuf;
using FD = gpb::FieldDescriptor;

// protobuf 3.21's limits (util/internal/constants.h, protostream_objectsource.cc).
constexpr int64_t kTimestampMinSeconds = -62135596800LL;
constexpr int64_t kTimestampMaxSeconds = 253402300799LL;
constexpr int64_t kDurationMinSeconds = -315576000000LL;
constexpr int64_t kDurationMaxSeconds = 315576000000LL;
constexpr int32_t kNanosPerSecond = 1000000000;
constexpr int kMaxRecursionDepth = 64;
constexpr std::string_view kTypeUrlPrefix = "type.googleapis.com/";

// ---------------------------------------------------------------------------------------------------
// Strings, exactly as util/internal/json_escaping.cc escapes them.

constexpr char kHex[] = "0123456789abcdef";

// The escapes of the code points below 0xa0 (ASCII and C1): kCommonEscapes in json_escaping.cc.
struct EscapeTable {
  char text[0xa0][6] = {};
  uint8_t size[0xa0] = {};
};

constexpr EscapeTable MakeEscapeTable() {
  EscapeTable t;
  for (uint32_t c = 0; c < 0xa0; ++c) {
    auto set = [&](std::string_view s) {
      for (size_t i = 0; i < s.size(); ++i) t.text[c][i] = s[i];
      t.size[c] = static_cast<uint8_t>(s.size());
    };
    if (c == '\b') {
      set("\\b");
    } else if (c == '\t') {
      set("\\t");
    } else if (c == '\n') {
      set("\\n");
    } else if (c == '\f') {
      set("\\f");
    } else if (c == '\r') {
      set("\\r");
    } else if (c == '"') {
      set("\\\"");
    } else if (c == '\\') {
      set("\\\\");
    } else if (c < 0x20 || c >= 0x7f || c == '<' || c == '>') {
      const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
      set(std::string_view(u, 6));
    }
  }
  return t;
}

constexpr EscapeTable kEscapes = MakeEscapeTable();

void AppendHex16(uint32_t unit, std::string* out) {
  const char b[6] = {'\\', 'u', kHex[(unit >> 12) & 0xf], kHex[(unit >> 8) & 0xf], kHex[(unit >> 4) & 0xf],
                     kHex[unit & 0xf]};
  out->append(b, 6);
}

// How a valid code point >= 0xa0 is escaped: 0 not at all, 1 as \uXXXX, 2 as a surrogate pair.
int WideEscape(uint32_t cp) {
  switch (cp) {
    case 0xfeff: case 0xfff9: case 0xfffa: case 0xfffb: case 0x00ad: case 0x06dd: case 0x070f:
    case 0x17b4: case 0x17b5:
      return 1;
    default:
      break;
  }
  if ((cp >= 0x0600 && cp <= 0x0603) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
      (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x206a && cp <= 0x206f)) {
    return 1;
  }
  if (cp == 0xe0001 || (cp >= 0x1d173 && cp <= 0x1d17a) || (cp >= 0xe0020 && cp <= 0xe007f)) return 2;
  return 0;
}

// Whether none of the 8 bytes in `v` needs a look: all ASCII, none below 0x20, none of " \\ < > DEL.
bool EightPlainBytes(uint64_t v) {
  constexpr uint64_t k01 = 0x0101010101010101ULL;
  constexpr uint64_t k80 = 0x8080808080808080ULL;
  auto has_zero = [](uint64_t x) { return (x - k01) & ~x & k80; };
  const uint64_t special = (v & k80) | ((v - k01 * 0x20) & ~v & k80) | has_zero(v ^ (k01 * '"')) |
                           has_zero(v ^ (k01 * '\\')) | has_zero(v ^ (k01 * '<')) | has_zero(v ^ (k01 * '>')) |
                           has_zero(v ^ (k01 * 0x7f));
  return special == 0;
}

// JsonEscaping::Escape() over one contiguous input: escapes what it escapes, copies other valid (and
// overlong) UTF-8 as is, and drops an invalid sequence up to and including the byte that breaks it, as
// well as a truncated sequence at the end.
void AppendEscaped(std::string_view s, std::string* out) {
  const char* p = s.data();
  const size_t n = s.size();
  size_t run = 0;  // start of the bytes not yet copied
  size_t i = 0;
  while (i < n) {
    while (i + 8 <= n) {
      uint64_t v;
      std::memcpy(&v, p + i, 8);
      if (!EightPlainBytes(v)) break;
      i += 8;
    }
    if (i >= n) break;
    // Fast path: ASCII that needs no escape, and two-byte sequences of U+00C0..U+05FF (Latin, Greek,
    // Cyrillic, Hebrew...), none of which is escaped.
    const auto c = static_cast<uint8_t>(p[i]);
    if (c < 0x80) {
      if (kEscapes.size[c] == 0) {
        ++i;
        continue;
      }
    } else if (c >= 0xc3 && c <= 0xd7 && i + 1 < n && (static_cast<uint8_t>(p[i + 1]) & 0xc0) == 0x80) {
      i += 2;
      continue;
    }
    const size_t start = i;
    uint32_t cp = static_cast<uint8_t>(p[i++]);
    if (cp < 0x80) {
      out->append(p + run, start - run);
      out->append(kEscapes.text[cp], kEscapes.size[cp]);
      run = i;
      continue;
    }
    int left = 0;
    bool ok = true;
    if (cp <= 0xbf) {
      ok = false;
    } else if (cp <= 0xdf) {
      cp &= 0x1f;
      left = 1;
    } else if (cp <= 0xef) {
      cp &= 0x0f;
      left = 2;
    } else if (cp <= 0xf7) {
      cp &= 0x07;
      left = 3;
    } else {
      ok = false;
    }
    while (ok && left > 0 && i < n) {
      const uint32_t ch = static_cast<uint8_t>(p[i++]);
      --left;
      cp = (cp << 6) | (ch & 0x3f);
      if (ch < 0x80 || ch > 0xbf) ok = false;
    }
    if (ok && left > 0) {  // truncated at the end of the input: dropped
      out->append(p + run, start - run);
      run = n;
      break;
    }
    if (ok && ((cp & 0xfffff800) == 0xd800 || cp > 0x10ffff)) ok = false;
    if (!ok) {  // dropped
      out->append(p + run, start - run);
      run = i;
      continue;
    }
    if (cp < 0xa0) {  // C1 controls, and overlong encodings of ASCII
      if (kEscapes.size[cp] == 0) continue;
      out->append(p + run, start - run);
      out->append(kEscapes.text[cp], kEscapes.size[cp]);
      run = i;
      continue;
    }
    const int escape = WideEscape(cp);
    if (escape == 0) continue;
    out->append(p + run, start - run);
    if (escape == 1) {
      AppendHex16(cp, out);
    } else {
      AppendHex16((cp >> 10) + (0xd800 - (0x10000 >> 10)), out);
      AppendHex16((cp & 0x3ff) + 0xdc00, out);
    }
    run = i;
  }
  if (run < n) out->append(p + run, n - run);
}

// Standard base64 with padding (protobuf's Base64Escape).
void AppendBase64(std::string_view s, std::string* out) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  size_t n = s.size();
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    const char b[4] = {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], kAlphabet[v & 63]};
    out->append(b, 4);
  }
  if (n - i == 1) {
    const uint32_t v = uint32_t{p[i]} << 16;
    const char b[4] = {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], '=', '='};
    out->append(b, 4);
  } else if (n - i == 2) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8);
    const char b[4] = {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
    out->append(b, 4);
  }
}

template <typename Int>
void AppendInt(Int v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, end);
}

void AppendPadded(int64_t v, int width, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  for (int pad = width - static_cast<int>(end - buf); pad > 0; --pad) out->push_back('0');
  out->append(buf, end);
}

// ---------------------------------------------------------------------------------------------------
// Well-known types, as the type renderers of protostream_objectsource.cc print them.

// stubs/time.cc FormatTime() for a Timestamp already checked to be in range.
void AppendTimestamp(int64_t seconds, int32_t nanos, std::string* out) {
  int64_t days = seconds / 86400;
  int64_t rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // Civil date from days since 1970-01-01 (proleptic Gregorian).
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  AppendPadded(year, 4, out);
  out->push_back('-');
  AppendPadded(month, 2, out);
  out->push_back('-');
  AppendPadded(day, 2, out);
  out->push_back('T');
  AppendPadded(rem / 3600, 2, out);
  out->push_back(':');
  AppendPadded(rem / 60 % 60, 2, out);
  out->push_back(':');
  AppendPadded(rem % 60, 2, out);
  if (nanos != 0) {
    out->push_back('.');
    if (nanos % 1000000 == 0) {
      AppendPadded(nanos / 1000000, 3, out);
    } else if (nanos % 1000 == 0) {
      AppendPadded(nanos / 1000, 6, out);
    } else {
      AppendPadded(nanos, 9, out);
    }
  }
  out->push_back('Z');
}

// protostream_objectsource.cc FormatNanos(nanos, false), including its detour through a double.
void AppendDurationNanos(uint32_t nanos, std::string* out) {
  if (nanos == 0) return;
  const int precision = (nanos % 1000 != 0) ? 9 : (nanos % 1000000 != 0) ? 6 : 3;
  char buf[64];
  const int len = std::snprintf(buf, sizeof buf, "%.*f", precision, static_cast<double>(nanos) / kNanosPerSecond);
  if (len > 1 && len < static_cast<int>(sizeof buf)) out->append(buf + 1, len - 1);
}

bool IsAsciiUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsAsciiLower(char c) { return c >= 'a' && c <= 'z'; }
char AsciiLower(char c) { return IsAsciiUpper(c) ? static_cast<char>(c - 'A' + 'a') : c; }
char AsciiUpper(char c) { return IsAsciiLower(c) ? static_cast<char>(c - 'a' + 'A') : c; }

// util/internal/utility.cc ToCamelCase().
void AppendCamelCase(std::string_view input, std::string* result) {
  bool capitalize_next = false;
  bool was_cap = true;
  bool is_cap = false;
  bool first_word = true;
  const size_t result_start = result->size();
  for (size_t i = 0; i < input.size(); ++i, was_cap = is_cap) {
    is_cap = IsAsciiUpper(input[i]);
    if (input[i] == '_') {
      capitalize_next = true;
      if (result->size() != result_start) first_word = false;
      continue;
    } else if (first_word) {
      if (result->size() != result_start && is_cap &&
          (!was_cap || (i + 1 < input.size() && IsAsciiLower(input[i + 1])))) {
        first_word = false;
        result->push_back(input[i]);
      } else {
        result->push_back(AsciiLower(input[i]));
        continue;
      }
    } else if (capitalize_next) {
      capitalize_next = false;
      result->push_back(IsAsciiLower(input[i]) ? AsciiUpper(input[i]) : input[i]);
      continue;
    } else {
      result->push_back(AsciiLower(input[i]));
    }
  }
}

// util/internal/field_mask_utility.cc ConvertFieldMaskPath(path, ToCamelCase).
void AppendFieldMaskPath(std::string_view path, std::string* result) {
  bool is_quoted = false;
  bool is_escaping = false;
  size_t segment_start = 0;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (is_quoted) {
      if (i == path.size()) break;
      result->push_back(path[i]);
      if (is_escaping) {
        is_escaping = false;
      } else if (path[i] == '\\') {
        is_escaping = true;
      } else if (path[i] == '"') {
        segment_start = i + 1;
        is_quoted = false;
      }
      continue;
    }
    if (i == path.size() || path[i] == '.' || path[i] == '(' || path[i] == ')' || path[i] == '"') {
      AppendCamelCase(path.substr(segment_start, i - segment_start), result);
      if (i < path.size()) result->push_back(path[i]);
      segment_start = i + 1;
    }
    if (i < path.size() && path[i] == '"') is_quoted = true;
  }
}

// ---------------------------------------------------------------------------------------------------
// Types.

// The message types protobuf prints with a type renderer (by full name), and the rest.
enum class Wkt : uint8_t {
  kNone,         // printed field by field (also google.protobuf.Empty)
  kUnsupported,  // not proto3, or a well-known name with an unexpected layout: MessageToJsonString
  kTimestamp,
  kDuration,
  kDoubleValue,
  kFloatValue,
  kInt64Value,
  kUInt64Value,
  kInt32Value,
  kUInt32Value,
  kBoolValue,
  kStringValue,
  kBytesValue,
  kAny,
  kStruct,
  kValue,
  kListValue,
  kFieldMask,
};

bool IsField(const gpb::Descriptor* d, int number, FD::Type type, bool repeated) {
  const FD* f = d->FindFieldByNumber(number);
  return f != nullptr && f->type() == type && f->is_repeated() == repeated;
}

bool IsMessageField(const gpb::Descriptor* d, int number, std::string_view type_name, bool repeated) {
  const FD* f = d->FindFieldByNumber(number);
  return f != nullptr && f->type() == FD::TYPE_MESSAGE && f->is_repeated() == repeated &&
         f->message_type()->full_name() == type_name;
}

Wkt Classify(const gpb::Descriptor* d) {
  if (d->file()->syntax() != gpb::FileDescriptor::SYNTAX_PROTO3) return Wkt::kUnsupported;
  constexpr std::string_view kPrefix = "google.protobuf.";
  const std::string& full = d->full_name();
  if (full.compare(0, kPrefix.size(), kPrefix) != 0) return Wkt::kNone;
  const std::string_view name = std::string_view(full).substr(kPrefix.size());
  const int n = d->field_count();
  auto wrapper = [&](FD::Type type, Wkt wkt) {
    return n == 1 && IsField(d, 1, type, false) ? wkt : Wkt::kUnsupported;
  };
  if (name == "Timestamp" || name == "Duration") {
    if (n != 2 || !IsField(d, 1, FD::TYPE_INT64, false) || !IsField(d, 2, FD::TYPE_INT32, false)) {
      return Wkt::kUnsupported;
    }
    return name == "Timestamp" ? Wkt::kTimestamp : Wkt::kDuration;
  }
  if (name == "DoubleValue") return wrapper(FD::TYPE_DOUBLE, Wkt::kDoubleValue);
  if (name == "FloatValue") return wrapper(FD::TYPE_FLOAT, Wkt::kFloatValue);
  if (name == "Int64Value") return wrapper(FD::TYPE_INT64, Wkt::kInt64Value);
  if (name == "UInt64Value") return wrapper(FD::TYPE_UINT64, Wkt::kUInt64Value);
  if (name == "Int32Value") return wrapper(FD::TYPE_INT32, Wkt::kInt32Value);
  if (name == "UInt32Value") return wrapper(FD::TYPE_UINT32, Wkt::kUInt32Value);
  if (name == "BoolValue") return wrapper(FD::TYPE_BOOL, Wkt::kBoolValue);
  if (name == "StringValue") return wrapper(FD::TYPE_STRING, Wkt::kStringValue);
  if (name == "BytesValue") return wrapper(FD::TYPE_BYTES, Wkt::kBytesValue);
  if (name == "Any") {
    return n == 2 && IsField(d, 1, FD::TYPE_STRING, false) && IsField(d, 2, FD::TYPE_BYTES, false)
               ? Wkt::kAny
               : Wkt::kUnsupported;
  }
  if (name == "Struct") {
    const FD* f = d->FindFieldByNumber(1);
    return n == 1 && f != nullptr && f->is_map() && f->message_type()->map_key()->type() == FD::TYPE_STRING &&
                   IsMessageField(f->message_type(), 2, "google.protobuf.Value", false)
               ? Wkt::kStruct
               : Wkt::kUnsupported;
  }
  if (name == "Value") {
    const FD* null_value = d->FindFieldByNumber(1);
    bool ok = n == 6 && d->oneof_decl_count() == 1 && null_value != nullptr && null_value->type() == FD::TYPE_ENUM &&
              !null_value->is_repeated() && null_value->enum_type()->full_name() == "google.protobuf.NullValue" &&
              IsField(d, 2, FD::TYPE_DOUBLE, false) && IsField(d, 3, FD::TYPE_STRING, false) &&
              IsField(d, 4, FD::TYPE_BOOL, false) && IsMessageField(d, 5, "google.protobuf.Struct", false) &&
              IsMessageField(d, 6, "google.protobuf.ListValue", false);
    for (int i = 0; ok && i < n; ++i) ok = d->field(i)->real_containing_oneof() == d->oneof_decl(0);
    return ok ? Wkt::kValue : Wkt::kUnsupported;
  }
  if (name == "ListValue") {
    return n == 1 && IsMessageField(d, 1, "google.protobuf.Value", true) ? Wkt::kListValue : Wkt::kUnsupported;
  }
  if (name == "FieldMask") {
    return n == 1 && IsField(d, 1, FD::TYPE_STRING, true) && d->field(0)->name() == "paths" ? Wkt::kFieldMask
                                                                                           : Wkt::kUnsupported;
  }
  return Wkt::kNone;
}

// Well-known types that a type renderer prints as a JSON scalar or list, or (Value) may.
bool MayRenderAsNonObject(Wkt w) {
  return w != Wkt::kNone && w != Wkt::kUnsupported && w != Wkt::kAny && w != Wkt::kStruct;
}

struct TypeInfo {
  const gpb::Descriptor* d = nullptr;
  Wkt wkt = Wkt::kNone;
  std::vector<const FD*> by_number;  // every field, in field-number order (serialization order)
  // always_print_primitive_fields: the singular fields that, when set, may be appended after the populated
  // children - oneof/optional scalars and messages that may render as a JSON scalar or list.
  std::vector<const FD*> trailing;
  std::vector<std::string> keys;  // by field index: "jsonName": escaped
};

// ---------------------------------------------------------------------------------------------------
// The printer.

class Printer {
 public:
  // `tree`: print as the DefaultValueObjectWriter does (always_print_primitive_fields).
  Printer(const gpb::DescriptorPool* pool, bool tree, std::string* out) : pool_(pool), tree_(tree), out_(out) {
    levels_.reserve(16);
    levels_.push_back({true, false});
  }

  // Appends the JSON of `m` and returns true, or returns false if MessageToJsonString must print it.
  bool Print(const gpb::Message& m) {
    const TypeInfo* ti = Info(m.GetDescriptor());
    // A well-known type at the root goes straight to the JsonObjectWriter, around the tree.
    if (ti == nullptr || ti->wkt != Wkt::kNone || !UnknownFieldsOk(m, *ti)) return false;
    StartObject("");
    if (!Fields(m, *ti, tree_)) return false;
    EndObject();
    return true;
  }

 private:
  struct Level {
    bool first;
    bool object;
  };

  // A key (or "" in a list); for a field, with its `"jsonName":` ready.
  struct Name {
    Name(std::string_view t) : text(t) {}  // NOLINT: implicit, like the string_view it wraps
    Name(const char* t) : text(t) {}       // NOLINT
    Name(const std::string& t) : text(t) {}  // NOLINT
    Name(const std::string& t, const std::string* k) : text(t), key(k) {}
    std::string_view text;
    const std::string* key = nullptr;
  };

  static Name FieldName(const TypeInfo& ti, const FD* f) { return Name(f->json_name(), &ti.keys[f->index()]); }

  // --- JsonObjectWriter --------------------------------------------------------------------------
  void Prefix(Name name) {
    Level& level = levels_.back();
    if (level.first) {
      level.first = false;
    } else {
      out_->push_back(',');
    }
    if (name.key != nullptr && level.object) {
      out_->append(*name.key);
    } else if (!name.text.empty() || level.object) {
      out_->push_back('"');
      AppendEscaped(name.text, out_);
      out_->append("\":");
    }
  }
  void StartObject(Name name) {
    Prefix(name);
    out_->push_back('{');
    levels_.push_back({true, true});
  }
  void EndObject() {
    levels_.pop_back();
    out_->push_back('}');
  }
  void StartList(Name name) {
    Prefix(name);
    out_->push_back('[');
    levels_.push_back({true, false});
  }
  void EndList() {
    levels_.pop_back();
    out_->push_back(']');
  }
  void RenderString(Name name, std::string_view value) {
    Prefix(name);
    out_->push_back('"');
    AppendEscaped(value, out_);
    out_->push_back('"');
  }
  void RenderBytes(Name name, std::string_view value) {
    Prefix(name);
    out_->push_back('"');
    AppendBase64(value, out_);
    out_->push_back('"');
  }
  void RenderNull(Name name) {
    Prefix(name);
    out_->append("null");
  }
  void RenderBool(Name name, bool value) {
    Prefix(name);
    out_->append(value ? "true" : "false");
  }
  template <typename Int>
  void RenderNumber(Name name, Int value) {
    Prefix(name);
    AppendInt(value, out_);
  }
  template <typename Int>
  void RenderQuoted(Name name, Int value) {
    Prefix(name);
    out_->push_back('"');
    AppendInt(value, out_);
    out_->push_back('"');
  }
  void RenderDouble(Name name, double value) {
    if (!std::isfinite(value)) {
      return RenderString(name, std::isnan(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
    }
    char buf[gpb::kDoubleToBufferSize];
    Prefix(name);
    out_->append(gpb::DoubleToBuffer(value, buf));
  }
  void RenderFloat(Name name, float value) {
    if (!std::isfinite(value)) {
      return RenderString(name, std::isnan(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
    }
    char buf[gpb::kFloatToBufferSize];
    Prefix(name);
    out_->append(gpb::FloatToBuffer(value, buf));
  }
  void RenderEnum(Name name, const gpb::EnumDescriptor* type, int value) {
    if (type->full_name() == "google.protobuf.NullValue") return RenderNull(name);
    const gpb::EnumValueDescriptor* v = type->FindValueByNumber(value);
    if (v != nullptr) return RenderString(name, v->name());
    RenderNumber(name, value);
  }

  // --- types ---------------------------------------------------------------------------------------
  // nullptr for types MessageToJsonString must print.
  const TypeInfo* Info(const gpb::Descriptor* d) {
    for (const auto& ti : infos_) {
      if (ti->d == d) return ti->wkt == Wkt::kUnsupported ? nullptr : ti.get();
    }
    auto ti = std::make_unique<TypeInfo>();
    ti->d = d;
    ti->wkt = Classify(d);
    const int n = d->field_count();
    ti->by_number.reserve(n);
    ti->keys.resize(n);
    for (int i = 0; i < n; ++i) {
      const FD* f = d->field(i);
      ti->by_number.push_back(f);
      std::string& key = ti->keys[i];
      key.push_back('"');
      AppendEscaped(f->json_name(), &key);
      key.append("\":");
      if (f->is_repeated()) continue;
      if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
        if (MayRenderAsNonObject(Classify(f->message_type()))) ti->trailing.push_back(f);
      } else if (f->containing_oneof() != nullptr) {
        ti->trailing.push_back(f);
      }
    }
    auto by_number = [](const FD* a, const FD* b) { return a->number() < b->number(); };
    if (!std::is_sorted(ti->by_number.begin(), ti->by_number.end(), by_number)) {
      std::sort(ti->by_number.begin(), ti->by_number.end(), by_number);
      std::sort(ti->trailing.begin(), ti->trailing.end(), by_number);
    }
    infos_.push_back(std::move(ti));
    return infos_.back()->wkt == Wkt::kUnsupported ? nullptr : infos_.back().get();
  }

  // Unknown fields are skipped by ProtoStreamObjectSource, unless they carry the number of a known field
  // (it would render them again) or sit in a well-known type (whose renderers misread them).
  static bool UnknownFieldsOk(const gpb::Message& m, const TypeInfo& ti) {
    const gpb::UnknownFieldSet& unknown = m.GetReflection()->GetUnknownFields(m);
    if (unknown.empty()) return true;
    if (ti.wkt != Wkt::kNone) return false;
    for (int i = 0; i < unknown.field_count(); ++i) {
      if (ti.d->FindFieldByNumber(unknown.field(i).number()) != nullptr) return false;
    }
    return true;
  }

  // Whether the renderers print `m` as a JSON object (StartObject), which lands on its placeholder.
  bool RendersAsObject(const gpb::Message& m) {
    const TypeInfo* ti = Info(m.GetDescriptor());
    if (ti == nullptr) return true;  // Nested() gives up on it
    switch (ti->wkt) {
      case Wkt::kNone:
      case Wkt::kAny:
      case Wkt::kStruct:
        return true;
      case Wkt::kValue:
        return m.GetReflection()->HasField(m, ti->d->FindFieldByNumber(5));
      default:
        return false;
    }
  }

  // --- messages --------------------------------------------------------------------------------------
  // The fields of `m` into the current object. `typed`: the object is a populated tree node.
  bool Fields(const gpb::Message& m, const TypeInfo& ti, bool typed) {
    const gpb::Reflection* r = m.GetReflection();
    if (!typed) {
      for (const FD* f : ti.by_number) {
        if (f->is_repeated() ? r->FieldSize(m, f) == 0 : !r->HasField(m, f)) continue;
        if (!Field(ti, m, r, f, false)) return false;
      }
      return true;
    }
    // The populated children, in declaration order.
    const int n = ti.d->field_count();
    for (int i = 0; i < n; ++i) {
      const FD* f = ti.d->field(i);
      if (f->is_repeated()) {
        if (!Field(ti, m, r, f, true)) return false;
      } else if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
        if (!r->HasField(m, f)) continue;  // a placeholder
        const gpb::Message& sub = r->GetMessage(m, f);
        if (RendersAsObject(sub) && !Nested(FieldName(ti, f), sub, true)) return false;
      } else if (f->containing_oneof() == nullptr) {
        if (f->cpp_type() == FD::CPPTYPE_ENUM && r->GetEnumValue(m, f) == 0) {
          // Unset: the default is the first value's name (google.protobuf.NullValue's too).
          RenderString(FieldName(ti, f), f->enum_type()->value(0)->name());
        } else {
          Scalar(FieldName(ti, f), m, r, f, -1);
        }
      }
    }
    // Then what was appended, in serialization order.
    for (const FD* f : ti.trailing) {
      if (!r->HasField(m, f)) continue;
      if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
        const gpb::Message& sub = r->GetMessage(m, f);
        if (!RendersAsObject(sub) && !Nested(FieldName(ti, f), sub, true)) return false;
      } else {
        Scalar(FieldName(ti, f), m, r, f, -1);
      }
    }
    return true;
  }

  // One present field (or, in a populated node, an empty repeated one) as RenderField/RenderList/RenderMap.
  bool Field(const TypeInfo& ti, const gpb::Message& m, const gpb::Reflection* r, const FD* f, bool typed) {
    const Name name = FieldName(ti, f);
    if (f->is_map()) return Map(name, m, r, f, typed);
    if (f->is_repeated()) {
      StartList(name);
      const int n = r->FieldSize(m, f);
      if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
        for (int i = 0; i < n; ++i) {
          if (!Nested("", r->GetRepeatedMessage(m, f, i), typed)) return false;
        }
      } else {
        for (int i = 0; i < n; ++i) Scalar("", m, r, f, i);
      }
      EndList();
      return true;
    }
    if (f->cpp_type() == FD::CPPTYPE_MESSAGE) return Nested(name, r->GetMessage(m, f), typed);
    Scalar(name, m, r, f, -1);
    return true;
  }

  // The map key as ReadFieldValueAsString() reads it.
  static std::string_view MapKey(const gpb::Message& entry, const gpb::Reflection* er, const FD* kf,
                                 std::string* scratch) {
    scratch->clear();
    switch (kf->cpp_type()) {
      case FD::CPPTYPE_STRING: return er->GetStringReference(entry, kf, scratch);
      case FD::CPPTYPE_BOOL: return er->GetBool(entry, kf) ? "true" : "false";
      case FD::CPPTYPE_INT32: AppendInt(er->GetInt32(entry, kf), scratch); break;
      case FD::CPPTYPE_INT64: AppendInt(er->GetInt64(entry, kf), scratch); break;
      case FD::CPPTYPE_UINT32: AppendInt(er->GetUInt32(entry, kf), scratch); break;
      case FD::CPPTYPE_UINT64: AppendInt(er->GetUInt64(entry, kf), scratch); break;
      default: break;
    }
    return *scratch;
  }

  bool HasDuplicateKeys(const gpb::Message& m, const gpb::Reflection* r, const FD* f) {
    const int n = r->FieldSize(m, f);
    if (n < 2) return false;
    const FD* kf = f->message_type()->map_key();
    std::vector<std::string> keys(n);
    std::string scratch;
    for (int i = 0; i < n; ++i) {
      const gpb::Message& entry = r->GetRepeatedMessage(m, f, i);
      keys[i] = std::string(MapKey(entry, entry.GetReflection(), kf, &scratch));
    }
    std::sort(keys.begin(), keys.end());
    return std::adjacent_find(keys.begin(), keys.end()) != keys.end();
  }

  // A map field as an object, entries in serialization order. In the tree, a map of a populated node is
  // a map node (repeated keys stay repeated); elsewhere it is an object node, which merges them.
  bool Map(Name name, const gpb::Message& m, const gpb::Reflection* r, const FD* f, bool typed) {
    if (tree_ && !typed && HasDuplicateKeys(m, r, f)) return false;
    const gpb::Descriptor* entry_type = f->message_type();
    const FD* kf = entry_type->map_key();
    const FD* vf = entry_type->map_value();
    const TypeInfo* entry_info = Info(entry_type);
    if (entry_info == nullptr) return false;
    StartObject(name);
    const int n = r->FieldSize(m, f);
    std::string key_scratch;
    for (int i = 0; i < n; ++i) {
      const gpb::Message& entry = r->GetRepeatedMessage(m, f, i);
      const gpb::Reflection* er = entry.GetReflection();
      if (!UnknownFieldsOk(entry, *entry_info)) return false;
      const std::string_view key = MapKey(entry, er, kf, &key_scratch);
      if (vf->cpp_type() == FD::CPPTYPE_MESSAGE) {
        if (!Nested(key, er->GetMessage(entry, vf), typed)) return false;
      } else {
        Scalar(key, entry, er, vf, -1);
      }
    }
    EndObject();
    return true;
  }

  // A scalar field, or element `index` of a repeated one.
  void Scalar(Name name, const gpb::Message& m, const gpb::Reflection* r, const FD* f, int index) {
    const bool one = index < 0;
    switch (f->cpp_type()) {
      case FD::CPPTYPE_INT32:
        return RenderNumber(name, one ? r->GetInt32(m, f) : r->GetRepeatedInt32(m, f, index));
      case FD::CPPTYPE_UINT32:
        return RenderNumber(name, one ? r->GetUInt32(m, f) : r->GetRepeatedUInt32(m, f, index));
      case FD::CPPTYPE_INT64:
        return RenderQuoted(name, one ? r->GetInt64(m, f) : r->GetRepeatedInt64(m, f, index));
      case FD::CPPTYPE_UINT64:
        return RenderQuoted(name, one ? r->GetUInt64(m, f) : r->GetRepeatedUInt64(m, f, index));
      case FD::CPPTYPE_DOUBLE:
        return RenderDouble(name, one ? r->GetDouble(m, f) : r->GetRepeatedDouble(m, f, index));
      case FD::CPPTYPE_FLOAT:
        return RenderFloat(name, one ? r->GetFloat(m, f) : r->GetRepeatedFloat(m, f, index));
      case FD::CPPTYPE_BOOL:
        return RenderBool(name, one ? r->GetBool(m, f) : r->GetRepeatedBool(m, f, index));
      case FD::CPPTYPE_ENUM:
        return RenderEnum(name, f->enum_type(), one ? r->GetEnumValue(m, f) : r->GetRepeatedEnumValue(m, f, index));
      case FD::CPPTYPE_STRING: {
        std::string scratch;
        const std::string& s =
            one ? r->GetStringReference(m, f, &scratch) : r->GetRepeatedStringReference(m, f, index, &scratch);
        if (f->type() == FD::TYPE_BYTES) return RenderBytes(name, s);
        return RenderString(name, s);
      }
      case FD::CPPTYPE_MESSAGE:
        break;
    }
  }

  // A message-typed value named `name`, as RenderField() with its type renderers. `typed`: when it opens
  // an object, that object is a populated tree node.
  bool Nested(Name name, const gpb::Message& m, bool typed) {
    if (++depth_ > kMaxRecursionDepth) return false;  // protobuf: "Message too deep"
    const TypeInfo* ti = Info(m.GetDescriptor());
    if (ti == nullptr || !UnknownFieldsOk(m, *ti)) return false;
    const gpb::Reflection* r = m.GetReflection();
    const gpb::Descriptor* d = ti->d;
    bool ok = true;
    switch (ti->wkt) {
      case Wkt::kNone:
        StartObject(name);
        ok = Fields(m, *ti, typed);
        EndObject();
        break;
      case Wkt::kTimestamp: {
        const int64_t seconds = r->GetInt64(m, d->FindFieldByNumber(1));
        const int32_t nanos = r->GetInt32(m, d->FindFieldByNumber(2));
        if (seconds < kTimestampMinSeconds || seconds > kTimestampMaxSeconds || nanos < 0 || nanos >= kNanosPerSecond) {
          ok = false;  // protobuf: "Timestamp seconds/nanos exceeds limit"
          break;
        }
        Prefix(name);
        out_->push_back('"');
        AppendTimestamp(seconds, nanos, out_);
        out_->push_back('"');
        break;
      }
      case Wkt::kDuration: {
        int64_t seconds = r->GetInt64(m, d->FindFieldByNumber(1));
        int32_t nanos = r->GetInt32(m, d->FindFieldByNumber(2));
        if (seconds < kDurationMinSeconds || seconds > kDurationMaxSeconds || nanos <= -kNanosPerSecond ||
            nanos >= kNanosPerSecond || (seconds < 0 && nanos > 0)) {
          ok = false;
          break;
        }
        bool negative = false;
        if (seconds < 0) {
          negative = true;
          seconds = -seconds;
          nanos = -nanos;
        } else if (seconds == 0 && nanos < 0) {
          negative = true;
          nanos = -nanos;
        }
        Prefix(name);
        out_->push_back('"');
        if (negative) out_->push_back('-');
        AppendInt(seconds, out_);
        AppendDurationNanos(static_cast<uint32_t>(nanos), out_);
        out_->append("s\"");
        break;
      }
      case Wkt::kDoubleValue:
      case Wkt::kFloatValue:
      case Wkt::kInt64Value:
      case Wkt::kUInt64Value:
      case Wkt::kInt32Value:
      case Wkt::kUInt32Value:
      case Wkt::kBoolValue:
      case Wkt::kStringValue:
      case Wkt::kBytesValue:
        Scalar(name, m, r, d->field(0), -1);
        break;
      case Wkt::kStruct: {
        // Always an object node in the tree: repeated keys would merge.
        const FD* fields = d->field(0);
        if (tree_ && HasDuplicateKeys(m, r, fields)) {
          ok = false;
          break;
        }
        ok = Map(name, m, r, fields, true);
        break;
      }
      case Wkt::kValue: {
        const FD* kind = r->GetOneofFieldDescriptor(m, d->oneof_decl(0));
        if (kind == nullptr) break;  // renders nothing at all
        switch (kind->number()) {
          case 1: RenderNull(name); break;
          case 2: RenderDouble(name, r->GetDouble(m, kind)); break;
          case 3: Scalar(name, m, r, kind, -1); break;
          case 4: RenderBool(name, r->GetBool(m, kind)); break;
          default: ok = Nested(name, r->GetMessage(m, kind), false); break;
        }
        break;
      }
      case Wkt::kListValue: {
        const FD* values = d->field(0);
        const int n = r->FieldSize(m, values);
        StartList(name);
        for (int i = 0; ok && i < n; ++i) ok = Nested("", r->GetRepeatedMessage(m, values, i), false);
        EndList();
        break;
      }
      case Wkt::kFieldMask: {
        const FD* paths = d->field(0);
        const int n = r->FieldSize(m, paths);
        std::string combined;
        std::string scratch;
        for (int i = 0; i < n; ++i) {
          if (!combined.empty()) combined.push_back(',');
          AppendFieldMaskPath(r->GetRepeatedStringReference(m, paths, i, &scratch), &combined);
        }
        RenderString(name, combined);
        break;
      }
      case Wkt::kAny:
        ok = Any(name, m, *ti, typed);
        break;
      case Wkt::kUnsupported:
        ok = false;
        break;
    }
    --depth_;
    return ok;
  }

  // RenderAny(): {"@type": url, ...the packed message's fields} resolved in the root message's pool.
  bool Any(Name name, const gpb::Message& any, const TypeInfo& ti, bool typed) {
    const gpb::Reflection* r = any.GetReflection();
    std::string url_scratch;
    std::string value_scratch;
    const std::string& url = r->GetStringReference(any, ti.d->FindFieldByNumber(1), &url_scratch);
    const std::string& value = r->GetStringReference(any, ti.d->FindFieldByNumber(2), &value_scratch);
    if (value.empty()) {
      StartObject(name);
      if (!url.empty()) RenderString("@type", url);
      EndObject();
      return true;
    }
    // Errors ("the type_url is missing", "Invalid type URL") and types outside the pool: protobuf's.
    if (url.size() <= kTypeUrlPrefix.size() || url.compare(0, kTypeUrlPrefix.size(), kTypeUrlPrefix) != 0) {
      return false;
    }
    const gpb::Descriptor* type = pool_->FindMessageTypeByName(url.substr(kTypeUrlPrefix.size()));
    if (type == nullptr) return false;
    const TypeInfo* inner_info = Info(type);
    if (inner_info == nullptr) return false;
    gpb::MessageFactory* factory = r->GetMessageFactory();
    const gpb::Message* prototype = factory != nullptr ? factory->GetPrototype(type) : nullptr;
    if (prototype == nullptr) return false;
    std::unique_ptr<gpb::Message> inner(prototype->New());
    // Only bytes that are the canonical serialization of what they parse to: protobuf reads the bytes
    // themselves, in their order.
    if (!inner->ParseFromString(value) || inner->SerializeAsString() != value) return false;

    StartObject(name);
    RenderString("@type", url);
    bool ok = true;
    if (inner_info->wkt == Wkt::kNone) {
      // In the tree, a typed Any node is populated as `type` when its first field arrives.
      bool populated = false;
      if (tree_ && typed) {
        std::vector<const FD*> set;
        inner->GetReflection()->ListFields(*inner, &set);
        populated = !set.empty();
      }
      ok = UnknownFieldsOk(*inner, *inner_info) && Fields(*inner, *inner_info, populated);
    } else {
      if (tree_ && typed) {
        // Populated as FieldMask / ListValue, the node gains their (empty) repeated field before the
        // rendered "value"; the wrappers' one field is "value" itself.
        if (inner_info->wkt == Wkt::kFieldMask || inner_info->wkt == Wkt::kListValue) {
          StartList(inner_info->d->field(0)->json_name());
          EndList();
        }
      }
      ok = Nested("value", *inner, false);
    }
    EndObject();
    return ok;
  }

  const gpb::DescriptorPool* pool_;
  const bool tree_;
  std::string* out_;
  std::vector<Level> levels_;
  int depth_ = 0;
  std::vector<std::unique_ptr<TypeInfo>> infos_;
};

bool IsDirectOptions(const gpb::util::JsonPrintOptions& o) {
  return !o.add_whitespace && !o.always_print_enums_as_ints && !o.preserve_proto_field_names;
}

}  // namespace

absl::Status PrintJson(const gpb::Message& msg, std::string* out) { return PrintJson(msg, JsonOutputOptions(), out); }

absl::Status PrintJson(const gpb::Message& msg, const gpb::util::JsonPrintOptions& options, std::string* out) {
  if (json_print_internal::PrintJsonWithoutFallback(msg, options, out).ok()) return absl::OkStatus();
  return FromProtobufStatus(gpb::util::MessageToJsonString(msg, out, options));
}

namespace json_print_internal {

absl::Status PrintJsonWithoutFallback(const gpb::Message& msg, const gpb::util::JsonPrintOptions& options,
                                      std::string* out) {
  if (!IsDirectOptions(options)) return absl::UnimplementedError("options other than the gateway's");
  const size_t mark = out->size();
  Printer printer(msg.GetDescriptor()->file()->pool(), options.always_print_primitive_fields, out);
  if (!printer.Print(msg)) {
    out->resize(mark);
    return absl::UnimplementedError("left to MessageToJsonString");
  }
  return absl::OkStatus();
}

}  // namespace json_print_internal
}  // namespace crm::gateway
