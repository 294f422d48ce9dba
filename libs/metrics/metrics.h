// File: libs/metrics/metrics.h
// -----------------------------------------------------------------------------
// One Prometheus registry per process, and the HTTP endpoint that serves it.
//
// Every library registers its metric families into crm::metrics::Registry(); a service's main()
// (through crm::rpc::Server) starts one Exposer that serves the registry as Prometheus text on
// http://<bind>/metrics. Family::Add() is slow in prometheus-cpp 1.0.1: add each labelled metric
// once and keep the reference, never per request.
//
// Example:
//   #include "prometheus/counter.h"
//   auto& sent = prometheus::BuildCounter()
//                    .Name("crm_outbox_published_total").Help("Events published from the outbox.")
//                    .Register(crm::metrics::Registry())
//                    .Add({{"topic", "crm.deals.deal.v1"}});     // keep this reference
//   sent.Increment();
//
//   CRM_ASSIGN_OR_RETURN(auto exposer, crm::metrics::Exposer::Start("0.0.0.0:9464"));
#ifndef CRM_LIBS_METRICS_METRICS_H_
#define CRM_LIBS_METRICS_METRICS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace prometheus {
class Exposer;
class Counter;
class Gauge;
class Registry;
}  // namespace prometheus

namespace crm::metrics {

// Returns the process-wide registry. The same object on every call; never destroyed, so metric
// references taken from it stay valid until the process exits.
prometheus::Registry& Registry();

// Returns the same registry as Registry(), as a shared pointer (what prometheus::Exposer wants).
std::shared_ptr<prometheus::Registry> SharedRegistry();

// A label-less gauge or counter `name` with `help` in Registry(), for a component's metric struct
// built once (a function-local static). The reference stays valid until the process exits.
prometheus::Gauge& NewGauge(const char* name, const char* help);
prometheus::Counter& NewCounter(const char* name, const char* help);

// Serves Registry() as Prometheus text format on GET /metrics while the object lives.
// Destroying it stops the listener (and its two worker threads) within milliseconds.
class Exposer {
 public:
  // Binds `bind_address` ("0.0.0.0:9464", "127.0.0.1:0" picks a free port, "[::]:9464") and starts
  // serving. Returns Unavailable naming the address if it cannot be bound (busy, not local, bad).
  static absl::StatusOr<std::unique_ptr<Exposer>> Start(const std::string& bind_address);

  ~Exposer();
  Exposer(const Exposer&) = delete;
  Exposer& operator=(const Exposer&) = delete;

  // The TCP port actually bound (the chosen one when started with port 0).
  int port() const { return port_; }

 private:
  Exposer(std::unique_ptr<prometheus::Exposer> exposer, int port, std::string wake_host);

  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_;
  std::string wake_host_;  // a numeric address that reaches the listener, for the destructor
};

// Histogram bucket bounds for latencies, in seconds: 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
// 0.1, 0.25, 0.5, 1, 2.5, 5, 10. The same object on every call.
const std::vector<double>& LatencyBuckets();

}  // namespace crm::metrics

#endif  // CRM_LIBS_METRICS_METRICS_H_
