// File: tools/bench/suite.h
// -----------------------------------------------------------------------------
// What the parts of crm-suite-bench share (suite_bench.cc has the overview): the options, the suite's
// processes and their CPU and memory from /proc, signing in through the gateway, and the load loops.
#ifndef CRM_TOOLS_BENCH_SUITE_H_
#define CRM_TOOLS_BENCH_SUITE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "crm/common/v1/common.pb.h"
#include "tools/bench/http_load.h"

namespace crm::bench {

struct Options {
  std::string state = ".crm";
  int pg_port = 15432;
  int gateway_port = 8080;
  int robots_metrics_port = 9103;
  int deals = 1'000'000;
  int requests = 400;
  double seconds = 10;
  int telegram_port = 8081;  // the fake Bot API `up` runs (dialogs' "Telegram")
  std::string only;  // "reads", "creates", "robots", "realty" or "dialogs": that part alone (after the RSS;
                     // realty and dialogs without the deals' load)
  int burst = 3000;      // leads in the robots burst
  int sla_seconds = 10;  // the bench copy of seed 001 §1.1: first step after this, second after twice
};

std::string ReadFile(const std::string& path);

std::map<std::string, std::vector<std::string>> ReadTsv(const std::string& path);

// --- /proc ----------------------------------------------------------------------------------------

// utime + stime of `pid` in clock ticks, and its parent; 0 when gone.
std::pair<uint64_t, int> TicksAndParent(int pid);

// A process's memory from /proc/<pid>/smaps_rollup, in kB: resident (RSS), its proportional share of
// pages other processes map too (PSS), and the pages no other process maps (private: what another
// replica of the service would add to the machine).
struct Memory {
  int64_t rss = 0;
  int64_t pss = 0;
  int64_t private_kb = 0;
};

Memory MemoryOf(int pid);

// The suite's processes: every service tools/crm started, the broker, and PostgreSQL (the postmaster;
// its CPU counts every backend and worker it forked).
struct Process {
  std::string name;
  int pid = 0;
};

std::vector<Process> SuiteProcesses(const Options& o);

// CPU ticks per process name; "postgres" sums the postmaster and all its children.
std::map<std::string, uint64_t> CpuTicks(const std::vector<Process>& procs);

std::string CpuPerRequest(const std::map<std::string, uint64_t>& before, const std::map<std::string, uint64_t>& after,
                          double requests);

// --- HTTP through the gateway ----------------------------------------------------------------------

std::string Get(const std::string& path, const std::string& token);

std::string Post(const std::string& path, const std::string& token, const std::string& body);

// A signed-in demo user: the token and the principal deals sees for it (the token's claims).
struct Person {
  std::string role;   // what the bench calls them
  std::string login;
  std::string token;
  crm::common::v1::Principal principal;
};

Person SignIn(const Options& o, const std::string& role, const std::string& login);

// --- figures ---------------------------------------------------------------------------------------

struct Latency {
  double p50 = 0, p95 = 0, p99 = 0;
};

Latency Percentiles(std::vector<double> us);

// "p50 p95 p99" in ms, aligned.
std::string Ms(const Latency& l);

template <typename Call>
std::vector<double> Time(int n, Call call) {
  std::vector<double> us;
  us.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto a = Clock::now();
    call();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
  }
  return us;
}

// `threads` workers calling `call(state)` until `seconds` pass; completed calls per second and latency.
template <typename Setup, typename Call, typename Done = bool (*)()>
std::pair<double, Latency> RunFor(int threads, double seconds, Setup setup, Call call,
                                  Done finished = [] { return false; }) {
  std::vector<std::vector<double>> lat(threads);
  std::vector<std::thread> workers;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false}, stop{false};
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto state = setup(t);
      ++ready;
      while (!go.load()) std::this_thread::yield();
      while (!stop.load()) {
        auto a = Clock::now();
        call(state);
        lat[t].push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
      }
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  const auto start = Clock::now();
  go = true;
  const auto until = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (Clock::now() < until && !finished()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  for (auto& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  return {static_cast<double>(all.size()) / elapsed, Percentiles(all)};
}

// The DSN of `service`'s own database in the suite (its role and generated password, .crm/secrets).
std::string ServiceDsn(const Options& o, const std::string& service);

// The parts that live in files of their own.
void Dialogs(const Options& o, const std::vector<Process>& procs);  // suite_dialogs.cc

}  // namespace crm::bench

#endif  // CRM_TOOLS_BENCH_SUITE_H_
