// The shared part of crm-suite-bench (suite.h).
#include "tools/bench/suite.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <dirent.h>
#include <sstream>
#include <string_view>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/auth/totp.h"

namespace crm::bench {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) Die("cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

std::map<std::string, std::vector<std::string>> ReadTsv(const std::string& path) {
  std::map<std::string, std::vector<std::string>> out;
  for (absl::string_view line : absl::StrSplit(ReadFile(path), '\n')) {
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    if (f.size() >= 2) out[f[0]] = f;
  }
  return out;
}

// --- /proc ----------------------------------------------------------------------------------------

// utime + stime of `pid` in clock ticks, and its parent; 0 when gone.
std::pair<uint64_t, int> TicksAndParent(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return {0, 0};
  std::vector<std::string> f = absl::StrSplit(text.substr(close + 2), ' ');
  // After the name: state(0) ppid(1) ... utime(11) stime(12).
  if (f.size() < 13) return {0, 0};
  return {std::stoull(f[11]) + std::stoull(f[12]), std::stoi(f[1])};
}

Memory MemoryOf(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/smaps_rollup"));
  Memory m;
  std::string line;
  auto value = [&](std::string_view label) { return std::atoll(line.c_str() + label.size()); };
  while (std::getline(in, line)) {
    if (line.rfind("Rss:", 0) == 0) m.rss = value("Rss:");
    else if (line.rfind("Pss:", 0) == 0) m.pss = value("Pss:");
    else if (line.rfind("Private_Clean:", 0) == 0) m.private_kb += value("Private_Clean:");
    else if (line.rfind("Private_Dirty:", 0) == 0) m.private_kb += value("Private_Dirty:");
  }
  return m;
}

std::vector<Process> SuiteProcesses(const Options& o) {
  std::vector<Process> out;
  for (const char* svc : {"gateway", "identity", "deals", "robots", "mortgage", "dialogs", "telephony", "queue",
                          "reporting"}) {
    std::ifstream in(absl::StrCat(o.state, "/run/", svc, ".pid"));
    int pid = 0;
    if (in >> pid && ::kill(pid, 0) == 0) out.push_back({svc, pid});
  }
  {
    std::ifstream in(o.state + "/devbroker.pid");
    int pid = 0;
    if (in >> pid) out.push_back({"devbroker", pid});
  }
  {
    std::ifstream in(o.state + "/pg/data/postmaster.pid");
    int pid = 0;
    if (in >> pid) out.push_back({"postgres", pid});
  }
  return out;
}

// CPU ticks per process name; "postgres" sums the postmaster and all its children.
std::map<std::string, uint64_t> CpuTicks(const std::vector<Process>& procs) {
  std::map<std::string, uint64_t> out;
  int postmaster = 0;
  for (const Process& p : procs) {
    if (p.name == "postgres") {
      postmaster = p.pid;
    } else {
      out[p.name] = TicksAndParent(p.pid).first;
    }
  }
  if (postmaster != 0) {
    uint64_t sum = 0;
    if (DIR* d = ::opendir("/proc")) {
      while (dirent* e = ::readdir(d)) {
        int pid = 0;
        if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
        auto [ticks, parent] = TicksAndParent(pid);
        if (pid == postmaster || parent == postmaster) sum += ticks;
      }
      ::closedir(d);
    }
    out["postgres"] = sum;
  }
  return out;
}

std::string CpuPerRequest(const std::map<std::string, uint64_t>& before, const std::map<std::string, uint64_t>& after,
                          double requests) {
  const double ms_per_tick = 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::vector<std::string> parts;
  double total = 0;
  for (const auto& [name, ticks] : after) {
    auto b = before.find(name);
    if (b == before.end()) continue;
    const double ms = static_cast<double>(ticks - b->second) * ms_per_tick / requests;
    total += ms;
    if (ms >= 0.005) parts.push_back(absl::StrFormat("%s %.2f", name, ms));
  }
  return absl::StrFormat("CPU ms/request: %s (total %.2f)", absl::StrJoin(parts, ", "), total);
}

// --- HTTP through the gateway ----------------------------------------------------------------------

std::string Get(const std::string& path, const std::string& token) {
  return absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ", token, "\r\n\r\n");
}

std::string Post(const std::string& path, const std::string& token, const std::string& body) {
  return absl::StrCat("POST ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                      token.empty() ? "" : absl::StrCat("Authorization: Bearer ", token, "\r\n"),
                      "Content-Type: application/json\r\nContent-Length: ", body.size(), "\r\n\r\n", body);
}

Person SignIn(const Options& o, const std::string& role, const std::string& login) {
  auto creds = ReadTsv(o.state + "/demo-credentials");
  if (!creds.contains(login)) Die("no demo user " + login + " in " + o.state + "/demo-credentials");
  nlohmann::json body{{"login", login}, {"password", creds[login][1]}};
  auto totps = ReadTsv(o.state + "/demo-totp-secrets");
  if (totps.contains(login)) {
    absl::StatusOr<std::string> code = crm::auth::TotpCode(totps[login][1], absl::Now());
    if (!code.ok()) Die(absl::StrCat("TOTP of ", login, ": ", code.status().ToString()));
    body["totpCode"] = *code;
  }
  HttpClient http(o.gateway_port, "");
  std::string reply;
  const int status = http.Exchange(Post("/v1/auth:signIn", "", body.dump()), &reply);
  if (status != 200) Die(absl::StrCat("sign-in of ", login, ": ", status, " ", reply));
  Person p{role, login, nlohmann::json::parse(reply)["accessToken"].get<std::string>(), {}};
  // The claims deals will see (the gateway forwards them as the principal).
  std::vector<std::string> parts = absl::StrSplit(p.token, '.');
  std::string payload;
  if (parts.size() != 3 || !absl::WebSafeBase64Unescape(parts[1], &payload)) Die("malformed access token");
  nlohmann::json claims = nlohmann::json::parse(payload);
  p.principal.set_kind(crm::common::v1::Principal::KIND_USER);
  p.principal.set_id(claims["sub"].get<std::string>());
  for (const auto& s : claims.value("scopes", nlohmann::json::array())) p.principal.add_permissions(s);
  for (const auto& t : claims.value("teams", nlohmann::json::array())) p.principal.add_team_ids(t);
  return p;
}

Latency Percentiles(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<size_t>(us.size() * q))] / 1000.0; };
  return {at(0.5), at(0.95), at(0.99)};
}

std::string Ms(const Latency& l) { return absl::StrFormat("%7.2f %7.2f %7.2f", l.p50, l.p95, l.p99); }

std::string ServiceDsn(const Options& o, const std::string& service) {
  return absl::StrCat("host=127.0.0.1 port=", o.pg_port, " dbname=", service, " user=", service, " password=",
                      ReadFile(absl::StrCat(o.state, "/secrets/", service, ".password")));
}

}  // namespace crm::bench
