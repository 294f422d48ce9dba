// File: services/gateway/openapi/openapi.cc
// The OpenAPI document of the gateway's routes (see openapi.h).
#include "services/gateway/openapi/openapi.h"

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "nlohmann/json.hpp"
#include "services/gateway/transcode/http_body.h"
#include "services/gateway/transcode/path_template.h"
#include "services/gateway/transcode/router.h"

namespace crm::gateway {
namespace {

namespace pb = google::protobuf;
using Json = nlohmann::ordered_json;

constexpr char kSchemas[] = "#/components/schemas/";
constexpr char kErrorSchema[] = "Error";
constexpr char kGatewayTag[] = "Gateway";

// OpenAPI's operation kinds, in the order the specification lists them (the order of a path item).
constexpr const char* kOperationOrder[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};

int OperationRank(const std::string& method) {
  for (size_t i = 0; i < std::size(kOperationOrder); ++i) {
    if (method == kOperationOrder[i]) return static_cast<int>(i);
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------------
// Comments.

// Returns the comment attached to `d` (leading, else trailing), one space of comment indentation
// removed from each line, without surrounding blank lines.
template <typename D>
std::string Comment(const D* d) {
  pb::SourceLocation loc;
  if (d == nullptr || !d->GetSourceLocation(&loc)) return "";
  const std::string& raw = !loc.leading_comments.empty() ? loc.leading_comments : loc.trailing_comments;
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(raw, '\n')) {
    if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    lines.emplace_back(absl::StripTrailingAsciiWhitespace(line));
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  size_t first = 0;
  while (first < lines.size() && lines[first].empty()) ++first;
  lines.erase(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(first));
  return absl::StrJoin(lines, "\n");
}

// Returns the first sentence of `comment` (up to the first '.' followed by white space, or the first
// blank line), on one line.
std::string Summary(const std::string& comment) {
  std::string text;
  for (absl::string_view line : absl::StrSplit(comment, '\n')) {
    if (absl::StripAsciiWhitespace(line).empty()) break;
    if (!text.empty()) text += ' ';
    text += std::string(absl::StripAsciiWhitespace(line));
  }
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] == '.' && text[i + 1] == ' ') return text.substr(0, i + 1);
  }
  return text;
}

// "ListApiKeys" -> "List api keys": the summary of an operation without a comment.
std::string SplitCamelCase(const std::string& name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (i > 0 && absl::ascii_isupper(c)) {
      out += ' ';
      out += absl::ascii_tolower(c);
    } else {
      out += c;
    }
  }
  return out;
}

// Joins the non-empty parts with a blank line.
std::string Paragraphs(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += "\n\n";
    out += p;
  }
  return out;
}

void SetDescription(Json& schema, const std::string& description) {
  if (!description.empty()) schema["description"] = description;
}

// ---------------------------------------------------------------------------------------------------
// Schemas (proto3 JSON mapping, as printed with json_policy.h).

Json ScalarSchema(pb::FieldDescriptor::Type type) {
  switch (type) {
    case pb::FieldDescriptor::TYPE_INT32:
    case pb::FieldDescriptor::TYPE_SINT32:
    case pb::FieldDescriptor::TYPE_SFIXED32:
      return Json{{"type", "integer"}, {"format", "int32"}};
    case pb::FieldDescriptor::TYPE_UINT32:
    case pb::FieldDescriptor::TYPE_FIXED32:
      return Json{{"type", "integer"}, {"format", "int64"}, {"minimum", 0}, {"maximum", 4294967295LL}};
    case pb::FieldDescriptor::TYPE_INT64:
    case pb::FieldDescriptor::TYPE_SINT64:
    case pb::FieldDescriptor::TYPE_SFIXED64:
      return Json{{"type", "string"}, {"format", "int64"}, {"pattern", "^-?[0-9]+$"}};
    case pb::FieldDescriptor::TYPE_UINT64:
    case pb::FieldDescriptor::TYPE_FIXED64:
      return Json{{"type", "string"}, {"format", "uint64"}, {"pattern", "^[0-9]+$"}};
    case pb::FieldDescriptor::TYPE_FLOAT:
      return Json{{"type", "number"}, {"format", "float"}};
    case pb::FieldDescriptor::TYPE_DOUBLE:
      return Json{{"type", "number"}, {"format", "double"}};
    case pb::FieldDescriptor::TYPE_BOOL:
      return Json{{"type", "boolean"}};
    case pb::FieldDescriptor::TYPE_BYTES:
      return Json{{"type", "string"}, {"format", "byte"}};
    case pb::FieldDescriptor::TYPE_STRING:
    default:
      return Json{{"type", "string"}};
  }
}

