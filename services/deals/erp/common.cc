// File: services/deals/erp/common.cc
#include "services/deals/erp/common.h"

#include <pqxx/pqxx>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/base/money.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/prepared.h"
#include "libs/pg/sql_array.h"
#include "libs/rpc/call.h"
#include "services/deals/sql.h"

namespace crm::deals::erp {

using crm::common::v1::Principal;

namespace {

// One deal's columns (as ReadDeal reads them) and the four ways the 1C side loads them.
#define CRM_ERP_DEAL_SELECT                                                                                 \
  "SELECT d.id::text, d.name, d.pipeline_id::text, COALESCE(d.client_id::text, ''), COALESCE(c.name, ''), " \
  "d.currency, d.amount_minor, d.responsible_id::text, array_to_json(d.team_ids)::text "                    \
  "FROM deals d LEFT JOIN clients c ON c.id = d.client_id "
constexpr char kLoadDeal[] = CRM_ERP_DEAL_SELECT "WHERE d.id = $1::uuid";
constexpr char kLoadDealForUpdate[] = CRM_ERP_DEAL_SELECT "WHERE d.id = $1::uuid FOR UPDATE OF d";
constexpr char kLoadDeals[] = CRM_ERP_DEAL_SELECT "WHERE d.id = ANY($1::uuid[])";
constexpr char kLoadDealsForUpdate[] =
    CRM_ERP_DEAL_SELECT "WHERE d.id = ANY($1::uuid[]) ORDER BY d.id FOR UPDATE OF d";
#undef CRM_ERP_DEAL_SELECT
constexpr char kDirection[] =
    "SELECT p.name, e.proposals_from_erp, e.tasks_mirrored FROM erp_directions e JOIN pipelines p ON p.id = "
    "e.pipeline_id WHERE e.pipeline_id = $1::uuid";
constexpr char kPipelineName[] = "SELECT name FROM pipelines WHERE id = $1::uuid";
constexpr char kUserName[] = "SELECT full_name FROM user_directory WHERE user_id = $1::uuid";

// A row of CRM_ERP_DEAL_SELECT.
DealInfo ReadDeal(const pqxx::row& row) {
  DealInfo d;
  d.id = row[0].c_str();
  d.name = row[1].c_str();
  d.pipeline_id = row[2].c_str();
  d.client_id = row[3].c_str();
  d.client_name = row[4].c_str();
  d.currency = row[5].c_str();
  d.amount_minor = row[6].as<int64_t>();
  d.ownership.responsible_id = row[7].c_str();
  d.ownership.team_ids = JsonStrings(row[8].c_str());
  return d;
}

}  // namespace

absl::StatusOr<DealInfo> LoadDealUnchecked(pqxx::transaction_base& tx, std::string_view deal_id, bool for_update) {
  pqxx::result r = pg::ExecPrepared(tx, for_update ? kLoadDealForUpdate : kLoadDeal, std::string(deal_id));
  if (r.empty()) return absl::NotFoundError("deal not found");
  return ReadDeal(r[0]);
}

absl::StatusOr<std::map<std::string, DealInfo>> LoadDealsUnchecked(pqxx::transaction_base& tx,
                                                                   const std::vector<std::string>& ids,
                                                                   bool for_update) {
  std::map<std::string, DealInfo> out;
  pqxx::result r = pg::ExecPrepared(tx, for_update ? kLoadDealsForUpdate : kLoadDeals, pg::ArrayLiteral(ids));
  for (const pqxx::row& row : r) out.emplace(row[0].c_str(), ReadDeal(row));
  return out;
}

absl::Status CheckDealAccess(const Principal& caller, const DealInfo& deal, Access access) {
  if (rpc::HasPermission(caller, kErpSyncPermission)) return absl::OkStatus();
  return access == Access::kWrite ? CheckCanWrite(caller, deal.ownership) : CheckCanRead(caller, deal.ownership);
}

absl::StatusOr<DealInfo> LoadDeal(pqxx::transaction_base& tx, const Principal& caller, std::string_view deal_id,
                                  Access access, std::string_view field, bool for_update) {
  if (!IsUuid(deal_id)) return InvalidFieldError(field, deal_id.empty() ? "required" : "not a UUID");
  CRM_ASSIGN_OR_RETURN(DealInfo d, LoadDealUnchecked(tx, deal_id, for_update));
  CRM_RETURN_IF_ERROR(CheckDealAccess(caller, d, access));
  return d;
}

absl::StatusOr<std::optional<Direction>> DirectionOf(pqxx::transaction_base& tx, std::string_view pipeline_id) {
  pqxx::result r = pg::ExecPrepared(tx, kDirection, std::string(pipeline_id));
  if (r.empty()) return std::optional<Direction>();
  return std::optional<Direction>(Direction{.pipeline_id = std::string(pipeline_id),
                                            .pipeline_name = r[0][0].c_str(),
                                            .proposals_from_erp = r[0][1].as<bool>(),
                                            .tasks_mirrored = r[0][2].as<bool>()});
}

std::string PipelineName(pqxx::transaction_base& tx, std::string_view pipeline_id) {
  if (!IsUuid(pipeline_id)) return "";
  pqxx::result r = pg::ExecPrepared(tx, kPipelineName, std::string(pipeline_id));
  return r.empty() ? "" : r[0][0].c_str();
}

std::string UserName(pqxx::transaction_base& tx, std::string_view user_id) {
  if (!IsUuid(user_id)) return "";
  pqxx::result r = pg::ExecPrepared(tx, kUserName, std::string(user_id));
  return r.empty() ? "" : r[0][0].c_str();
}

absl::Status Emit(pqxx::transaction_base& tx, const events::OutboxWriter& outbox, const Actor& actor,
                  std::string_view aggregate, const std::string& id, std::string_view type,
                  const google::protobuf::Message& payload, const DealInfo& deal,
                  const std::vector<std::string>& also_users) {
  std::set<std::string> users{deal.ownership.responsible_id};
  for (const std::string& u : also_users) {
    if (!u.empty()) users.insert(u);
  }
  return outbox
      .Append(tx, {.aggregate_type = std::string(aggregate),
                   .aggregate_id = id,
                   .type = std::string(type),
                   .payload = &payload,
                   .actor = actor.principal,
                   .request_id = actor.request_id,
                   .visible_to_user_ids = std::vector<std::string>(users.begin(), users.end()),
                   .visible_to_team_ids = deal.ownership.team_ids,
                   .automation_depth = actor.automation_depth,
                   .skip_automation = actor.skip_automation})
      .status();
}

absl::Status AppendEventRows(pqxx::transaction_base& tx, const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return absl::OkStatus();
  constexpr size_t kColumns = std::size(events::kOutboxColumnTypes);
  std::vector<std::vector<std::string>> columns(kColumns);
  for (const std::vector<std::string>& row : rows) {
    if (row.size() != kColumns) return absl::InternalError("an outbox row of the wrong width");
    for (size_t i = 0; i < kColumns; ++i) columns[i].push_back(row[i]);
  }
  SqlParams p;
  std::vector<std::string> arrays;
  for (size_t i = 0; i < kColumns; ++i) {
    arrays.push_back(absl::StrCat(p.Add(pg::ArrayLiteral(columns[i])), "::", events::kOutboxColumnTypes[i], "[]"));
  }
  ExecPrepared(tx, absl::StrCat("INSERT INTO outbox (", events::kOutboxColumns, ") SELECT * FROM unnest(",
                        absl::StrJoin(arrays, ", "), ")"),
       p);
  return absl::OkStatus();
}

std::optional<absl::CivilDay> CheckDay(std::string_view text, std::string_view field, bool required, Violations& v) {
  if (text.empty()) {
    if (required) v.Add(field, "required");
    return std::nullopt;
  }
  absl::StatusOr<absl::CivilDay> day = ParseCivilDay(text, field);
  if (!day.ok() || day->year() < 1900 || day->year() > 9999) {
    v.Add(field, "must be a date YYYY-MM-DD");
    return std::nullopt;
  }
  return *day;
}

void CheckText(std::string_view text, std::string_view field, size_t max, bool required, Violations& v) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(AsAbsl(text));
  if (trimmed.empty()) {
    if (required) v.Add(field, "required");
    return;
  }
  if (CodePoints(text) > max) v.Add(field, absl::StrCat("longer than ", max, " characters"));
}

