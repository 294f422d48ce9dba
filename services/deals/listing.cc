// File: services/deals/listing.cc
#include "services/deals/listing.h"

#include <pqxx/pqxx>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/base/status.h"
#include "libs/base/uuid.h"
#include "libs/pg/pool.h"
#include "libs/pg/sql_numeric.h"

namespace crm::deals {
namespace {

constexpr char kNewestFirst[] = " ORDER BY d.create_time DESC, d.id DESC LIMIT ";

// The condition on `column` (a responsible id) of the caller's scope; "" for every deal.
std::string ResponsibleCondition(const crm::common::v1::Principal& caller, const std::string& column, SqlParams& p) {
  const std::string me = ActingUserId(caller);
  switch (ReadScope(caller)) {
    case Scope::kAll:
      return "";
    case Scope::kTeam:
      return absl::StrCat(column, " IN ", VisibleResponsiblesSql(caller, p));
    case Scope::kOwn:
      return me.empty() ? "FALSE" : absl::StrCat(column, " = ", p.Add(me), "::uuid");
    case Scope::kNone:
      break;
  }
  return "FALSE";
}

}  // namespace

std::string VisibleResponsiblesSql(const crm::common::v1::Principal& caller, SqlParams& p) {
  const std::string me = ActingUserId(caller);
  const std::vector<std::string> teams = CallerTeamIds(caller);
  std::string members;
  if (!teams.empty()) {
    members = absl::StrCat("SELECT u.user_id FROM user_directory u WHERE u.team_ids && ", p.Add(ArrayLiteral(teams)),
                           "::uuid[]");
  }
  if (me.empty()) return members.empty() ? "(SELECT NULL::uuid WHERE FALSE)" : absl::StrCat("(", members, ")");
  if (members.empty()) return absl::StrCat("(SELECT ", p.Add(me), "::uuid)");
  return absl::StrCat("(SELECT ", p.Add(me), "::uuid UNION ", members, ")");
}

std::string ScopedPageSql(const crm::common::v1::Principal& caller, const std::string& columns, const std::string& where,
                          int limit, SqlParams& p) {
  if (ReadScope(caller) == Scope::kTeam) {
    // One ordered index range per visible responsible, at most `limit` keys each (an index-only scan of
    // deals_responsible_created when `where` needs no other column), the newest `limit` of them, then
    // those rows: O(responsibles × limit) index entries and `limit` rows whatever the table holds.
    return absl::StrCat("SELECT ", columns, " FROM deals d WHERE d.id = ANY(ARRAY(SELECT k.id FROM ",
                        VisibleResponsiblesSql(caller, p),
                        " AS m(id) CROSS JOIN LATERAL (SELECT d.create_time, d.id FROM deals d "
                        "WHERE d.responsible_id = m.id AND (",
                        where, ")", kNewestFirst, limit, ") k ORDER BY k.create_time DESC, k.id DESC LIMIT ", limit,
                        "))", kNewestFirst, limit);
  }
  const std::string scope = ResponsibleCondition(caller, "d.responsible_id", p);
  return absl::StrCat("SELECT ", columns, " FROM deals d WHERE ", scope.empty() ? "" : scope + " AND ", "(", where,
                      ")", kNewestFirst, limit);
}

std::string ScopedColumnsSql(const crm::common::v1::Principal& caller, const std::string& columns,
                             const std::string& stage_ids_param, const std::string& where, int limit, SqlParams& p) {
  return absl::StrCat("SELECT ", columns, " FROM unnest(", stage_ids_param, "::uuid[]) WITH ORDINALITY AS s(id, n) ",
                      "CROSS JOIN LATERAL (",
                      ScopedPageSql(caller, "d.*", absl::StrCat("d.stage_id = s.id AND (", where, ")"), limit, p),
                      ") d ORDER BY s.n, d.create_time DESC, d.id DESC");
}

std::string ScopedStageTotalsSql(const crm::common::v1::Principal& caller, const std::string& stage_ids_param,
                                 const std::string& currency_param, const std::string& where, SqlParams& p) {
  if (where.empty()) {
    const std::string scope = ResponsibleCondition(caller, "t.responsible_id", p);
    // The folded totals and the deltas not folded yet (migration 0011): exact in any snapshot.
    return absl::StrCat("SELECT t.stage_id::text, coalesce(sum(t.deals), 0)::bigint, ",
                        pg::SaturatingBigint(absl::StrCat("coalesce(sum(t.amount_minor) FILTER (WHERE t.currency = ",
                                                          currency_param, "), 0)")),
                        " FROM (SELECT stage_id, responsible_id, currency, deals, "
                        "amount_minor FROM deal_stage_totals UNION ALL SELECT stage_id, responsible_id, currency, "
                        "deals, amount_minor FROM deal_stage_deltas) t WHERE t.stage_id = ANY(",
                        stage_ids_param, "::uuid[])", scope.empty() ? "" : " AND " + scope, " GROUP BY t.stage_id");
  }
  const std::string scope = ResponsibleCondition(caller, "d.responsible_id", p);
  return absl::StrCat("SELECT d.stage_id::text, count(*), ",
                      pg::SaturatingBigint(absl::StrCat("coalesce(sum(d.amount_minor) FILTER (WHERE d.currency = ",
                                                        currency_param, "), 0)")),
                      " FROM deals d WHERE d.stage_id = ANY(", stage_ids_param,
                      "::uuid[])", scope.empty() ? "" : " AND " + scope, " AND (", where, ") GROUP BY d.stage_id");
}

absl::StatusOr<int64_t> FoldStageTotals(pg::Pool& pool, int max_rows) {
  int64_t moved = 0;
  for (;;) {
    int64_t n = 0;
    CRM_RETURN_IF_ERROR(pg::InTransaction(pool, [&](pqxx::work& tx) -> absl::Status {
      n = tx.exec_params1("SELECT deal_stage_fold($1)", max_rows)[0].as<int64_t>();
      return absl::OkStatus();
    }));
    moved += n;
    if (n < max_rows) return moved;
  }
}

}  // namespace crm::deals
