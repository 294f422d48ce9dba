// Cross-process tests of crm::rpc::RunService through the crm-echo-probe binary: bad settings stop it
// at start with exit code 2 naming the variables; SIGTERM drains (an in-flight call completes, new
// calls are refused, exit code 0).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "crm/testing/v1/echo.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

extern char** environ;

namespace crm::rpc {
namespace {

using ::crm::testing::v1::EchoRequest;
using ::crm::testing::v1::EchoResponse;
using ::crm::testing::v1::SlowRequest;
using ::crm::testing::v1::SlowResponse;
using ::testing::HasSubstr;

// The probe process: started with the given CRM_* variables (and none inherited), stderr captured.
class Probe {
 public:
  explicit Probe(const std::map<std::string, std::string>& vars) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (!absl::StartsWith(*e, "CRM_")) env.emplace_back(*e);
    }
    for (const auto& [k, v] : vars) env.push_back(absl::StrCat(k, "=", v));
    std::vector<char*> envp;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);

    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    char* argv[] = {const_cast<char*>(CRM_ECHO_PROBE), nullptr};
    const int rc = posix_spawn(&pid_, CRM_ECHO_PROBE, &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    EXPECT_EQ(rc, 0) << "cannot start " << CRM_ECHO_PROBE;
    stderr_fd_ = fds[0];
  }

  ~Probe() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(stderr_fd_);
  }

  pid_t pid() const { return pid_; }

  // Returns the first stderr line (from the start) containing `needle`, reading more for at most
  // `timeout`; nullopt if none came.
  std::optional<std::string> WaitForLine(std::string_view needle,
                                         absl::Duration timeout = absl::Seconds(20)) {
    const absl::Time end = absl::Now() + timeout;
    for (;;) {
      for (const std::string& line : Lines()) {
        if (line.find(needle) != std::string::npos) return line;
      }
      if (eof_ || !ReadSome(end)) return std::nullopt;
    }
  }

  // Waits (at most `timeout`) for the process to exit; returns its exit code, or -1 if it did not
  // exit normally in time. Reads the rest of stderr.
  int WaitForExit(absl::Duration timeout = absl::Seconds(20)) {
    const absl::Time end = absl::Now() + timeout;
    while (!eof_ && ReadSome(end)) {
    }
    for (;;) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      if (absl::Now() > end) return -1;
      ::usleep(10'000);  // bounded poll for the exit
    }
  }

  // Everything the process wrote to stderr so far.
  const std::string& stderr_text() const { return buffer_; }

 private:
  std::vector<std::string> Lines() const {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t nl; (nl = buffer_.find('\n', start)) != std::string::npos; start = nl + 1) {
      out.push_back(buffer_.substr(start, nl - start));
    }
    return out;
  }

  // Reads what is available before `end`; false on timeout.
  bool ReadSome(absl::Time end) {
    const int64_t ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(end - absl::Now()));
    pollfd p{stderr_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(ms)) <= 0) return false;
    char buf[4096];
    ssize_t n = ::read(stderr_fd_, buf, sizeof(buf));
    if (n <= 0) {
      eof_ = true;
      return true;
    }
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  bool eof_ = false;
  bool exited_ = false;
  std::string buffer_;
};

// The integer value of "key":N in a JSON log line.
int JsonInt(const std::string& line, const std::string& key) {
  const std::string needle = absl::StrCat("\"", key, "\":");
  size_t at = line.find(needle);
  if (at == std::string::npos) return -1;
  at += needle.size();
  size_t end = line.find_first_not_of("0123456789", at);
  int value = -1;
  if (!absl::SimpleAtoi(line.substr(at, end - at), &value)) return -1;
  return value;
}

const std::map<std::string, std::string> kLoopback = {{"CRM_ECHO_GRPC_ADDRESS", "127.0.0.1:0"},
                                                      {"CRM_ECHO_METRICS_ADDRESS", "127.0.0.1:0"}};

std::map<std::string, std::string> Loopback(std::map<std::string, std::string> extra) {
  std::map<std::string, std::string> vars = kLoopback;
  for (auto& [k, v] : extra) vars[k] = v;
  return vars;
}

// ---- (a) bad settings stop the process at start -----------------------------------------------------

