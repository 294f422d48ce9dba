// File: tests/support/process.h
// -----------------------------------------------------------------------------
// Test support: child processes that tests start, signal, read and reap — the real binaries of the
// suite (a relay, a consumer, the dev broker) so that crashes can be staged with SIGKILL.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(auto broker, crm::testing::DevBroker::Start({"crm.test.item.v1:4"}));
//   broker->Down();   // every connection dropped, new ones refused
//   broker->Up();
//   auto relay = crm::testing::Process::Spawn({probe, "relay"}, {{"CRM_PROBE_KAFKA_BROKERS",
//   broker->brokers()}});
//   (*relay)->Kill(SIGKILL);
#ifndef CRM_TESTS_SUPPORT_PROCESS_H_
#define CRM_TESTS_SUPPORT_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crm::testing {

class Process {
 public:
  // Starts argv[0] with the current environment plus `env`; stdout is captured for ReadLine(), stderr
  // is inherited (it shows in the test log).
  static absl::StatusOr<std::unique_ptr<Process>> Spawn(const std::vector<std::string>& argv,
                                                        const std::map<std::string, std::string>& env = {});
  ~Process();  // SIGKILLs and reaps a child still running

  // The next line of the child's stdout (without '\n'); DeadlineExceeded after `timeout`, NotFound at EOF.
  absl::StatusOr<std::string> ReadLine(absl::Duration timeout);
  // Reads lines until one starts with `prefix`; returns it.
  absl::StatusOr<std::string> ReadLineStartingWith(std::string_view prefix, absl::Duration timeout);
  void Kill(int signal);
  // Waits for exit; the exit code, or 128+signal. DeadlineExceeded after `timeout` (the child is left
  // running).
  absl::StatusOr<int> Wait(absl::Duration timeout);
  pid_t pid() const { return pid_; }

 private:
  Process(pid_t pid, int out_fd) : pid_(pid), out_fd_(out_fd) {}
  pid_t pid_;
  int out_fd_;
  bool reaped_ = false;
  std::string buffer_;
};

// A private crm-devbroker process for one test (tools/devbroker), killed at destruction.
class DevBroker {
 public:
  // topics: "name" or "name:partitions". rtt_ms > 0 delays every broker response.
  static absl::StatusOr<std::unique_ptr<DevBroker>> Start(const std::vector<std::string>& topics,
                                                          int rtt_ms = 0);
  const std::string& brokers() const { return brokers_; }
  // A broker outage: connections dropped and refused until Up(). Returns once the broker confirmed.
  absl::Status Down();
  absl::Status Up();

 private:
  DevBroker(std::unique_ptr<Process> process, std::string brokers)
      : process_(std::move(process)), brokers_(std::move(brokers)) {}
  std::unique_ptr<Process> process_;
  std::string brokers_;
};

// Polls `condition` every few milliseconds until it holds or `timeout` passes; returns whether it held.
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout);

// Paths of the suite's binaries in this build.
std::string DevBrokerPath();
std::string BinaryPath(std::string_view relative_to_build_dir);

}  // namespace crm::testing

#endif  // CRM_TESTS_SUPPORT_PROCESS_H_
