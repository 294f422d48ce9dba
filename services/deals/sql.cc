// File: services/deals/sql.cc
#include "services/deals/sql.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>
#include <pqxx/pqxx>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/base/status.h"
#include "libs/base/uuid.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/pg/prepared.h"

namespace crm::deals {
pqxx::result Exec(pqxx::transaction_base& tx, const std::string& sql, const SqlParams& p) {
  crm::pg::RecordStatement(sql, p.values());
  return tx.exec_params(sql, pqxx::prepare::make_dynamic_params(p.values()));
}

pqxx::result ExecPrepared(pqxx::transaction_base& tx, const std::string& sql, const SqlParams& p) {
  crm::pg::RecordStatement(sql, p.values());
  return crm::pg::ExecPrepared(tx, sql, pqxx::prepare::make_dynamic_params(p.values()));
}

absl::StatusOr<int> PageSize(std::string_view field, int64_t requested, int default_size, int max_size) {
  if (requested < 0) return InvalidFieldError(field, absl::StrCat("negative: 0 for the default ", default_size, ", at most ", max_size));
  if (requested == 0) return default_size;
  return static_cast<int>(std::min<int64_t>(requested, max_size));
}

std::string PosPageToken(int64_t pos) { return absl::WebSafeBase64Escape(absl::StrCat("p", pos)); }

absl::StatusOr<std::optional<int64_t>> DecodePosPageToken(std::string_view field, std::string_view token) {
  if (token.empty()) return std::optional<int64_t>();
  std::string raw;
  int64_t pos = 0;
  if (!absl::WebSafeBase64Unescape(AsAbsl(token), &raw) || raw.size() < 2 || raw[0] != 'p' ||
      !absl::SimpleAtoi(raw.substr(1), &pos)) {
    return InvalidFieldError(field, "malformed page token");
  }
  return std::optional<int64_t>(pos);
}

std::string TimePageToken(int64_t micros, std::string_view id) {
  return absl::WebSafeBase64Escape(absl::StrCat(micros, ":", AsAbsl(id)));
}

absl::StatusOr<std::optional<TimePageKey>> DecodeTimePageToken(std::string_view field, std::string_view token) {
  if (token.empty()) return std::optional<TimePageKey>();
  std::string raw;
  TimePageKey k;
  const size_t colon = absl::WebSafeBase64Unescape(AsAbsl(token), &raw) ? raw.find(':') : std::string::npos;
  if (colon == std::string::npos || !absl::SimpleAtoi(raw.substr(0, colon), &k.micros) ||
      !IsUuid(raw.substr(colon + 1))) {
    return InvalidFieldError(field, "malformed page token");
  }
  k.id = raw.substr(colon + 1);
  return std::optional<TimePageKey>(std::move(k));
}

std::string NamePageToken(std::string_view lower_name, std::string_view id) {
  return absl::WebSafeBase64Escape(absl::StrCat(AsAbsl(lower_name), "\n", AsAbsl(id)));
}

absl::StatusOr<std::string> AfterNamePageToken(std::string_view token, std::string_view alias, SqlParams& p) {
  std::string raw;
  const size_t sep = absl::WebSafeBase64Unescape(AsAbsl(token), &raw) ? raw.rfind('\n') : std::string::npos;
  if (sep == std::string::npos || !IsUuid(raw.substr(sep + 1))) {
    return InvalidFieldError("page_token", "malformed page token");
  }
  return absl::StrCat("(lower(", AsAbsl(alias), ".name), ", AsAbsl(alias), ".id) > (", p.Add(raw.substr(0, sep)),
                      ", ", p.Add(raw.substr(sep + 1)), "::uuid)");
}

std::string TsParam(SqlParams& p, absl::Time t) {
  return absl::StrCat("('epoch'::timestamptz + ", p.Add(absl::StrCat(absl::ToUnixMicros(t))),
                      "::bigint * interval '1 microsecond')");
}

google::protobuf::Timestamp TsFromMicros(int64_t micros) { return ToProtoTimestamp(absl::FromUnixMicros(micros)); }

std::vector<std::string> JsonStrings(const std::string& text) {
  std::vector<std::string> out;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return out;
  for (const auto& e : j) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

std::string EscapeLike(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace crm::deals
