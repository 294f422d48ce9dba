// File: services/gateway/openapi/main.cc
// crm-openapi: writes the gateway's OpenAPI document for every service of FileDescriptorSet files.
//
//   crm-openapi --descriptor-set build/proto/crm_api.pb[,more.pb] --out openapi.json
//               [--title T] [--version V] [--server-url URL]
//
// Public methods (security: []) are the gateway's defaults (auth.h DefaultPublicMethods()). Exit status 0
// on success, 2 on bad usage, 1 when the sets cannot be loaded, routed or documented.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "services/gateway/auth.h"
#include "services/gateway/openapi/openapi.h"
#include "services/gateway/transcode/descriptor_set.h"
#include "services/gateway/transcode/router.h"

namespace {

constexpr char kUsage[] =
    "usage: crm-openapi --descriptor-set FILE[,FILE...] --out FILE [--title T] [--version V] "
    "[--server-url URL]\n";

int Run(int argc, char** argv) {
  std::vector<std::string> sets;
  std::string out;
  crm::gateway::OpenApiOptions options;
  options.public_methods = crm::gateway::DefaultPublicMethods();
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view name = arg;
    std::string value;
    bool has_value = false;
    if (size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = std::string(arg.substr(eq + 1));
      has_value = true;
    }
    if (name == "--help" || name == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        std::cerr << "crm-openapi: " << name << " needs a value\n" << kUsage;
        return 2;
      }
      value = argv[++i];
    }
    if (name == "--descriptor-set") {
      for (absl::string_view f : absl::StrSplit(value, ',', absl::SkipEmpty())) sets.emplace_back(f);
    } else if (name == "--out") {
      out = value;
    } else if (name == "--title") {
      options.title = value;
    } else if (name == "--version") {
      options.version = value;
    } else if (name == "--server-url") {
      options.server_url = value;
    } else {
      std::cerr << "crm-openapi: unknown argument " << arg << "\n" << kUsage;
      return 2;
    }
  }
  if (sets.empty() || out.empty()) {
    std::cerr << kUsage;
    return 2;
  }

  google::protobuf::DescriptorPool pool;
  absl::StatusOr<std::vector<std::string>> services = crm::gateway::LoadDescriptorSetFiles(sets, &pool);
  if (!services.ok()) {
    std::cerr << "crm-openapi: " << services.status() << "\n";
    return 1;
  }
  if (services->empty()) {
    std::cerr << "crm-openapi: the descriptor sets define no service\n";
    return 1;
  }
  absl::StatusOr<crm::gateway::Router> router = crm::gateway::Router::Build(pool, *services);
  if (!router.ok()) {
    std::cerr << "crm-openapi: " << router.status() << "\n";
    return 1;
  }
  absl::StatusOr<std::string> json = crm::gateway::BuildOpenApiJson(*router, options);
  if (!json.ok()) {
    std::cerr << "crm-openapi: " << json.status() << "\n";
    return 1;
  }
  std::ofstream file(out, std::ios::binary | std::ios::trunc);
  file << *json << "\n";
  file.close();
  if (!file) {
    std::cerr << "crm-openapi: cannot write " << out << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
