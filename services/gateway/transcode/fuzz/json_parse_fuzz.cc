// libFuzzer target for the direct JSON parser (json_parse.h): on arbitrary text, for every message type of
// crm/testing/v1/transcode.proto, whatever ParseJsonWithoutFallback accepts JsonStringToMessage must
// accept too, as the very same message (deterministic bytes); ParseJsonMessage must answer what
// JsonStringToMessage answers. Not part of the CMake build; build and run it with build.sh (it builds both
// targets of this folder), e.g.:
//   services/gateway/transcode/fuzz/build.sh "" run-json -max_total_time=60
// Input: the first byte picks the message type, the rest is the JSON text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/json_util.h"
#include "services/gateway/transcode/descriptor_set.h"
#include "services/gateway/transcode/json_parse.h"
#include "services/gateway/transcode/json_policy.h"

namespace {

namespace gpb = ::google::protobuf;

struct Types {
  gpb::DescriptorPool pool;
  std::unique_ptr<gpb::DynamicMessageFactory> factory;
  std::vector<const gpb::Descriptor*> all;
};

const Types& GetTypes() {
  static Types* t = [] {
    auto* types = new Types;
    if (!crm::gateway::LoadDescriptorSetFiles({CRM_TRANSCODE_TESTING_PB}, &types->pool).ok()) std::abort();
    const gpb::FileDescriptor* f = types->pool.FindFileByName("crm/testing/v1/transcode.proto");
    if (f == nullptr) std::abort();
    for (int i = 0; i < f->message_type_count(); ++i) types->all.push_back(f->message_type(i));
    types->factory = std::make_unique<gpb::DynamicMessageFactory>(&types->pool);
    return types;
  }();
  return *t;
}

std::string Bytes(const gpb::Message& m) {
  std::string out;
  gpb::io::StringOutputStream stream(&out);
  gpb::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > (1 << 16)) return 0;
  const Types& types = GetTypes();
  const gpb::Descriptor* d = types.all[data[0] % types.all.size()];
  const std::string json(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::unique_ptr<gpb::Message> want(types.factory->GetPrototype(d)->New());
  std::unique_ptr<gpb::Message> direct(want->New()), got(want->New());
  const auto ws = gpb::util::JsonStringToMessage(json, want.get(), crm::gateway::JsonInputOptions());
  if (crm::gateway::json_parse_internal::ParseJsonWithoutFallback(json, direct.get()).ok()) {
    if (!ws.ok() || Bytes(*want) != Bytes(*direct)) std::abort();
  }
  const absl::Status gs = crm::gateway::ParseJsonMessage(json, got.get());
  if (gs.ok() != ws.ok() || std::string(gs.message()) != std::string(ws.message().data(), ws.message().size())) {
    std::abort();
  }
  if (ws.ok() && Bytes(*want) != Bytes(*got)) std::abort();
  return 0;
}