// The inline schema of a well-known type (google/protobuf/*.proto), or nullopt for other messages.
std::optional<Json> WellKnownSchema(const pb::Descriptor* d) {
  const std::string& n = d->full_name();
  if (n.rfind("google.protobuf.", 0) != 0) return std::nullopt;
  const std::string name = n.substr(std::string("google.protobuf.").size());
  if (name == "Timestamp") {
    return Json{{"type", "string"}, {"format", "date-time"},
                {"description", "RFC 3339 UTC time, e.g. \"2026-01-31T09:30:00Z\"."}};
  }
  if (name == "Duration") {
    return Json{{"type", "string"}, {"pattern", "^-?[0-9]+(\\.[0-9]{1,9})?s$"},
                {"description", "Seconds with up to 9 fractional digits and an \"s\" suffix, e.g. \"1.5s\"."}};
  }
  if (name == "FieldMask") {
    return Json{{"type", "string"},
                {"description", "Comma-separated lowerCamel field paths, e.g. \"displayName,owner.email\"."}};
  }
  if (name == "Empty") return Json{{"type", "object"}};
  if (name == "Struct") return Json{{"type", "object"}, {"additionalProperties", true}};
  if (name == "Value") return Json{{"description", "Any JSON value."}};
  if (name == "ListValue") return Json{{"type", "array"}, {"items", Json::object()}};
  if (name == "Any") {
    return Json{{"type", "object"},
                {"required", Json::array({"@type"})},
                {"properties", {{"@type", {{"type", "string"}, {"description", "The type URL of the value."}}}}},
                {"additionalProperties", true},
                {"description", "A message of the type named by \"@type\", in the proto3 JSON mapping."}};
  }
  static const std::map<std::string, pb::FieldDescriptor::Type> kWrappers = {
      {"DoubleValue", pb::FieldDescriptor::TYPE_DOUBLE}, {"FloatValue", pb::FieldDescriptor::TYPE_FLOAT},
      {"Int64Value", pb::FieldDescriptor::TYPE_INT64},   {"UInt64Value", pb::FieldDescriptor::TYPE_UINT64},
      {"Int32Value", pb::FieldDescriptor::TYPE_INT32},   {"UInt32Value", pb::FieldDescriptor::TYPE_UINT32},
      {"BoolValue", pb::FieldDescriptor::TYPE_BOOL},     {"StringValue", pb::FieldDescriptor::TYPE_STRING},
      {"BytesValue", pb::FieldDescriptor::TYPE_BYTES}};
  if (auto it = kWrappers.find(name); it != kWrappers.end()) {
    Json s = ScalarSchema(it->second);
    s["nullable"] = true;
    return s;
  }
  return std::nullopt;
}

// Well-known message types a query parameter can carry (their JSON form is one string or value).
bool IsQueryableWellKnown(const pb::Descriptor* d) {
  const std::string& n = d->full_name();
  return n == "google.protobuf.Timestamp" || n == "google.protobuf.Duration" ||
         n == "google.protobuf.FieldMask" ||
         (n.rfind("google.protobuf.", 0) == 0 && n.size() > 5 && n.compare(n.size() - 5, 5, "Value") == 0 &&
          n != "google.protobuf.Value" && n != "google.protobuf.ListValue");
}

// The int64 `version` field the gateway maps to ETag / If-Match (gateway.cc VersionField), or nullptr.
const pb::FieldDescriptor* VersionField(const pb::Descriptor* type) {
  if (type == nullptr) return nullptr;
  const pb::FieldDescriptor* f = type->FindFieldByName("version");
  if (f == nullptr || f->is_repeated() || f->type() != pb::FieldDescriptor::TYPE_INT64) return nullptr;
  return f;
}

// Wraps a `$ref` in allOf so that sibling keywords (description) are not ignored (OpenAPI 3.0).
Json WithDescription(Json schema, const std::string& description) {
  if (description.empty()) return schema;
  if (schema.contains("$ref")) return Json{{"allOf", Json::array({std::move(schema)})}, {"description", description}};
  if (schema.contains("description")) {
    schema["description"] = Paragraphs({description, schema["description"].get<std::string>()});
  } else {
    schema["description"] = description;
  }
  return schema;
}

