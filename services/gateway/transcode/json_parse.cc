#include "services/gateway/transcode/json_parse.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/stubs/common.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "services/gateway/transcode/json_policy.h"

namespace crm::gateway {
namespace {

namespace gpb = ::google::protobuf;
using FD = gpb::FieldDescriptor;
using D = gpb::Descriptor;

constexpr int kMaxDepth = 100;                          // protobuf's parser stops nesting here
constexpr uint64_t kMaxDurationSeconds = 315576000000;  // protobuf's Duration range, 10 000 years

__extension__ typedef __int128 Int128;  // every int64 and uint64 value, and their range checks

// A JSON number token: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
struct Number {
  std::string_view text;
  bool integer = false;   // no fraction, no exponent
  bool negative = false;
  bool fits = false;      // integer and within uint64 (positive) or int64 (negative), as protobuf reads it
  uint64_t magnitude = 0;
};

// Scans a number token at `p` (end `end`); false if there is none.
bool ScanNumber(const char*& p, const char* end, Number* n) {
  const char* start = p;
  n->negative = p < end && *p == '-';
  if (n->negative) ++p;
  if (p == end || *p < '0' || *p > '9') return false;
  n->integer = true;
  n->fits = true;
  n->magnitude = 0;
  if (*p == '0') {
    ++p;
  } else {
    while (p < end && *p >= '0' && *p <= '9') {
      uint64_t digit = static_cast<uint64_t>(*p - '0');
      if (n->magnitude > (std::numeric_limits<uint64_t>::max() - digit) / 10) n->fits = false;
      n->magnitude = n->magnitude * 10 + digit;
      ++p;
    }
  }
  if (p < end && *p == '.') {
    ++p;
    if (p == end || *p < '0' || *p > '9') return false;
    while (p < end && *p >= '0' && *p <= '9') ++p;
    n->integer = false;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p < end && (*p == '+' || *p == '-')) ++p;
    if (p == end || *p < '0' || *p > '9') return false;
    while (p < end && *p >= '0' && *p <= '9') ++p;
    n->integer = false;
  }
  if (n->negative && n->magnitude > (uint64_t{1} << 63)) n->fits = false;
  if (!n->integer) n->fits = false;
  n->text = std::string_view(start, static_cast<size_t>(p - start));
  return true;
}

// The whole of `s` as a number token.
bool WholeNumber(std::string_view s, Number* n) {
  const char* p = s.data();
  return ScanNumber(p, s.data() + s.size(), n) && p == s.data() + s.size();
}

// The value of a fitting integer token as a signed 128-bit number.
Int128 Signed(const Number& n) {
  return n.negative ? -static_cast<Int128>(n.magnitude) : static_cast<Int128>(n.magnitude);
}

// Parses a floating-point token as protobuf does (strtod: correctly rounded); false if out of range.
bool ToDouble(const Number& n, double* out) {
  if (n.integer) {  // protobuf reads an integer token as int64/uint64, then converts it
    if (!n.fits) return false;
    *out = n.negative ? static_cast<double>(static_cast<int64_t>(Signed(n))) : static_cast<double>(n.magnitude);
    return true;
  }
  auto [end, ec] = std::from_chars(n.text.data(), n.text.data() + n.text.size(), *out);
  return ec == std::errc() && end == n.text.data() + n.text.size() && std::isfinite(*out);
}

// protobuf's ToSnakeCase (converter/utility.cc), for one FieldMask path segment.
void AppendSnakeCase(std::string_view in, std::string* out) {
  bool was_not_underscore = false;
  bool was_not_cap = false;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c >= 'A' && c <= 'Z') {
      if (was_not_underscore && (was_not_cap || (i + 1 < in.size() && in[i + 1] >= 'a' && in[i + 1] <= 'z'))) {
        out->push_back('_');
      }
      out->push_back(static_cast<char>(c - 'A' + 'a'));
      was_not_underscore = true;
      was_not_cap = false;
    } else {
      out->push_back(c);
      was_not_underscore = c != '_';
      was_not_cap = true;
    }
  }
}

bool IsBase64Char(char c, bool web_safe) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return web_safe ? (c == '-' || c == '_') : (c == '+' || c == '/');
}

