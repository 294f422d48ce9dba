#include "libs/metrics/metrics_testing.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace crm::metrics::testing {
namespace {

// Parses `k="v",k2="v2"` (the inside of the braces) into a map; label values in our tests carry no
// escaped quotes, but \" is honoured anyway.
std::map<std::string, std::string> ParseLabels(absl::string_view s) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t eq = s.find('=', i);
    if (eq == absl::string_view::npos || eq + 1 >= s.size() || s[eq + 1] != '"') break;
    std::string key(absl::StripAsciiWhitespace(s.substr(i, eq - i)));
    std::string value;
    size_t j = eq + 2;
    for (; j < s.size() && s[j] != '"'; ++j) {
      if (s[j] == '\\' && j + 1 < s.size()) ++j;
      value.push_back(s[j]);
    }
    out[key] = value;
    i = j + 1;
    if (i < s.size() && s[i] == ',') ++i;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> Scrape(int port, const std::string& host, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    return absl::InvalidArgumentError("not an IPv4 address: " + host);
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::string err = std::strerror(errno);
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("connect ", host, ":", port, ": ", err));
  }
  std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", host, "\r\n\r\n");
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
      return absl::UnavailableError("send failed");
    }
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buf[8192];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n < 0) {
      ::close(fd);
      return absl::UnavailableError(absl::StrCat("recv: ", std::strerror(errno)));
    }
    response.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  size_t header_end = response.find("\r\n\r\n");
  if (header_end == std::string::npos) return absl::UnavailableError("truncated HTTP response");
  absl::string_view status_line = absl::string_view(response).substr(0, response.find("\r\n"));
  if (status_line.find(" 200") == absl::string_view::npos) {
    return absl::UnavailableError(absl::StrCat("HTTP status: ", status_line));
  }
  return response.substr(header_end + 4);
}

std::optional<double> SampleValue(std::string_view page_std, std::string_view name_std,
                                  const std::map<std::string, std::string>& labels) {
  const absl::string_view page(page_std.data(), page_std.size());
  const absl::string_view name(name_std.data(), name_std.size());
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    if (!absl::ConsumePrefix(&line, name)) continue;
    std::map<std::string, std::string> got;
    if (!line.empty() && line[0] == '{') {
      size_t close = line.rfind('}');
      if (close == absl::string_view::npos) continue;
      got = ParseLabels(line.substr(1, close - 1));
      line.remove_prefix(close + 1);
    }
    if (line.empty() || line[0] != ' ') continue;  // a longer name that shares the prefix
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = got.find(k);
      if (it == got.end() || it->second != v) {
        match = false;
        break;
      }
    }
    if (!match) continue;
    absl::string_view value_text = absl::StripAsciiWhitespace(line);
    value_text = value_text.substr(0, value_text.find(' '));  // drop an optional timestamp
    double value = 0;
    if (value_text == "+Inf") return std::numeric_limits<double>::infinity();
    if (absl::SimpleAtod(value_text, &value)) return value;
  }
  return std::nullopt;
}

}  // namespace crm::metrics::testing
