// File: services/gateway/transcode/http_body.cc
#include "services/gateway/transcode/http_body.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/dynamic_message.h"
#include "libs/base/status.h"

namespace crm::gateway {

namespace gpb = ::google::protobuf;

namespace {

bool IsHttpBody(const gpb::Descriptor* type) { return type != nullptr && type->full_name() == kHttpBodyType; }

// A singular top-level field of `type` named `name` whose type is google.api.HttpBody, or nullptr.
const gpb::FieldDescriptor* HttpBodyField(const gpb::Descriptor* type, const std::string& name) {
  const gpb::FieldDescriptor* f = type->FindFieldByName(name);
  if (f == nullptr || f->is_repeated() || f->cpp_type() != gpb::FieldDescriptor::CPPTYPE_MESSAGE) return nullptr;
  return IsHttpBody(f->message_type()) ? f : nullptr;
}

// A header value must be printable ASCII: no CR/LF to split the header block with.
bool IsPrintableAscii(std::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

bool TakesHttpBody(const gpb::MethodDescriptor& method, const google::api::HttpRule& binding,
                   const gpb::FieldDescriptor** field) {
  const gpb::Descriptor* input = method.input_type();
  const std::string& rule = binding.body();
  const gpb::FieldDescriptor* f = nullptr;
  bool takes = false;
  if (rule == "*") {
    takes = IsHttpBody(input);
  } else if (!rule.empty()) {
    f = HttpBodyField(input, rule);
    takes = f != nullptr;
  }
  if (field != nullptr) *field = takes ? f : nullptr;
  return takes;
}

absl::Status SetHttpBody(gpb::Message* http_body, std::string_view data, std::string_view content_type) {
  if (!IsPrintableAscii(content_type)) return InvalidFieldError("Content-Type", "must be printable ASCII");
  const gpb::Descriptor* d = http_body->GetDescriptor();
  const gpb::Reflection* r = http_body->GetReflection();
  r->SetString(http_body, d->FindFieldByName("data"), std::string(data));
  r->SetString(http_body, d->FindFieldByName("content_type"), std::string(content_type));
  return absl::OkStatus();
}

bool AnswersHttpBody(const gpb::MethodDescriptor& method, const google::api::HttpRule& binding) {
  if (method.server_streaming()) return false;  // out of scope: the gateway's calls are unary
  const std::string& rule = binding.response_body();
  if (rule.empty()) return IsHttpBody(method.output_type());
  return HttpBodyField(method.output_type(), rule) != nullptr;
}

absl::StatusOr<RawBody> HttpBodyReply(const RouteMatch& m, std::string_view serialized_reply,
                                      const TranscodeLimits& limits) {
  if (serialized_reply.size() > limits.max_response_bytes) {
    return absl::InternalError(absl::StrCat("response of ", serialized_reply.size(), " bytes exceeds the limit of ",
                                            limits.max_response_bytes));
  }
  const gpb::Descriptor* output = m.method->output_type();
  std::unique_ptr<gpb::Message> reply(m.factory->GetPrototype(output)->New());
  if (!reply->ParseFromArray(serialized_reply.data(), static_cast<int>(serialized_reply.size()))) {
    return absl::InternalError(
        absl::StrCat("response of ", m.method->full_name(), " does not parse as ", output->full_name()));
  }
  const gpb::Message* body = reply.get();
  if (const std::string& rule = m.route->binding.response_body(); !rule.empty()) {
    const gpb::FieldDescriptor* f = HttpBodyField(output, rule);
    if (f == nullptr) return absl::InternalError(absl::StrCat(m.method->full_name(), " answers no HttpBody"));
    body = &reply->GetReflection()->GetMessage(*reply, f, m.factory.get());
  } else if (!IsHttpBody(output)) {
    return absl::InternalError(absl::StrCat(m.method->full_name(), " answers no HttpBody"));
  }
  const gpb::Descriptor* d = body->GetDescriptor();
  const gpb::Reflection* r = body->GetReflection();
  RawBody out;
  out.content_type = r->GetString(*body, d->FindFieldByName("content_type"));
  if (!IsPrintableAscii(out.content_type)) {
    return absl::InternalError(absl::StrCat("the content type of ", m.method->full_name(), " is not printable ASCII"));
  }
  if (out.content_type.empty()) out.content_type = kDefaultHttpBodyType;
  out.data = r->GetString(*body, d->FindFieldByName("data"));
  return out;
}

}  // namespace crm::gateway