// Decodes canonical base64 (either alphabet, padded to a multiple of 4 or not padded at all), the strict
// decoding protobuf applies; false for anything else.
bool DecodeBase64(std::string_view in, std::string* out) {
  std::string_view body = in;
  while (!body.empty() && body.back() == '=') body.remove_suffix(1);
  if (in.size() - body.size() > 2 || (body.size() != in.size() && in.size() % 4 != 0) || body.size() % 4 == 1) {
    return false;
  }
  bool web_safe = true, standard = true;
  for (char c : body) {
    web_safe = web_safe && IsBase64Char(c, true);
    standard = standard && IsBase64Char(c, false);
  }
  if (!web_safe && !standard) return false;
  if (!(web_safe ? absl::WebSafeBase64Unescape(AsAbsl(body), out) : absl::Base64Unescape(AsAbsl(body), out))) return false;
  std::string again = web_safe ? absl::WebSafeBase64Escape(*out) : absl::Base64Escape(*out);
  while (!again.empty() && again.back() == '=') again.pop_back();
  return again == body;
}

// Whether a message of type `d` can miss a proto2 required field (then protobuf's binary round trip
// refuses it); `seen` guards recursive types.
bool MayHaveRequired(const D* d, std::vector<const D*>* seen) {
  if (std::find(seen->begin(), seen->end(), d) != seen->end()) return false;
  seen->push_back(d);
  for (int i = 0; i < d->field_count(); ++i) {
    const FD* f = d->field(i);
    if (f->is_required()) return true;
    if (f->cpp_type() == FD::CPPTYPE_MESSAGE && MayHaveRequired(f->message_type(), seen)) return true;
  }
  return false;
}

// Whether `key` names `f`: its json_name or its proto name.
bool Names(const FD* f, std::string_view key) { return f->json_name() == key || f->name() == key; }

class Parser {
 public:
  explicit Parser(std::string_view json) : p_(json.data()), end_(json.data() + json.size()) {}

  bool Root(gpb::Message* msg) {
    if (msg->GetDescriptor()->well_known_type() != D::WELLKNOWNTYPE_UNSPECIFIED) return false;
    if (!Object(msg, 0)) return false;
    SkipWs();
    std::vector<const D*> seen;
    return p_ == end_ && (!MayHaveRequired(msg->GetDescriptor(), &seen) || msg->IsInitialized());
  }