std::string RegexEscape(const std::string& literal) {
  std::string out;
  for (char c : literal) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

// One piece of an OpenAPI path: a literal run or a parameter.
struct PathPiece {
  bool is_param = false;
  std::string text;                 // the literal, for !is_param
  const PathVariable* var = nullptr;  // the variable, or nullptr for an anonymous wildcard
  std::vector<PathSegment> captured;  // the segments the parameter covers
};

std::vector<PathPiece> SplitPath(const PathTemplate& t) {
  std::vector<PathPiece> pieces;
  auto add_literal = [&](const std::string& s) {
    if (!pieces.empty() && !pieces.back().is_param) {
      pieces.back().text += s;
    } else {
      pieces.push_back(PathPiece{.text = s});
    }
  };
  size_t v = 0;
  for (size_t i = 0; i < t.segments.size();) {
    add_literal("/");
    if (v < t.variables.size() && t.variables[v].begin == i) {
      const PathVariable& var = t.variables[v++];
      PathPiece p{.is_param = true, .var = &var};
      p.captured.assign(t.segments.begin() + static_cast<std::ptrdiff_t>(var.begin),
                        t.segments.begin() + static_cast<std::ptrdiff_t>(var.end));
      pieces.push_back(std::move(p));
      i = var.end;
      continue;
    }
    const PathSegment& s = t.segments[i++];
    if (s.kind == PathSegment::Kind::kLiteral) {
      add_literal(s.literal);
    } else {
      pieces.push_back(PathPiece{.is_param = true, .captured = {s}});
    }
  }
  if (!t.verb.empty()) add_literal(":" + t.verb);
  return pieces;
}

std::string OpenApiPath(const std::vector<PathPiece>& pieces, const std::vector<std::string>& names) {
  std::string out;
  size_t n = 0;
  for (const PathPiece& p : pieces) out += p.is_param ? absl::StrCat("{", names[n++], "}") : p.text;
  return out;
}

// ---------------------------------------------------------------------------------------------------

struct ServiceNames {
  std::string tag;      // the service's short name, or its full name when two services share it
  std::string op_prefix;  // tag with '.' replaced by '_'
};

class Generator {
 public:
  explicit Generator(const OpenApiOptions& options) : options_(options) {
    public_.insert(options.public_methods.begin(), options.public_methods.end());
  }

  absl::StatusOr<Json> Build(const std::vector<Route>& routes);

 private:
  // References a component of `kind` ("responses", "parameters", "headers") and records its use.
  Json Ref(const std::string& kind, const std::string& name) {
    used_[kind].insert(name);
    return Json{{"$ref", absl::StrCat("#/components/", kind, "/", name)}};
  }
  Json MessageSchemaRef(const pb::Descriptor* d) {
    if (std::optional<Json> wk = WellKnownSchema(d); wk.has_value()) return *wk;
    messages_.emplace(d->full_name(), d);
    return Json{{"$ref", kSchemas + d->full_name()}};
  }
  Json EnumSchemaRef(const pb::EnumDescriptor* e) {
    if (e->full_name() == "google.protobuf.NullValue") return Json{{"description", "Always null."}};
    enums_.emplace(e->full_name(), e);
    return Json{{"$ref", kSchemas + e->full_name()}};
  }
  // The schema of one value of `f` (an element, for repeated fields).
  Json ValueSchema(const pb::FieldDescriptor* f) {
    switch (f->type()) {
      case pb::FieldDescriptor::TYPE_MESSAGE:
      case pb::FieldDescriptor::TYPE_GROUP:
        return MessageSchemaRef(f->message_type());
      case pb::FieldDescriptor::TYPE_ENUM:
        return EnumSchemaRef(f->enum_type());
      default:
        return ScalarSchema(f->type());
    }
  }
  std::string FieldDescription(const pb::FieldDescriptor* f) {
    std::string oneof;
    if (const pb::OneofDescriptor* o = f->real_containing_oneof(); o != nullptr) {
      std::vector<std::string> members;
      for (int i = 0; i < o->field_count(); ++i) members.push_back(absl::StrCat("`", o->field(i)->json_name(), "`"));
      oneof = absl::StrCat("Member of oneof `", o->name(), "`: at most one of ", absl::StrJoin(members, ", "),
                           " is set.");
    }
    return Paragraphs({Comment(f), oneof});
  }
  // The schema of field `f` as a property (arrays and maps included), with its description.
  Json FieldSchema(const pb::FieldDescriptor* f) {
    Json s;
    if (f->is_map()) {
      const pb::FieldDescriptor* key = f->message_type()->map_key();
      s = Json{{"type", "object"}, {"additionalProperties", ValueSchema(f->message_type()->map_value())}};
      std::string keys;
      if (key->type() != pb::FieldDescriptor::TYPE_STRING) {
        keys = absl::StrCat("Map keys are ", key->type_name(), " values written as JSON strings.");
      }
      return WithDescription(std::move(s), Paragraphs({FieldDescription(f), keys}));
    }
    if (f->is_repeated()) {
      s = Json{{"type", "array"}, {"items", ValueSchema(f)}};
    } else {
      s = ValueSchema(f);
    }
    return WithDescription(std::move(s), FieldDescription(f));
  }
  // The object schema of `d`, without the fields at the (proto name) paths in `excluded`.
  Json MessageSchema(const pb::Descriptor* d, const std::set<std::string>& excluded) {
    Json s{{"type", "object"}};
    std::vector<std::string> oneofs;
    for (int i = 0; i < d->real_oneof_decl_count(); ++i) {
      const pb::OneofDescriptor* o = d->oneof_decl(i);  // real oneofs come before synthetic ones
      std::vector<std::string> members;
      for (int j = 0; j < o->field_count(); ++j) members.push_back(absl::StrCat("`", o->field(j)->json_name(), "`"));
      oneofs.push_back(absl::StrCat("Oneof `", o->name(), "`: at most one of ", absl::StrJoin(members, ", "),
                                    " is set."));
    }
    SetDescription(s, Paragraphs({Comment(d), absl::StrJoin(oneofs, "\n")}));
    Json props = Json::object();
    for (int i = 0; i < d->field_count(); ++i) {
      const pb::FieldDescriptor* f = d->field(i);
      if (excluded.count(f->name()) > 0) continue;
      std::set<std::string> nested;
      const std::string prefix = f->name() + ".";
      for (const std::string& e : excluded) {
        if (e.rfind(prefix, 0) == 0) nested.insert(e.substr(prefix.size()));
      }
      if (!nested.empty() && f->message_type() != nullptr && !f->is_repeated() &&
          !WellKnownSchema(f->message_type()).has_value()) {
        props[f->json_name()] = WithDescription(MessageSchema(f->message_type(), nested), FieldDescription(f));
      } else {
        props[f->json_name()] = FieldSchema(f);
      }
    }
    if (!props.empty()) s["properties"] = std::move(props);
    return s;
  }
  Json EnumSchema(const pb::EnumDescriptor* e) {
    Json names = Json::array();
    std::vector<std::string> docs;
    for (int i = 0; i < e->value_count(); ++i) {
      const pb::EnumValueDescriptor* v = e->value(i);
      names.push_back(v->name());
      std::string c = Comment(v);
      absl::StrReplaceAll({{"\n", " "}}, &c);
      docs.push_back(c.empty() ? absl::StrCat("- `", v->name(), "`") : absl::StrCat("- `", v->name(), "`: ", c));
    }
    Json s{{"type", "string"}, {"enum", std::move(names)}};
    SetDescription(s, Paragraphs({Comment(e), absl::StrJoin(docs, "\n")}));
    return s;
  }

  // Adds a query parameter for every leaf field under `d` not in `skip` (proto paths), recursing into
  // singular messages (`stack` guards against recursive types).
  void CollectQuery(const pb::Descriptor* d, const std::string& proto_prefix, const std::string& json_prefix,
                    const std::set<std::string>& skip, std::vector<const pb::Descriptor*>& stack, Json& params) {
    for (int i = 0; i < d->field_count(); ++i) {
      const pb::FieldDescriptor* f = d->field(i);
      const std::string proto_path = proto_prefix + f->name();
      const std::string json_path = json_prefix + f->json_name();
      if (skip.count(proto_path) > 0 || f->is_map()) continue;
      const pb::Descriptor* m = f->message_type();
      if (m != nullptr && !IsQueryableWellKnown(m)) {
        if (f->is_repeated() || WellKnownSchema(m).has_value()) continue;  // not settable from a query
        bool recursive = false;
        for (const pb::Descriptor* s : stack) recursive = recursive || s == m;
        if (recursive) continue;
        stack.push_back(m);
        CollectQuery(m, proto_path + ".", json_path + ".", skip, stack, params);
        stack.pop_back();
        continue;
      }
      if (m != nullptr && f->is_repeated()) continue;  // repeated messages are refused by the transcoder
      Json p{{"name", json_path}, {"in", "query"}, {"required", false}};
      SetDescription(p, FieldDescription(f));
      if (f->is_repeated()) {
        p["style"] = "form";
        p["explode"] = true;
        p["schema"] = Json{{"type", "array"}, {"items", ValueSchema(f)}};
      } else {
        p["schema"] = ValueSchema(f);
      }
      params.push_back(std::move(p));
    }
  }

  absl::StatusOr<Json> Operation(const Route& route, const ServiceNames& names, int binding_index,
                                 const std::vector<PathPiece>& pieces, const std::vector<std::string>& param_names);
  Json ErrorResponses(bool if_match, bool has_body);
  void AddGatewayEndpoints(std::map<std::string, std::map<int, Json>>& paths);
  Json Components();

  const OpenApiOptions& options_;
  std::set<std::string> public_;
  std::map<std::string, const pb::Descriptor*> messages_;
  std::map<std::string, const pb::EnumDescriptor*> enums_;
  std::map<std::string, std::set<std::string>> used_;
};

absl::StatusOr<Json> Generator::Operation(const Route& route, const ServiceNames& names, int binding_index,
                                          const std::vector<PathPiece>& pieces,
                                          const std::vector<std::string>& param_names) {
  const pb::MethodDescriptor* method = route.method;
  const pb::Descriptor* input = method->input_type();
  const pb::Descriptor* output = method->output_type();
  const std::string& body = route.binding.body();
  Json op = Json::object();
  op["tags"] = Json::array({names.tag});
  const std::string comment = Comment(method);
  op["summary"] = comment.empty() ? SplitCamelCase(method->name()) : Summary(comment);
  std::string binding_note;
  if (binding_index > 0) {
    binding_note = absl::StrCat("Additional binding ", binding_index, " of `", method->full_name(), "`.");
  }
  // The description adds what the summary does not already say.
  SetDescription(op, Paragraphs({comment == Summary(comment) ? "" : comment, binding_note}));
  op["operationId"] = binding_index == 0 ? absl::StrCat(names.op_prefix, "_", method->name())
                                         : absl::StrCat(names.op_prefix, "_", method->name(), "_", binding_index);
  op["x-grpc-method"] = method->full_name();

  // Path parameters, in template order.
  Json params = Json::array();
  std::set<std::string> path_bound;
  size_t n = 0;
  for (const PathPiece& piece : pieces) {
    if (!piece.is_param) continue;
    const std::string& name = param_names[n++];
    Json p{{"name", name}, {"in", "path"}, {"required", true}};
    const bool multi = piece.captured.size() != 1 || piece.captured[0].kind != PathSegment::Kind::kSingle;
    std::string field_note;
    Json schema;
    if (piece.var != nullptr) {
      const std::string field_path = piece.var->FieldPathString();
      path_bound.insert(field_path);
      const pb::FieldDescriptor* leaf = nullptr;
      const pb::Descriptor* d = input;
      for (const std::string& part : piece.var->field_path) {
        leaf = d == nullptr ? nullptr : d->FindFieldByName(part);
        if (leaf == nullptr) {
          return absl::InvalidArgumentError(
              absl::StrCat(method->full_name(), ": path variable ", field_path, " names no field"));
        }
        d = leaf->message_type();
      }
      field_note = Comment(leaf);
      if (name != field_path) field_note = Paragraphs({absl::StrCat("Sets request field `", field_path, "`."), field_note});
      schema = multi ? Json{{"type", "string"}} : ValueSchema(leaf);
    } else {
      field_note = "A path segment the method does not receive.";
      schema = Json{{"type", "string"}};
    }
    if (multi) {
      std::vector<std::string> parts;
      std::vector<std::string> shown;
      for (const PathSegment& s : piece.captured) {
        switch (s.kind) {
          case PathSegment::Kind::kLiteral:
            parts.push_back(RegexEscape(s.literal));
            shown.push_back(s.literal);
            break;
          case PathSegment::Kind::kSingle:
            parts.push_back("[^/]+");
            shown.push_back("*");
            break;
          case PathSegment::Kind::kMulti:
            parts.push_back(".*");
            shown.push_back("**");
            break;
        }
      }
      schema["pattern"] = absl::StrCat("^", absl::StrJoin(parts, "/"), "$");
      field_note = Paragraphs(
          {field_note, absl::StrCat("Captures the path segments `", absl::StrJoin(shown, "/"),
                                    "`; send its '/' separators unescaped (`%2F` stays part of a segment).")});
    }
    SetDescription(p, field_note);
    if (piece.var != nullptr) p["x-field-path"] = piece.var->FieldPathString();
    p["schema"] = std::move(schema);
    params.push_back(std::move(p));
  }

  // Headers.
  if (route.http_method == "POST") params.push_back(Ref("parameters", "IdempotencyKey"));
  if (route.http_method == "POST" || route.http_method == "PATCH" || route.http_method == "PUT" ||
      route.http_method == "DELETE") {
    params.push_back(Ref("parameters", "SkipAutomation"));
  }
  bool if_match = false;
  if (!body.empty() && body != "*") {
    const pb::FieldDescriptor* holder = input->FindFieldByName(body);
    if_match = holder != nullptr && !holder->is_repeated() && VersionField(holder->message_type()) != nullptr;
  }
  if_match = if_match || VersionField(input) != nullptr;
  if (if_match) params.push_back(Ref("parameters", "IfMatch"));

  // Query parameters: every field not bound by the path or the body.
  if (body != "*") {
    std::set<std::string> skip = path_bound;
    if (!body.empty()) skip.insert(body);
    std::vector<const pb::Descriptor*> stack = {input};
    CollectQuery(input, "", "", skip, stack, params);
  }
  if (!params.empty()) op["parameters"] = std::move(params);

  // Request body.
  if (!body.empty()) {
    Json schema;
    std::string note;
    std::string media = "application/json";
    if (TakesHttpBody(*method, route.binding)) {  // transcode/http_body.h: the raw bytes, not JSON
      schema = Json{{"type", "string"}, {"format", "binary"}};
      media = "*/*";
      note = absl::StrCat("The raw body and its Content-Type (`google.api.HttpBody`",
                          body == "*" ? "" : absl::StrCat(" field `", body, "`"), " of `", input->full_name(), "`).");
    } else if (body == "*") {
      schema = path_bound.empty() ? MessageSchemaRef(input) : MessageSchema(input, path_bound);
      if (!path_bound.empty()) {
        std::vector<std::string> quoted;
        for (const std::string& f : path_bound) quoted.push_back(absl::StrCat("`", f, "`"));
        note = absl::StrCat("The request message `", input->full_name(), "` without the fields set by the path (",
                            absl::StrJoin(quoted, ", "), ").");
      } else {
        note = absl::StrCat("The request message `", input->full_name(), "`.");
      }
    } else {
      const pb::FieldDescriptor* f = input->FindFieldByName(body);
      if (f == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(method->full_name(), ": body names no field: ", body));
      }
      schema = FieldSchema(f);
      note = absl::StrCat("The field `", body, "` of `", input->full_name(), "`.");
    }
    // The transcoder takes a blank body as an empty message: the body is optional.
    op["requestBody"] = Json{{"description", note},
                             {"required", false},
                             {"content", {{media, {{"schema", std::move(schema)}}}}}};
  }

  // Responses.
  // A google.api.HttpBody reply (transcode/http_body.h) is raw bytes of its own type, not a JSON message.
  const bool raw = AnswersHttpBody(*method, route.binding);
  Json ok_headers = Json{{"X-Request-Id", Ref("headers", "XRequestId")}};
  if (!raw && VersionField(output) != nullptr) ok_headers["ETag"] = Ref("headers", "ETag");
  Json ok_schema;
  std::string ok_media = "application/json";
  const std::string& response_body = route.binding.response_body();
  if (raw) {
    ok_schema = Json{{"type", "string"}, {"format", "binary"}};
    ok_media = "*/*";
  } else if (response_body.empty()) {
    ok_schema = MessageSchemaRef(output);
  } else {
    const pb::FieldDescriptor* f = output->FindFieldByName(response_body);
    if (f == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(method->full_name(), ": response_body names no field: ", response_body));
    }
    ok_schema = FieldSchema(f);
  }
  std::string ok_description = Summary(Comment(output));
  if (raw) {
    ok_description = absl::StrCat(
        "The raw bytes (`data`) of the `google.api.HttpBody`",
        response_body.empty() ? "" : absl::StrCat(" field `", response_body, "` of `", output->full_name(), "`"),
        ", its `content_type` as the Content-Type (application/octet-stream when empty); not JSON.");
  } else if (!response_body.empty()) {
    ok_description = absl::StrCat("The field `", response_body, "` of `", output->full_name(), "`.");
  }
  if (ok_description.empty()) ok_description = absl::StrCat("`", output->full_name(), "`.");
  Json responses = Json{{"200",
                         {{"description", ok_description},
                          {"headers", std::move(ok_headers)},
                          {"content", {{ok_media, {{"schema", std::move(ok_schema)}}}}}}}};
  responses.update(ErrorResponses(if_match, !body.empty()));
  op["responses"] = std::move(responses);
  if (public_.count(method->full_name()) > 0) op["security"] = Json::array();
  return op;
}

