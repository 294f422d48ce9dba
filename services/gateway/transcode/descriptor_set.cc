#include "services/gateway/transcode/descriptor_set.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/api/annotations.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "libs/base/strings.h"

namespace crm::gateway {
namespace {

namespace gpb = ::google::protobuf;

// Collects BuildFile errors into one message.
class Collector : public gpb::DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& filename, const std::string& element_name, const gpb::Message*,
                ErrorLocation, const std::string& message) override {
    absl::StrAppend(&errors_, errors_.empty() ? "" : "; ", filename, " ", element_name, ": ", message);
  }
  const std::string& errors() const { return errors_; }

 private:
  std::string errors_;
};

}  // namespace

absl::StatusOr<std::vector<std::string>> AddDescriptorSet(std::string_view serialized,
                                                          gpb::DescriptorPool* pool) {
  // Touch the extension so the linker keeps annotations.pb.cc and its registration.
  (void)google::api::http.number();
  gpb::FileDescriptorSet set;
  if (!set.ParseFromArray(serialized.data(), static_cast<int>(serialized.size()))) {
    return absl::InvalidArgumentError("not a serialized FileDescriptorSet");
  }
  std::vector<std::string> services;
  for (const gpb::FileDescriptorProto& file : set.file()) {
    const gpb::FileDescriptor* built = pool->FindFileByName(file.name());
    if (built != nullptr) {
      // Loaded before (shared imports of several sets): fine if it is the same file.
      gpb::FileDescriptorProto existing;
      built->CopyTo(&existing);
      built->CopyJsonNameTo(&existing);
      gpb::FileDescriptorProto incoming = file;
      incoming.clear_source_code_info();
      if (existing.SerializeAsString() != incoming.SerializeAsString()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "descriptor set file ", file.name(), " differs from the file of that name already loaded"));
      }
      for (int i = 0; i < built->service_count(); ++i) services.push_back(built->service(i)->full_name());
      continue;
    }
    Collector errors;
    built = pool->BuildFileCollectingErrors(file, &errors);
    if (built == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("descriptor set file ", file.name(), " does not build: ", errors.errors()));
    }
    for (int i = 0; i < built->service_count(); ++i) services.push_back(built->service(i)->full_name());
  }
  return services;
}

absl::StatusOr<std::vector<std::string>> LoadDescriptorSetFiles(const std::vector<std::string>& paths,
                                                                gpb::DescriptorPool* pool) {
  std::vector<std::string> services;
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read descriptor set ", path));
    std::stringstream data;
    data << in.rdbuf();
    absl::StatusOr<std::vector<std::string>> added = AddDescriptorSet(data.str(), pool);
    if (!added.ok()) {
      return absl::Status(added.status().code(), absl::StrCat(path, ": ", added.status().message()));
    }
    for (std::string& s : *added) {
      if (std::find(services.begin(), services.end(), s) == services.end()) services.push_back(std::move(s));
    }
  }
  return services;
}

}  // namespace crm::gateway