 private:
  void SkipWs() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  // Skips whitespace and returns the next character ('\0' at the end).
  char Peek() {
    SkipWs();
    return p_ < end_ ? *p_ : '\0';
  }
  bool Eat(char c) {
    if (Peek() != c) return false;
    ++p_;
    return true;
  }
  bool Literal(std::string_view word) {
    SkipWs();
    if (static_cast<size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }
  bool Num(Number* n) {
    SkipWs();
    return ScanNumber(p_, end_, n);
  }

  // A JSON string into `out` (valid UTF-8, escapes resolved; raw control characters and lone surrogates
  // are left to protobuf).
  bool String(std::string* out) {
    out->clear();
    if (!Eat('"')) return false;
    while (true) {
      const char* run = p_;
      while (p_ < end_ && *p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20) ++p_;
      out->append(run, static_cast<size_t>(p_ - run));
      if (p_ == end_ || static_cast<unsigned char>(*p_) < 0x20) return false;
      if (*p_ == '"') {
        ++p_;
        return gpb::internal::IsStructurallyValidUTF8(out->data(), static_cast<int>(out->size()));
      }
      ++p_;  // the backslash
      if (p_ == end_) return false;
      char e = *p_++;
      switch (e) {
        case '"': case '\\': case '/': out->push_back(e); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
            p_ += 2;
            if (!Hex4(&low) || low < 0xDC00 || low > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          AppendUtf8(cp, out);
          break;
        }
        default: return false;
      }
    }
  }
  bool Hex4(uint32_t* cp) {
    if (end_ - p_ < 4) return false;
    *cp = 0;
    for (int i = 0; i < 4; ++i) {
      char c = *p_++;
      int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (v < 0) return false;
      *cp = *cp * 16 + static_cast<uint32_t>(v);
    }
    return true;
  }
  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // The field a key names (its json_name or its proto name), looked for from `*next` on: keys usually
  // come in declaration order, so this is mostly one comparison; `*next` moves past the field found.
  static const FD* Field(const D* d, std::string_view key, int* next) {
    const int n = d->field_count();
    for (int k = 0; k < n; ++k) {
      int i = *next + k < n ? *next + k : *next + k - n;
      if (Names(d->field(i), key)) {
        *next = i + 1 < n ? i + 1 : 0;
        return d->field(i);
      }
    }
    return nullptr;
  }

  // A message at the current position, in the JSON form of its type.
  bool MessageValue(gpb::Message* msg, int depth) {
    if (depth > kMaxDepth) return false;
    const D* d = msg->GetDescriptor();
    switch (d->well_known_type()) {
      case D::WELLKNOWNTYPE_UNSPECIFIED: return Object(msg, depth);
      case D::WELLKNOWNTYPE_TIMESTAMP: return Timestamp(msg);
      case D::WELLKNOWNTYPE_DURATION: return Duration(msg);
      case D::WELLKNOWNTYPE_FIELDMASK: return FieldMask(msg);
      case D::WELLKNOWNTYPE_STRUCT: return Struct(msg, depth);
      case D::WELLKNOWNTYPE_VALUE: return Value(msg, depth);
      case D::WELLKNOWNTYPE_LISTVALUE: return List(msg, depth);
      case D::WELLKNOWNTYPE_ANY: return false;
      default:  // the wrappers: the bare value
        if (Peek() == 'n') return false;
        return Single(msg, d->FindFieldByNumber(1), false, depth);
    }
  }

  // {"key": value, ...} for a message without a special JSON form.
  bool Object(gpb::Message* msg, int depth) {
    if (!Eat('{')) return false;
    if (Eat('}')) return true;
    const D* d = msg->GetDescriptor();
    const gpb::Reflection* r = msg->GetReflection();
    size_t seen_from = seen_stack_.size();
    int next = 0;
    do {
      if (!String(&key_)) return false;
      if (!Eat(':')) return false;
      const FD* f = Field(d, key_, &next);
      if (f == nullptr || f->type() == FD::TYPE_GROUP) return false;
      for (size_t i = seen_from; i < seen_stack_.size(); ++i) {
        if (seen_stack_[i] == f) return false;  // a duplicate key: protobuf's rules
      }
      seen_stack_.push_back(f);
      if (f->real_containing_oneof() != nullptr && r->HasOneof(*msg, f->real_containing_oneof())) return false;
      if (!FieldValue(msg, f, depth)) return false;
    } while (Eat(','));
    seen_stack_.resize(seen_from);
    return Eat('}');
  }

  bool FieldValue(gpb::Message* msg, const FD* f, int depth) {
    if (Peek() == 'n' && !IsNullValue(f)) return false;  // null: protobuf's rules
    const gpb::Reflection* r = msg->GetReflection();
    if (f->is_map()) {
      if (!Eat('{')) return false;
      if (Eat('}')) return true;
      const FD* key_field = f->message_type()->map_key();
      const FD* value_field = f->message_type()->map_value();
      absl::flat_hash_set<std::string> keys;
      std::string key;
      do {
        if (!String(&key) || !Eat(':')) return false;
        if (!keys.insert(key).second) return false;
        if (Peek() == 'n' && !IsNullValue(value_field)) return false;
        gpb::Message* entry = r->AddMessage(msg, f);
        if (!MapKey(entry, key_field, key) || !Single(entry, value_field, false, depth + 1)) return false;
      } while (Eat(','));
      return Eat('}');
    }
    if (f->is_repeated()) {
      if (!Eat('[')) return false;
      if (Eat(']')) return true;
      do {
        if (Peek() == 'n' && !IsValue(f) && !IsNullValue(f)) return false;
        if (!Single(msg, f, true, depth + 1)) return false;
      } while (Eat(','));
      return Eat(']');
    }
    return Single(msg, f, false, depth);
  }

  // A google.protobuf.NullValue field: null (or "NULL_VALUE", or 0) sets it.
  static bool IsNullValue(const FD* f) {
    return f->cpp_type() == FD::CPPTYPE_ENUM && f->enum_type()->full_name() == "google.protobuf.NullValue";
  }

  static bool IsValue(const FD* f) {
    return f->cpp_type() == FD::CPPTYPE_MESSAGE && f->message_type()->well_known_type() == D::WELLKNOWNTYPE_VALUE;
  }

  bool MapKey(gpb::Message* entry, const FD* f, const std::string& key) {
    const gpb::Reflection* r = entry->GetReflection();
    if (f->cpp_type() == FD::CPPTYPE_STRING) {
      r->SetString(entry, f, key);
      return true;
    }
    if (f->cpp_type() == FD::CPPTYPE_BOOL) {
      if (key != "true" && key != "false") return false;
      r->SetBool(entry, f, key == "true");
      return true;
    }
    Number n;
    return WholeNumber(key, &n) && n.fits && !(n.negative && IsUnsigned(f)) && SetInteger(entry, f, n, false);
  }

  static bool IsUnsigned(const FD* f) {
    return f->cpp_type() == FD::CPPTYPE_UINT32 || f->cpp_type() == FD::CPPTYPE_UINT64;
  }

  // Sets (or adds) a fitting integer to an integer field; false if out of the field's range.
  static bool SetInteger(gpb::Message* msg, const FD* f, const Number& n, bool add) {
    const gpb::Reflection* r = msg->GetReflection();
    Int128 v = Signed(n);
    switch (f->cpp_type()) {
      case FD::CPPTYPE_INT32:
        if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) return false;
        add ? r->AddInt32(msg, f, static_cast<int32_t>(v)) : r->SetInt32(msg, f, static_cast<int32_t>(v));
        return true;
      case FD::CPPTYPE_INT64:
        if (v < std::numeric_limits<int64_t>::min() || v > std::numeric_limits<int64_t>::max()) return false;
        add ? r->AddInt64(msg, f, static_cast<int64_t>(v)) : r->SetInt64(msg, f, static_cast<int64_t>(v));
        return true;
      case FD::CPPTYPE_UINT32:
        if (v < 0 || v > std::numeric_limits<uint32_t>::max()) return false;
        add ? r->AddUInt32(msg, f, static_cast<uint32_t>(v)) : r->SetUInt32(msg, f, static_cast<uint32_t>(v));
        return true;
      case FD::CPPTYPE_UINT64:
        if (v < 0) return false;
        add ? r->AddUInt64(msg, f, static_cast<uint64_t>(v)) : r->SetUInt64(msg, f, static_cast<uint64_t>(v));
        return true;
      default: return false;
    }
  }

