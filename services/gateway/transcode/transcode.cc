#include "services/gateway/transcode/transcode.h"

#include <algorithm>
#include <memory>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/stubs/common.h"
#include "google/protobuf/util/json_util.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "services/gateway/transcode/http_body.h"
#include "services/gateway/transcode/json_check.h"
#include "services/gateway/transcode/json_parse.h"
#include "services/gateway/transcode/json_policy.h"
#include "services/gateway/transcode/json_print.h"

namespace crm::gateway {
namespace {

namespace gpb = ::google::protobuf;
using FieldPath = std::vector<const gpb::FieldDescriptor*>;

std::unique_ptr<gpb::Message> NewMessage(const RouteMatch& m, const gpb::Descriptor* type) {
  return std::unique_ptr<gpb::Message>(m.factory->GetPrototype(type)->New());
}

std::string PathString(const FieldPath& path) {
  std::string out;
  for (const gpb::FieldDescriptor* f : path) absl::StrAppend(&out, out.empty() ? "" : ".", f->name());
  return out;
}

// Parses JSON into `msg` per the policy. A refusal is INVALID_ARGUMENT carrying every violation
// (json_check.h), each path starting with `prefix` (the body field, or empty for a whole request);
// protobuf's own wording never reaches the client.
absl::Status ParseJson(std::string_view json, gpb::Message* msg, std::string_view prefix) {
  absl::Status s = ParseJsonMessage(json, msg);  // JsonStringToMessage's result, read directly (json_parse.h)
  if (s.ok()) return s;
  std::vector<FieldViolation> violations = ExplainJson(json, msg->GetDescriptor(), prefix);
  if (violations.empty()) {  // protobuf refused what the explainer accepts: still say where
    violations.push_back({prefix.empty() ? "body" : std::string(prefix),
                          absl::StrCat("is not a valid ", msg->GetDescriptor()->full_name(), " in JSON")});
  }
  return InvalidFieldsError(violations);
}

std::string JsonQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      absl::StrAppend(&out, "\\u00", absl::Hex(u, absl::kZeroPad2));
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

bool IsWrapper(const gpb::Descriptor* d) {
  static const std::set<std::string, std::less<>> kWrappers = {
      "google.protobuf.DoubleValue", "google.protobuf.FloatValue",  "google.protobuf.Int64Value",
      "google.protobuf.UInt64Value", "google.protobuf.Int32Value",  "google.protobuf.UInt32Value",
      "google.protobuf.BoolValue",   "google.protobuf.StringValue", "google.protobuf.BytesValue"};
  return kWrappers.count(d->full_name()) > 0;
}

// Well-known message types whose JSON form is a string, so a path or query value can set them.
bool IsStringLikeWkt(const gpb::Descriptor* d) {
  return d->full_name() == "google.protobuf.FieldMask" || d->full_name() == "google.protobuf.Timestamp" ||
         d->full_name() == "google.protobuf.Duration";
}

// Finds a field by proto name or JSON (lowerCamel) name.
const gpb::FieldDescriptor* FindField(const gpb::Descriptor* d, std::string_view name) {
  if (const gpb::FieldDescriptor* f = d->FindFieldByName(std::string(name))) return f;
  for (int i = 0; i < d->field_count(); ++i) {
    if (d->field(i)->json_name() == name) return d->field(i);
  }
  return nullptr;
}

// Converts `text` and sets (or, for a repeated field, adds) it to `field` of `msg`.
absl::Status SetScalar(gpb::Message* msg, const gpb::FieldDescriptor* field, std::string_view text,
                       std::string_view name) {
  const gpb::Reflection* r = msg->GetReflection();
  const bool rep = field->is_repeated();
  auto bad = [&](std::string_view) {
    return InvalidFieldError(name, absl::StrCat(DescribeExpected(field), " (got ", QuoteForError(text), ")"));
  };
  absl::string_view t = AsAbsl(text);
  switch (field->cpp_type()) {
    case gpb::FieldDescriptor::CPPTYPE_STRING: {
      std::string value(text);
      if (field->type() == gpb::FieldDescriptor::TYPE_BYTES) {
        if (!absl::WebSafeBase64Unescape(t, &value) && !absl::Base64Unescape(t, &value)) return bad("base64");
      } else if (!gpb::internal::IsStructurallyValidUTF8(value.data(), static_cast<int>(value.size()))) {
        return InvalidFieldError(name, "is not valid UTF-8");
      }
      rep ? r->AddString(msg, field, std::move(value)) : r->SetString(msg, field, std::move(value));
      return absl::OkStatus();
    }
    case gpb::FieldDescriptor::CPPTYPE_INT32: {
      int32_t v;
      if (!absl::SimpleAtoi(t, &v)) return bad("int32");
      rep ? r->AddInt32(msg, field, v) : r->SetInt32(msg, field, v);
      return absl::OkStatus();
    }
    case gpb::FieldDescriptor::CPPTYPE_INT64: {
      int64_t v;
      if (!absl::SimpleAtoi(t, &v)) return bad("int64");
      rep ? r->AddInt64(msg, field, v) : r->SetInt64(msg, field, v);
      return absl::OkStatus();
    }
    case gpb::FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v;
      if (!absl::SimpleAtoi(t, &v)) return bad("uint32");
      rep ? r->AddUInt32(msg, field, v) : r->SetUInt32(msg, field, v);
      return absl::OkStatus();
    }
    case gpb::FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v;
      if (!absl::SimpleAtoi(t, &v)) return bad("uint64");
      rep ? r->AddUInt64(msg, field, v) : r->SetUInt64(msg, field, v);
      return absl::OkStatus();
    }
    case gpb::FieldDescriptor::CPPTYPE_DOUBLE: {
      double v;
      if (!absl::SimpleAtod(t, &v)) return bad("double");
      rep ? r->AddDouble(msg, field, v) : r->SetDouble(msg, field, v);
      return absl::OkStatus();
    }
    case gpb::FieldDescriptor::CPPTYPE_FLOAT: {
      float v;
      if (!absl::SimpleAtof(t, &v)) return bad("float");
      rep ? r->AddFloat(msg, field, v) : r->SetFloat(msg, field, v);
      return absl::OkStatus();
    }
    case gpb::FieldDescriptor::CPPTYPE_BOOL: {
      bool v;
      if (text == "true") {
        v = true;
      } else if (text == "false") {
        v = false;
      } else {
        return bad("bool (true or false)");
      }
      rep ? r->AddBool(msg, field, v) : r->SetBool(msg, field, v);
      return absl::OkStatus();
    }
    case gpb::FieldDescriptor::CPPTYPE_ENUM: {
      const gpb::EnumValueDescriptor* v = field->enum_type()->FindValueByName(std::string(text));
      if (v == nullptr) return bad(field->enum_type()->full_name());
      rep ? r->AddEnum(msg, field, v) : r->SetEnum(msg, field, v);
      return absl::OkStatus();
    }
    case gpb::FieldDescriptor::CPPTYPE_MESSAGE: {
      const gpb::Descriptor* d = field->message_type();
      if (rep) break;
      if (IsWrapper(d)) {
        return SetScalar(r->MutableMessage(msg, field), d->FindFieldByName("value"), text, name);
      }
      if (IsStringLikeWkt(d)) {
        if (ParseJson(JsonQuote(text), r->MutableMessage(msg, field), name).ok()) return absl::OkStatus();
        return bad("");
      }
      break;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("field ", AsAbsl(name), " cannot be set from a path or query value"));
}

// True if the two messages (same type) hold the same value in singular `field`.
bool SameValue(const gpb::Message& a, const gpb::Message& b, const gpb::FieldDescriptor* f) {
  const gpb::Reflection* ra = a.GetReflection();
  const gpb::Reflection* rb = b.GetReflection();
  switch (f->cpp_type()) {
    case gpb::FieldDescriptor::CPPTYPE_STRING: return ra->GetString(a, f) == rb->GetString(b, f);
    case gpb::FieldDescriptor::CPPTYPE_INT32: return ra->GetInt32(a, f) == rb->GetInt32(b, f);
    case gpb::FieldDescriptor::CPPTYPE_INT64: return ra->GetInt64(a, f) == rb->GetInt64(b, f);
    case gpb::FieldDescriptor::CPPTYPE_UINT32: return ra->GetUInt32(a, f) == rb->GetUInt32(b, f);
    case gpb::FieldDescriptor::CPPTYPE_UINT64: return ra->GetUInt64(a, f) == rb->GetUInt64(b, f);
    case gpb::FieldDescriptor::CPPTYPE_DOUBLE: return ra->GetDouble(a, f) == rb->GetDouble(b, f);
    case gpb::FieldDescriptor::CPPTYPE_FLOAT: return ra->GetFloat(a, f) == rb->GetFloat(b, f);
    case gpb::FieldDescriptor::CPPTYPE_BOOL: return ra->GetBool(a, f) == rb->GetBool(b, f);
    case gpb::FieldDescriptor::CPPTYPE_ENUM: return ra->GetEnumValue(a, f) == rb->GetEnumValue(b, f);
    case gpb::FieldDescriptor::CPPTYPE_MESSAGE:
      return ra->GetMessage(a, f).SerializeAsString() == rb->GetMessage(b, f).SerializeAsString();
  }
  return false;
}

// Sets the path variable `dotted` (validated by Router::Build) to `value`; INVALID_ARGUMENT if the
// body already gave that field a different value.
absl::Status SetPathVariable(const RouteMatch& m, gpb::Message* req, const std::string& dotted,
                             std::string_view value) {
  gpb::Message* msg = req;
  std::vector<std::string> parts = absl::StrSplit(dotted, '.');
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const gpb::FieldDescriptor* f = msg->GetDescriptor()->FindFieldByName(parts[i]);
    msg = msg->GetReflection()->MutableMessage(msg, f, m.factory.get());
  }
  const gpb::FieldDescriptor* leaf = msg->GetDescriptor()->FindFieldByName(parts.back());
  if (msg->GetReflection()->HasField(*msg, leaf)) {
    std::unique_ptr<gpb::Message> scratch(msg->New());
    CRM_RETURN_IF_ERROR(SetScalar(scratch.get(), leaf, value, dotted));
    if (!SameValue(*msg, *scratch, leaf)) {
      return absl::InvalidArgumentError(absl::StrCat("field ", dotted, ": the path says ",
                                                     QuoteForError(value), " but the body differs"));
    }
    return absl::OkStatus();
  }
  return SetScalar(msg, leaf, value, dotted);
}