Json Generator::ErrorResponses(bool if_match, bool has_body) {
  Json r = Json::object();
  r["400"] = Ref("responses", "BadRequest");
  r["401"] = Ref("responses", "Unauthorized");
  r["403"] = Ref("responses", "Forbidden");
  r["404"] = Ref("responses", "NotFound");
  r["409"] = Ref("responses", "Conflict");
  if (if_match) r["412"] = Ref("responses", "PreconditionFailed");
  if (has_body) r["413"] = Ref("responses", "PayloadTooLarge");
  r["429"] = Ref("responses", "TooManyRequests");
  r["431"] = Ref("responses", "HeadersTooLarge");
  r["503"] = Ref("responses", "Unavailable");
  r["504"] = Ref("responses", "GatewayTimeout");
  r["default"] = Ref("responses", "Error");
  return r;
}

void Generator::AddGatewayEndpoints(std::map<std::string, std::map<int, Json>>& paths) {
  const int get = OperationRank("get");
  auto probe = [&](const std::string& id, const std::string& summary, const std::string& description) {
    Json status_schema{{"type", "object"},
                       {"required", Json::array({"status"})},
                       {"properties", {{"status", {{"type", "string"}, {"enum", Json::array({"ok"})}}}}}};
    return Json{{"tags", Json::array({kGatewayTag})},
                {"summary", summary},
                {"description", description},
                {"operationId", id},
                {"responses",
                 {{"200",
                   {{"description", "Serving."},
                    {"headers", {{"X-Request-Id", Ref("headers", "XRequestId")}}},
                    {"content", {{"application/json", {{"schema", std::move(status_schema)}}}}}}},
                  {"431", Ref("responses", "HeadersTooLarge")},
                  {"503", Ref("responses", "Unavailable")},
                  {"default", Ref("responses", "Error")}}},
                {"security", Json::array()}};
  };
  paths["/healthz"][get] = probe("Gateway_Healthz", "Liveness probe.",
                                 "200 while the gateway serves; 503 once it is shutting down. Not rate limited.");
  paths["/readyz"][get] = probe("Gateway_Readyz", "Readiness probe.",
                                "200 when the gateway is ready to serve traffic, 503 otherwise (also once it is "
                                "shutting down). Not rate limited.");
  Json stream_params = Json::array();
  stream_params.push_back(Json{{"name", "access_token"},
                               {"in", "query"},
                               {"required", false},
                               {"description",
                                "The access token, for clients that cannot set an Authorization header "
                                "(browsers' EventSource)."},
                               {"schema", {{"type", "string"}}}});
  stream_params.push_back(Json{{"name", "Last-Event-ID"},
                               {"in", "header"},
                               {"required", false},
                               {"description",
                                "The `id` of the last event received: the stream resumes after it without gap "
                                "or duplicate, or starts with `event: reset` when it cannot."},
                               {"schema", {{"type", "string"}}}});
  paths["/v1/stream"][get] = Json{
      {"tags", Json::array({kGatewayTag})},
      {"summary", "Live stream of the events the caller may see (Server-Sent Events)."},
      {"description",
       "Each SSE message has an `id:` (the stream position, for Last-Event-ID), an `event:` (the event "
       "type) and one line of JSON `data:` {\"id\",\"type\",\"source\",\"subject\",\"time\",\"actor\","
       "\"requestId\",\"payload\"} with the payload in the proto3 JSON mapping. Id-only messages move the "
       "position while nothing visible happens; `: heartbeat` comments keep the connection open."},
      {"operationId", "Gateway_Stream"},
      {"parameters", std::move(stream_params)},
      {"responses",
       {{"200",
         {{"description", "The event stream; it stays open until the client leaves or the gateway stops."},
          {"headers", {{"X-Request-Id", Ref("headers", "XRequestId")}}},
          {"content", {{"text/event-stream", {{"schema", {{"type", "string"}}}}}}}}},
        {"400", Ref("responses", "BadRequest")},
        {"401", Ref("responses", "Unauthorized")},
        {"429", Ref("responses", "TooManyRequests")},
        {"431", Ref("responses", "HeadersTooLarge")},
        {"503", Ref("responses", "Unavailable")},
        {"default", Ref("responses", "Error")}}}};
  paths["/openapi.json"][get] = Json{
      {"tags", Json::array({kGatewayTag})},
      {"summary", "This document."},
      {"operationId", "Gateway_OpenApi"},
      {"responses",
       {{"200",
         {{"description", "The OpenAPI document of the gateway's routes."},
          {"headers", {{"X-Request-Id", Ref("headers", "XRequestId")}}},
          {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}}},
        {"431", Ref("responses", "HeadersTooLarge")},
        {"default", Ref("responses", "Error")}}},
      {"security", Json::array()}};
}