  // One value of `f` (an element when `add`): sets it, or adds it to the repeated field.
  bool Single(gpb::Message* msg, const FD* f, bool add, int depth) {
    const gpb::Reflection* r = msg->GetReflection();
    switch (f->cpp_type()) {
      case FD::CPPTYPE_MESSAGE:
        return MessageValue(add ? r->AddMessage(msg, f) : r->MutableMessage(msg, f), depth + 1);
      case FD::CPPTYPE_STRING: {
        if (!String(&text_)) return false;
        if (f->type() == FD::TYPE_BYTES) {
          std::string bytes;
          if (!DecodeBase64(text_, &bytes)) return false;
          add ? r->AddString(msg, f, std::move(bytes)) : r->SetString(msg, f, std::move(bytes));
        } else {
          add ? r->AddString(msg, f, text_) : r->SetString(msg, f, text_);
        }
        return true;
      }
      case FD::CPPTYPE_BOOL: {
        bool v;
        if (Literal("true")) {
          v = true;
        } else if (Literal("false")) {
          v = false;
        } else {
          return false;
        }
        add ? r->AddBool(msg, f, v) : r->SetBool(msg, f, v);
        return true;
      }
      case FD::CPPTYPE_ENUM: {
        if (IsNullValue(f) && Literal("null")) {
          add ? r->AddEnumValue(msg, f, 0) : r->SetEnumValue(msg, f, 0);
          return true;
        }
        if (Peek() == '"') {
          if (!String(&text_)) return false;
          const gpb::EnumValueDescriptor* v = f->enum_type()->FindValueByName(text_);
          if (v == nullptr) return false;
          add ? r->AddEnum(msg, f, v) : r->SetEnum(msg, f, v);
          return true;
        }
        Number n;
        if (!Num(&n) || !n.fits) return false;
        Int128 v = Signed(n);
        if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) return false;
        int number = static_cast<int>(v);
        if (f->enum_type()->FindValueByNumber(number) == nullptr &&
            f->enum_type()->file()->syntax() != gpb::FileDescriptor::SYNTAX_PROTO3) {
          return false;
        }
        add ? r->AddEnumValue(msg, f, number) : r->SetEnumValue(msg, f, number);
        return true;
      }
      case FD::CPPTYPE_FLOAT:
      case FD::CPPTYPE_DOUBLE: {
        double d;
        if (Peek() == '"') {
          if (!String(&text_)) return false;
          Number n;
          if (text_ == "NaN") {
            d = std::numeric_limits<double>::quiet_NaN();
          } else if (text_ == "Infinity") {
            d = std::numeric_limits<double>::infinity();
          } else if (text_ == "-Infinity") {
            d = -std::numeric_limits<double>::infinity();
          } else if (WholeNumber(text_, &n)) {  // a string is read with strtod, integer or not
            auto [end, ec] = std::from_chars(text_.data(), text_.data() + text_.size(), d);
            if (ec != std::errc() || end != text_.data() + text_.size() || !std::isfinite(d)) return false;
          } else {
            return false;
          }
        } else {
          Number n;
          if (!Num(&n)) return false;
          if (f->cpp_type() == FD::CPPTYPE_FLOAT && n.integer) {  // int64/uint64 straight to float
            if (!n.fits || n.magnitude > (uint64_t{1} << 53)) return false;
          }
          if (!ToDouble(n, &d)) return false;
        }
        if (f->cpp_type() == FD::CPPTYPE_DOUBLE) {
          add ? r->AddDouble(msg, f, d) : r->SetDouble(msg, f, d);
          return true;
        }
        if (std::isfinite(d) && std::isinf(static_cast<float>(d))) return false;  // beyond float: protobuf's words
        auto v = static_cast<float>(d);
        add ? r->AddFloat(msg, f, v) : r->SetFloat(msg, f, v);
        return true;
      }
      default: {  // the integers: a number or a string of one
        Number n;
        if (Peek() == '"') {
          if (!String(&text_) || !WholeNumber(text_, &n) || !n.fits) return false;
          if (n.negative && (IsUnsigned(f) || n.magnitude == 0)) return false;
        } else if (!Num(&n) || !n.fits) {
          return false;
        }
        return SetInteger(msg, f, n, add);
      }
    }
  }

  bool Timestamp(gpb::Message* msg) {
    if (Peek() != '"' || !String(&text_)) return false;
    gpb::Timestamp ts;
    if (!gpb::util::TimeUtil::FromString(text_, &ts)) return false;
    const gpb::Reflection* r = msg->GetReflection();
    r->SetInt64(msg, msg->GetDescriptor()->FindFieldByNumber(1), ts.seconds());
    r->SetInt32(msg, msg->GetDescriptor()->FindFieldByNumber(2), ts.nanos());
    return true;
  }

  // "-?(0|[1-9][0-9]*)(.[0-9]{1,9})?s" within protobuf's range; other forms are protobuf's.
  bool Duration(gpb::Message* msg) {
    if (Peek() != '"' || !String(&text_)) return false;
    std::string_view t = text_;
    if (t.empty() || t.back() != 's') return false;
    t.remove_suffix(1);
    Number n;
    if (!WholeNumber(t, &n) || n.text.find_first_of("eE") != std::string_view::npos) return false;
    size_t dot = t.find('.');
    std::string_view whole = t.substr(0, dot), frac = dot == std::string_view::npos ? "" : t.substr(dot + 1);
    Number w;
    if (!WholeNumber(whole, &w) || !w.fits || w.magnitude > kMaxDurationSeconds || frac.size() > 9) return false;
    int32_t nanos = 0;
    for (size_t i = 0; i < 9; ++i) nanos = nanos * 10 + (i < frac.size() ? frac[i] - '0' : 0);
    const int sign = w.negative ? -1 : 1;
    const gpb::Reflection* r = msg->GetReflection();
    r->SetInt64(msg, msg->GetDescriptor()->FindFieldByNumber(1), sign * static_cast<int64_t>(w.magnitude));
    r->SetInt32(msg, msg->GetDescriptor()->FindFieldByNumber(2), sign * nanos);
    return true;
  }

  // "path,path": segments of [A-Za-z0-9_.] to snake_case; quoted keys and parentheses are protobuf's.
  bool FieldMask(gpb::Message* msg) {
    if (Peek() != '"' || !String(&text_)) return false;
    const FD* paths = msg->GetDescriptor()->FindFieldByNumber(1);
    std::string_view rest = text_;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view path = rest.substr(0, comma);
      if (path.empty()) return false;
      for (char c : path) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.')) {
          return false;
        }
      }
      std::string snake;
      size_t start = 0;
      for (size_t i = 0; i <= path.size(); ++i) {
        if (i == path.size() || path[i] == '.') {
          AppendSnakeCase(path.substr(start, i - start), &snake);
          if (i < path.size()) snake.push_back('.');
          start = i + 1;
        }
      }
      msg->GetReflection()->AddString(msg, paths, std::move(snake));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
      if (rest.empty()) return false;  // a trailing comma
    }
    return true;
  }

  bool Struct(gpb::Message* msg, int depth) {
    if (!Eat('{')) return false;
    if (Eat('}')) return true;
    const FD* fields = msg->GetDescriptor()->FindFieldByNumber(1);
    std::vector<std::string> keys;
    std::string key;
    do {
      if (!String(&key) || !Eat(':')) return false;
      for (const std::string& k : keys) {
        if (k == key) return false;  // a repeated key: protobuf's rules
      }
      keys.push_back(key);
      gpb::Message* entry = msg->GetReflection()->AddMessage(msg, fields);
      const D* ed = entry->GetDescriptor();
      entry->GetReflection()->SetString(entry, ed->map_key(), key);
      if (!Value(entry->GetReflection()->MutableMessage(entry, ed->map_value()), depth + 1)) return false;
    } while (Eat(','));
    return Eat('}');
  }

  bool List(gpb::Message* msg, int depth) {
    if (!Eat('[')) return false;
    if (Eat(']')) return true;
    const FD* values = msg->GetDescriptor()->FindFieldByNumber(1);
    do {
      if (!Value(msg->GetReflection()->AddMessage(msg, values), depth + 1)) return false;
    } while (Eat(','));
    return Eat(']');
  }

  // google.protobuf.Value: any JSON (null, number, string, bool, object, array).
  bool Value(gpb::Message* msg, int depth) {
    if (depth > kMaxDepth) return false;
    const D* d = msg->GetDescriptor();
    const gpb::Reflection* r = msg->GetReflection();
    switch (Peek()) {
      case 'n':
        if (!Literal("null")) return false;
        r->SetEnumValue(msg, d->FindFieldByNumber(1), 0);
        return true;
      case 't':
      case 'f': {
        bool v = Peek() == 't';
        if (!Literal(v ? "true" : "false")) return false;
        r->SetBool(msg, d->FindFieldByNumber(4), v);
        return true;
      }
      case '"':
        if (!String(&text_)) return false;
        r->SetString(msg, d->FindFieldByNumber(3), text_);
        return true;
      case '{': return Struct(r->MutableMessage(msg, d->FindFieldByNumber(5)), depth + 1);
      case '[': return List(r->MutableMessage(msg, d->FindFieldByNumber(6)), depth + 1);
      default: {
        Number n;
        double v;
        if (!Num(&n) || !ToDouble(n, &v)) return false;
        r->SetDouble(msg, d->FindFieldByNumber(2), v);
        return true;
      }
    }
  }

  const char* p_;
  const char* end_;
  std::string key_, text_;                 // scratch, reused
  std::vector<const FD*> seen_stack_;      // the fields of the objects being read, innermost last
};

}  // namespace

absl::Status ParseJsonMessage(std::string_view json, google::protobuf::Message* msg) {
  msg->Clear();
  if (Parser(json).Root(msg)) return absl::OkStatus();
  msg->Clear();
  return FromProtobufStatus(gpb::util::JsonStringToMessage(json, msg, JsonInputOptions()));
}

namespace json_parse_internal {

absl::Status ParseJsonWithoutFallback(std::string_view json, google::protobuf::Message* msg) {
  msg->Clear();
  if (Parser(json).Root(msg)) return absl::OkStatus();
  return absl::UnimplementedError("left to JsonStringToMessage");
}

}  // namespace json_parse_internal
}  // namespace crm::gateway
