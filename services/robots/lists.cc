#include "services/robots/lists.h"

#include <algorithm>
#include <pqxx/pqxx>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/uuid.h"
#include "libs/pg/sql_time.h"

namespace crm::robots {
namespace {

constexpr char kDealOwnerSql[] = "SELECT responsible_id FROM deal_facts WHERE deal_id = $1";

// Adds `value` to `st`'s parameters and returns its placeholder.
std::string Param(ListStatement& st, std::string value) {
  st.params.push_back(std::move(value));
  return absl::StrCat("$", st.params.size());
}

}  // namespace

int PageSize(int requested, std::vector<FieldViolation>& violations) {
  if (requested < 0) {
    violations.push_back({"page_size", "must not be negative (0 = the default of 50, at most 200)"});
    return kDefaultPageSize;
  }
  return requested == 0 ? kDefaultPageSize : std::min(requested, kMaxPageSize);
}

std::vector<FieldViolation> ListExecutionsViolations(const v1::ListExecutionsRequest& req) {
  std::vector<FieldViolation> out;
  if (req.deal_id().empty() && req.rule_id().empty()) {
    out.push_back({"deal_id", "a deal_id or a rule_id is required"});
  }
  if (!req.deal_id().empty() && !IsUuid(req.deal_id())) out.push_back({"deal_id", "not a UUID"});
  if (!req.rule_id().empty() && !IsUuid(req.rule_id())) out.push_back({"rule_id", "not a UUID"});
  PageSize(req.page_size(), out);
  if (!req.page_token().empty()) {
    for (const FieldViolation& v : FieldViolations(ExecutionsPageStatement(req, 1).status())) out.push_back(v);
  }
  return out;
}

std::vector<FieldViolation> ListRulesViolations(const v1::ListRulesRequest& req) {
  std::vector<FieldViolation> out;
  if (!req.pipeline_id().empty() && !IsUuid(req.pipeline_id())) out.push_back({"pipeline_id", "not a UUID"});
  PageSize(req.page_size(), out);
  if (!req.page_token().empty() && !IsUuid(req.page_token())) {
    out.push_back({"page_token", "not a token this list gave"});
  }
  return out;
}

pqxx::result Run(pqxx::transaction_base& tx, const ListStatement& st) {
  crm::pg::RecordStatement(st.sql, st.params);
  return tx.exec_params(st.sql, pqxx::prepare::make_dynamic_params(st.params));
}

ListStatement DealOwnerStatement(std::string_view deal_id) { return {kDealOwnerSql, {std::string(deal_id)}}; }

absl::StatusOr<ListStatement> ExecutionsPageStatement(const v1::ListExecutionsRequest& req, int limit) {
  ListStatement st;
  std::string where;
  auto and_ = [&](const std::string& condition) { absl::StrAppend(&where, where.empty() ? "" : " AND ", condition); };
  if (!req.deal_id().empty()) and_(absl::StrCat("deal_id = ", Param(st, req.deal_id())));
  if (!req.rule_id().empty()) and_(absl::StrCat("rule_id = ", Param(st, req.rule_id()), "::uuid"));
  if (!req.page_token().empty()) {
    // "<create micros>/<id>" of the last row shown.
    std::vector<std::string> parts = absl::StrSplit(req.page_token(), '/');
    int64_t after_us = 0;
    if (parts.size() != 2 || !absl::SimpleAtoi(AsAbsl(parts[0]), &after_us) || !IsUuid(parts[1])) {
      return InvalidFieldError("page_token", "not a token this list gave");
    }
    st.params.push_back(absl::StrCat(after_us));
    const int micros = static_cast<int>(st.params.size());
    and_(absl::StrCat("(create_time, id) < (", pg::TimeOfMicros(micros), ", ", Param(st, parts[1]), "::uuid)"));
  }
  if (where.empty()) where = "FALSE";  // the caller requires a filter; never the whole log
  st.sql = absl::StrCat("SELECT body, ", pg::MicrosOf("create_time"), ", id FROM executions WHERE ", where,
                        " ORDER BY create_time DESC, id DESC LIMIT ", limit);
  return st;
}

std::string ExecutionsPageToken(int64_t create_micros, std::string_view id) {
  return absl::StrCat(create_micros, "/", AsAbsl(id));
}

ListStatement RulesPageStatement(const v1::ListRulesRequest& req, int limit) {
  ListStatement st;
  std::string where = "TRUE";
  if (!req.pipeline_id().empty()) absl::StrAppend(&where, " AND pipeline_id = ", Param(st, req.pipeline_id()));
  if (req.enabled_only()) absl::StrAppend(&where, " AND enabled");
  if (!req.page_token().empty()) absl::StrAppend(&where, " AND id > ", Param(st, req.page_token()), "::uuid");
  st.sql = absl::StrCat("SELECT body FROM rules WHERE ", where, " ORDER BY id LIMIT ", limit);
  return st;
}

}  // namespace crm::robots
