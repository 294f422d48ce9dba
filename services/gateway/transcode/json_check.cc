// File: services/gateway/transcode/json_check.cc
#include "services/gateway/transcode/json_check.h"

#include <cmath>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "libs/base/strings.h"

namespace crm::gateway {
namespace {

namespace gpb = ::google::protobuf;
using Json = nlohmann::ordered_json;  // violations in the order the body gives the fields

std::string Join(const std::string& path, std::string_view name) {
  return path.empty() ? std::string(name) : absl::StrCat(path, ".", AsAbsl(name));
}

// An integer field's range: signed or not, and its width in bits.
struct IntRange {
  bool is_signed;
  int bits;

  std::string Describe() const {
    if (!is_signed) {
      return bits == 64 ? "must be an integer from 0 to 18446744073709551615"
                        : "must be an integer from 0 to 4294967295";
    }
    return bits == 64 ? "must be an integer from -9223372036854775808 to 9223372036854775807"
                      : "must be an integer from -2147483648 to 2147483647";
  }

  bool HoldsDouble(double d) const {
    if (!std::isfinite(d) || std::floor(d) != d) return false;
    const double top = std::ldexp(1.0, is_signed ? bits - 1 : bits);  // exclusive
    return d < top && d >= (is_signed ? -top : 0.0);
  }

  bool HoldsJson(const Json& v) const {
    if (v.is_number_unsigned()) {
      const uint64_t u = v.get<uint64_t>();
      return u <= (is_signed ? (uint64_t{1} << (bits - 1)) - 1 : (bits == 64 ? UINT64_MAX : UINT32_MAX));
    }
    if (v.is_number_integer()) {
      const int64_t i = v.get<int64_t>();
      if (i >= 0) return HoldsJson(Json(static_cast<uint64_t>(i)));
      return is_signed && (bits == 64 || i >= INT32_MIN);
    }
    if (v.is_number_float()) return HoldsDouble(v.get<double>());
    if (v.is_string()) {  // proto JSON accepts integers in strings (how 64-bit ones are printed)
      const std::string& s = v.get_ref<const std::string&>();
      int64_t i;
      uint64_t u;
      if (absl::SimpleAtoi(s, &u)) return HoldsJson(Json(u));
      if (absl::SimpleAtoi(s, &i)) return HoldsJson(Json(i));
      double d;
      return absl::SimpleAtod(s, &d) && HoldsDouble(d);
    }
    return false;
  }
};

std::optional<IntRange> IntegerRange(const gpb::FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case gpb::FieldDescriptor::CPPTYPE_INT32: return IntRange{true, 32};
    case gpb::FieldDescriptor::CPPTYPE_INT64: return IntRange{true, 64};
    case gpb::FieldDescriptor::CPPTYPE_UINT32: return IntRange{false, 32};
    case gpb::FieldDescriptor::CPPTYPE_UINT64: return IntRange{false, 64};
    default: return std::nullopt;
  }
}

bool IsWrapperType(const std::string& name) {
  return name == "google.protobuf.DoubleValue" || name == "google.protobuf.FloatValue" ||
         name == "google.protobuf.Int64Value" || name == "google.protobuf.UInt64Value" ||
         name == "google.protobuf.Int32Value" || name == "google.protobuf.UInt32Value" ||
         name == "google.protobuf.BoolValue" || name == "google.protobuf.StringValue" ||
         name == "google.protobuf.BytesValue";
}

constexpr char kTimestampRule[] = "must be an RFC 3339 time such as \"2026-12-07T09:30:00Z\", years 0001 to 9999";
constexpr char kDurationRule[] = "must be a duration in seconds such as \"90s\" or \"1.5s\", at most 10 000 years";
constexpr char kFieldMaskRule[] = "must be a string of comma-separated field names";

std::string EnumRule(const gpb::EnumDescriptor* e) {
  std::vector<std::string> names;
  for (int i = 0; i < e->value_count() && i < 64; ++i) names.push_back(e->value(i)->name());
  if (e->value_count() > 64) names.push_back("…");
  return absl::StrCat("must be one of ", absl::StrJoin(names, ", "));
}

std::string MessageRule(const gpb::Descriptor* d) {
  const std::string& type = d->full_name();
  if (IsWrapperType(type)) return DescribeExpected(d->FindFieldByName("value"));
  if (type == "google.protobuf.Timestamp") return kTimestampRule;
  if (type == "google.protobuf.Duration") return kDurationRule;
  if (type == "google.protobuf.FieldMask") return kFieldMaskRule;
  if (type == "google.protobuf.ListValue") return "must be a JSON array";
  if (type == "google.protobuf.Value") return "must be a JSON value";
  return "must be a JSON object";
}

// Walks a parsed JSON value against the descriptors, collecting violations.
class Explainer {
 public:
  std::vector<FieldViolation> Take(const std::string& root) && {
    if (dropped_ > 0) {
      violations_.push_back({root.empty() ? "body" : root, absl::StrCat(dropped_, " more invalid values")});
    }
    return std::move(violations_);
  }

