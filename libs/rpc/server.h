// File: libs/rpc/server.h
// -----------------------------------------------------------------------------
// Everything a service's main() needs: settings from the environment, a gRPC server with the suite's
// standard equipment, and a graceful drain on SIGTERM.
//
// A crm::rpc::Server serves the added services plus grpc.health.v1 (each added service SERVING under
// its full name, and "") and server reflection, runs every call through the suite's interceptor
// (metrics, request id, deadline bound, caller identity: see call.h) and serves crm::metrics on
// http://<metrics_address>/metrics.
//
// Settings (CRM_<SERVICE>_<NAME>, falling back to CRM_<NAME>):
//   GRPC_ADDRESS     host:port the gRPC server listens on      default 0.0.0.0:<default_grpc_port>
//   METRICS_ADDRESS  host:port of the /metrics endpoint        default 0.0.0.0:<default_metrics_port>
//   DRAIN_TIMEOUT    how long in-flight calls may run on after SIGTERM          default 10s
//   MAX_DEADLINE     bound for calls with no deadline or a longer one           default 30s
//   LOG_LEVEL        debug | info | warn | error                                default info
//   TRUSTED_KEYS_FILE  JWKS of the keys whose signed principals are believed (the gateway's and the
//                    suite's services'); unset: principals are believed unsigned (development only)
//   SERVICE_KEY_FILE the service's own Ed25519 key (PKCS#8 PEM), kid = SERVICE_KEY_ID (default: the
//                    service's name): signs its principal when it acts on its own (client.h
//                    SetSignedCaller); unset: Server::service_key() is null
//
// Exit codes of RunService: 0 after a clean drain; 2 for bad configuration (one line on stderr
// naming every bad variable); 1 when wiring or starting fails (a busy port, an unreachable database).
//
// Example (a whole main.cc):
//   int main() {
//     return crm::rpc::RunService("deals", 50051, 9464,
//         [](crm::config::Env& env, crm::rpc::Server& server) -> absl::Status {
//           CRM_ASSIGN_OR_RETURN(auto store, deals::Store::Open(env.String("PG_DSN", "...")));
//           auto* service = server.Own(std::make_unique<deals::DealService>(std::move(store)));
//           server.AddService(service);
//           return absl::OkStatus();
//         });
//   }
#ifndef CRM_LIBS_RPC_SERVER_H_
#define CRM_LIBS_RPC_SERVER_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace grpc {
class Service;
}  // namespace grpc

namespace crm {
class Clock;
namespace auth {
class SigningKey;
}  // namespace auth
namespace config {
class Env;
}  // namespace config
}  // namespace crm

namespace crm::rpc {

class PrincipalVerifier;

// A server's settings; see the file comment for the variables that set them.
// The largest request message a crm::rpc::Server accepts (larger ones get RESOURCE_EXHAUSTED).
inline constexpr int kMaxRequestBytes = 16 << 20;

struct ServerOptions {
  // The suite's service name ("deals"): log field, metrics label, config prefix.
  std::string service;
  // host:port for gRPC ("0.0.0.0:50051"; port 0 picks a free port).
  std::string grpc_address;
  // host:port for /metrics ("0.0.0.0:9464"; port 0 picks a free port).
  std::string metrics_address;
  // After SIGTERM, how long in-flight calls may run on before they are cancelled.
  absl::Duration drain_timeout = absl::Seconds(10);
  // Calls arriving without a deadline, or with a later one, are cancelled this long after arrival.
  absl::Duration max_deadline = absl::Seconds(30);
  // debug | info | warn | error.
  std::string log_level = "info";
};

// Reads ServerOptions for env's service from the environment. Returns InvalidArgument naming every bad
// variable with its value (`CRM_DEALS_DRAIN_TIMEOUT="banana": ...; CRM_DEALS_GRPC_ADDRESS=...`):
// env.status() problems plus addresses that are not host:port with a port in 0..65535, an unknown log
// level, a negative drain timeout or a non-positive max deadline.
absl::StatusOr<ServerOptions> LoadServerOptions(config::Env& env, int default_grpc_port,
                                                int default_metrics_port);

// A gRPC server with health, reflection, the suite's interceptor and a metrics endpoint.
// Add services (and the objects they need, with Own()) before Start(); then Wait() until told to stop.
// Configure (AddService, Own, Set*) from one thread before Start(); afterwards Shutdown() may be called
// from any thread, a handler's included.
class Server {
 public:
  explicit Server(ServerOptions options);
  // Stops the server if it still runs (drains like Wait() does after Shutdown()), then destroys the
  // owned objects, last owned first.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves `service` (not owned: it must outlive the server; see Own()). Once started, the server
  // reports it SERVING in grpc.health.v1 under its full name ("crm.deals.v1.DealService"). Before Start().
  void AddService(grpc::Service* service);