void CheckMoney(const crm::common::v1::Money& m, std::string_view field, bool positive, bool currency_optional,
                Violations& v) {
  if (!(m.currency().empty() && currency_optional) && !ValidateCurrency(m.currency()).ok()) {
    v.Add(absl::StrCat(AsAbsl(field), ".currency"), "not an ISO 4217 code");
  }
  if (positive ? m.amount_minor() <= 0 : m.amount_minor() < 0) {
    v.Add(absl::StrCat(AsAbsl(field), ".amount_minor"), positive ? "must be positive" : "must not be negative");
  } else if (m.amount_minor() > 1'000'000'000'000'000) {
    v.Add(absl::StrCat(AsAbsl(field), ".amount_minor"), "at most 10^15");
  }
}

std::string DayPageToken(absl::CivilDay day, std::string_view id) {
  return TimePageToken(day - absl::CivilDay(1970, 1, 1), id);
}

absl::StatusOr<std::string> AfterDayPageToken(std::string_view token, std::string_view date_column,
                                              std::string_view id_column, SqlParams& p) {
  CRM_ASSIGN_OR_RETURN(std::optional<TimePageKey> key, DecodeTimePageToken("page_token", token));
  if (!key.has_value()) return std::string("TRUE");
  if (key->micros < -1'000'000 || key->micros > 3'000'000) return InvalidFieldError("page_token", "malformed page token");
  const absl::CivilDay day = absl::CivilDay(1970, 1, 1) + key->micros;
  return absl::StrCat("(", AsAbsl(date_column), ", ", AsAbsl(id_column), ") < (", p.Add(absl::FormatCivilTime(day)), "::date, ",
                      p.Add(key->id), "::uuid)");
}

}  // namespace crm::deals::erp