TEST(ProbeStartTest, UnparsableDrainTimeoutExitsWith2NamingTheVariable) {
  Probe probe(Loopback({{"CRM_ECHO_DRAIN_TIMEOUT", "banana"}}));
  EXPECT_EQ(probe.WaitForExit(), 2) << probe.stderr_text();
  std::optional<std::string> line = probe.WaitForLine("invalid configuration:");
  ASSERT_TRUE(line.has_value()) << probe.stderr_text();
  EXPECT_THAT(*line, HasSubstr("crm-echo: invalid configuration: CRM_ECHO_DRAIN_TIMEOUT=\"banana\""));
  // ... and the same as a JSON log line.
  EXPECT_TRUE(probe.WaitForLine("\"msg\":\"invalid configuration\"").has_value()) << probe.stderr_text();
  EXPECT_FALSE(probe.WaitForLine("\"msg\":\"serving\"", absl::ZeroDuration()).has_value());
}

TEST(ProbeStartTest, AnUnreadableTrustedKeysFileExitsWith2NamingTheVariable) {
  Probe probe(Loopback({{"CRM_ECHO_TRUSTED_KEYS_FILE", "/nonexistent/trusted.jwks"}}));
  EXPECT_EQ(probe.WaitForExit(), 2) << probe.stderr_text();
  EXPECT_THAT(probe.stderr_text(), HasSubstr("CRM_ECHO_TRUSTED_KEYS_FILE=\"/nonexistent/trusted.jwks\""));
}

TEST(ProbeStartTest, PortOutOfRangeExitsWith2NamingTheVariable) {
  Probe probe(Loopback({{"CRM_ECHO_GRPC_ADDRESS", "127.0.0.1:99999"}}));
  EXPECT_EQ(probe.WaitForExit(), 2) << probe.stderr_text();
  EXPECT_THAT(probe.stderr_text(), HasSubstr("CRM_ECHO_GRPC_ADDRESS=\"127.0.0.1:99999\": port out of range"));
}

TEST(ProbeStartTest, EveryBadVariableIsNamedOnOneLine) {
  Probe probe(Loopback({{"CRM_ECHO_METRICS_ADDRESS", "nowhere"},
                        {"CRM_ECHO_MAX_DEADLINE", "-1s"},
                        {"CRM_ECHO_LOG_LEVEL", "chatty"}}));
  EXPECT_EQ(probe.WaitForExit(), 2) << probe.stderr_text();
  std::optional<std::string> line = probe.WaitForLine("crm-echo: invalid configuration:");
  ASSERT_TRUE(line.has_value()) << probe.stderr_text();
  EXPECT_THAT(*line, HasSubstr("CRM_ECHO_METRICS_ADDRESS=\"nowhere\""));
  EXPECT_THAT(*line, HasSubstr("CRM_ECHO_MAX_DEADLINE"));
  EXPECT_THAT(*line, HasSubstr("CRM_ECHO_LOG_LEVEL=\"chatty\""));
}

TEST(ProbeStartTest, ABadSettingReadWhileWiringExitsWith2) {
  Probe probe(Loopback({{"CRM_ECHO_SLOW_CALL_LIMIT", "lots"}}));
  EXPECT_EQ(probe.WaitForExit(), 2) << probe.stderr_text();
  EXPECT_THAT(probe.stderr_text(), HasSubstr("CRM_ECHO_SLOW_CALL_LIMIT=\"lots\": not an integer"));
}

TEST(ProbeStartTest, ABusyPortExitsWith1) {
  Probe first(kLoopback);
  std::optional<std::string> serving = first.WaitForLine("\"msg\":\"serving\"");
  ASSERT_TRUE(serving.has_value()) << first.stderr_text();
  const int port = JsonInt(*serving, "grpc_port");
  Probe second(Loopback({{"CRM_ECHO_GRPC_ADDRESS", absl::StrCat("127.0.0.1:", port)}}));
  EXPECT_EQ(second.WaitForExit(), 1) << second.stderr_text();
  EXPECT_THAT(second.stderr_text(), HasSubstr("cannot listen on"));
  ::kill(first.pid(), SIGTERM);
  EXPECT_EQ(first.WaitForExit(), 0) << first.stderr_text();
}

// ---- (b) SIGTERM drains --------------------------------------------------------------------------------