  // Keeps `object` alive until the server has stopped and drained; returns it. For services and the
  // clients, pools and workers they use, created while wiring.
  template <typename T>
  T* Own(std::unique_ptr<T> object) {
    T* raw = object.get();
    OwnErased(std::shared_ptr<void>(std::move(object)));
    return raw;
  }

  // Replaces the principal verifier (default: UnverifiedPrincipals(), which trusts the header). Before
  // Start().
  void SetPrincipalVerifier(std::shared_ptr<const PrincipalVerifier> verifier);

  // The service's own signing key (SERVICE_KEY_FILE), or nullptr when none is configured. Set before
  // wiring by RunService; valid for the server's life.
  const auth::SigningKey* service_key() const;
  void SetServiceKey(std::shared_ptr<const auth::SigningKey> key);

  // Replaces the clock the arrival deadline check reads (default crm::SystemClock()); for tests.
  // `clock` must outlive the server. Before Start().
  void SetClock(const Clock& clock);

  // Starts the metrics endpoint and the gRPC server. Returns Unavailable naming the address if a port
  // cannot be bound (in use, not a local address), FailedPrecondition if already started. Once it
  // returns OK, SIGTERM and SIGINT ask this server to drain (a second one kills the process).
  absl::Status Start();

  // The ports actually bound (the chosen ones for port 0). Valid after Start() returned OK.
  int grpc_port() const;
  int metrics_port() const;

  // Blocks until SIGTERM, SIGINT or Shutdown(); then drains: health reports NOT_SERVING, new calls
  // are refused (clients see UNAVAILABLE, or CANCELLED for a call that raced with the start of the
  // drain; no handler runs for them), in-flight calls may finish within drain_timeout, after which
  // gRPC ends them (clients see UNAVAILABLE). Returns once every call has ended. Returns at once if
  // the server was never started or has already drained.
  void Wait();

  // Asks the server to drain; returns at once (Wait() does the draining). Safe from any thread,
  // also before Wait() is called; a no-op after the first call.
  void Shutdown();

  // The options the server was made with.
  const ServerOptions& options() const;

 private:
  struct Impl;
  void OwnErased(std::shared_ptr<void> object);
  std::unique_ptr<Impl> impl_;
};

// The whole main() of a service. Reads ServerOptions for `service`; on a bad value prints one line
// naming the variable(s) to stderr (and logs it as JSON) and returns 2. Otherwise sets up logging,
// calls `wire(env, server)` to add components (they read their own settings from `env`), checks
// env.status() again (returns 2 the same way), starts the server, logs
// {"msg":"serving","grpc_port":…,"metrics_port":…}, waits for SIGTERM/SIGINT, drains and returns 0.
// Returns 1 if `wire` fails or the server cannot start.
int RunService(std::string_view service, int default_grpc_port, int default_metrics_port,
               absl::FunctionRef<absl::Status(config::Env&, Server&)> wire);

}  // namespace crm::rpc

#endif  // CRM_LIBS_RPC_SERVER_H_
