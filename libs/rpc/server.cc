#include "libs/rpc/server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/server_builder_option.h"
#include "grpcpp/impl/server_builder_plugin.h"
#include "grpcpp/impl/server_initializer.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/config/config.h"
#include "libs/log/log.h"
#include "libs/metrics/metrics.h"
#include "libs/rpc/call.h"
#include "libs/rpc/internal/interceptor.h"
#include "libs/auth/jwt.h"
#include "libs/rpc/signed_principal.h"

namespace crm::rpc {
namespace {

// ---- SIGTERM / SIGINT -------------------------------------------------------------------------------
// The handler only writes to a pipe that every Wait() polls; the pipe is never drained, so one signal
// wakes every server in the process, now or later. SA_RESETHAND: a second signal kills the process.

int g_signal_pipe[2] = {-1, -1};
std::atomic<int> g_signal{0};

extern "C" void OnStopSignal(int sig) {
  const int saved_errno = errno;
  g_signal.store(sig, std::memory_order_relaxed);
  const char byte = 1;
  [[maybe_unused]] ssize_t n = ::write(g_signal_pipe[1], &byte, 1);
  errno = saved_errno;
}

void InstallStopSignals() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (::pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
      log::Error("cannot create the signal pipe: SIGTERM will kill the process without draining");
      return;
    }
    struct sigaction sa = {};
    sa.sa_handler = OnStopSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGINT, &sa, nullptr);
  });
}

// ---- the service names a grpc::Server registered -----------------------------------------------------
// grpc::Service does not expose its name; grpc::ServerInitializer lists the registered ones.

class ServiceNamesPlugin final : public grpc::ServerBuilderPlugin {
 public:
  explicit ServiceNamesPlugin(std::vector<std::string>* out) : out_(out) {}
  std::string name() override { return "crm_service_names"; }
  void InitServer(grpc::ServerInitializer*) override {}
  void Finish(grpc::ServerInitializer* si) override { *out_ = *si->GetServiceList(); }
  void ChangeArguments(const std::string&, void*) override {}

 private:
  std::vector<std::string>* out_;
};

class ServiceNamesOption final : public grpc::ServerBuilderOption {
 public:
  explicit ServiceNamesOption(std::vector<std::string>* out) : out_(out) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->push_back(std::make_unique<ServiceNamesPlugin>(out_));
  }

 private:
  std::vector<std::string>* out_;
};

constexpr absl::string_view kHealthService = "grpc.health.v1.Health";
constexpr absl::string_view kReflectionPrefix = "grpc.reflection.";

// ---- settings ------------------------------------------------------------------------------------------

// Returns "" if `value` is host:port with a port in 0..65535 (host may be [v6]), else the problem.
std::string AddressProblem(std::string_view value, bool allow_unix) {
  if (allow_unix && value.starts_with("unix:")) {
    return value.size() > 5 ? "" : "empty unix socket path";
  }
  const size_t colon = value.rfind(':');
  if (colon == std::string_view::npos) return "want host:port, e.g. 0.0.0.0:50051";
  std::string_view host = value.substr(0, colon);
  std::string_view port = value.substr(colon + 1);
  if (host.empty()) return "empty host (want host:port, e.g. 0.0.0.0:50051)";
  if (host.front() == '[' ? host.back() != ']' : host.find(':') != std::string_view::npos) {
    return "IPv6 hosts go in brackets, e.g. [::]:50051";
  }
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), absl::ascii_isdigit)) {
    return "port is not a number";
  }
  int n = 0;
  if (!absl::SimpleAtoi(AsAbsl(port), &n) || n > 65535) return "port out of range 0..65535";
  return "";
}

}  // namespace

absl::StatusOr<ServerOptions> LoadServerOptions(config::Env& env, int default_grpc_port,
                                                int default_metrics_port) {
  ServerOptions o;
  o.service = env.service();
  o.grpc_address = env.String("GRPC_ADDRESS", absl::StrCat("0.0.0.0:", default_grpc_port));
  o.metrics_address = env.String("METRICS_ADDRESS", absl::StrCat("0.0.0.0:", default_metrics_port));
  o.drain_timeout = env.Duration("DRAIN_TIMEOUT", absl::Seconds(10));
  o.max_deadline = env.Duration("MAX_DEADLINE", absl::Seconds(30));
  o.log_level = env.String("LOG_LEVEL", "info");

  if (std::string p = AddressProblem(o.grpc_address, /*allow_unix=*/true); !p.empty())
    env.Reject("GRPC_ADDRESS", p);
  if (std::string p = AddressProblem(o.metrics_address, /*allow_unix=*/false); !p.empty()) {
    env.Reject("METRICS_ADDRESS", p);
  }
  if (o.max_deadline <= absl::ZeroDuration()) env.Reject("MAX_DEADLINE", "must be positive");
  if (!log::ParseLevel(o.log_level).ok()) env.Reject("LOG_LEVEL", "not one of debug, info, warn, error");
  CRM_RETURN_IF_ERROR(env.status());
  return o;
}

