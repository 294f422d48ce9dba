// File: libs/metrics/metrics_testing.h
// -----------------------------------------------------------------------------
// Test helpers (link crm::metrics_testing from tests only): fetch a /metrics page over HTTP with a
// plain socket, and read one sample's value out of the Prometheus text format.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(std::string page, crm::metrics::testing::Scrape(exposer->port()));
//   std::optional<double> n = crm::metrics::testing::SampleValue(
//       page, "grpc_server_handled_total", {{"grpc_method", "Echo"}, {"grpc_code", "OK"}});
#ifndef CRM_LIBS_METRICS_METRICS_TESTING_H_
#define CRM_LIBS_METRICS_METRICS_TESTING_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace crm::metrics::testing {

// Returns the body of `GET <path>` from http://<host>:<port>, or an error if the connection fails or
// the status is not 200. Blocks for at most about five seconds.
absl::StatusOr<std::string> Scrape(int port, const std::string& host = "127.0.0.1",
                                   const std::string& path = "/metrics");

// Returns the value of the first sample in `page` named exactly `name` whose labels include every
// pair in `labels` (other labels are ignored); nullopt if there is none.
std::optional<double> SampleValue(std::string_view page, std::string_view name,
                                  const std::map<std::string, std::string>& labels = {});

}  // namespace crm::metrics::testing

#endif  // CRM_LIBS_METRICS_METRICS_TESTING_H_
