// crm-echo-probe: a service binary built exactly like the suite's services (crm::rpc::RunService) that
// serves the test EchoService, for tests/rpc's cross-process tests.
//
//   CRM_ECHO_GRPC_ADDRESS=127.0.0.1:0 CRM_ECHO_METRICS_ADDRESS=127.0.0.1:0 crm-echo-probe
//
// Besides the standard settings it reads CRM_ECHO_SLOW_CALL_LIMIT (an integer, 1..10000, unused but
// for the start-up log line) to show that settings read while wiring are checked too. SIGUSR1 releases
// every Slow call, running or to come.
#include <pthread.h>
#include <signal.h>

#include <thread>

#include "absl/status/status.h"
#include "libs/config/config.h"
#include "libs/log/log.h"
#include "libs/rpc/server.h"
#include "libs/rpc/testing/echo_service.h"

int main() {
  // Block SIGUSR1 before any thread starts, so every thread inherits the mask and only the releaser
  // below ever takes it.
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, nullptr);

  static crm::rpc::testing::EchoServiceImpl echo;  // static: outlives the server and the releaser
  std::thread([usr1] {
    int sig = 0;
    while (sigwait(&usr1, &sig) == 0) {
      crm::log::Info("SIGUSR1: releasing slow calls");
      echo.ReleaseSlowCalls();
    }
  }).detach();

  return crm::rpc::RunService("echo", 50090, 9490, [](crm::config::Env& env, crm::rpc::Server& server) {
    const int64_t limit = env.Int("SLOW_CALL_LIMIT", 100, 1, 10000);
    crm::log::Info("wired", {{"slow_call_limit", limit}});
    server.AddService(&echo);
    return absl::OkStatus();
  });
}
