// File: services/gateway/transcode/http_body.h
// -----------------------------------------------------------------------------
// google.api.HttpBody bodies (google/api/httpbody.proto; HttpRule, google/api/http.proto), both ways.
//
// Requests: a binding whose `body` names a top-level field of type google.api.HttpBody — or is "*" on a
// request message that is itself a google.api.HttpBody — takes the HTTP body as it is, not as JSON:
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
//
// Replies (as grpc-gateway and ESP answer them): a binding whose method returns a google.api.HttpBody (no
// `response_body`) — or whose `response_body` names a top-level field of that type — answers
//   status 200, the body  HttpBody.data, the bytes as they are (no JSON, no base64);
//   Content-Type          HttpBody.content_type, or application/octet-stream when it is empty;
//   nothing else          HttpBody.extensions and the reply's other fields are not sent.
// Errors stay the JSON error body; a faulty reply (unparsable, too large, a content_type that is not
// printable ASCII) is INTERNAL → 500. Server-streaming methods are out of scope: the gateway makes unary
// calls only, so AnswersHttpBody() is false for them. The suite's one: dialogs' QR image (T7,
// crm.dialogs.v1.QrCodeService.GetQrCodeImage, image/png).
//
//   if (AnswersHttpBody(*m.method, m.route->binding)) {
//     CRM_ASSIGN_OR_RETURN(RawBody raw, HttpBodyReply(m, reply_bytes));   // → 200, raw.content_type, raw.data
//   }
#ifndef CRM_SERVICES_GATEWAY_TRANSCODE_HTTP_BODY_H_
#define CRM_SERVICES_GATEWAY_TRANSCODE_HTTP_BODY_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/api/http.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "services/gateway/transcode/transcode.h"

namespace crm::gateway {

inline constexpr char kHttpBodyType[] = "google.api.HttpBody";

// Whether `binding` of `method` takes a raw HttpBody (see the file comment); `field` (when given) gets
// the HttpBody field, or nullptr when the whole request is the HttpBody (body "*").
bool TakesHttpBody(const google::protobuf::MethodDescriptor& method, const google::api::HttpRule& binding,
                   const google::protobuf::FieldDescriptor** field = nullptr);

// Sets `http_body` (a google.api.HttpBody, possibly a dynamic message) to `data` and `content_type`.
// INVALID_ARGUMENT naming "Content-Type" when it is not printable ASCII.
absl::Status SetHttpBody(google::protobuf::Message* http_body, std::string_view data, std::string_view content_type);

// The Content-Type of a raw reply whose HttpBody has none.
inline constexpr char kDefaultHttpBodyType[] = "application/octet-stream";

// Whether `binding` of `method` answers with a raw HttpBody (see the file comment).
bool AnswersHttpBody(const google::protobuf::MethodDescriptor& method, const google::api::HttpRule& binding);

// A raw HTTP answer: the Content-Type header and the body.
struct RawBody {
  std::string content_type;
  std::string data;
};

// Returns the raw answer in `serialized_reply` (a serialized m.method output; AnswersHttpBody() must hold):
// the HttpBody's data and content_type (kDefaultHttpBodyType when empty). INTERNAL — the backend is at
// fault, nothing for the client to retry — over limits.max_response_bytes, when the bytes do not parse,
// or when the content_type is not printable ASCII (it becomes a header line).
absl::StatusOr<RawBody> HttpBodyReply(const RouteMatch& m, std::string_view serialized_reply,
                                      const TranscodeLimits& limits = {});

}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_TRANSCODE_HTTP_BODY_H_
