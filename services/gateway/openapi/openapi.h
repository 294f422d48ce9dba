// File: services/gateway/openapi/openapi.h
// -----------------------------------------------------------------------------
// The gateway's OpenAPI 3.0.3 document, generated from the very Router the gateway serves: every
// documented operation is one Route (an HttpRule binding, additional bindings included), so what is
// documented is what is routed. Nothing is written by hand per endpoint.
//
// What the document says, per route (google/api/http.proto rules, design anchor engineering.md §2):
//   * path: the template with each variable as one path parameter named by its field path
//     (`/v1/roles/{role.code}`). Templates OpenAPI considers identical (same literals, variables in the
//     same places, e.g. `/v1/users/{id}` and `/v1/users/{user.id}`) share one path item and take the
//     variable names of the first route; each parameter names the request field it sets
//     (`x-field-path`). A variable capturing several segments (`{name=shelves/*/books/*}`, `{path=**}`)
//     is one parameter with a `pattern`; its '/' separators are sent unescaped.
//   * request: body "*" = the request message minus path-bound fields; body "field" = that field;
//     every other leaf field reachable through singular messages is a query parameter (proto3 JSON
//     name, dotted for nested messages; repeated scalars are exploded arrays; enums are their names).
//   * responses: 200 with the response message (or response_body field) in the proto3 JSON mapping of
//     json_policy.h (int64 as strings, enums as names, Timestamp as RFC 3339 ...); the error statuses
//     the gateway produces, all with components.schemas.Error, the body of edge/errors.h.
//   * headers: Idempotency-Key on POST; If-Match (and 412) where the gateway can set a `version`;
//     ETag where the reply has an int64 `version`; X-Request-Id on every response.
//   * descriptions, summaries and tags from the proto comments (descriptor sets made with
//     --include_source_info); operationId `<Service>_<Method>` (`_<n>` for the n-th additional binding).
//   * security: bearer JWT or X-Api-Key globally; `security: []` for OpenApiOptions::public_methods.
//   * the gateway's own endpoints: /healthz, /readyz, /v1/stream (SSE), /openapi.json.
// The output is deterministic: the same descriptors and options give byte-identical JSON (paths and
// component names sorted; properties in field declaration order).
//
// Example:
//   google::protobuf::DescriptorPool pool;
//   CRM_ASSIGN_OR_RETURN(std::vector<std::string> services, LoadDescriptorSetFiles({"crm_api.pb"}, &pool));
//   CRM_ASSIGN_OR_RETURN(Router router, Router::Build(pool, services));
//   OpenApiOptions o{.title = "CRM API", .version = "1.0.0", .server_url = "https://crm.example.com",
//                    .public_methods = DefaultPublicMethods()};
//   CRM_ASSIGN_OR_RETURN(std::string json, BuildOpenApiJson(router, o));
#ifndef CRM_SERVICES_GATEWAY_OPENAPI_OPENAPI_H_
#define CRM_SERVICES_GATEWAY_OPENAPI_OPENAPI_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace crm::gateway {

class Router;

struct OpenApiOptions {
  // info.title and info.version of the document.
  std::string title = "CRM API";
  std::string version = "1.0.0";
  // The single servers[] entry; empty means "/" (relative to where the document was fetched).
  std::string server_url;
  // Full method names ("crm.identity.v1.AuthService.SignIn") callable without credentials: their
  // operations get `security: []`.
  std::vector<std::string> public_methods;
  // Whether to document the gateway's own endpoints (/healthz, /readyz, /v1/stream, /openapi.json).
  bool gateway_endpoints = true;
  // Pretty-print with this indent; negative means compact one-line JSON.
  int indent = 2;
};

// Returns the OpenAPI 3.0.3 document (JSON) for every route of `router` (see the file comment).
// Deterministic for the same router and options. FAILED_PRECONDITION, naming both methods, when two
// routes cannot be told apart in OpenAPI (same HTTP method and the same templated path once variable
// names are erased, e.g. GET `/v1/{a=x/*}` and GET `/v1/{b=y/*}`, both `/v1/{...}`), since one path
// item can hold only one operation per method. Routes with a custom HttpRule kind that OpenAPI has no
// operation for are listed in the document's `x-undocumented-routes` instead.
absl::StatusOr<std::string> BuildOpenApiJson(const Router& router, const OpenApiOptions& options);

}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_OPENAPI_OPENAPI_H_
