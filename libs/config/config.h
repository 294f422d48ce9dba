// File: libs/config/config.h
// -----------------------------------------------------------------------------
// Typed settings from environment variables, the twelve-factor way Kubernetes passes them. A setting
// NAME of service SERVICE is read from `CRM_<SERVICE>_<NAME>` and, when that is unset, from the
// suite-wide `CRM_<NAME>`; so one CRM_KAFKA_BROKERS serves every service while CRM_DEALS_KAFKA_BROKERS
// overrides it for deals. SERVICE is upper-cased with '-' (and any other non-alphanumeric) → '_'; NAME
// is upper-cased. An empty variable counts as unset.
//
// Getters never fail: a bad value yields the default and is recorded, and status() then lists every
// bad variable at once, so a misconfigured pod says everything wrong in one start-up line.
// settings() lists what was read (secrets masked) for a start-up log line.
//
// Example:
//   crm::config::Env env("deals");
//   const int64_t port = env.Int("GRPC_PORT", 50051, 1, 65535);      // CRM_DEALS_GRPC_PORT or CRM_GRPC_PORT
//   const std::string dsn = env.Required("PG_DSN");
//   const absl::Duration timeout = env.Duration("RPC_TIMEOUT", absl::Seconds(5));
//   const std::vector<std::string> brokers = env.List("KAFKA_BROKERS", {"127.0.0.1:9092"});
//   if (absl::Status s = env.status(); !s.ok()) { crm::log::Error("bad config", {{"status", s}}); return 1; }
//
// Not thread-safe: read the settings once at start-up.
#ifndef CRM_LIBS_CONFIG_CONFIG_H_
#define CRM_LIBS_CONFIG_CONFIG_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace crm::config {

class Env {
 public:
  // Returns the value of environment variable `var`, or nullopt when it is not set.
  using Lookup = std::function<std::optional<std::string>(const std::string& var)>;

  // Reads the process environment (getenv).
  explicit Env(std::string_view service);
  // Reads through `lookup` (tests pass a map).
  Env(std::string_view service, Lookup lookup);

  // The value, or `def` when unset.
  std::string String(std::string_view name, std::string_view def);
  // The value; when unset or empty records an error and returns "".
  std::string Required(std::string_view name);
  // A base-10 integer in [min, max]; records "not an integer" or "must be between min and max".
  int64_t Int(std::string_view name, int64_t def, int64_t min, int64_t max);
  // true/false/1/0/yes/no/on/off in any case; records anything else.
  bool Bool(std::string_view name, bool def);
  // An absl::ParseDuration string ("250ms", "5s", "1h30m", "inf"); records malformed or negative values.
  absl::Duration Duration(std::string_view name, absl::Duration def);
  // Comma-separated items, each trimmed of whitespace, empty items dropped.
  std::vector<std::string> List(std::string_view name, std::vector<std::string> def);
  // An IANA zone name loaded from tzdata; records unknown zones (an unknown `def` too) and returns UTC.
  absl::TimeZone TimeZone(std::string_view name, std::string_view def);

  // The service-specific variable name for `name`: VarName("grpc_port") == "CRM_DEALS_GRPC_PORT".
  std::string VarName(std::string_view name) const;

  // The service name as given to the constructor ("deals").
  const std::string& service() const { return service_name_; }

  // Records that the setting `name`, already read and well-formed, is unacceptable for a reason only
  // the caller knows (an address that does not parse, a level out of a list). The error reads like the
  // built-in ones, naming the variable it came from: CRM_DEALS_GRPC_ADDRESS="x:y": port is not a number
  void Reject(std::string_view name, std::string_view why);

  // OK, or InvalidArgument listing every bad variable read so far, separated by "; ", each like
  //   CRM_DEALS_GRPC_PORT="abc": not an integer
  // naming the variable that actually held the value (service-specific or suite-wide).
  absl::Status status() const;

  struct Setting {
    std::string var;    // the variable the value came from, or VarName(name) for a default
    std::string value;  // as used (the default when unset or bad); "***" for secrets
    bool from_env;      // true if the value came from the environment
    friend bool operator==(const Setting&, const Setting&) = default;
  };
  // Every setting read so far, once each, in first-read order (a re-read updates its entry). Values are
  // masked as "***" when the name ends in PASSWORD, SECRET, TOKEN or KEY, or ends in DSN and the value
  // holds a password ("password=" or a URL "user:pass@").
  std::vector<Setting> settings() const;

 private:
  struct Raw {
    std::string var;
    std::optional<std::string> value;  // nullopt when neither variable is set (or both are empty)
  };
  Raw Read(std::string_view name) const;
  void Record(std::string_view name, const Raw& raw, std::string used_value, bool ok);
  void Bad(std::string_view name, const Raw& raw, std::string_view why);

  std::string service_name_;  // as given: "deals", "online-booking"
  std::string service_;       // normalised: "DEALS", "ONLINE_BOOKING"
  Lookup lookup_;
  std::vector<Setting> settings_;
  std::vector<std::string> errors_;
};

// For a main() whose settings are bad: writes one line "crm-<service>: invalid configuration: <every
// problem>" to stderr and the same as a JSON log line, and returns the exit code for it, 2.
int ReportInvalid(std::string_view service, const absl::Status& status);

}  // namespace crm::config

#endif  // CRM_LIBS_CONFIG_CONFIG_H_