  // `v` as one message of type `d` at `path`.
  void Message(const Json& v, const gpb::Descriptor* d, const std::string& path) {
    const std::string& type = d->full_name();
    if (v.is_null()) return;
    if (IsWrapperType(type)) return Single(v, d->FindFieldByName("value"), path);
    if (type == "google.protobuf.Value") return;
    if (type == "google.protobuf.Struct") {
      if (!v.is_object()) Add(path, "must be a JSON object");
      return;
    }
    if (type == "google.protobuf.ListValue") {
      if (!v.is_array()) Add(path, "must be a JSON array");
      return;
    }
    if (type == "google.protobuf.Timestamp") return Timestamp(v, path);
    if (type == "google.protobuf.Duration") return Duration(v, path);
    if (type == "google.protobuf.FieldMask") {
      if (!v.is_string()) Add(path, kFieldMaskRule);
      return;
    }
    if (!v.is_object()) return Add(path, "must be a JSON object");
    if (type == "google.protobuf.Any") return;  // its fields depend on "@type"
    std::map<const gpb::OneofDescriptor*, const gpb::FieldDescriptor*> oneofs;
    for (const auto& [key, value] : v.items()) {
      const gpb::FieldDescriptor* f = d->FindFieldByName(key);
      if (f == nullptr) f = FindByJsonName(d, key);
      if (f == nullptr) {
        Add(Join(path, key), "unknown field");
        continue;
      }
      const std::string field_path = Join(path, f->name());
      if (const gpb::OneofDescriptor* o = f->real_containing_oneof(); o != nullptr && !value.is_null()) {
        auto [it, first] = oneofs.emplace(o, f);
        if (!first) {
          std::vector<std::string> names;
          for (int i = 0; i < o->field_count(); ++i) names.push_back(o->field(i)->name());
          Add(field_path, absl::StrCat("only one of ", absl::StrJoin(names, ", "), " may be set (oneof ",
                                       o->name(), "; ", it->second->name(), " is set)"));
          continue;
        }
      }
      Field(value, f, field_path);
    }
  }

 private:
  static const gpb::FieldDescriptor* FindByJsonName(const gpb::Descriptor* d, std::string_view name) {
    for (int i = 0; i < d->field_count(); ++i) {
      if (d->field(i)->json_name() == name) return d->field(i);
    }
    return nullptr;
  }

  // The whole of field `f`: a map, a list or one value.
  void Field(const Json& v, const gpb::FieldDescriptor* f, const std::string& path) {
    if (v.is_null()) return;
    if (f->is_map()) {
      if (!v.is_object()) return Add(path, "must be a JSON object (a map)");
      const gpb::FieldDescriptor* key = f->message_type()->map_key();
      const gpb::FieldDescriptor* value = f->message_type()->map_value();
      for (const auto& [k, item] : v.items()) {
        const std::string item_path = absl::StrCat(path, "[", QuoteForError(k), "]");
        if (std::optional<IntRange> range = IntegerRange(key); range && !range->HoldsJson(Json(k))) {
          Add(item_path, absl::StrCat("key ", range->Describe()));
        } else if (key->cpp_type() == gpb::FieldDescriptor::CPPTYPE_BOOL && k != "true" && k != "false") {
          Add(item_path, "key must be true or false");
        }
        if (item.is_null() && value->message_type() == nullptr) {
          Add(item_path, "cannot be null");
        } else {
          Single(item, value, item_path);
        }
      }
      return;
    }
    if (f->is_repeated()) {
      if (!v.is_array()) return Add(path, "must be a JSON array");
      for (size_t i = 0; i < v.size(); ++i) {
        const std::string item_path = absl::StrCat(path, "[", i, "]");
        const bool value_type =
            f->message_type() != nullptr && f->message_type()->full_name() == "google.protobuf.Value";
        if (v[i].is_null() && !value_type) {
          Add(item_path, "cannot be null");
        } else {
          Single(v[i], f, item_path);
        }
      }
      return;
    }
    Single(v, f, path);
  }