bool IsBlank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

// Parses the body into the body field `f` of `req`.
absl::Status ParseBodyField(const RouteMatch& m, std::string_view body, gpb::Message* req,
                            const gpb::FieldDescriptor* f) {
  if (!f->is_repeated() && f->cpp_type() == gpb::FieldDescriptor::CPPTYPE_MESSAGE) {
    return ParseJson(body, req->GetReflection()->MutableMessage(req, f, m.factory.get()), f->name());
  }
  // Scalars and repeated fields: parse {"<field>": body} into a scratch request and take the field,
  // refusing bodies that smuggle in other keys ("1, \"other\": 2").
  std::unique_ptr<gpb::Message> scratch(req->New());
  CRM_RETURN_IF_ERROR(ParseJson(absl::StrCat("{", JsonQuote(f->json_name()), ":", AsAbsl(body), "}"),
                                scratch.get(), ""));
  std::vector<const gpb::FieldDescriptor*> set;
  scratch->GetReflection()->ListFields(*scratch, &set);
  if (set.size() > 1 || (set.size() == 1 && set[0] != f)) {
    return InvalidFieldError(f->name(), "the body must be a single JSON value");
  }
  req->MergeFrom(*scratch);
  return absl::OkStatus();
}

// Appends the update-mask paths for the JSON object `obj` given for message type `d`.
void CollectMaskPaths(const gpb::Struct& obj, const gpb::Descriptor* d, const std::string& prefix,
                      std::vector<std::string>* out) {
  for (int i = 0; i < d->field_count(); ++i) {
    const gpb::FieldDescriptor* f = d->field(i);
    auto it = obj.fields().find(f->json_name());
    if (it == obj.fields().end()) it = obj.fields().find(f->name());
    if (it == obj.fields().end()) continue;
    std::string path = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    const gpb::Value& v = it->second;
    bool nested = !f->is_repeated() && f->cpp_type() == gpb::FieldDescriptor::CPPTYPE_MESSAGE &&
                  f->message_type()->full_name().rfind("google.protobuf.", 0) != 0 &&
                  v.kind_case() == gpb::Value::kStructValue && v.struct_value().fields_size() > 0;
    if (nested) {
      CollectMaskPaths(v.struct_value(), f->message_type(), path, out);
    } else {
      out->push_back(std::move(path));
    }
  }
}