Json Generator::Components() {
  Json c = Json::object();
  // Schemas: the error body, then every reachable message and enum by full name (closure: a message's
  // schema may reference more messages).
  std::map<std::string, Json> schemas;
  schemas[kErrorSchema] = Json{
      {"type", "object"},
      {"description",
       "The one error body of the gateway (edge/errors.h), whatever failed: routing, authentication, "
       "validation or the backend."},
      {"required", Json::array({"error"})},
      {"properties",
       {{"error",
         {{"type", "object"},
          {"required", Json::array({"code", "status", "message", "details"})},
          {"properties",
           {{"code", {{"type", "integer"}, {"format", "int32"}, {"description", "The HTTP status code."}}},
            {"status",
             {{"type", "string"},
              {"description", "The canonical gRPC status code name."},
              {"enum", Json::array({"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
                                    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
                                    "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
                                    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"})}}},
            {"message", {{"type", "string"}, {"description", "What went wrong, for a developer."}}},
            {"details",
             {{"type", "array"},
              {"description", "Field violations (google.rpc.BadRequest); empty when there are none."},
              {"items",
               {{"type", "object"},
                {"required", Json::array({"field", "description"})},
                {"properties",
                 {{"field", {{"type", "string"}, {"description", "Path of the offending field (\"deal.title\")."}}},
                  {"description", {{"type", "string"}, {"description", "What is wrong with it."}}}}}}}}},
            {"retryDelay",
             {{"type", "string"},
              {"description",
               "How long to wait before retrying (google.rpc.RetryInfo.retry_delay as a protobuf Duration, "
               "\"2.500s\"); only on RESOURCE_EXHAUSTED, and Retry-After carries it rounded up."}}},
            {"requestId",
             {{"type", "string"},
              {"description", "The request id (also in the X-Request-Id header); absent when unknown."}}}}}}}}}};
  std::set<std::string> done;
  for (bool more = true; more;) {
    more = false;
    for (const auto& [name, d] : std::map<std::string, const pb::Descriptor*>(messages_)) {
      if (!done.insert(name).second) continue;
      schemas[name] = MessageSchema(d, {});
      more = true;
    }
  }
  for (const auto& [name, e] : enums_) schemas[name] = EnumSchema(e);
  Json s = Json::object();
  for (auto& [name, schema] : schemas) s[name] = std::move(schema);
  c["schemas"] = std::move(s);

  // Responses: one per error status, all with the Error body.
  struct ErrorResponse {
    const char* name;
    const char* description;
  };
  static constexpr ErrorResponse kErrors[] = {
      {"BadRequest", "INVALID_ARGUMENT, FAILED_PRECONDITION or OUT_OF_RANGE: the request is not valid; "
                     "`details` names the offending fields."},
      {"Conflict", "ALREADY_EXISTS or ABORTED: the resource exists already, or changed meanwhile."},
      {"Error", "Any other error (500 INTERNAL, 501 UNIMPLEMENTED, ...)."},
      {"Forbidden", "PERMISSION_DENIED: the caller may not do this."},
      {"GatewayTimeout", "DEADLINE_EXCEEDED: the backend did not answer in time."},
      {"HeadersTooLarge", "The request line or headers are larger than the gateway accepts."},
      {"NotFound", "NOT_FOUND: no such resource (or no such route)."},
      {"PayloadTooLarge", "The request body is larger than the gateway accepts."},
      {"PreconditionFailed", "The version in If-Match is not the current one (the backend answered ABORTED)."},
      {"TooManyRequests", "RESOURCE_EXHAUSTED: rate limited; retry after `Retry-After` seconds."},
      {"Unauthorized", "UNAUTHENTICATED: no valid bearer token or API key."},
      {"Unavailable", "UNAVAILABLE: the backend (or the gateway) cannot serve now; retry later."},
  };
  Json responses = Json::object();
  for (const ErrorResponse& e : kErrors) {
    if (used_["responses"].count(e.name) == 0) continue;
    Json headers{{"X-Request-Id", Ref("headers", "XRequestId")}};
    if (std::string_view(e.name) == "TooManyRequests") headers["Retry-After"] = Ref("headers", "RetryAfter");
    if (std::string_view(e.name) == "Unauthorized") headers["WWW-Authenticate"] = Ref("headers", "WWWAuthenticate");
    responses[e.name] = Json{{"description", e.description},
                             {"headers", std::move(headers)},
                             {"content", {{"application/json", {{"schema", {{"$ref", kSchemas + std::string(kErrorSchema)}}}}}}}};
  }
  if (!responses.empty()) c["responses"] = std::move(responses);

  Json parameters = Json::object();
  if (used_["parameters"].count("IdempotencyKey") > 0) {
    parameters["IdempotencyKey"] = Json{
        {"name", "Idempotency-Key"},
        {"in", "header"},
        {"required", false},
        {"description",
         "A client-chosen unique key (e.g. a UUID): retrying the request with the same key within 24 hours "
         "does not repeat its effect and returns the first answer; the same key with a different request "
         "is refused (400 naming idempotency-key)."},
        // kMaxIdempotencyKeyBytes (libs/pg/idempotency.h), which every service enforces.
        {"schema", {{"type", "string"}, {"maxLength", 200}}}};
  }
  if (used_["parameters"].count("SkipAutomation") > 0) {
    parameters["SkipAutomation"] = Json{
        {"name", "X-Skip-Automation"},
        {"in", "header"},
        {"required", false},
        {"description",
         "`true` (or `1`) for a bulk import: the change is made with automation skipped, and robots do not "
         "act on its events unless a rule asks to."},
        {"schema", {{"type", "string"}, {"enum", {"true", "false", "1", "0"}}}}};
  }
  if (used_["parameters"].count("IfMatch") > 0) {
    parameters["IfMatch"] = Json{
        {"name", "If-Match"},
        {"in", "header"},
        {"required", false},
        {"description",
         "The ETag of the version the client read (`\"3\"`, `W/\"3\"` or `3`; `*` for any): sets the request's "
         "`version`, and the change fails with 412 if the resource changed meanwhile."},
        {"schema", {{"type", "string"}}}};
  }
  if (!parameters.empty()) c["parameters"] = std::move(parameters);

  Json headers = Json::object();
  if (used_["headers"].count("ETag") > 0) {
    headers["ETag"] = Json{{"description", "The resource's version, quoted (`\"3\"`); send it back in If-Match."},
                           {"schema", {{"type", "string"}}}};
  }
  if (used_["headers"].count("RetryAfter") > 0) {
    headers["RetryAfter"] = Json{{"description", "Seconds to wait before retrying."},
                                 {"schema", {{"type", "integer"}, {"format", "int32"}}}};
  }
  if (used_["headers"].count("WWWAuthenticate") > 0) {
    headers["WWWAuthenticate"] = Json{{"description", "`Bearer`."}, {"schema", {{"type", "string"}}}};
  }
  if (used_["headers"].count("XRequestId") > 0) {
    headers["XRequestId"] = Json{
        {"description",
         "The request id: the client's X-Request-Id (1..128 printable ASCII characters) or a new UUIDv7."},
        {"schema", {{"type", "string"}}}};
  }
  if (!headers.empty()) c["headers"] = std::move(headers);

  c["securitySchemes"] = Json{
      {"apiKey",
       {{"type", "apiKey"},
        {"in", "header"},
        {"name", "X-Api-Key"},
        {"description", "An integrator's API key `crm_<prefix>_<secret>` (also accepted as a bearer token)."}}},
      {"bearerAuth",
       {{"type", "http"},
        {"scheme", "bearer"},
        {"bearerFormat", "JWT"},
        {"description", "An access token from AuthService.SignIn / Refresh (EdDSA-signed JWT)."}}}};
  return c;
}

absl::StatusOr<Json> Generator::Build(const std::vector<Route>& routes) {
  // Tags: service short names, unless two services share one.
  std::map<std::string, std::set<std::string>> by_short_name;
  std::map<std::string, const pb::ServiceDescriptor*> services;
  for (const Route& r : routes) {
    const pb::ServiceDescriptor* s = r.method->service();
    by_short_name[s->name()].insert(s->full_name());
    services.emplace(s->full_name(), s);
  }
  std::map<std::string, ServiceNames> names;
  for (const auto& [full, s] : services) {
    const bool unique = by_short_name[s->name()].size() == 1;
    std::string tag = unique ? s->name() : full;
    std::string prefix = tag;
    absl::StrReplaceAll({{".", "_"}}, &prefix);
    names[full] = ServiceNames{tag, prefix};
  }

  // Path items. Paths that OpenAPI treats as identical (variable names aside) share the variable names
  // of the first route that has them.
  std::map<std::string, std::vector<std::string>> names_by_shape;
  std::map<std::string, std::map<int, Json>> paths;
  std::map<std::string, std::string> owner;  // "<method> <path>" → the method documented there
  std::map<const pb::MethodDescriptor*, int> bindings_seen;
  Json undocumented = Json::array();
  for (const Route& route : routes) {
    const int binding_index = bindings_seen[route.method]++;
    std::vector<PathPiece> pieces = SplitPath(route.path);
    std::vector<std::string> own_names;
    int anonymous = 0;
    for (const PathPiece& p : pieces) {
      if (!p.is_param) continue;
      own_names.push_back(p.var != nullptr ? p.var->FieldPathString() : absl::StrCat("segment", ++anonymous));
    }
    const std::string shape = OpenApiPath(pieces, std::vector<std::string>(own_names.size(), ""));
    const std::vector<std::string>& param_names = names_by_shape.emplace(shape, own_names).first->second;
    const std::string path = OpenApiPath(pieces, param_names);
    const std::string http = absl::AsciiStrToLower(route.http_method);
    const int rank = OperationRank(http);
    if (rank < 0) {
      undocumented.push_back(Json{{"method", route.http_method},
                                  {"path", route.path.ToString()},
                                  {"grpcMethod", route.method->full_name()}});
      continue;
    }
    const std::string key = absl::StrCat(route.http_method, " ", shape);
    if (auto [it, inserted] = owner.emplace(key, route.method->full_name()); !inserted) {
      return absl::FailedPreconditionError(
          absl::StrCat("OpenAPI cannot tell apart ", route.http_method, " ", route.path.ToString(), " (",
                       route.method->full_name(), ") from another route of ", it->second, ": both are ",
                       route.http_method, " ", path));
    }
    absl::StatusOr<Json> op = Operation(route, names[route.method->service()->full_name()], binding_index,
                                        pieces, param_names);
    if (!op.ok()) return op.status();
    paths[path][rank] = *std::move(op);
  }
  if (options_.gateway_endpoints) {
    std::map<std::string, std::map<int, Json>> own;
    AddGatewayEndpoints(own);
    for (auto& [path, ops] : own) {
      for (auto& [rank, op] : ops) {
        if (paths[path].count(rank) > 0) {
          return absl::FailedPreconditionError(absl::StrCat("the gateway's own endpoint ", kOperationOrder[rank],
                                                            " ", path, " is also bound by ",
                                                            paths[path][rank]["x-grpc-method"].dump()));
        }
        paths[path][rank] = std::move(op);
      }
    }
  }

  Json doc = Json::object();
  doc["openapi"] = "3.0.3";
  doc["info"] = Json{
      {"title", options_.title},
      {"version", options_.version},
      {"description",
       "The REST/JSON API of the CRM gateway, generated from the gRPC services' google.api.http annotations "
       "(the same routes the gateway serves). JSON follows the proto3 JSON mapping: lowerCamelCase names, "
       "every field printed, enums as names, 64-bit integers as strings, timestamps in RFC 3339; unknown "
       "fields in requests are refused. Every error has the body `Error`."}};
  doc["servers"] = Json::array({Json{{"url", options_.server_url.empty() ? "/" : options_.server_url}}});
  doc["security"] = Json::array({Json{{"bearerAuth", Json::array()}}, Json{{"apiKey", Json::array()}}});
  Json tags = Json::array();
  std::map<std::string, std::string> tag_docs;
  for (const auto& [full, s] : services) tag_docs[names[full].tag] = Paragraphs({Comment(s), absl::StrCat("gRPC service `", full, "`.")});
  if (options_.gateway_endpoints) tag_docs[kGatewayTag] = "The gateway's own endpoints.";
  for (const auto& [tag, description] : tag_docs) tags.push_back(Json{{"name", tag}, {"description", description}});
  doc["tags"] = std::move(tags);
  Json path_items = Json::object();
  for (auto& [path, ops] : paths) {
    Json item = Json::object();
    for (auto& [rank, op] : ops) item[kOperationOrder[rank]] = std::move(op);
    path_items[path] = std::move(item);
  }
  doc["paths"] = std::move(path_items);
  doc["components"] = Components();
  if (!undocumented.empty()) doc["x-undocumented-routes"] = std::move(undocumented);
  return doc;
}

}  // namespace

absl::StatusOr<std::string> BuildOpenApiJson(const Router& router, const OpenApiOptions& options) {
  Generator g(options);
  absl::StatusOr<Json> doc = g.Build(router.routes());
  if (!doc.ok()) return doc.status();
  return doc->dump(options.indent < 0 ? -1 : options.indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace crm::gateway
