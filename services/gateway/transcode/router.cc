#include "services/gateway/transcode/router.h"

#include <map>
#include <optional>
#include <set>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/api/annotations.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"

namespace crm::gateway {

namespace gpb = ::google::protobuf;

struct Router::Node {
  std::map<std::string, std::unique_ptr<Node>, std::less<>> literals;
  std::unique_ptr<Node> single;  // "*"
  std::unique_ptr<Node> multi;   // "**": consumes the rest of the path
  // verb -> HTTP method -> route, for templates ending at this node.
  std::map<std::string, std::map<std::string, std::shared_ptr<const Route>>, std::less<>> ends;
};

namespace {

constexpr char kMethodNotAllowedUrl[] = "type.crm/gateway.MethodNotAllowed";

absl::Status MethodError(const gpb::MethodDescriptor& m, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("method ", m.full_name(), ": ", AsAbsl(what)));
}

// Reads the google.api.http option, also when the options were parsed before the extension was known
// (then it sits in unknown fields; reparsing with the extension linked in recovers it).
std::optional<google::api::HttpRule> ReadHttpRule(const gpb::MethodDescriptor& m) {
  const gpb::MethodOptions& opts = m.options();
  if (opts.HasExtension(google::api::http)) return opts.GetExtension(google::api::http);
  if (opts.unknown_fields().empty()) return std::nullopt;
  gpb::MethodOptions reparsed;
  if (!reparsed.ParseFromString(opts.SerializeAsString()) || !reparsed.HasExtension(google::api::http)) {
    return std::nullopt;
  }
  return reparsed.GetExtension(google::api::http);
}

absl::Status CheckVariableField(const gpb::MethodDescriptor& m, const PathVariable& var) {
  const gpb::Descriptor* msg = m.input_type();
  for (size_t i = 0; i < var.field_path.size(); ++i) {
    const gpb::FieldDescriptor* f = msg->FindFieldByName(var.field_path[i]);
    if (f == nullptr) {
      return MethodError(m, absl::StrCat("path variable ", var.FieldPathString(), ": no field ",
                                         var.field_path[i], " in ", msg->full_name()));
    }
    if (f->is_repeated()) {
      return MethodError(m, absl::StrCat("path variable ", var.FieldPathString(), ": field ",
                                         f->name(), " is repeated"));
    }
    bool last = i + 1 == var.field_path.size();
    bool is_message = f->cpp_type() == gpb::FieldDescriptor::CPPTYPE_MESSAGE;
    if (last == is_message) {
      return MethodError(m, absl::StrCat("path variable ", var.FieldPathString(), ": field ", f->name(),
                                         last ? " is a message" : " is not a message"));
    }
    if (!last) msg = f->message_type();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const Route>> MakeRoute(const gpb::MethodDescriptor& m,
                                                       const google::api::HttpRule& rule) {
  auto route = std::make_shared<Route>();
  route->method = &m;
  route->binding = rule;
  route->binding.clear_additional_bindings();
  std::string path;
  switch (rule.pattern_case()) {
    case google::api::HttpRule::kGet: route->http_method = "GET"; path = rule.get(); break;
    case google::api::HttpRule::kPut: route->http_method = "PUT"; path = rule.put(); break;
    case google::api::HttpRule::kPost: route->http_method = "POST"; path = rule.post(); break;
    case google::api::HttpRule::kDelete: route->http_method = "DELETE"; path = rule.delete_(); break;
    case google::api::HttpRule::kPatch: route->http_method = "PATCH"; path = rule.patch(); break;
    case google::api::HttpRule::kCustom:
      route->http_method = rule.custom().kind();
      path = rule.custom().path();
      if (route->http_method.empty()) return MethodError(m, "custom binding without a kind");
      break;
    case google::api::HttpRule::PATTERN_NOT_SET:
      return MethodError(m, "http rule without a pattern");
  }
  absl::StatusOr<PathTemplate> tmpl = ParsePathTemplate(path);
  if (!tmpl.ok()) return Annotate(tmpl.status(), absl::StrCat("method ", m.full_name()));
  route->path = *std::move(tmpl);
  for (const PathVariable& var : route->path.variables) CRM_RETURN_IF_ERROR(CheckVariableField(m, var));
  const std::string& body = rule.body();
  if (!body.empty() && body != "*" && m.input_type()->FindFieldByName(body) == nullptr) {
    return MethodError(m, absl::StrCat("body names no field of ", m.input_type()->full_name(), ": ", body));
  }
  if (!rule.response_body().empty() && m.output_type()->FindFieldByName(rule.response_body()) == nullptr) {
    return MethodError(m, absl::StrCat("response_body names no field of ", m.output_type()->full_name(),
                                       ": ", rule.response_body()));
  }
  return route;
}

// Returns the raw segments of `path` (which starts with '/').
std::vector<std::string_view> SplitSegments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 1;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(path.substr(start));
      return out;
    }
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

struct Search {
  std::string_view verb;
  std::string_view http_method;
  std::shared_ptr<const Route> found;
  std::set<std::string> allowed;  // methods of matching paths without `http_method`
};

// Depth-first over the trie, literal before "*" before "**"; stops at the first route for the method.
bool Visit(const Router::Node& node, const std::vector<std::string_view>& segs, size_t i, Search& s) {
  auto check_end = [&](const Router::Node& end) {
    auto it = end.ends.find(s.verb);
    if (it == end.ends.end()) return false;
    auto m = it->second.find(std::string(s.http_method));
    if (m != it->second.end()) {
      s.found = m->second;
      return true;
    }
    for (const auto& [method, route] : it->second) s.allowed.insert(method);
    return false;
  };
  if (i == segs.size()) {
    if (check_end(node)) return true;
  } else {
    if (auto it = node.literals.find(segs[i]); it != node.literals.end()) {
      if (Visit(*it->second, segs, i + 1, s)) return true;
    }
    if (node.single != nullptr && !segs[i].empty()) {
      if (Visit(*node.single, segs, i + 1, s)) return true;
    }
  }
  // "**" matches zero or more segments.
  if (node.multi != nullptr && check_end(*node.multi)) return true;
  return false;
}
}  // namespace

Router::Router() : root_(std::make_unique<Node>()) {}
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;
Router::~Router() = default;

absl::StatusOr<Router> Router::Build(const gpb::DescriptorPool& pool,
                                     const std::vector<std::string>& services) {
  if (services.empty()) {
    return absl::InvalidArgumentError(
        "Router::Build: no services given (a DescriptorPool cannot list its services; "
        "LoadDescriptorSets() returns them)");
  }
  Router router;
  router.factory_ = std::make_shared<gpb::DynamicMessageFactory>(&pool);
  std::map<std::string, const Route*> shapes;  // "GET /v1/things/*" -> first route with it
  for (const std::string& name : services) {
    const gpb::ServiceDescriptor* service = pool.FindServiceByName(name);
    if (service == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("Router::Build: no service ", name, " in the pool"));
    }
    for (int i = 0; i < service->method_count(); ++i) {
      const gpb::MethodDescriptor& m = *service->method(i);
      std::optional<google::api::HttpRule> rule = ReadHttpRule(m);
      if (!rule.has_value()) continue;
      std::vector<google::api::HttpRule> bindings = {*rule};
      for (const google::api::HttpRule& extra : rule->additional_bindings()) {
        if (!extra.additional_bindings().empty()) {
          return MethodError(m, "additional_bindings must not nest");
        }
        bindings.push_back(extra);
      }
      for (const google::api::HttpRule& binding : bindings) {
        CRM_ASSIGN_OR_RETURN(std::shared_ptr<const Route> route, MakeRoute(m, binding));
        std::string shape = absl::StrCat(route->http_method, " ", route->path.Shape());
        auto [it, inserted] = shapes.emplace(shape, route.get());
        if (!inserted) {
          return absl::InvalidArgumentError(absl::StrCat(
              "conflicting http bindings ", shape, ": ", it->second->method->full_name(), " (",
              it->second->path.ToString(), ") and ", m.full_name(), " (", route->path.ToString(), ")"));
        }
        Node* node = router.root_.get();
        for (const PathSegment& seg : route->path.segments) {
          std::unique_ptr<Node>* next = nullptr;
          switch (seg.kind) {
            case PathSegment::Kind::kLiteral: next = &node->literals[seg.literal]; break;
            case PathSegment::Kind::kSingle: next = &node->single; break;
            case PathSegment::Kind::kMulti: next = &node->multi; break;
          }
          if (*next == nullptr) *next = std::make_unique<Node>();
          node = next->get();
        }
        node->ends[route->path.verb][route->http_method] = route;
        router.routes_.push_back(std::move(route));
      }
    }
  }
  return router;
}

