// File: services/deals/interactions/agenda.cc
// «Задачи на сегодня» (D16, seed 004 §6.6, §5.1.1): InteractionStore::Today.
//
// Three sections of calls and meetings, each an ordered index range per source of what the caller may
// see (interactions_status_occur for scope all; interactions_project_status per project asked;
// interactions_responsible_status per visible responsible), at most `limit` keys from each, merged, and
// a count of each section over the same ranges — all of it one statement (a UNION ALL of the sections):
//   planned — PLANNED, planned from max(day start, now) to the day's end, earliest first;
//   done    — DONE, occurring within the day, earliest first;
//   overdue — PLANNED, planned before min(now, the day's end) — this day's and earlier ones —, oldest
//             first.
// The day is the company's (TIME_ZONE); a PLANNED interaction's occur_time is its planned_time.
#include <pqxx/pqxx>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "services/deals/interactions/access.h"
#include "services/deals/interactions/common.h"
#include "services/deals/interactions/interaction_store.h"
#include "services/deals/interactions/slots.h"
#include "services/deals/sql.h"

namespace crm::deals::interactions {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;

namespace {

constexpr int kDefaultLimit = 100;
constexpr int kMaxLimit = 500;
constexpr int kMaxProjects = 50;

constexpr char kEarliestFirst[] = " ORDER BY i.occur_time, i.id";  // each section's keys

// One section: status and [lower, upper) of occur_time.
struct Section {
  int status;
  absl::Time lower;
  absl::Time upper;
};

}  // namespace

absl::StatusOr<v1::TodayTasks> InteractionStore::Today(const Principal& caller, const v1::GetTodayTasksRequest& req) {
  std::vector<FieldViolation> bad;
  const absl::Time now = clock_.Now();
  absl::CivilDay day = absl::ToCivilDay(now, zone_);
  if (!req.day().empty() && !ParseDay(req.day(), &day)) bad.push_back({.field = "day", .description = "expected YYYY-MM-DD"});
  if (req.project_ids_size() > kMaxProjects) bad.push_back({.field = "project_ids", .description = "more than 50 projects"});
  for (int i = 0; i < req.project_ids_size() && i < kMaxProjects; ++i) {
    CheckUuid(req.project_ids(i), absl::StrCat("project_ids[", i, "]"), true, bad);
  }
  const std::string responsible = ResponsibleFilter(caller, req.responsible(), "responsible", bad);
  if (req.limit() < 0) bad.push_back({.field = "limit", .description = "must not be negative"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  const Scope scope = ReadScope(caller);
  v1::TodayTasks out;
  out.set_day(absl::FormatCivilTime(day));
  if (scope == Scope::kNone) return out;
  const int limit = req.limit() == 0 ? kDefaultLimit : std::min(req.limit(), kMaxLimit);
  const absl::Time day_start = absl::FromCivil(day, zone_);
  const absl::Time day_end = absl::FromCivil(day + 1, zone_);
  const Section sections[] = {
      {1, std::max(day_start, now), day_end},  // planned
      {2, day_start, day_end},                 // done
      {1, absl::InfinitePast(), std::min(now, day_end)},  // overdue
  };
  const std::vector<std::string> projects(req.project_ids().begin(), req.project_ids().end());
  // Per section: the keys of the first `limit` and the count, as one statement each.
  const auto statements = [&](const Section& s, SqlParams& p, std::string& keys, std::string& count) {
    std::string range = absl::StrCat("i.status = ", s.status, " AND i.kind IN (1, 2) AND i.occur_time < ",
                                     TsParam(p, s.upper));
    if (s.lower != absl::InfinitePast()) absl::StrAppend(&range, " AND i.occur_time >= ", TsParam(p, s.lower));
    const std::string page = absl::StrCat(kEarliestFirst, " LIMIT ", limit);
    const std::string projects_param = projects.empty() ? "" : p.Add(ArrayLiteral(projects));
    if (!responsible.empty()) {
      // One person's («Только мои задачи» or a chosen one): their range, each checked for visibility.
      std::string cond = absl::StrCat("i.responsible_id = ", p.Add(responsible), "::uuid AND ", range);
      if (!projects.empty()) absl::StrAppend(&cond, " AND i.project_id = ANY(", projects_param, "::uuid[])");
      if (scope != Scope::kAll) absl::StrAppend(&cond, " AND i.responsible_id IN ", VisibleResponsibles(caller, p));
      keys = absl::StrCat("SELECT i.id FROM interactions i WHERE ", cond, page);
      count = absl::StrCat("SELECT count(*) FROM interactions i WHERE ", cond);
      return;
    }
    if (scope == Scope::kAll && projects.empty()) {
      keys = absl::StrCat("SELECT i.id FROM interactions i WHERE ", range, page);
      count = absl::StrCat("SELECT count(*) FROM interactions i WHERE ", range);
      return;
    }
    // A range per source: each project asked (scope all), or each visible responsible (own, team; with
    // the projects as a filter).
    std::string sources;
    std::string by;
    std::string filter;
    if (scope == Scope::kAll) {
      sources = absl::StrCat("unnest(", projects_param, "::uuid[])");
      by = "i.project_id";
    } else {
      sources = VisibleResponsibles(caller, p);
      by = "i.responsible_id";
      if (!projects.empty()) filter = absl::StrCat(" AND i.project_id = ANY(", projects_param, "::uuid[])");
    }
    keys = absl::StrCat("SELECT k.id FROM ", sources, " AS m(id) CROSS JOIN LATERAL (SELECT i.occur_time, i.id FROM "
                        "interactions i WHERE ", by, " = m.id AND ", range, filter, page,
                        ") k ORDER BY k.occur_time, k.id LIMIT ", limit);
    count = absl::StrCat("SELECT COALESCE(sum(n.c), 0)::bigint FROM ", sources,
                         " AS m(id) CROSS JOIN LATERAL (SELECT count(*) AS c FROM interactions i WHERE ", by,
                         " = m.id AND ", range, filter, ") n");
  };
  // One statement for the three sections: per section its count, LEFT JOINed to the rows of its keys (a
  // row of NULLs but the count when it has none), tagged with the section, in the lists' order.
  SqlParams p;
  std::vector<std::string> parts;
  for (int n = 0; n < 3; ++n) {
    if (sections[n].lower >= sections[n].upper) continue;  // a past day has nothing still to come
    std::string keys;
    std::string count;
    statements(sections[n], p, keys, count);
    parts.push_back(absl::StrCat("SELECT ", InteractionColumns(), ", s.c, ", n,
                                 " AS section, i.occur_time AS sort_time, i.id AS sort_id FROM (", count,
                                 ") s(c) LEFT JOIN (interactions i JOIN clients c ON c.id = i.client_id) ON i.id = "
                                 "ANY(ARRAY(",
                                 keys, "))"));
  }
  const std::string sql = absl::StrCat(absl::StrJoin(parts, " UNION ALL "), " ORDER BY section, sort_time, sort_id");
  constexpr int kCountAt = kInteractionColumnCount;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        google::protobuf::RepeatedPtrField<v1::Interaction>* lists[] = {out.mutable_planned(), out.mutable_done(),
                                                                       out.mutable_overdue()};
        int64_t counts[3] = {0, 0, 0};
        for (auto* list : lists) list->Clear();
        for (const pqxx::row& row : Exec(tx, sql, p)) {
          const int n = row[kCountAt + 1].as<int>();
          counts[n] = row[kCountAt].as<int64_t>();
          if (!row[0].is_null()) *lists[n]->Add() = ReadInteraction(row, now);
        }
        out.set_planned_count(counts[0]);
        out.set_done_count(counts[1]);
        out.set_overdue_count(counts[2]);
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

}  // namespace crm::deals::interactions
