// File: services/robots/notify.cc
#include "services/robots/notify.h"

#include <pqxx/pqxx>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "crm/identity/v1/events.pb.h"
#include "libs/base/money.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/uuid.h"
#include "libs/pg/prepared.h"

namespace crm::robots {
namespace {

namespace idv1 = crm::identity::v1;

constexpr char kCreatedType[] = "crm.identity.user.created.v1";
constexpr char kUpdatedType[] = "crm.identity.user.updated.v1";

// A PostgreSQL array literal of the UUIDs among `ids` (anything else is left out).
std::string UuidArray(const google::protobuf::RepeatedPtrField<std::string>& ids) {
  std::vector<std::string> ok;
  for (const std::string& id : ids) {
    if (IsUuid(id)) ok.push_back(id);
  }
  return absl::StrCat("{", absl::StrJoin(ok, ","), "}");
}

// A PostgreSQL text[] literal: every element double-quoted with '"' and '\' escaped.
std::string TextArray(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::vector<std::string> quoted;
  for (const std::string& s : items) {
    std::string q = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') q += '\\';
      q += c;
    }
    q += '"';
    quoted.push_back(std::move(q));
  }
  return absl::StrCat("{", absl::StrJoin(quoted, ","), "}");
}

bool IsRoleCode(std::string_view s) {
  if (s.empty() || s.size() > 64 || s[0] < 'a' || s[0] > 'z') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

constexpr char kColumns[] = "id::text, full_name, email, phone";

Recipient FromRow(const pqxx::row& r) {
  return Recipient{.user_id = r[0].c_str(), .full_name = r[1].c_str(), .email = r[2].c_str(),
                   .phone = r[3].c_str()};
}

}  // namespace

absl::Status ApplyUserEvent(pqxx::transaction_base& tx, const events::ConsumedEvent& event) {
  const events::v1::Envelope& e = event.envelope;
  idv1::User user;
  if (e.type() == kCreatedType) {
    idv1::UserCreated created;
    if (!e.payload().UnpackTo(&created)) {
      return absl::InvalidArgumentError(absl::StrCat("event ", e.id(), ": malformed UserCreated payload"));
    }
    user = created.user();
  } else if (e.type() == kUpdatedType) {
    idv1::UserUpdated updated;
    if (!e.payload().UnpackTo(&updated)) {
      return absl::InvalidArgumentError(absl::StrCat("event ", e.id(), ": malformed UserUpdated payload"));
    }
    user = updated.user();
  } else {
    return absl::OkStatus();
  }
  if (!IsUuid(user.id())) {
    return absl::InvalidArgumentError(
        absl::StrCat("event ", e.id(), ": user without a UUID id: ", QuoteForError(user.id())));
  }
  const std::optional<std::string> supervisor =
      IsUuid(user.supervisor_id()) ? std::optional<std::string>(user.supervisor_id()) : std::nullopt;
  pg::ExecPrepared(tx,
      "INSERT INTO robot_users AS u (id, full_name, email, phone, active, role_codes, team_ids, supervisor_id, "
      "version, update_time) "
      "VALUES ($1::uuid, $2, $3, $4, $5, $6::text[], $7::uuid[], $8::uuid, $9, now()) "
      "ON CONFLICT (id) DO UPDATE SET full_name = EXCLUDED.full_name, email = EXCLUDED.email, "
      "phone = EXCLUDED.phone, active = EXCLUDED.active, role_codes = EXCLUDED.role_codes, "
      "team_ids = EXCLUDED.team_ids, supervisor_id = EXCLUDED.supervisor_id, version = EXCLUDED.version, "
      "update_time = now() WHERE u.version < EXCLUDED.version",
      user.id(), user.full_name(), user.email(), user.phone(), user.active(), TextArray(user.role_codes()),
      UuidArray(user.team_ids()), supervisor, static_cast<long long>(user.version()));
  return absl::OkStatus();
}

absl::Status ValidateRecipientSpec(std::string_view spec) {
  if (spec == "responsible" || spec == "supervisor") return absl::OkStatus();
  if (spec.substr(0, 5) == "user:" && IsUuid(spec.substr(5))) return absl::OkStatus();
  if (spec.substr(0, 5) == "role:" && IsRoleCode(spec.substr(5))) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("recipient ", QuoteForError(spec),
                   ": must be \"responsible\", \"supervisor\", \"user:<uuid>\" or \"role:<code>\""));
}