  // One value of field `f` (an element when `f` is repeated).
  void Single(const Json& v, const gpb::FieldDescriptor* f, const std::string& path) {
    if (v.is_null()) return;
    if (std::optional<IntRange> range = IntegerRange(f)) {
      if (!range->HoldsJson(v)) Add(path, range->Describe());
      return;
    }
    switch (f->cpp_type()) {
      case gpb::FieldDescriptor::CPPTYPE_DOUBLE:
      case gpb::FieldDescriptor::CPPTYPE_FLOAT: {
        const bool is_float = f->cpp_type() == gpb::FieldDescriptor::CPPTYPE_FLOAT;
        double d = 0;
        bool ok = v.is_number() || (v.is_string() && (v == "NaN" || v == "Infinity" || v == "-Infinity" ||
                                                       absl::SimpleAtod(v.get_ref<const std::string&>(), &d)));
        if (ok && v.is_number()) d = v.get<double>();
        if (ok && is_float && std::isfinite(d) && std::fabs(d) > 3.4028234663852886e38) ok = false;
        if (!ok) Add(path, DescribeExpected(f));
        return;
      }
      case gpb::FieldDescriptor::CPPTYPE_BOOL:
        if (!v.is_boolean() && v != "true" && v != "false") Add(path, DescribeExpected(f));
        return;
      case gpb::FieldDescriptor::CPPTYPE_STRING:
        if (!v.is_string()) {
          Add(path, DescribeExpected(f));
        } else if (f->type() == gpb::FieldDescriptor::TYPE_BYTES) {
          std::string decoded;
          const std::string& s = v.get_ref<const std::string&>();
          if (!absl::Base64Unescape(s, &decoded) && !absl::WebSafeBase64Unescape(s, &decoded)) {
            Add(path, DescribeExpected(f));
          }
        }
        return;
      case gpb::FieldDescriptor::CPPTYPE_ENUM: Enum(v, f->enum_type(), path); return;
      case gpb::FieldDescriptor::CPPTYPE_MESSAGE: Message(v, f->message_type(), path); return;
      default: return;
    }
  }

  void Enum(const Json& v, const gpb::EnumDescriptor* e, const std::string& path) {
    if (v.is_string() && e->FindValueByName(v.get<std::string>()) != nullptr) return;
    if (v.is_number_integer() && IntRange{true, 32}.HoldsJson(v)) return;  // open enums take numbers
    if (e->full_name() == "google.protobuf.NullValue") return;
    Add(path, EnumRule(e));
  }

  void Timestamp(const Json& v, const std::string& path) {
    absl::Time t;
    std::string err;
    static const absl::Time kMin = absl::FromCivil(absl::CivilSecond(1, 1, 1, 0, 0, 0), absl::UTCTimeZone());
    static const absl::Time kMax =
        absl::FromCivil(absl::CivilSecond(10000, 1, 1, 0, 0, 0), absl::UTCTimeZone());
    if (!v.is_string() || !absl::ParseTime(absl::RFC3339_full, v.get<std::string>(), &t, &err) || t < kMin ||
        t >= kMax) {
      Add(path, kTimestampRule);
    }
  }

  void Duration(const Json& v, const std::string& path) {
    double seconds = 0;
    bool ok = v.is_string();
    if (ok) {
      const std::string& s = v.get_ref<const std::string&>();
      ok = s.size() > 1 && s.back() == 's' && absl::SimpleAtod(absl::string_view(s.data(), s.size() - 1), &seconds) &&
           std::fabs(seconds) <= 315576000000.0;
    }
    if (!ok) Add(path, kDurationRule);
  }

  void Add(const std::string& path, std::string description) {
    if (violations_.size() >= kMaxExplainedViolations) {
      ++dropped_;
      return;
    }
    violations_.push_back({path.empty() ? "body" : path, std::move(description)});
  }

  std::vector<FieldViolation> violations_;
  size_t dropped_ = 0;
};

}  // namespace

std::string DescribeExpected(const gpb::FieldDescriptor* f) {
  if (std::optional<IntRange> range = IntegerRange(f)) return range->Describe();
  switch (f->cpp_type()) {
    case gpb::FieldDescriptor::CPPTYPE_DOUBLE: return "must be a number (or \"NaN\", \"Infinity\", \"-Infinity\")";
    case gpb::FieldDescriptor::CPPTYPE_FLOAT: return "must be a number from -3.4028235e38 to 3.4028235e38";
    case gpb::FieldDescriptor::CPPTYPE_BOOL: return "must be true or false";
    case gpb::FieldDescriptor::CPPTYPE_STRING:
      return f->type() == gpb::FieldDescriptor::TYPE_BYTES ? "must be base64 text" : "must be a string";
    case gpb::FieldDescriptor::CPPTYPE_ENUM: return EnumRule(f->enum_type());
    case gpb::FieldDescriptor::CPPTYPE_MESSAGE: return MessageRule(f->message_type());
    default: return "has a value of the wrong type";
  }
}

std::vector<FieldViolation> ExplainJson(std::string_view json, const gpb::Descriptor* type,
                                        std::string_view prefix) {
  const std::string root(prefix);
  Json parsed;
  try {
    parsed = Json::parse(json.begin(), json.end());
  } catch (const Json::parse_error& e) {
    return {{root.empty() ? "body" : root, absl::StrCat("is not valid JSON (at byte ", e.byte, ")")}};
  } catch (const std::exception&) {  // a number beyond a double's range
    return {{root.empty() ? "body" : root, "is not valid JSON (a number is out of range)"}};
  }
  Explainer explainer;
  explainer.Message(parsed, type, root);
  return std::move(explainer).Take(root);
}

}  // namespace crm::gateway
