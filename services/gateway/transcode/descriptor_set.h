// File: services/gateway/transcode/descriptor_set.h
// -----------------------------------------------------------------------------
// Loads FileDescriptorSet files (made at build time by crm_descriptor_set(), i.e. `protoc
// --include_imports --include_source_info --descriptor_set_out`) into a DescriptorPool, and reports
// the services they define - a DescriptorPool cannot list its own contents, so this is where the
// gateway learns which services to route. google.api.http options survive when the program links
// crm::googleapis_proto (this library does).
//
// Example:
//   google::protobuf::DescriptorPool pool;
//   CRM_ASSIGN_OR_RETURN(std::vector<std::string> services,
//                        LoadDescriptorSetFiles({"/usr/share/crm/deals.pb"}, &pool));
//   CRM_ASSIGN_OR_RETURN(Router router, Router::Build(pool, services));
#ifndef CRM_SERVICES_GATEWAY_TRANSCODE_DESCRIPTOR_SET_H_
#define CRM_SERVICES_GATEWAY_TRANSCODE_DESCRIPTOR_SET_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace google::protobuf {
class DescriptorPool;
}  // namespace google::protobuf

namespace crm::gateway {

// Adds every file of the serialized FileDescriptorSet `serialized` to `pool` (a file already in the
// pool must be identical) and returns the full names of the services the set's files define.
// INVALID_ARGUMENT if the bytes are not a FileDescriptorSet or a file does not build (message says
// which file and why).
absl::StatusOr<std::vector<std::string>> AddDescriptorSet(std::string_view serialized,
                                                          google::protobuf::DescriptorPool* pool);

// Reads each file and calls AddDescriptorSet(); returns the services of all of them, without
// duplicates, in file order. NOT_FOUND if a file cannot be read.
absl::StatusOr<std::vector<std::string>> LoadDescriptorSetFiles(const std::vector<std::string>& paths,
                                                                google::protobuf::DescriptorPool* pool);

}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_TRANSCODE_DESCRIPTOR_SET_H_
