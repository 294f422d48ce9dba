#include "libs/metrics/metrics.h"

#include <netdb.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"

namespace crm::metrics {

std::shared_ptr<prometheus::Registry> SharedRegistry() {
  // Leaked on purpose: metric references handed out must outlive every static destructor.
  static auto* const kRegistry =
      new std::shared_ptr<prometheus::Registry>(std::make_shared<prometheus::Registry>());
  return *kRegistry;
}

prometheus::Registry& Registry() { return *SharedRegistry(); }

namespace {

// The numeric host to connect to for reaching a listener bound to `bind_address`.
std::string WakeHost(std::string_view bind_address) {
  const size_t colon = bind_address.rfind(':');
  std::string_view host = colon == std::string_view::npos ? "" : bind_address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "0.0.0.0") return "127.0.0.1";
  if (host == "::") return "::1";
  return std::string(host);
}

// Opens and closes one TCP connection to host:port, ignoring failures.
void Poke(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) return;
  const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    (void)::connect(fd, res->ai_addr, res->ai_addrlen);
    ::close(fd);
  }
  ::freeaddrinfo(res);
}

}  // namespace

Exposer::Exposer(std::unique_ptr<prometheus::Exposer> exposer, int port, std::string wake_host)
    : exposer_(std::move(exposer)), port_(port), wake_host_(std::move(wake_host)) {}

Exposer::~Exposer() {
  // CivetWeb's listener thread notices the stop request only when its poll() returns, which takes up
  // to 2 s when idle. A connection wakes it, so knock until the server has stopped.
  std::atomic<bool> stopped{false};
  std::thread knocker([&] {
    while (!stopped.load()) {
      Poke(wake_host_, port_);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  exposer_.reset();
  stopped.store(true);
  knocker.join();
}

absl::StatusOr<std::unique_ptr<Exposer>> Exposer::Start(const std::string& bind_address) {
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(bind_address, /*num_threads=*/2);
  } catch (const std::exception& e) {
    return absl::UnavailableError("metrics: cannot listen on \"" + bind_address + "\": " + e.what());
  }
  std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError("metrics: cannot listen on \"" + bind_address + "\"");
  }
  exposer->RegisterCollectable(SharedRegistry());
  return std::unique_ptr<Exposer>(new Exposer(std::move(exposer), ports.front(), WakeHost(bind_address)));
}

prometheus::Gauge& NewGauge(const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(Registry()).Add({});
}

prometheus::Counter& NewCounter(const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(Registry()).Add({});
}

const std::vector<double>& LatencyBuckets() {
  static const auto* const kBuckets =
      new std::vector<double>{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *kBuckets;
}

}  // namespace crm::metrics
