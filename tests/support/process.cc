#include "tests/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace crm::testing {

absl::StatusOr<std::unique_ptr<Process>> Process::Spawn(const std::vector<std::string>& argv,
                                                        const std::map<std::string, std::string>& env) {
  if (argv.empty()) return absl::InvalidArgumentError("argv: empty");
  std::map<std::string, std::string> merged;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string_view::npos) merged[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  for (const auto& [k, v] : env) merged[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : merged) env_strings.push_back(absl::StrCat(k, "=", v));
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return absl::InternalError("pipe2 failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    return absl::InternalError(absl::StrCat("cannot start ", argv[0], ": ", std::strerror(rc)));
  }
  return std::unique_ptr<Process>(new Process(pid, out[0]));
}

Process::~Process() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  ::close(out_fd_);
}

absl::StatusOr<std::string> Process::ReadLine(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("no line from the child in time");
    pollfd p{out_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(out_fd_, buf, sizeof buf);
    if (n == 0) return absl::NotFoundError(absl::StrCat("the child closed stdout; buffered: ", buffer_));
    if (n > 0) buffer_.append(buf, static_cast<size_t>(n));
  }
}

absl::StatusOr<std::string> Process::ReadLineStartingWith(std::string_view prefix, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    auto line = ReadLine(deadline - absl::Now());
    if (!line.ok() || line->rfind(prefix, 0) == 0) return line;
  }
}

void Process::Kill(int signal) {
  if (!reaped_) ::kill(pid_, signal);
}

absl::StatusOr<int> Process::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (absl::Now() >= deadline) return absl::DeadlineExceededError("the child did not exit in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

absl::StatusOr<std::unique_ptr<DevBroker>> DevBroker::Start(const std::vector<std::string>& topics,
                                                            int rtt_ms) {
  std::vector<std::string> argv = {DevBrokerPath()};
  for (const auto& t : topics) {
    argv.push_back("--topic");
    argv.push_back(t);
  }
  if (rtt_ms > 0) {
    argv.push_back("--rtt-ms");
    argv.push_back(absl::StrCat(rtt_ms));
  }
  auto process = Process::Spawn(argv);
  if (!process.ok()) return process.status();
  auto line = (*process)->ReadLineStartingWith("BROKERS=", absl::Seconds(30));
  if (!line.ok()) return line.status();
  return std::unique_ptr<DevBroker>(new DevBroker(*std::move(process), line->substr(strlen("BROKERS="))));
}

absl::Status DevBroker::Down() {
  process_->Kill(SIGUSR1);
  return process_->ReadLineStartingWith("DOWN", absl::Seconds(10)).status();
}

absl::Status DevBroker::Up() {
  process_->Kill(SIGUSR2);
  return process_->ReadLineStartingWith("UP", absl::Seconds(10)).status();
}

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::string DevBrokerPath() { return BinaryPath("tools/devbroker/crm-devbroker"); }

std::string BinaryPath(std::string_view relative) {
  return absl::StrCat(CRM_BUILD_DIR, "/", absl::string_view(relative.data(), relative.size()));
}

}  // namespace crm::testing