// The single top-level FieldMask field of `d`, or null when there are none or several.
const gpb::FieldDescriptor* SoleFieldMask(const gpb::Descriptor* d) {
  const gpb::FieldDescriptor* found = nullptr;
  for (int i = 0; i < d->field_count(); ++i) {
    const gpb::FieldDescriptor* f = d->field(i);
    if (!f->is_repeated() && f->cpp_type() == gpb::FieldDescriptor::CPPTYPE_MESSAGE &&
        f->message_type()->full_name() == "google.protobuf.FieldMask") {
      if (found != nullptr) return nullptr;
      found = f;
    }
  }
  return found;
}

// Sets the mask field from the present keys of `body` (already known to parse as `body_field`).
absl::Status DeriveUpdateMask(const RouteMatch& m, std::string_view body, gpb::Message* req,
                              const gpb::FieldDescriptor* body_field, const gpb::FieldDescriptor* mask) {
  gpb::Struct obj;
  CRM_RETURN_IF_ERROR(ParseJson(body, &obj, ""));
  std::vector<std::string> paths;
  CollectMaskPaths(obj, body_field->message_type(), "", &paths);
  gpb::FieldMask fm;
  for (std::string& p : paths) fm.add_paths(std::move(p));
  gpb::Message* target = req->GetReflection()->MutableMessage(req, mask, m.factory.get());
  target->ParseFromString(fm.SerializeAsString());
  return absl::OkStatus();
}