// ---- Server --------------------------------------------------------------------------------------------

struct Server::Impl {
  explicit Impl(ServerOptions o) : options(std::move(o)) {}

  // Blocks until a stop signal or Shutdown().
  void AwaitStop() {
    pollfd fds[2] = {{wake_fd, POLLIN, 0}, {g_signal_pipe[0], POLLIN, 0}};
    const nfds_t n = g_signal_pipe[0] >= 0 ? 2 : 1;
    for (;;) {
      int r = ::poll(fds, n, -1);
      if (r > 0) return;
      if (r < 0 && errno != EINTR) {
        log::Error("poll failed while waiting for SIGTERM; draining now", {{"errno", errno}});
        return;
      }
    }
  }

  // Health NOT_SERVING, refuse new calls, let in-flight ones finish within drain_timeout.
  void Drain() {
    absl::MutexLock lock(&drain_mu);
    if (drained || server == nullptr) return;
    const int sig = g_signal.load(std::memory_order_relaxed);
    log::Info("draining", {{"reason", sig == SIGTERM  ? "SIGTERM"
                                      : sig == SIGINT ? "SIGINT"
                                                      : "shutdown"},
                           {"drain_timeout", options.drain_timeout}});
    if (auto* health = server->GetHealthCheckService()) health->Shutdown();
    // absl::ToChronoTime saturates: an infinite drain_timeout waits for every call.
    server->Shutdown(absl::ToChronoTime(absl::Now() + options.drain_timeout));
    server->Wait();
    drained = true;
    log::Info("stopped");
  }

  ServerOptions options;
  const Clock* clock = &SystemClock();
  std::shared_ptr<const PrincipalVerifier> verifier = UnverifiedPrincipals();
  std::shared_ptr<const auth::SigningKey> service_key;
  std::vector<grpc::Service*> services;
  std::vector<std::shared_ptr<void>> owned;
  std::vector<std::string> service_names;
  std::shared_ptr<internal::ServerCallShared> calls;
  std::unique_ptr<metrics::Exposer> exposer;
  std::unique_ptr<grpc::Server> server;
  int grpc_port = 0;
  int wake_fd = -1;
  std::atomic<bool> shutdown_requested{false};
  absl::Mutex drain_mu;
  bool drained ABSL_GUARDED_BY(drain_mu) = false;
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

Server::~Server() {
  if (impl_->server != nullptr) {
    Shutdown();
    impl_->Drain();
    impl_->server.reset();
  }
  impl_->exposer.reset();
  if (impl_->wake_fd >= 0) ::close(impl_->wake_fd);
  // Owned objects go last, newest first: services may use what was owned before them.
  while (!impl_->owned.empty()) impl_->owned.pop_back();
}

void Server::AddService(grpc::Service* service) { impl_->services.push_back(service); }

void Server::OwnErased(std::shared_ptr<void> object) { impl_->owned.push_back(std::move(object)); }

void Server::SetPrincipalVerifier(std::shared_ptr<const PrincipalVerifier> verifier) {
  impl_->verifier = verifier != nullptr ? std::move(verifier) : UnverifiedPrincipals();
}

void Server::SetClock(const Clock& clock) { impl_->clock = &clock; }

const auth::SigningKey* Server::service_key() const { return impl_->service_key.get(); }
void Server::SetServiceKey(std::shared_ptr<const auth::SigningKey> key) { impl_->service_key = std::move(key); }

const ServerOptions& Server::options() const { return impl_->options; }
int Server::grpc_port() const { return impl_->grpc_port; }
int Server::metrics_port() const { return impl_->exposer != nullptr ? impl_->exposer->port() : 0; }

absl::Status Server::Start() {
  Impl& s = *impl_;
  if (s.server != nullptr) return absl::FailedPreconditionError("server already started");
  if (s.wake_fd < 0) return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));

  CRM_ASSIGN_OR_RETURN(s.exposer, metrics::Exposer::Start(s.options.metrics_address));

  static std::once_flag once;
  std::call_once(once, [] {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  });

  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default, which lets two servers share a port silently.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Requests up to kMaxRequestBytes (gRPC's own default is 4 MiB): a deal's 10 MiB attachment fits.
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  int port = 0;
  builder.AddListeningPort(s.options.grpc_address, grpc::InsecureServerCredentials(), &port);
  for (grpc::Service* service : s.services) builder.RegisterService(service);
  internal::InterceptorOptions io;
  io.service = s.options.service;
  io.max_deadline = s.options.max_deadline;
  io.clock = s.clock;
  io.verifier = s.verifier;
  s.calls = internal::NewServerCallShared(std::move(io));
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(internal::NewServerInterceptorFactory(s.calls));
  builder.experimental().SetInterceptorCreators(std::move(creators));
  builder.SetOption(std::make_unique<ServiceNamesOption>(&s.service_names));

  s.server = builder.BuildAndStart();
  const bool unix_socket = absl::StartsWith(s.options.grpc_address, "unix:");
  if (s.server == nullptr || (port == 0 && !unix_socket)) {
    if (s.server != nullptr) {
      s.server->Shutdown();
      s.server.reset();
    }
    s.exposer.reset();
    return absl::UnavailableError(absl::StrCat("grpc: cannot listen on \"", s.options.grpc_address,
                                               "\" (in use, or not a local address)"));
  }
  s.grpc_port = port;

  // Every method of a service with a generated descriptor gets its metric series now, at zero.
  for (const std::string& name : s.service_names) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      internal::DeclareMethod(*s.calls, absl::StrCat("/", name, "/", service->method(i)->name()));
    }
  }

  grpc::HealthCheckServiceInterface* health = s.server->GetHealthCheckService();
  if (health != nullptr) {
    for (const std::string& name : s.service_names) {
      if (name == kHealthService || absl::StartsWith(name, kReflectionPrefix)) continue;
      health->SetServingStatus(name, true);
    }
    health->SetServingStatus("", true);
  }
  InstallStopSignals();
  return absl::OkStatus();
}

