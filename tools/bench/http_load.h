// File: tools/bench/http_load.h
// -----------------------------------------------------------------------------
// The load generator the benchmarks share: N worker threads each doing the same call M times, with
// per-call latencies summarised as requests/s, p50 and p99; and a keep-alive HTTP/1.1 client sending
// one fixed request over and over. Header-only, for tools/bench binaries.
//
// Example:
//   Result r = Run(16, 1000, [&](int) { return std::make_unique<HttpClient>(port, request); },
//                  [](auto& client) { client->Send(); });
#ifndef CRM_TOOLS_BENCH_HTTP_LOAD_H_
#define CRM_TOOLS_BENCH_HTTP_LOAD_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace crm::bench {

using Clock = std::chrono::steady_clock;

[[noreturn]] inline void Die(const std::string& why) {
  std::fprintf(stderr, "bench: %s\n", why.c_str());
  std::exit(1);
}

struct Result {
  double rps = 0;
  double p50_us = 0;
  double p99_us = 0;
};

inline Result Summarise(std::vector<std::vector<double>>& per_thread, double seconds) {
  std::vector<double> all;
  for (auto& v : per_thread) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  Result r;
  r.rps = all.size() / seconds;
  r.p50_us = all[all.size() / 2];
  r.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  return r;
}

// Runs `threads` workers doing `requests` calls each with `call(thread)`; returns the figures.
template <typename Setup, typename Call>
Result Run(int threads, int requests, Setup setup, Call call) {
  std::vector<std::vector<double>> lat(threads);
  std::vector<std::thread> workers;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  Clock::time_point start;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto state = setup(t);
      lat[t].reserve(requests);
      ++ready;
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < requests; ++i) {
        auto a = Clock::now();
        call(state);
        lat[t].push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
      }
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  start = Clock::now();
  go = true;
  for (auto& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return Summarise(lat, seconds);
}

// One keep-alive HTTP/1.1 connection sending the same request and reading each response whole.
class HttpClient {
 public:
  HttpClient(int port, std::string request) : request_(std::move(request)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) Die("cannot connect to the server");
  }
  ~HttpClient() { ::close(fd_); }

  // Sends the fixed request; exits unless the answer is 200.
  void Send() {
    std::string body;
    const int status = Exchange(request_, &body);
    if (status != 200) Die("the server answered " + std::to_string(status) + ": " + body);
  }

  // Sends `request` and reads its whole response; returns the status and puts the body in `body`.
  int Exchange(const std::string& request, std::string* body) {
    if (::send(fd_, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) Die("send");
    for (;;) {
      const size_t end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t length = 0;
        for (const char* name : {"Content-Length: ", "content-length: "}) {
          if (auto p = buf_.find(name); p != std::string::npos && p < end)
            length = std::atoi(buf_.c_str() + p + 16);
        }
        if (buf_.size() >= end + 4 + length) {
          const int status = buf_.size() > 12 ? std::atoi(buf_.c_str() + 9) : 0;
          body->assign(buf_, end + 4, length);
          buf_.erase(0, end + 4 + length);
          return status;
        }
      }
      char chunk[16384];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) Die("the server closed the connection");
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  std::string request_;
  std::string buf_;
};


}  // namespace crm::bench

#endif  // CRM_TOOLS_BENCH_HTTP_LOAD_H_