absl::StatusOr<FieldPath> ResolveQueryKey(const RouteMatch& m, const std::string& key) {
  const gpb::Descriptor* d = m.method->input_type();
  FieldPath path;
  auto unknown = [&] {
    return absl::InvalidArgumentError(absl::StrCat("unknown query parameter ", QuoteForError(key)));
  };
  std::vector<absl::string_view> parts = absl::StrSplit(key, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    if (d == nullptr) return unknown();
    const gpb::FieldDescriptor* f = FindField(d, AsStd(parts[i]));
    if (f == nullptr) return unknown();
    path.push_back(f);
    bool last = i + 1 == parts.size();
    bool message = f->cpp_type() == gpb::FieldDescriptor::CPPTYPE_MESSAGE;
    if (f->is_repeated() && message) {
      return absl::InvalidArgumentError(absl::StrCat("query parameter ", QuoteForError(key),
                                                     ": repeated message field ", f->name(),
                                                     " cannot be set from the query"));
    }
    if (!last && (!message || f->is_repeated())) return unknown();
    d = message && !IsWrapper(f->message_type()) && !IsStringLikeWkt(f->message_type())
            ? f->message_type()
            : nullptr;
    if (last && d != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("query parameter ", QuoteForError(key), ": field ",
                                                     f->name(), " is a message; name one of its fields"));
    }
  }
  return path;
}

bool IsPrefix(const std::string& a, const std::string& b) {  // a is b or an ancestor of b
  return a == b || (b.size() > a.size() && b.compare(0, a.size(), a) == 0 && b[a.size()] == '.');
}

}  // namespace

