// File: services/gateway/transcode/router.h
// -----------------------------------------------------------------------------
// Maps an HTTP request line (method + path) to the gRPC method whose google.api.http annotation binds
// it, using only descriptors (a DescriptorPool loaded from FileDescriptorSet files): adding an
// annotated RPC to a loaded service needs no gateway code.
//
// Build() reads every method's HttpRule, including additional_bindings, and refuses conflicting
// bindings (same HTTP method and same path shape). Match() walks a segment trie: time is linear in the
// path length for the usual route tables (backtracking only where a literal and a wildcard both
// match a segment and the literal branch fails later). At each segment a literal beats `*`, which
// beats `**`.
//
// Captured values are percent-decoded. A single-segment variable decodes everything (so `%2F` becomes
// a '/' inside the value); a multi-segment variable (`**` or several segments) keeps `%2F` encoded so
// the value's own '/' separators stay distinguishable.
//
// A built Router is immutable: Match() and routes() may be called from any number of threads.
//
// Errors from Match():
//   NOT_FOUND            no binding has this path;
//   FAILED_PRECONDITION  the path is bound, but not for this HTTP method: IsMethodNotAllowed() is true
//                        and AllowedMethods() lists the methods for an `Allow` header (HTTP 405);
//   INVALID_ARGUMENT     the path is malformed (no leading '/', bad percent escape).
//
// Example:
//   CRM_ASSIGN_OR_RETURN(Router router, Router::Build(pool, {"crm.deals.v1.DealService"}));
//   absl::StatusOr<RouteMatch> m = router.Match("GET", "/v1/deals/42");
//   if (IsMethodNotAllowed(m.status())) reply(405, {"Allow", AllowedMethods(m.status())});
//   // m->method->full_name() == "crm.deals.v1.DealService.GetDeal", m->variables == {{"id", "42"}}
#ifndef CRM_SERVICES_GATEWAY_TRANSCODE_ROUTER_H_
#define CRM_SERVICES_GATEWAY_TRANSCODE_ROUTER_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/api/http.pb.h"
#include "services/gateway/transcode/path_template.h"

namespace google::protobuf {
class DescriptorPool;
class DynamicMessageFactory;
class MethodDescriptor;
}  // namespace google::protobuf

namespace crm::gateway {

// One HTTP binding of one RPC.
struct Route {
  const google::protobuf::MethodDescriptor* method = nullptr;  // owned by the pool
  std::string http_method;  // "GET", "POST", ... or a custom kind, as written in the rule
  PathTemplate path;
  // The binding itself (for an additional binding: that binding, with no additional_bindings).
  google::api::HttpRule binding;
};

// The result of a successful Router::Match().
struct RouteMatch {
  std::shared_ptr<const Route> route;  // never null
  const google::protobuf::MethodDescriptor* method = nullptr;  // == route->method
  // One (field path, decoded value) per template variable, in template order: {"thing.id", "7"}.
  std::vector<std::pair<std::string, std::string>> variables;
  // Creates request/response messages for `method`; shared by every match of one Router.
  std::shared_ptr<google::protobuf::DynamicMessageFactory> factory;
};

class Router {
 public:
  // Builds the routing table for `services` (full names) found in `pool`. The pool must outlive the
  // Router and every RouteMatch it returns. `services` must be non-empty: a DescriptorPool cannot list
  // its contents (use LoadDescriptorSets() in descriptor_set.h, which returns the service names).
  // Methods without a google.api.http option are skipped. Fails with INVALID_ARGUMENT naming the
  // method for: an unknown service; a bad path template; a variable, body or response_body naming a
  // field that does not exist or has the wrong kind (variables must end on a singular scalar or enum
  // field reached through singular messages; body must be "*", empty, or a top-level field); and two
  // bindings with the same HTTP method and path shape (naming both methods); nested additional_bindings.
  static absl::StatusOr<Router> Build(const google::protobuf::DescriptorPool& pool,
                                      const std::vector<std::string>& services);

  // Finds the binding for `http_method` (case-sensitive, "GET") and `path` (the request target
  // without query string; anything from '?' or '#' is ignored). See the file comment for the errors.
  absl::StatusOr<RouteMatch> Match(std::string_view http_method, std::string_view path) const;

  // Returns every binding, in the order Build() read them.
  std::vector<Route> routes() const;

  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;
  ~Router();

  struct Node;  // the routing trie; an implementation detail

 private:
  Router();
  std::unique_ptr<Node> root_;
  std::vector<std::shared_ptr<const Route>> routes_;
  std::shared_ptr<google::protobuf::DynamicMessageFactory> factory_;
};

// True when `status` came from Router::Match() for a path bound only under other HTTP methods.
bool IsMethodNotAllowed(const absl::Status& status);
// The methods the path is bound under, comma-separated ("GET, DELETE"), for an Allow header; empty
// when !IsMethodNotAllowed(status).
std::string AllowedMethods(const absl::Status& status);

}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_TRANSCODE_ROUTER_H_
