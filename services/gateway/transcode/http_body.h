// File: services/gateway/transcode/http_body.h
// -----------------------------------------------------------------------------
// google.api.HttpBody request bodies (google/api/httpbody.proto; HttpRule, google/api/http.proto): a
// binding whose `body` names a top-level field of type google.api.HttpBody — or is "*" on a request
// message that is itself a google.api.HttpBody — takes the HTTP body as it is, not as JSON:
//   HttpBody.data          the body's raw bytes (any content, no JSON depth check, no parsing);
//   HttpBody.content_type  the request's Content-Type header ("" when absent);
//   other fields           from path variables, and from query parameters when `body` names a field.
// Such a body is bounded by TranscodeLimits::max_http_body_bytes (RESOURCE_EXHAUSTED → HTTP 413).
// The webhook intake of dialogs (G3: crm.dialogs.v1.TelegramIntake.ReceiveUpdate) is the suite's one.
//
//   const gpb::FieldDescriptor* f = nullptr;
//   if (TakesHttpBody(*m.method, m.route->binding, &f)) {   // f: the body field, nullptr for "*"
//     CRM_RETURN_IF_ERROR(SetHttpBody(f ? r->MutableMessage(req, f) : req, body, content_type));
//   }
#ifndef CRM_SERVICES_GATEWAY_TRANSCODE_HTTP_BODY_H_
#define CRM_SERVICES_GATEWAY_TRANSCODE_HTTP_BODY_H_

#include <string_view>

#include "absl/status/status.h"
#include "google/api/http.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace crm::gateway {

inline constexpr char kHttpBodyType[] = "google.api.HttpBody";

// Whether `binding` of `method` takes a raw HttpBody (see the file comment); `field` (when given) gets
// the HttpBody field, or nullptr when the whole request is the HttpBody (body "*").
bool TakesHttpBody(const google::protobuf::MethodDescriptor& method, const google::api::HttpRule& binding,
                   const google::protobuf::FieldDescriptor** field = nullptr);

// Sets `http_body` (a google.api.HttpBody, possibly a dynamic message) to `data` and `content_type`.
// INVALID_ARGUMENT naming "Content-Type" when it is not printable ASCII.
absl::Status SetHttpBody(google::protobuf::Message* http_body, std::string_view data, std::string_view content_type);

}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_TRANSCODE_HTTP_BODY_H_