absl::StatusOr<std::string> BuildRequest(const RouteMatch& m, std::string_view body,
                                         const std::vector<std::pair<std::string, std::string>>& query,
                                         const TranscodeLimits& limits, std::string_view content_type) {
  const Route& route = *m.route;
  const gpb::FieldDescriptor* http_body_field = nullptr;
  const bool raw = TakesHttpBody(*m.method, route.binding, &http_body_field);  // http_body.h
  const size_t max_body = raw ? std::min(limits.max_body_bytes, limits.max_http_body_bytes) : limits.max_body_bytes;
  if (body.size() > max_body) {
    return absl::ResourceExhaustedError(
        absl::StrCat("request body of ", body.size(), " bytes exceeds the limit of ", max_body));
  }
  const std::string& body_rule = route.binding.body();
  std::unique_ptr<gpb::Message> req = NewMessage(m, m.method->input_type());
  const bool has_body = !IsBlank(body);
  const gpb::FieldDescriptor* body_field =
      body_rule.empty() || body_rule == "*" ? nullptr : m.method->input_type()->FindFieldByName(body_rule);

  if (raw) {
    gpb::Message* target = http_body_field == nullptr
                               ? req.get()
                               : req->GetReflection()->MutableMessage(req.get(), http_body_field, m.factory.get());
    CRM_RETURN_IF_ERROR(SetHttpBody(target, body, content_type));
  } else if (has_body) {
    // Before any parser sees it: protobuf's JSON parser recurses per level (issue 15).
    CRM_RETURN_IF_ERROR(
        CheckJsonDepth(body, limits.max_json_depth, body_field != nullptr ? body_field->name() : ""));
    if (body_rule.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(route.http_method, " ", route.path.ToString(), " takes no request body"));
    }
    if (body_rule == "*") {
      CRM_RETURN_IF_ERROR(ParseJson(body, req.get(), ""));
    } else {
      CRM_RETURN_IF_ERROR(ParseBodyField(m, body, req.get(), body_field));
    }
  }

  for (const auto& [field, value] : m.variables) {
    CRM_RETURN_IF_ERROR(SetPathVariable(m, req.get(), field, value));
  }

  std::set<std::string> seen_singular;
  std::set<const gpb::FieldDescriptor*> query_top_level;
  for (const auto& [key, value] : query) {
    if (body_rule == "*") {
      return absl::InvalidArgumentError(absl::StrCat("query parameter ", QuoteForError(key),
                                                     " not allowed: the body carries every field"));
    }
    CRM_ASSIGN_OR_RETURN(FieldPath path, ResolveQueryKey(m, key));
    std::string dotted = PathString(path);
    if (body_field != nullptr && path[0] == body_field) {
      return absl::InvalidArgumentError(absl::StrCat("query parameter ", QuoteForError(key),
                                                     ": field ", dotted, " is bound by the body"));
    }
    for (const auto& [var, unused] : m.variables) {
      if (IsPrefix(var, dotted) || IsPrefix(dotted, var)) {
        return absl::InvalidArgumentError(absl::StrCat("query parameter ", QuoteForError(key),
                                                       ": field ", dotted, " is bound by the path"));
      }
    }
    if (!path.back()->is_repeated() && !seen_singular.insert(dotted).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("query parameter ", QuoteForError(key), " given more than once"));
    }
    query_top_level.insert(path[0]);
    gpb::Message* msg = req.get();
    for (size_t i = 0; i + 1 < path.size(); ++i) {
      msg = msg->GetReflection()->MutableMessage(msg, path[i], m.factory.get());
    }
    CRM_RETURN_IF_ERROR(SetScalar(msg, path.back(), value, dotted));
  }

  if (has_body && route.http_method == "PATCH" && body_field != nullptr &&
      body_field->cpp_type() == gpb::FieldDescriptor::CPPTYPE_MESSAGE && !body_field->is_repeated()) {
    const gpb::FieldDescriptor* mask = SoleFieldMask(m.method->input_type());
    if (mask != nullptr && mask != body_field && query_top_level.count(mask) == 0) {
      CRM_RETURN_IF_ERROR(DeriveUpdateMask(m, body, req.get(), body_field, mask));
    }
  }
  return req->SerializeAsString();
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQueryString(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  for (absl::string_view piece : absl::StrSplit(AsAbsl(query), '&', absl::SkipEmpty())) {
    std::string raw(piece);
    std::replace(raw.begin(), raw.end(), '+', ' ');
    size_t eq = raw.find('=');
    std::string_view key_raw = std::string_view(raw).substr(0, eq);
    std::string_view value_raw = eq == std::string::npos ? std::string_view() : std::string_view(raw).substr(eq + 1);
    if (key_raw.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("query parameter without a name: ", QuoteForError(raw)));
    }
    absl::StatusOr<std::string> key = PercentDecode(key_raw);
    absl::StatusOr<std::string> value = PercentDecode(value_raw);
    if (!key.ok() || !value.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("query parameter ", QuoteForError(raw),
                                                     ": bad percent-encoding"));
    }
    out.emplace_back(*std::move(key), *std::move(value));
  }
  return out;
}

