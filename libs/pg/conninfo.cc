#include "libs/pg/conninfo.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <map>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace crm::pg::internal {
namespace {

using Options = std::map<std::string, std::string>;

// Parses `dsn` with libpq (both key=value and URI forms) into the keys it sets; false if it does not parse.
// libpq's error text is dropped on purpose: it can echo fragments of the DSN, password included.
bool ParseConninfo(const std::string& dsn, Options& out) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (err != nullptr) PQfreemem(err);
  if (opts == nullptr) return false;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) out[o->keyword] = o->val;
  }
  PQconninfoFree(opts);
  return true;
}

// Quotes a conninfo value: single quotes, with backslash and quote escaped.
std::string QuoteValue(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\\' || c == '\'') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string BuildConninfo(const Options& options) {
  std::string out;
  for (const auto& [key, value] : options) {
    if (!out.empty()) out.push_back(' ');
    absl::StrAppend(&out, key, "=", QuoteValue(value));
  }
  return out;
}

std::string Describe(const Options& o) {
  auto get = [&o](const char* key) -> std::string {
    auto it = o.find(key);
    return it == o.end() || it->second.empty() ? "(default)" : it->second;
  };
  std::string out = absl::StrCat("host=", get("host"));
  if (o.count("hostaddr") > 0) absl::StrAppend(&out, " hostaddr=", get("hostaddr"));
  absl::StrAppend(&out, " port=", get("port"), " dbname=", get("dbname"), " user=", get("user"));
  return out;
}

absl::Status Unparsable() {
  return absl::InvalidArgumentError(
      "PostgreSQL DSN is not a valid libpq conninfo (key=value pairs or a postgresql:// URI); its text is "
      "not "
      "shown because it may contain a password");
}

}  // namespace

absl::StatusOr<std::string> WithConninfoOverrides(
    const std::string& dsn, const std::vector<std::pair<std::string, std::string>>& overrides) {
  Options options;
  if (!ParseConninfo(dsn, options)) return Unparsable();
  for (const auto& [key, value] : overrides) options[key] = value;
  return BuildConninfo(options);
}

std::string DescribeConninfo(const std::string& dsn) {
  Options options;
  if (!ParseConninfo(dsn, options)) return "(unparsable conninfo)";
  return Describe(options);
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect(const std::string& dsn,
                                                          const std::string& application_name) {
  Options options;
  if (!ParseConninfo(dsn, options)) return Unparsable();
  if (!application_name.empty()) options["application_name"] = application_name;
  const std::string conninfo = BuildConninfo(options);
  try {
    auto conn = std::make_unique<pqxx::connection>(conninfo);
    // libpqxx 6 reconnects silently when a query finds the connection broken outside a transaction. That
    // would lose session state (advisory locks, SET) without telling anyone, and 7.x removed it: turn it off.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    conn->inhibit_reactivation(true);
#pragma GCC diagnostic pop
    return conn;
  } catch (const std::exception& e) {
    std::string why = e.what();
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    absl::StrReplaceAll({{"\n", " "}}, &why);
    if (auto pw = options.find("password"); pw != options.end() && !pw->second.empty()) {
      absl::StrReplaceAll({{pw->second, "***"}}, &why);
    }
    return absl::UnavailableError(
        absl::StrCat("cannot connect to PostgreSQL (", Describe(options), "): ", why));
  }
}

bool LooksHealthy(pqxx::connection_base& conn) {
  if (!conn.is_open()) return false;
  // An idle connection has nothing to read. Anything readable is a notice, a NOTIFY, or the server saying
  // goodbye (pg_terminate_backend, restart) followed by EOF: consume it and see whether the connection
  // survived.
  for (int i = 0; i < 16; ++i) {
    const int fd = conn.sock();
    if (fd < 0) return false;
    pollfd pfd{fd, POLLIN, 0};
    const int ready = poll(&pfd, 1, 0);
    if (ready == 0) return conn.is_open();
    if (ready < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if ((pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) return false;
    try {
      conn.get_notifs();
    } catch (const std::exception&) {
      return false;
    }
    if (!conn.is_open()) return false;
  }
  return false;  // Still chattering after many reads: not worth the risk.
}

}  // namespace crm::pg::internal
