// File: services/gateway/transcode/http_body.cc
#include "services/gateway/transcode/http_body.h"

#include <string>

#include "libs/base/status.h"

namespace crm::gateway {

namespace gpb = ::google::protobuf;

bool TakesHttpBody(const gpb::MethodDescriptor& method, const google::api::HttpRule& binding,
                   const gpb::FieldDescriptor** field) {
  const gpb::Descriptor* input = method.input_type();
  const std::string& rule = binding.body();
  const gpb::FieldDescriptor* f = nullptr;
  bool takes = false;
  if (rule == "*") {
    takes = input->full_name() == kHttpBodyType;
  } else if (!rule.empty()) {
    f = input->FindFieldByName(rule);
    takes = f != nullptr && !f->is_repeated() && f->cpp_type() == gpb::FieldDescriptor::CPPTYPE_MESSAGE &&
            f->message_type()->full_name() == kHttpBodyType;
  }
  if (field != nullptr) *field = takes ? f : nullptr;
  return takes;
}

absl::Status SetHttpBody(gpb::Message* http_body, std::string_view data, std::string_view content_type) {
  for (char c : content_type) {
    if (c < 0x20 || c > 0x7e) return InvalidFieldError("Content-Type", "must be printable ASCII");
  }
  const gpb::Descriptor* d = http_body->GetDescriptor();
  const gpb::Reflection* r = http_body->GetReflection();
  r->SetString(http_body, d->FindFieldByName("data"), std::string(data));
  r->SetString(http_body, d->FindFieldByName("content_type"), std::string(content_type));
  return absl::OkStatus();
}

}  // namespace crm::gateway