absl::StatusOr<std::string> ResponseToJson(const RouteMatch& m, std::string_view serialized_response,
                                           const TranscodeLimits& limits) {
  if (serialized_response.size() > limits.max_response_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("response of ", serialized_response.size(),
                                                     " bytes exceeds the limit of ", limits.max_response_bytes));
  }
  std::unique_ptr<gpb::Message> resp = NewMessage(m, m.method->output_type());
  if (!resp->ParseFromArray(serialized_response.data(), static_cast<int>(serialized_response.size()))) {
    return absl::InternalError(absl::StrCat("response of ", m.method->full_name(), " does not parse as ",
                                            m.method->output_type()->full_name()));
  }
  // PrintJson: MessageToJsonString's bytes and errors, without its binary round trip (json_print.h).
  auto print = [&](const gpb::Message& msg, const gpb::util::JsonPrintOptions& opts) -> absl::StatusOr<std::string> {
    std::string out;
    out.reserve(std::min<size_t>(serialized_response.size() * 2 + 16, size_t{1} << 20));
    absl::Status s = PrintJson(msg, opts, &out);
    if (!s.ok()) return absl::InternalError(absl::StrCat("response to JSON: ", s.message()));
    return out;
  };
  const std::string& rb = m.route->binding.response_body();
  if (rb.empty()) return print(*resp, JsonOutputOptions());
  const gpb::FieldDescriptor* f = m.method->output_type()->FindFieldByName(rb);
  const gpb::Reflection* r = resp->GetReflection();
  if (!f->is_repeated() && f->cpp_type() == gpb::FieldDescriptor::CPPTYPE_MESSAGE) {
    return print(r->GetMessage(*resp, f, m.factory.get()), JsonOutputOptions());
  }
  // Keep only `f`, print without defaults, and cut the value out of {"<json_name>":<value>}.
  std::vector<const gpb::FieldDescriptor*> set;
  r->ListFields(*resp, &set);
  for (const gpb::FieldDescriptor* other : set) {
    if (other != f) r->ClearField(resp.get(), other);
  }
  gpb::util::JsonPrintOptions opts = JsonOutputOptions();
  opts.always_print_primitive_fields = false;
  CRM_ASSIGN_OR_RETURN(std::string json, print(*resp, opts));
  std::string prefix = absl::StrCat("{", JsonQuote(f->json_name()), ":");
  if (json.size() > prefix.size() && json.compare(0, prefix.size(), prefix) == 0 && json.back() == '}') {
    return json.substr(prefix.size(), json.size() - prefix.size() - 1);
  }
  if (f->is_repeated()) return f->is_map() ? std::string("{}") : std::string("[]");
  switch (f->cpp_type()) {
    case gpb::FieldDescriptor::CPPTYPE_STRING: return std::string("\"\"");
    case gpb::FieldDescriptor::CPPTYPE_BOOL: return std::string("false");
    case gpb::FieldDescriptor::CPPTYPE_INT64:
    case gpb::FieldDescriptor::CPPTYPE_UINT64: return std::string("\"0\"");
    case gpb::FieldDescriptor::CPPTYPE_ENUM: return JsonQuote(f->default_value_enum()->name());
    default: return std::string("0");
  }
}

}  // namespace crm::gateway