void Server::Wait() {
  if (impl_->server == nullptr) return;
  impl_->AwaitStop();
  impl_->Drain();
}

void Server::Shutdown() {
  if (impl_->shutdown_requested.exchange(true)) return;
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(impl_->wake_fd, &one, sizeof(one));
}

// ---- RunService ----------------------------------------------------------------------------------------

int RunService(std::string_view service, int default_grpc_port, int default_metrics_port,
               absl::FunctionRef<absl::Status(config::Env&, Server&)> wire) {
  // Debian's Abseil keeps the debug deadlock detector on: every Mutex lock updates a global lock graph.
  // Tests keep it; the services run without it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  log::Init(service, log::Level::kInfo);
  config::Env env(service);
  absl::StatusOr<ServerOptions> options = LoadServerOptions(env, default_grpc_port, default_metrics_port);
  if (!options.ok()) return config::ReportInvalid(service, options.status());
  options->service = std::string(service);
  log::Init(service, log::ParseLevel(options->log_level).value_or(log::Level::kInfo));

  Server server(*options);
  // Whose principal header to believe: only signed ones, when the trusted keys are configured.
  if (const std::string keys_file = env.String("TRUSTED_KEYS_FILE", ""); !keys_file.empty()) {
    absl::StatusOr<auth::KeySet> keys = LoadTrustedKeys(keys_file);
    if (!keys.ok()) {
      env.Reject("TRUSTED_KEYS_FILE", AsStd(keys.status().message()));
      return config::ReportInvalid(service, env.status());
    }
    server.SetPrincipalVerifier(SignedPrincipals(*std::move(keys)));
  } else {
    log::Warn("caller principals are believed unsigned: set the trusted keys file for production",
              {{"variable", env.VarName("TRUSTED_KEYS_FILE")}});
  }
  // The service's own key, for calls it makes on its own (a robot's action): client.h SetSignedCaller.
  if (const std::string key_file = env.String("SERVICE_KEY_FILE", ""); !key_file.empty()) {
    const std::string kid = env.String("SERVICE_KEY_ID", std::string(service));
    std::ifstream in(key_file);
    std::stringstream pem;
    pem << in.rdbuf();
    absl::StatusOr<auth::SigningKey> key =
        in ? auth::SigningKey::FromPrivatePem(kid, pem.str())
           : absl::StatusOr<auth::SigningKey>(absl::NotFoundError("cannot read the file"));
    if (!key.ok()) {
      env.Reject("SERVICE_KEY_FILE", AsStd(key.status().message()));
      return config::ReportInvalid(service, env.status());
    }
    server.SetServiceKey(std::make_shared<const auth::SigningKey>(*std::move(key)));
  }
  absl::Status wired = wire(env, server);
  if (!env.status().ok()) return config::ReportInvalid(service, env.status());
  if (!wired.ok()) {
    log::Error("cannot set up the service", {{"error", wired}});
    return 1;
  }
  if (absl::Status started = server.Start(); !started.ok()) {
    log::Error("cannot start", {{"error", started}});
    return 1;
  }
  log::Info("serving", {{"grpc_port", server.grpc_port()},
                        {"metrics_port", server.metrics_port()},
                        {"grpc_address", options->grpc_address},
                        {"metrics_address", options->metrics_address}});
  server.Wait();
  return 0;
}

}  // namespace crm::rpc