absl::StatusOr<std::vector<Recipient>> ResolveRecipients(pqxx::transaction_base& tx,
                                                         const std::vector<std::string>& specs,
                                                         std::string_view responsible_id) {
  for (const std::string& spec : specs) CRM_RETURN_IF_ERROR(ValidateRecipientSpec(spec));
  if (!responsible_id.empty() && !IsUuid(responsible_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("responsible_id: must be a UUID or empty, got ", QuoteForError(responsible_id)));
  }
  const std::string responsible(responsible_id);

  // The responsible's teams ("{...}" literal) and supervisor, when robots know them.
  bool responsible_known = false;
  std::string teams = "{}";
  std::optional<std::string> supervisor;
  if (!responsible.empty()) {
    pqxx::result r = pg::ExecPrepared(tx,
        "SELECT team_ids::text, supervisor_id::text FROM robot_users WHERE id = $1::uuid", responsible);
    if (!r.empty()) {
      responsible_known = true;
      teams = r[0][0].c_str();
      if (!r[0][1].is_null()) supervisor = r[0][1].c_str();
    }
  }

  std::vector<Recipient> out;
  std::set<std::string> seen;
  const auto add = [&](const pqxx::result& r) {
    for (const pqxx::row& row : r) {
      Recipient rec = FromRow(row);
      if (seen.insert(rec.user_id).second) out.push_back(std::move(rec));
    }
  };
  const auto by_id = [&](const std::string& id) {
    add(pg::ExecPrepared(tx, absl::StrCat("SELECT ", kColumns, " FROM robot_users WHERE id = $1::uuid AND active"), id));
  };

  for (const std::string& spec : specs) {
    if (spec == "responsible") {
      if (responsible_known) by_id(responsible);
    } else if (spec == "supervisor") {
      if (supervisor.has_value()) by_id(*supervisor);
    } else if (spec.substr(0, 5) == "user:") {
      by_id(spec.substr(5));
    } else {  // role:<code>
      const std::string role = spec.substr(5);
      pqxx::result r;
      if (teams != "{}") {
        r = pg::ExecPrepared(tx, absl::StrCat("SELECT ", kColumns,
                                        " FROM robot_users WHERE active AND role_codes @> ARRAY[$1]::text[] "
                                        "AND team_ids && $2::uuid[] ORDER BY full_name, id"),
                           role, teams);
      }
      if (r.empty()) {
        r = pg::ExecPrepared(tx, absl::StrCat("SELECT ", kColumns,
                                        " FROM robot_users WHERE active AND role_codes @> ARRAY[$1]::text[] "
                                        "ORDER BY full_name, id"),
                           role);
      }
      add(r);
    }
  }
  return out;
}

std::string RenderTemplate(std::string_view text, const std::map<std::string, std::string, std::less<>>& vars) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '{' && i + 1 < text.size() && text[i + 1] == '{') {
      out += '{';
      i += 2;
    } else if (c == '}' && i + 1 < text.size() && text[i + 1] == '}') {
      out += '}';
      i += 2;
    } else if (c == '{') {
      const size_t close = text.find_first_of("{}", i + 1);
      if (close != std::string_view::npos && text[close] == '}') {
        auto it = vars.find(text.substr(i + 1, close - i - 1));
        if (it != vars.end()) {
          out += it->second;
          i = close + 1;
          continue;
        }
        // Unknown: kept as written, braces and all (the closing one is not taken for "}}").
        out.append(text.data() + i, close + 1 - i);
        i = close + 1;
        continue;
      }
      out += '{';
      ++i;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

std::string MoneyText(int64_t minor, std::string_view currency) {
  const std::string plain = FormatDecimal(Money{.minor = minor, .currency = std::string(currency)});  // "-1500.50"
  const bool negative = !plain.empty() && plain[0] == '-';
  const std::string digits = plain.substr(negative ? 1 : 0);
  const size_t dot = digits.find('.');
  const std::string whole = digits.substr(0, dot);
  std::string fraction = dot == std::string::npos ? "" : digits.substr(dot + 1);
  if (fraction.find_first_not_of('0') == std::string::npos) fraction.clear();
  std::string out = negative ? "-" : "";
  for (size_t i = 0; i < whole.size(); ++i) {
    if (i > 0 && (whole.size() - i) % 3 == 0) out += ' ';
    out += whole[i];
  }
  if (!fraction.empty()) absl::StrAppend(&out, ",", fraction);
  const std::string label = currency == "UZS" ? "сум" : currency == "RUB" ? "₽" : std::string(currency);
  if (!label.empty()) absl::StrAppend(&out, " ", label);
  return out;
}

absl::StatusOr<std::string> DealUrlPrefix(std::string_view public_url, std::string_view deal_path) {
  std::string base(public_url);
  while (!base.empty() && base.back() == '/') base.pop_back();
  const size_t scheme = base.find("://");
  const std::string scheme_name = scheme == std::string::npos ? "" : base.substr(0, scheme);
  if ((scheme_name != "http" && scheme_name != "https") || base.size() == scheme + 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("public URL \"", base, "\": expected http:// or https:// and a host (https://crm.example)"));
  }
  if (base.find_first_of("?# ") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("public URL \"", base, "\": no query, fragment or spaces"));
  }
  std::string path(deal_path);
  if (path.empty() || path.front() != '/' || path.find_first_of("?# ") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("deal path \"", path, "\": expected a path starting with / (/v1/deals/)"));
  }
  if (path.back() != '/') path += '/';
  return absl::StrCat(base, path);
}

}  // namespace crm::robots
