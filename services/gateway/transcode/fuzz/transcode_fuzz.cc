// libFuzzer target for the transcoder: ParsePathTemplate, Router::Build/Match, ParseQueryString,
// BuildRequest and ResponseToJson on arbitrary input. Not part of the CMake build (it needs clang's
// -fsanitize=fuzzer); build and run it with services/gateway/transcode/fuzz/build.sh, which runs:
//
//   protoc --cpp_out=$OUT/gen -I$GOOGLEAPIS -I/usr/include google/api/http.proto google/api/annotations.proto
//   protoc --include_imports --descriptor_set_out=$OUT/transcode_testing.pb -Iproto -I$GOOGLEAPIS \
//          -I/usr/include crm/testing/v1/transcode.proto
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. -I$OUT/gen \
//          -DCRM_TRANSCODE_TESTING_PB="\"$OUT/transcode_testing.pb\"" \
//          services/gateway/transcode/fuzz/transcode_fuzz.cc services/gateway/transcode/*.cc (no *_test.cc) \
//          libs/base/status.cc libs/base/strings.cc $OUT/gen/google/api/*.pb.cc \
//          $(pkg-config --cflags --libs protobuf grpc++ absl_status absl_statusor absl_strings absl_cord) \
//          -o $OUT/transcode_fuzz
//   $OUT/transcode_fuzz services/gateway/transcode/fuzz/corpus -max_total_time=60
//
// Input format: up to five fields separated by '\n':
//   <path template> \n <HTTP method> \n <request path> \n <body> \n <query string: k=v&k=v>
// The template is parsed, and routed in a one-method service of its own; the method and path are
// matched against both that router and the router of transcode.proto; every match is transcoded with
// the body and query, and the body is also fed to ResponseToJson as response bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "google/api/annotations.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "services/gateway/transcode/descriptor_set.h"
#include "services/gateway/transcode/path_template.h"
#include "services/gateway/transcode/router.h"
#include "services/gateway/transcode/transcode.h"

namespace {

using crm::gateway::Router;
using crm::gateway::RouteMatch;

const Router& TestingRouter() {
  static auto* pool = new google::protobuf::DescriptorPool();
  static auto* router = [] {
    auto services = crm::gateway::LoadDescriptorSetFiles({CRM_TRANSCODE_TESTING_PB}, pool);
    if (!services.ok()) std::abort();
    auto r = Router::Build(*pool, *services);
    if (!r.ok()) std::abort();
    return new Router(*std::move(r));
  }();
  return *router;
}

std::vector<std::string_view> Split(std::string_view s, char sep, size_t max_parts) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < max_parts) {
    size_t at = s.find(sep);
    if (at == std::string_view::npos) break;
    out.push_back(s.substr(0, at));
    s.remove_prefix(at + 1);
  }
  out.push_back(s);
  return out;
}

void Transcode(const Router& router, std::string_view method, std::string_view path, std::string_view body,
               const std::vector<std::pair<std::string, std::string>>& query) {
  absl::StatusOr<RouteMatch> m = router.Match(method, path);
  if (!m.ok()) {
    (void)crm::gateway::IsMethodNotAllowed(m.status());
    return;
  }
  crm::gateway::TranscodeLimits limits;
  limits.max_body_bytes = 1 << 16;
  (void)crm::gateway::BuildRequest(*m, body, query, limits);
  (void)crm::gateway::ResponseToJson(*m, body, limits);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts = Split(input, '\n', 5);
  parts.resize(5);
  std::string_view tmpl = parts[0], method = parts[1], path = parts[2], body = parts[3];
  std::vector<std::pair<std::string, std::string>> query;
  if (auto parsed_query = crm::gateway::ParseQueryString(parts[4]); parsed_query.ok()) {
    query = *std::move(parsed_query);
  }

  absl::StatusOr<crm::gateway::PathTemplate> parsed = crm::gateway::ParsePathTemplate(tmpl);
  if (parsed.ok()) {
    // Printing must give a template that parses to the same shape.
    auto again = crm::gateway::ParsePathTemplate(parsed->ToString());
    if (!again.ok() || again->Shape() != parsed->Shape()) std::abort();

    // Route it in a one-method service whose request has fields a, b, id and a nested sub.x.
    google::protobuf::FileDescriptorProto file;
    file.set_name("fuzz.proto");
    file.set_package("fuzz");
    file.set_syntax("proto3");
    auto* sub = file.add_message_type();
    sub->set_name("Sub");
    auto* x = sub->add_field();
    x->set_name("x"), x->set_number(1), x->set_type(google::protobuf::FieldDescriptorProto::TYPE_INT64);
    x->set_label(google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
    auto* req = file.add_message_type();
    req->set_name("Req");
    int number = 1;
    for (const char* name : {"a", "b", "id"}) {
      auto* f = req->add_field();
      f->set_name(name), f->set_number(number++), f->set_type(google::protobuf::FieldDescriptorProto::TYPE_STRING);
      f->set_label(google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
    }
    auto* f = req->add_field();
    f->set_name("sub"), f->set_number(number++), f->set_type(google::protobuf::FieldDescriptorProto::TYPE_MESSAGE);
    f->set_type_name(".fuzz.Sub"), f->set_label(google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
    auto* service = file.add_service();
    service->set_name("S");
    auto* rpc = service->add_method();
    rpc->set_name("M"), rpc->set_input_type(".fuzz.Req"), rpc->set_output_type(".fuzz.Req");
    google::api::HttpRule* rule = rpc->mutable_options()->MutableExtension(google::api::http);
    rule->set_post(std::string(tmpl));
    rule->set_body("sub");
    google::protobuf::DescriptorPool pool;
    if (pool.BuildFile(file) != nullptr) {
      absl::StatusOr<Router> router = Router::Build(pool, {"fuzz.S"});
      if (router.ok()) Transcode(*router, method, path, body, query);
    }
  }

  Transcode(TestingRouter(), method, path, body, query);
  return 0;
}