grpc::Status CallEcho(const std::string& target, absl::Duration timeout = absl::Seconds(5)) {
  auto stub =
      crm::testing::v1::EchoService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  EchoRequest request;
  request.set_text("ping");
  EchoResponse response;
  return stub->Echo(&ctx, request, &response);
}

TEST(ProbeDrainTest, SigtermLetsTheInFlightCallFinishRefusesNewOnesAndExits0) {
  Probe probe(kLoopback);
  std::optional<std::string> serving = probe.WaitForLine("\"msg\":\"serving\"");
  ASSERT_TRUE(serving.has_value()) << probe.stderr_text();
  const int grpc_port = JsonInt(*serving, "grpc_port");
  ASSERT_GT(grpc_port, 0) << *serving;
  EXPECT_GT(JsonInt(*serving, "metrics_port"), 0) << *serving;
  const std::string target = absl::StrCat("127.0.0.1:", grpc_port);
  ASSERT_TRUE(CallEcho(target).ok());

  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto stub = crm::testing::v1::EchoService::NewStub(channel);
  grpc::ClientContext slow_ctx;
  slow_ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  SlowRequest request;
  request.set_text("in flight");
  auto reader = stub->Slow(&slow_ctx, request);
  SlowResponse response;
  ASSERT_TRUE(reader->Read(&response));
  ASSERT_EQ(response.phase(), SlowResponse::PHASE_STARTED);

  ASSERT_EQ(::kill(probe.pid(), SIGTERM), 0);
  ASSERT_TRUE(probe.WaitForLine("\"msg\":\"draining\"").has_value()) << probe.stderr_text();
  EXPECT_THAT(*probe.WaitForLine("\"msg\":\"draining\""), HasSubstr("\"reason\":\"SIGTERM\""));

  // New calls are refused while the Slow call is still running: UNAVAILABLE, or CANCELLED for calls
  // that reach the transport before it stops accepting streams. The log line comes just before the
  // server stops accepting: poll.
  grpc::Status refused;
  for (int i = 0; i < 500 && refused.ok(); ++i) {
    refused = CallEcho(target);
    if (refused.ok()) ::usleep(10'000);
  }
  const auto refusal = ::testing::AnyOf(grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::CANCELLED);
  EXPECT_THAT(refused.error_code(), refusal) << refused.error_message();
  refused = CallEcho(target);
  EXPECT_THAT(refused.error_code(), refusal) << refused.error_message();
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    EchoResponse ignored;
    grpc::Status on_old_channel = stub->Echo(&ctx, EchoRequest(), &ignored);
    EXPECT_THAT(on_old_channel.error_code(), refusal) << on_old_channel.error_message();
  }

  // Let the Slow call go: it completes, then the process exits 0.
  ASSERT_EQ(::kill(probe.pid(), SIGUSR1), 0);
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.phase(), SlowResponse::PHASE_DONE);
  EXPECT_EQ(response.text(), "in flight");
  EXPECT_FALSE(reader->Read(&response));
  grpc::Status finished = reader->Finish();
  EXPECT_TRUE(finished.ok()) << finished.error_message();
  EXPECT_EQ(probe.WaitForExit(), 0) << probe.stderr_text();
  EXPECT_THAT(probe.stderr_text(), HasSubstr("\"msg\":\"stopped\""));
}

TEST(ProbeDrainTest, ADrainTimeoutEndsCallsThatDoNotFinish) {
  Probe probe(Loopback({{"CRM_ECHO_DRAIN_TIMEOUT", "300ms"}}));
  std::optional<std::string> serving = probe.WaitForLine("\"msg\":\"serving\"");
  ASSERT_TRUE(serving.has_value()) << probe.stderr_text();
  auto stub = crm::testing::v1::EchoService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", JsonInt(*serving, "grpc_port")), grpc::InsecureChannelCredentials()));
  grpc::ClientContext slow_ctx;
  slow_ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  auto reader = stub->Slow(&slow_ctx, SlowRequest());
  SlowResponse response;
  ASSERT_TRUE(reader->Read(&response));

  ASSERT_EQ(::kill(probe.pid(), SIGTERM), 0);
  EXPECT_EQ(probe.WaitForExit(), 0) << probe.stderr_text();
  EXPECT_FALSE(reader->Read(&response));
  EXPECT_FALSE(reader->Finish().ok());
}

}  // namespace
}  // namespace crm::rpc
