#include "libs/config/config.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/log/log.h"

namespace crm::config {
namespace {

constexpr std::string_view kMask = "***";

// Upper-cases and turns every non-alphanumeric character into '_': "online-booking" -> "ONLINE_BOOKING".
std::string Normalise(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = absl::ascii_isalnum(static_cast<unsigned char>(c)) ? absl::ascii_toupper(c) : '_';
  return out;
}

// True if `dsn` carries a password: libpq "password=..." or a URL "scheme://user:pass@host".
bool DsnHasPassword(std::string_view dsn) {
  const std::string lower = absl::AsciiStrToLower(AsAbsl(dsn));
  if (absl::StrContains(lower, "password=")) return true;
  const size_t scheme = lower.find("://");
  if (scheme == std::string::npos) return false;
  const std::string_view rest = std::string_view(lower).substr(scheme + 3);
  const size_t at = rest.find('@');
  if (at == std::string_view::npos) return false;
  const std::string_view userinfo = rest.substr(0, at);
  return userinfo.find(':') != std::string_view::npos && userinfo.find('/') == std::string_view::npos;
}

bool IsSecret(std::string_view normalised_name, std::string_view value) {
  const absl::string_view n = AsAbsl(normalised_name);
  for (absl::string_view suffix : {"PASSWORD", "SECRET", "TOKEN", "KEY"}) {
    if (absl::EndsWith(n, suffix)) return true;
  }
  return absl::EndsWith(n, "DSN") && DsnHasPassword(value);
}

std::optional<std::string> ProcessEnv(const std::string& var) {
  const char* v = std::getenv(var.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

}  // namespace

Env::Env(std::string_view service) : Env(service, ProcessEnv) {}

Env::Env(std::string_view service, Lookup lookup)
    : service_name_(service), service_(Normalise(service)), lookup_(std::move(lookup)) {}

void Env::Reject(std::string_view name, std::string_view why) { Bad(name, Read(name), why); }

std::string Env::VarName(std::string_view name) const {
  if (service_.empty()) return absl::StrCat("CRM_", Normalise(name));
  return absl::StrCat("CRM_", service_, "_", Normalise(name));
}

Env::Raw Env::Read(std::string_view name) const {
  const std::string own = VarName(name);
  if (std::optional<std::string> v = lookup_(own); v.has_value() && !v->empty()) return {own, std::move(v)};
  if (!service_.empty()) {
    const std::string suite = absl::StrCat("CRM_", Normalise(name));
    if (std::optional<std::string> v = lookup_(suite); v.has_value() && !v->empty()) {
      return {suite, std::move(v)};
    }
  }
  return {own, std::nullopt};
}

void Env::Record(std::string_view name, const Raw& raw, std::string used_value, bool from_env) {
  if (IsSecret(Normalise(name), used_value)) used_value = std::string(kMask);
  for (Setting& s : settings_) {
    if (s.var == raw.var) {
      s.value = std::move(used_value);
      s.from_env = from_env;
      return;
    }
  }
  settings_.push_back(Setting{raw.var, std::move(used_value), from_env});
}

void Env::Bad(std::string_view name, const Raw& raw, std::string_view why) {
  const std::string shown =
      raw.value.has_value()
          ? (IsSecret(Normalise(name), *raw.value) ? std::string(kMask) : QuoteForError(*raw.value))
          : std::string("(unset)");
  errors_.push_back(absl::StrCat(raw.var, "=", shown, ": ", AsAbsl(why)));
}

std::string Env::String(std::string_view name, std::string_view def) {
  const Raw raw = Read(name);
  std::string value = raw.value.value_or(std::string(def));
  Record(name, raw, value, raw.value.has_value());
  return value;
}

std::string Env::Required(std::string_view name) {
  const Raw raw = Read(name);
  if (!raw.value.has_value()) {
    const std::string own = VarName(name);
    const std::string suite = absl::StrCat("CRM_", Normalise(name));
    errors_.push_back(own == suite ? absl::StrCat(own, ": required but not set")
                                   : absl::StrCat(own, " (or ", suite, "): required but not set"));
    Record(name, raw, "", false);
    return "";
  }
  Record(name, raw, *raw.value, true);
  return *raw.value;
}

int64_t Env::Int(std::string_view name, int64_t def, int64_t min, int64_t max) {
  const Raw raw = Read(name);
  if (raw.value.has_value()) {
    int64_t v;
    if (!absl::SimpleAtoi(*raw.value, &v)) {
      Bad(name, raw, "not an integer");
    } else if (v < min || v > max) {
      Bad(name, raw, absl::StrCat("must be between ", min, " and ", max));
    } else {
      Record(name, raw, absl::StrCat(v), true);
      return v;
    }
  }
  Record(name, raw, absl::StrCat(def), false);
  return def;
}

bool Env::Bool(std::string_view name, bool def) {
  const Raw raw = Read(name);
  if (raw.value.has_value()) {
    const std::string v = absl::AsciiStrToLower(absl::StripAsciiWhitespace(*raw.value));
    std::optional<bool> parsed;
    if (v == "true" || v == "1" || v == "yes" || v == "on") parsed = true;
    if (v == "false" || v == "0" || v == "no" || v == "off") parsed = false;
    if (parsed.has_value()) {
      Record(name, raw, *parsed ? "true" : "false", true);
      return *parsed;
    }
    Bad(name, raw, "not a boolean (true/false/1/0/yes/no/on/off)");
  }
  Record(name, raw, def ? "true" : "false", false);
  return def;
}

absl::Duration Env::Duration(std::string_view name, absl::Duration def) {
  const Raw raw = Read(name);
  if (raw.value.has_value()) {
    absl::Duration d;
    if (!absl::ParseDuration(absl::StripAsciiWhitespace(*raw.value), &d)) {
      Bad(name, raw, "not a duration (like 250ms, 5s, 1h30m)");
    } else if (d < absl::ZeroDuration()) {
      Bad(name, raw, "must not be negative");
    } else {
      Record(name, raw, absl::FormatDuration(d), true);
      return d;
    }
  }
  Record(name, raw, absl::FormatDuration(def), false);
  return def;
}

std::vector<std::string> Env::List(std::string_view name, std::vector<std::string> def) {
  const Raw raw = Read(name);
  if (!raw.value.has_value()) {
    Record(name, raw, absl::StrJoin(def, ","), false);
    return def;
  }
  std::vector<std::string> items;
  for (absl::string_view item : absl::StrSplit(*raw.value, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (!item.empty()) items.emplace_back(item);
  }
  Record(name, raw, absl::StrJoin(items, ","), true);
  return items;
}

absl::TimeZone Env::TimeZone(std::string_view name, std::string_view def) {
  const Raw raw = Read(name);
  if (raw.value.has_value()) {
    absl::StatusOr<absl::TimeZone> zone = LoadTimeZone(AsStd(absl::StripAsciiWhitespace(*raw.value)));
    if (zone.ok()) {
      Record(name, raw, zone->name(), true);
      return *zone;
    }
    Bad(name, raw, "unknown time zone");
  }
  absl::StatusOr<absl::TimeZone> zone = LoadTimeZone(def);
  if (!zone.ok()) {
    errors_.push_back(absl::StrCat(raw.var, ": default time zone ", QuoteForError(def), " is unknown"));
    Record(name, raw, "UTC", false);
    return absl::UTCTimeZone();
  }
  Record(name, raw, zone->name(), false);
  return *zone;
}

absl::Status Env::status() const {
  if (errors_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors_, "; "));
}

std::vector<Env::Setting> Env::settings() const { return settings_; }

int ReportInvalid(std::string_view service, const absl::Status& status) {
  // One line: messages may hold newlines.
  const std::string line =
      absl::StrReplaceAll(status.message(), {{"\r\n", "; "}, {"\n", "; "}, {"\r", "; "}});
  std::fprintf(stderr, "crm-%.*s: invalid configuration: %s\n", static_cast<int>(service.size()),
               service.data(), line.c_str());
  std::fflush(stderr);
  log::Error("invalid configuration", {{"error", line}});
  return 2;
}

}  // namespace crm::config