absl::StatusOr<RouteMatch> Router::Match(std::string_view http_method, std::string_view path) const {
  if (size_t cut = path.find_first_of("?#"); cut != std::string_view::npos) path = path.substr(0, cut);
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("request path must start with '/': ", QuoteForError(path)));
  }
  std::vector<std::string_view> segs = SplitSegments(path);
  Search search{.verb = "", .http_method = http_method};
  // First try with a custom verb split off the last segment, then the whole path without a verb.
  std::vector<std::string_view> verb_segs;
  if (size_t colon = segs.back().rfind(':'); colon != std::string_view::npos) {
    verb_segs = segs;
    verb_segs.back() = segs.back().substr(0, colon);
    search.verb = segs.back().substr(colon + 1);
    Visit(*root_, verb_segs, 0, search);
  }
  if (search.found == nullptr) {
    search.verb = "";
    Visit(*root_, segs, 0, search);
  } else {
    segs = std::move(verb_segs);
  }
  if (search.found == nullptr) {
    if (!search.allowed.empty()) {
      std::string allowed = absl::StrJoin(search.allowed, ", ");
      absl::Status status = absl::FailedPreconditionError(absl::StrCat(
          "method not allowed: ", QuoteForError(http_method), " for ", QuoteForError(path, 200),
          " (allowed: ", allowed, ")"));
      status.SetPayload(kMethodNotAllowedUrl, absl::Cord(allowed));
      return status;
    }
    return absl::NotFoundError(absl::StrCat("no route for ", QuoteForError(http_method), " ",
                                            QuoteForError(path, 200)));
  }
  RouteMatch match;
  match.route = search.found;
  match.method = search.found->method;
  match.factory = factory_;
  const PathTemplate& tmpl = search.found->path;
  for (const PathVariable& var : tmpl.variables) {
    bool ends_multi = tmpl.segments[var.end - 1].kind == PathSegment::Kind::kMulti;
    size_t end = ends_multi ? segs.size() : var.end;
    bool single = !ends_multi && var.end - var.begin == 1;
    std::string value;
    for (size_t i = var.begin; i < end; ++i) {
      CRM_ASSIGN_OR_RETURN(std::string part, PercentDecode(segs[i], /*keep_slash=*/!single));
      if (i != var.begin) value += '/';
      value += part;
    }
    match.variables.emplace_back(var.FieldPathString(), std::move(value));
  }
  return match;
}

std::vector<Route> Router::routes() const {
  std::vector<Route> out;
  out.reserve(routes_.size());
  for (const auto& r : routes_) out.push_back(*r);
  return out;
}

bool IsMethodNotAllowed(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition &&
         status.GetPayload(kMethodNotAllowedUrl).has_value();
}

std::string AllowedMethods(const absl::Status& status) {
  if (!IsMethodNotAllowed(status)) return "";
  return std::string(*status.GetPayload(kMethodNotAllowedUrl));
}

}  // namespace crm::gateway
