// File: services/deals/listing.h
// -----------------------------------------------------------------------------
// How lists, board columns and board totals reach the deals a caller may see, so that every access
// scope has a plan on an index however many deals there are (issue 14; checked on 1 000 000 deals by
// listing_test.cc, which EXPLAINs every statement the store sends):
//
//   scope (access.h) | newest-first page                              | board totals, unfiltered
//   -----------------+------------------------------------------------+----------------------------------
//   all              | deals_created, or the filter's own index       | deal_stage_totals by stage
//                    | (deals_pipeline_created, deals_stage_board, …) |
//   own              | deals_responsible_created / deals_responsible   | deal_stage_totals, one responsible
//   team             | one ordered branch per visible responsible on   | deal_stage_totals, the visible
//                    | deals_responsible_created, merged (LATERAL)     | responsibles
//
// Team scope reads "deals whose responsible is the caller or a member of one of the caller's teams"
// (members as deals' user directory knows them, users.h). This is the same set as access.h's
// `team_ids && caller's teams` because a deal's team_ids are its responsible's teams, kept current
// from identity's events; a single deal is still checked on its team_ids (CheckCanRead).
//
// Example:
//   SqlParams p;
//   std::string sql = ScopedPageSql(caller, DealColumns(), "d.pipeline_id = " + p.Add(id) + "::uuid", 61, p);
#ifndef CRM_SERVICES_DEALS_LISTING_H_
#define CRM_SERVICES_DEALS_LISTING_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "crm/common/v1/common.pb.h"
#include "services/deals/access.h"

namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::deals {

// An SQL set of the responsible ids whose deals `caller` sees in the team scope: the acting user (when
// there is one) and every user of deals' directory who shares a team with them. Usable after `IN`.
std::string VisibleResponsiblesSql(const crm::common::v1::Principal& caller, SqlParams& p);

// A SELECT of `columns` (over alias d) of at most `limit` deals that match `where` (a condition over
// alias d whose values are in `p`; "TRUE" for none) and that `caller` may see, newest first
// (create_time DESC, id DESC). Reads through the caller's scope's index as the table above says;
// "FALSE"-only for a caller without deals permissions.
std::string ScopedPageSql(const crm::common::v1::Principal& caller, const std::string& columns, const std::string& where,
                          int limit, SqlParams& p);

// The board's cards in one statement: for each stage of `stage_ids_param` (a uuid[] placeholder), the
// ScopedPageSql page of at most `limit` deals of that stage matching `where`, as rows of `columns`
// (over alias d); the rows of one stage come together, newest first.
std::string ScopedColumnsSql(const crm::common::v1::Principal& caller, const std::string& columns,
                             const std::string& stage_ids_param, const std::string& where, int limit, SqlParams& p);

// A SELECT of (stage_id text, deal count bigint, amount sum bigint) per stage of `stage_ids_param`
// (a uuid[] placeholder) for the deals `caller` may see, amounts counted only in `currency_param`'s
// currency. With `where` empty it reads the totals the database keeps (deal_stage_totals plus the
// deal_stage_deltas not folded into them yet, O(stages × responsibles)); otherwise it counts the deals
// matching `where` (over alias d).
std::string ScopedStageTotalsSql(const crm::common::v1::Principal& caller, const std::string& stage_ids_param,
                                 const std::string& currency_param, const std::string& where, SqlParams& p);

// Folds the oldest board-total deltas (at most `max_rows` per statement, until none is left) into
// deal_stage_totals, in the caller's database; returns how many it moved. Boards read the same numbers
// before and after; deals runs it every second on every replica (concurrent folds take disjoint rows).
absl::StatusOr<int64_t> FoldStageTotals(pg::Pool& pool, int max_rows = 10'000);

}  // namespace crm::deals

#endif  // CRM_SERVICES_DEALS_LISTING_H_
