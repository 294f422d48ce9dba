// File: services/robots/lists.h
// -----------------------------------------------------------------------------
// The statements behind robots' two lists, ExecutionService.ListExecutions (Engine::ListExecutions) and
// RuleService.ListRules (RuleStore::List). Each is built from the filters the request sets and nothing
// else — no `($1 = '' OR column = $1)` — so that its plan, for its values and as the generic plan of a
// prepared statement alike, reaches its rows on an index however many executions there are (issue 14;
// checked on 1 000 000 executions by lists_plan_test.cc, which EXPLAINs every statement Run sends):
//
//   list            | scope (service.h) / filter              | index
//   ----------------+-----------------------------------------+-----------------------------------------
//   ListExecutions  | robots.read.all: deal_id (and rule_id)  | executions_by_deal
//                   | robots.read.all: rule_id                | executions_by_rule
//                   | robots.read: deal_id (and rule_id) of   | deal_facts_pkey (DealOwnerStatement),
//                   |   a deal the caller is responsible for  |   then executions_by_deal
//   ListRules       | robots.read: every rule                 | rules_pkey
//                   | robots.read: pipeline_id                | rules_pipeline
//
// A page token and enabled_only narrow those same index ranges; a deal's log is a few rows, a rule's may
// be a million, read newest first from the index a page at a time.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(ListStatement st, ExecutionsPageStatement(request, size + 1));
//   pqxx::result r = Run(tx, st);
#ifndef CRM_SERVICES_ROBOTS_LISTS_H_
#define CRM_SERVICES_ROBOTS_LISTS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crm/robots/v1/robots.pb.h"
#include "libs/base/status.h"
#include "libs/pg/statement_recorder.h"

namespace pqxx {
class result;
class transaction_base;
}  // namespace pqxx

namespace crm::robots {

// The one page rule of robots' lists (issue 16, the suite's): page_size < 0 is refused naming page_size,
// 0 is the default, above the maximum is the maximum.
inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 200;

// The page size to use for `requested`; a negative one adds its violation ("page_size") to `violations`.
int PageSize(int requested, std::vector<crm::FieldViolation>& violations);

// The violations of a list request, every one at once (InvalidFieldsError): ListExecutions needs a
// deal_id or a rule_id, each a UUID, and a token ExecutionsPageToken made; ListRules a UUID pipeline_id
// and a rule id as its token. Both: the page rule above.
std::vector<crm::FieldViolation> ListExecutionsViolations(const crm::robots::v1::ListExecutionsRequest& request);
std::vector<crm::FieldViolation> ListRulesViolations(const crm::robots::v1::ListRulesRequest& request);

// One statement with its text parameters ($1, $2, ... in order).
struct ListStatement {
  std::string sql;
  std::vector<std::string> params;
};

// Runs `st` in `tx` (and records it while a StatementRecorder lives).
pqxx::result Run(pqxx::transaction_base& tx, const ListStatement& st);

// The SELECT of the responsible (one text column) of deal `deal_id` as robots last heard of it; no row
// for a deal robots have not seen. Decides whether a robots.read caller may read the deal's log.
ListStatement DealOwnerStatement(std::string_view deal_id);

// The SELECT of (body bytea, create_time in microseconds bigint, id uuid) of at most `limit` executions
// of request.deal_id() and / or request.rule_id() (whichever are set; the caller checks that one is and
// that both are UUIDs), newest first (create_time DESC, id DESC), after request.page_token().
// INVALID_ARGUMENT naming page_token for a token that ExecutionsPageToken did not make.
absl::StatusOr<ListStatement> ExecutionsPageStatement(const crm::robots::v1::ListExecutionsRequest& request,
                                                      int limit);

// The page token of the log page that ends at the execution created at `create_micros` with `id`.
std::string ExecutionsPageToken(int64_t create_micros, std::string_view id);

// The SELECT of (body bytea) of at most `limit` rules matching request.pipeline_id() (when set; a UUID,
// checked by the caller) and request.enabled_only(), by id, after request.page_token() (a rule id, "" for
// the first page; checked by the caller).
ListStatement RulesPageStatement(const crm::robots::v1::ListRulesRequest& request, int limit);

// Testing seam (libs/pg/statement_recorder.h): while a StatementRecorder lives, every statement Run sends
// (on any thread) is also kept in it, so a test can EXPLAIN exactly what the lists send
// (lists_plan_test.cc). One at a time; test code only.
using StatementRecorder = crm::pg::StatementRecorder;

}  // namespace crm::robots

#endif  // CRM_SERVICES_ROBOTS_LISTS_H_
