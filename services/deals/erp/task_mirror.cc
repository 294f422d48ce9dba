// File: services/deals/erp/task_mirror.cc
#include "services/deals/erp/task_mirror.h"

#include <optional>
#include <pqxx/pqxx>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "crm/deals/v1/erp_events.pb.h"
#include "crm/deals/v1/tasks.pb.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/rpc/call.h"
#include "proto/crm/deals/v1/erp_event_types.h"
#include "services/deals/erp/common.h"
#include "services/deals/erp/rules.h"
#include "services/deals/idempotent.h"
#include "services/deals/sql.h"
#include "services/deals/tasks.h"
#include "services/deals/timeline.h"

namespace crm::deals::erp {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;
using v1::ErpTask;
using v1::Task;

namespace {

constexpr size_t kMaxExternalId = 255;
constexpr size_t kMaxComment = 5000;

// deals' tasks as tasks.cc reads them.
std::string TaskColumns() {
  return absl::StrCat("t.id::text, t.deal_id::text, t.kind, t.title, ", MicrosOf("t.due_time"),
                      ", t.responsible_id::text, COALESCE(t.creator_id::text, ''), t.status, t.result, ",
                      MicrosOf("t.completed_time"), ", ", MicrosOf("t.create_time"), ", ", MicrosOf("t.update_time"),
                      ", t.version");
}

Task ReadTask(const pqxx::row& r) {
  Task t;
  t.set_id(r[0].c_str());
  t.set_deal_id(r[1].c_str());
  t.set_kind(static_cast<Task::Kind>(r[2].as<int>()));
  t.set_title(r[3].c_str());
  *t.mutable_due_time() = TsFromMicros(r[4].as<int64_t>());
  t.set_responsible_id(r[5].c_str());
  t.set_creator_id(r[6].c_str());
  t.set_status(static_cast<Task::Status>(r[7].as<int>()));
  t.set_result(r[8].c_str());
  if (!r[9].is_null()) *t.mutable_completed_time() = TsFromMicros(r[9].as<int64_t>());
  *t.mutable_create_time() = TsFromMicros(r[10].as<int64_t>());
  *t.mutable_update_time() = TsFromMicros(r[11].as<int64_t>());
  t.set_version(r[12].as<int64_t>());
  return t;
}

std::optional<Task> LoadTask(pqxx::transaction_base& tx, const std::string& id, bool for_update) {
  SqlParams p;
  pqxx::result r = ExecPrepared(tx,
                                absl::StrCat("SELECT ", TaskColumns(), " FROM tasks t WHERE t.id = ", p.Add(id),
                                             "::uuid", for_update ? " FOR UPDATE" : ""),
                                p);
  if (r.empty()) return std::nullopt;
  return ReadTask(r[0]);
}

// A mirror row, with the number of its conflicts logged so far.
struct Mirror {
  std::string task_id, deal_id, external_id;
  int64_t synced_task_version = 0;
  std::optional<ErpTask::ErpStatus> erp_status;
  std::optional<absl::Time> erp_change_time, reopen_time;
  ErpTask::Outcome outcome = ErpTask::OUTCOME_UNSPECIFIED;
  absl::Time publish_time;
  int64_t conflict_count = 0;
};

// The mirror row's columns and its conflict count in the same statement (index erp_task_conflicts_by_task).
constexpr char kMirrorColumns[] =
    "m.task_id::text, m.deal_id::text, COALESCE(m.external_id, ''), m.synced_task_version, m.erp_status, "
    "(extract(epoch FROM m.erp_change_time) * 1000000)::bigint, (extract(epoch FROM m.reopen_time) * 1000000)::bigint, "
    "m.outcome, (extract(epoch FROM m.publish_time) * 1000000)::bigint, "
    "(SELECT count(*) FROM erp_task_conflicts c WHERE c.task_id = m.task_id) FROM erp_tasks m";

Mirror ReadMirror(const pqxx::row& r) {
  Mirror m;
  m.task_id = r[0].c_str();
  m.deal_id = r[1].c_str();
  m.external_id = r[2].c_str();
  m.synced_task_version = r[3].as<int64_t>();
  if (!r[4].is_null()) m.erp_status = static_cast<ErpTask::ErpStatus>(r[4].as<int>());
  if (!r[5].is_null()) m.erp_change_time = absl::FromUnixMicros(r[5].as<int64_t>());
  if (!r[6].is_null()) m.reopen_time = absl::FromUnixMicros(r[6].as<int64_t>());
  m.outcome = static_cast<ErpTask::Outcome>(r[7].as<int>());
  m.publish_time = absl::FromUnixMicros(r[8].as<int64_t>());
  m.conflict_count = r[9].as<int64_t>();
  return m;
}

std::optional<Mirror> LoadMirror(pqxx::transaction_base& tx, std::string_view column, const std::string& value) {
  pqxx::result r = pg::ExecPrepared(
      tx, absl::StrCat("SELECT ", kMirrorColumns, " WHERE m.", AsAbsl(column),
                       column == "task_id" ? " = $1::uuid" : " = $1", " FOR UPDATE OF m"),
      value);
  if (r.empty()) return std::nullopt;
  return ReadMirror(r[0]);
}

ErpTask ToProto(const Mirror& m, const Task& task, const DealInfo& deal) {
  ErpTask out;
  out.set_task_id(m.task_id);
  out.set_external_id(m.external_id);
  out.set_deal_id(deal.id);
  out.set_deal_name(deal.name);
  *out.mutable_task() = task;
  if (m.erp_status.has_value()) out.set_erp_status(*m.erp_status);
  if (m.erp_change_time.has_value()) *out.mutable_erp_change_time() = ToProtoTimestamp(*m.erp_change_time);
  out.set_outcome(m.outcome);
  *out.mutable_publish_time() = ToProtoTimestamp(m.publish_time);
  out.set_conflict_count(static_cast<int32_t>(m.conflict_count));
  return out;
}

constexpr char kInsertMirror[] =
    "INSERT INTO erp_tasks (task_id, deal_id, synced_task_version, publish_time, update_time) VALUES ($1::uuid, "
    "$2::uuid, $3::bigint, $4::timestamptz, $4::timestamptz) ON CONFLICT (task_id) DO NOTHING";
constexpr char kSynced[] =
    "UPDATE erp_tasks SET synced_task_version = $2::bigint, update_time = $3::timestamptz WHERE task_id = $1::uuid";
constexpr char kLink[] = "UPDATE erp_tasks SET external_id = $2 WHERE task_id = $1::uuid";
constexpr char kExternalTaken[] = "SELECT task_id::text FROM erp_tasks WHERE external_id = $1";
constexpr char kRecord[] =
    "UPDATE erp_tasks SET erp_status = CASE WHEN $2::boolean THEN $3::smallint ELSE erp_status END, "
    "erp_change_time = CASE WHEN $2::boolean THEN $4::timestamptz ELSE erp_change_time END, outcome = $5::smallint, "
    "synced_task_version = $6::bigint, reopen_time = COALESCE(NULLIF($7, '')::timestamptz, reopen_time), "
    "update_time = $8::timestamptz WHERE task_id = $1::uuid";
constexpr char kConflict[] =
    "INSERT INTO erp_task_conflicts (id, task_id, external_id, reported_status, reported_change_time, crm_status, "
    "crm_change_time, resolution, create_time) VALUES ($1::uuid, $2::uuid, $3, $4::smallint, $5::timestamptz, "
    "$6::smallint, $7::timestamptz, $8::smallint, $9::timestamptz)";
constexpr char kSaveTask[] =
    "UPDATE tasks SET status = $2::smallint, result = $3, completed_time = NULLIF($4, '')::timestamptz, update_time = "
    "$5::timestamptz, version = $6::bigint, overdue_notify_time = CASE WHEN $2::smallint = 1 THEN NULL ELSE "
    "overdue_notify_time END WHERE id = $1::uuid";
constexpr char kNextTask[] =
    "UPDATE deals SET next_task_time = (SELECT min(due_time) FROM tasks WHERE deal_id = $1::uuid AND status = 1) "
    "WHERE id = $1::uuid";

}  // namespace

TaskMirror::TaskMirror(pg::Pool& pool, const Clock& clock) : pool_(pool), clock_(clock), outbox_("deals", clock) {}

absl::Status TaskMirror::ApplyTaskEvent(pqxx::transaction_base& tx, const events::ConsumedEvent& event) {
  const std::string& type = event.envelope.type();
  Task task;
  v1::ErpTaskPublished::Change change;
  if (type == kTaskCreatedType) {
    v1::TaskCreated p;
    if (!event.envelope.payload().UnpackTo(&p)) return absl::InvalidArgumentError("payload: not a TaskCreated");
    task = p.task();
    change = v1::ErpTaskPublished::CREATED;
  } else if (type == kTaskCompletedType) {
    v1::TaskCompleted p;
    if (!event.envelope.payload().UnpackTo(&p)) return absl::InvalidArgumentError("payload: not a TaskCompleted");
    task = p.task();
    change = v1::ErpTaskPublished::COMPLETED;
  } else if (type == kTaskCancelledType) {
    v1::TaskCancelled p;
    if (!event.envelope.payload().UnpackTo(&p)) return absl::InvalidArgumentError("payload: not a TaskCancelled");
    task = p.task();
    change = v1::ErpTaskPublished::CANCELLED;
  } else {
    return absl::OkStatus();  // overdue and whatever comes later: not mirrored
  }
  if (!IsUuid(task.id()) || !IsUuid(task.deal_id())) return absl::InvalidArgumentError("payload: no task");
  const absl::Time now = clock_.Now();
  absl::StatusOr<DealInfo> deal = LoadDealUnchecked(tx, task.deal_id(), false);
  if (absl::IsNotFound(deal.status())) return absl::OkStatus();
  CRM_RETURN_IF_ERROR(deal.status());
  std::optional<Mirror> mirror = LoadMirror(tx, "task_id", task.id());
  if (mirror.has_value()) {
    if (task.version() <= mirror->synced_task_version) return absl::OkStatus();  // an echo or a redelivery
    pg::ExecPrepared(tx, kSynced, task.id(), task.version(), FormatRfc3339Utc(now));
  } else {
    CRM_ASSIGN_OR_RETURN(std::optional<Direction> dir, DirectionOf(tx, deal->pipeline_id));
    if (!dir.has_value() || !dir->tasks_mirrored) return absl::OkStatus();
    if (LoadTask(tx, task.id(), false) == std::nullopt) return absl::OkStatus();  // gone (never in practice)
    pg::ExecPrepared(tx, kInsertMirror, task.id(), task.deal_id(), task.version(), FormatRfc3339Utc(now));
  }
  mirror = LoadMirror(tx, "task_id", task.id());
  if (!mirror.has_value()) return absl::AbortedError("the task mirror row vanished");
  v1::ErpTaskPublished ev;
  *ev.mutable_erp_task() = ToProto(*mirror, task, *deal);
  ev.set_change(change);
  ev.set_responsible_name(UserName(tx, task.responsible_id()));
  const Actor actor{.principal = event.envelope.actor(), .request_id = event.envelope.request_id(),
                    .automation_depth = event.envelope.automation_depth(),
                    .skip_automation = event.envelope.skip_automation()};
  return Emit(tx, outbox_, actor, v1::kErpTaskAggregate, task.id(), v1::kErpTaskPublishedType, ev, *deal,
              {task.responsible_id()});
}

absl::StatusOr<ErpTask> TaskMirror::ReportStatus(const Actor& actor, const v1::ReportErpTaskStatusRequest& req) {
  CRM_RETURN_IF_ERROR(rpc::RequirePermission(actor.principal, kErpSyncPermission));
  const absl::Time now = absl::FromUnixMicros(absl::ToUnixMicros(clock_.Now()));  // as stored
  const std::string external_id(absl::StripAsciiWhitespace(req.external_id()));
  absl::Time change_time;
  {
    Violations v;
    CheckText(external_id, "external_id", kMaxExternalId, true, v);
    if (!req.task_id().empty() && !IsUuid(req.task_id())) v.Add("task_id", "not a UUID");
    if (req.status() == ErpTask::ERP_STATUS_UNSPECIFIED || !ErpTask::ErpStatus_IsValid(req.status())) {
      v.Add("status", "required: IN_PROGRESS, DONE or CANCELLED");
    }
    if (!req.has_change_time()) {
      v.Add("change_time", "required");
    } else {
      // Stored to the microsecond, so compared to the microsecond.
      change_time = absl::FromUnixMicros(absl::ToUnixMicros(FromProtoTimestamp(req.change_time())));
      if (req.change_time().seconds() < 0 || change_time > now + kMaxClockSkew) {
        v.Add("change_time", "not a time of the past (at most 5 minutes ahead of the CRM's clock)");
      }
    }
    CheckText(req.comment(), "comment", kMaxComment, false, v);
    CRM_RETURN_IF_ERROR(v.Status());
  }
  ErpTask out;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(
      pool_, now, actor.principal, actor.idempotency_key, kReportErpTaskStatusMethod, req, out,
      [&](pqxx::transaction_base& tx) -> absl::Status {
        std::optional<Mirror> m = LoadMirror(tx, "external_id", external_id);
        if (!m.has_value()) {
          if (req.task_id().empty()) return InvalidFieldError("task_id", "required on the first report of a 1C task");
          m = LoadMirror(tx, "task_id", req.task_id());
          if (!m.has_value()) {
            if (LoadTask(tx, req.task_id(), false) == std::nullopt) return absl::NotFoundError("task not found");
            return absl::FailedPreconditionError("task is not mirrored to 1C (its direction does not mirror tasks)");
          }
          if (!m->external_id.empty()) return InvalidFieldError("external_id", "the task is linked to another 1C task");
          if (!pg::ExecPrepared(tx, kExternalTaken, external_id).empty()) {
            return InvalidFieldError("external_id", "already links another task");
          }
          pg::ExecPrepared(tx, kLink, m->task_id, external_id);
          m->external_id = external_id;
        } else if (!req.task_id().empty() && req.task_id() != m->task_id) {
          return InvalidFieldError("task_id", "external_id is linked to another task");
        }
        // The deal first, then the task: the order of deals' own task writers.
        CRM_ASSIGN_OR_RETURN(DealInfo deal, LoadDealUnchecked(tx, m->deal_id, /*for_update=*/true));
        std::optional<Task> task = LoadTask(tx, m->task_id, true);
        if (!task.has_value()) return absl::NotFoundError("task not found");
        const bool crm_changed = task->version() != m->synced_task_version;
        const absl::Time crm_time = CrmStatusTime(*task, m->reopen_time);
        const ReportDecision d = DecideReport({.reported = req.status(),
                                               .change_time = change_time,
                                               .last_status = m->erp_status,
                                               .last_change_time = m->erp_change_time,
                                               .crm_status = task->status(),
                                               .crm_changed = crm_changed,
                                               .crm_change_time = crm_time});
        if (d.conflict.has_value()) {
          SqlParams p;
          p.Add(NewUuidV7());
          p.Add(m->task_id);
          p.Add(external_id);
          p.Add(absl::StrCat(static_cast<int>(req.status())));
          p.Add(FormatRfc3339Utc(change_time));
          p.Add(absl::StrCat(static_cast<int>(task->status())));
          p.Add(FormatRfc3339Utc(crm_time));
          p.Add(absl::StrCat(static_cast<int>(*d.conflict)));
          p.Add(FormatRfc3339Utc(now));
          ExecPrepared(tx, kConflict, p);
          ++m->conflict_count;
        }
        std::optional<absl::Time> reopened;
        int64_t synced = m->synced_task_version;
        if (d.outcome == ErpTask::APPLIED) {
          task->set_status(d.target);
          if (d.target == Task::DONE) {
            task->set_result(req.comment().empty() ? kDefaultErpResult : req.comment());
            *task->mutable_completed_time() = ToProtoTimestamp(now);
          } else if (d.target == Task::OPEN) {
            task->clear_completed_time();
            task->clear_result();
            reopened = now;
          }
          *task->mutable_update_time() = ToProtoTimestamp(now);
          task->set_version(task->version() + 1);
          synced = task->version();
          pg::ExecPrepared(tx, kSaveTask, task->id(), static_cast<int>(task->status()), task->result(),
                           task->has_completed_time() ? FormatRfc3339Utc(now) : std::string(), FormatRfc3339Utc(now),
                           task->version());
          pg::ExecPrepared(tx, kNextTask, deal.id);
          const Actor& who = actor;
          std::vector<std::string> users{task->responsible_id()};
          if (deal.ownership.responsible_id != task->responsible_id()) users.push_back(deal.ownership.responsible_id);
          auto emit_task = [&](const char* type, const google::protobuf::Message& payload) {
            return outbox_
                .Append(tx, {.aggregate_type = "task",
                             .aggregate_id = task->id(),
                             .type = type,
                             .payload = &payload,
                             .actor = who.principal,
                             .request_id = who.request_id,
                             .visible_to_user_ids = users,
                             .visible_to_team_ids = deal.ownership.team_ids,
                             .automation_depth = who.automation_depth,
                             .skip_automation = who.skip_automation})
                .status();
          };
          if (d.target == Task::DONE) {
            v1::TimelineEntry e;
            e.set_deal_id(deal.id);
            e.set_kind(v1::TimelineEntry::TASK_COMPLETED);
            e.set_actor_id(ActingUserId(actor.principal));
            *e.mutable_create_time() = ToProtoTimestamp(now);
            e.set_task_id(task->id());
            e.set_text(absl::StrCat(task->title(), "\n", task->result()));
            CRM_RETURN_IF_ERROR(RecordDealChange(tx, e));
            v1::TaskCompleted ev;
            *ev.mutable_task() = *task;
            CRM_RETURN_IF_ERROR(emit_task(kTaskCompletedType, ev));
          } else if (d.target == Task::CANCELLED) {
            v1::TaskCancelled ev;
            *ev.mutable_task() = *task;
            CRM_RETURN_IF_ERROR(emit_task(kTaskCancelledType, ev));
          }
        }
        m->outcome = d.outcome;
        if (d.record_report) {
          m->erp_status = req.status();
          m->erp_change_time = change_time;
        }
        m->synced_task_version = synced;
        if (reopened.has_value()) m->reopen_time = reopened;
        pg::ExecPrepared(tx, kRecord, m->task_id, d.record_report, static_cast<int>(req.status()),
                         FormatRfc3339Utc(change_time), static_cast<int>(d.outcome), synced,
                         reopened.has_value() ? FormatRfc3339Utc(*reopened) : std::string(), FormatRfc3339Utc(now));
        out = ToProto(*m, *task, deal);
        v1::ErpTaskStatusReported ev;
        *ev.mutable_erp_task() = out;
        return Emit(tx, outbox_, actor, v1::kErpTaskAggregate, m->task_id, v1::kErpTaskStatusReportedType, ev, deal,
                    {task->responsible_id()});
      }));
  return out;
}

absl::StatusOr<ErpTask> TaskMirror::Get(const Principal& caller, std::string_view task_id) {
  if (!IsUuid(task_id)) return InvalidFieldError("task_id", "not a UUID");
  ErpTask out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    pqxx::result r = pg::ExecPrepared(tx, absl::StrCat("SELECT ", kMirrorColumns, " WHERE m.task_id = $1::uuid"),
                                      std::string(task_id));
    if (r.empty()) return absl::NotFoundError("task is not mirrored to 1C");
    const Mirror m = ReadMirror(r[0]);
    CRM_ASSIGN_OR_RETURN(DealInfo deal, LoadDealUnchecked(tx, m.deal_id, false));
    std::optional<Task> task = LoadTask(tx, m.task_id, false);
    if (!task.has_value()) return absl::NotFoundError("task not found");
    const bool own_task = !ActingUserId(caller).empty() && task->responsible_id() == ActingUserId(caller);
    if (!own_task && !CheckDealAccess(caller, deal, Access::kRead).ok()) return absl::NotFoundError("task not found");
    out = ToProto(m, *task, deal);
    return absl::OkStatus();
  }, {.read_only = true}));
  return out;
}

absl::StatusOr<v1::ListErpTaskConflictsResponse> TaskMirror::ListConflicts(const Principal& caller,
                                                                           const v1::ListErpTaskConflictsRequest& req) {
  if (!rpc::HasPermission(caller, kErpSyncPermission) && !rpc::HasPermission(caller, kErpManagePermission)) {
    return absl::PermissionDeniedError("missing permission erp.manage");
  }
  Violations v;
  if (!req.task_id().empty() && !IsUuid(req.task_id())) v.Add("task_id", "not a UUID");
  const std::optional<int> limit = v.Value(PageSize("page_size", req.page_size(), kDefaultPageSize, kMaxPageSize));
  std::optional<std::optional<TimePageKey>> after = v.Value(DecodeTimePageToken("page_token", req.page_token()));
  CRM_RETURN_IF_ERROR(v.Status());
  v1::ListErpTaskConflictsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    SqlParams p;
    std::vector<std::string> conds{"TRUE"};
    if (!req.task_id().empty()) conds.push_back(absl::StrCat("k.task_id = ", p.Add(req.task_id()), "::uuid"));
    if (after->has_value()) {
      conds.push_back(absl::StrCat("(k.create_time, k.id) < (", TsParam(p, absl::FromUnixMicros((*after)->micros)),
                                   ", ", p.Add((*after)->id), "::uuid)"));
    }
    pqxx::result r = ExecPrepared(
        tx,
        absl::StrCat("SELECT k.id::text, k.task_id::text, k.external_id, t.title, t.deal_id::text, k.reported_status, ",
                     MicrosOf("k.reported_change_time"), ", k.crm_status, ", MicrosOf("k.crm_change_time"),
                     ", k.resolution, ", MicrosOf("k.create_time"),
                     " FROM erp_task_conflicts k JOIN tasks t ON t.id = k.task_id WHERE ", absl::StrJoin(conds, " AND "),
                     " ORDER BY k.create_time DESC, k.id DESC LIMIT ", *limit + 1),
        p);
    for (int i = 0; i < static_cast<int>(r.size()) && i < *limit; ++i) {
      v1::ErpTaskConflict* c = out.add_conflicts();
      c->set_id(r[i][0].c_str());
      c->set_task_id(r[i][1].c_str());
      c->set_external_id(r[i][2].c_str());
      c->set_task_title(r[i][3].c_str());
      c->set_deal_id(r[i][4].c_str());
      c->set_reported_status(static_cast<ErpTask::ErpStatus>(r[i][5].as<int>()));
      *c->mutable_reported_change_time() = TsFromMicros(r[i][6].as<int64_t>());
      c->set_crm_status(static_cast<Task::Status>(r[i][7].as<int>()));
      if (!r[i][8].is_null()) *c->mutable_crm_change_time() = TsFromMicros(r[i][8].as<int64_t>());
      c->set_resolution(static_cast<v1::ErpTaskConflict::Resolution>(r[i][9].as<int>()));
      *c->mutable_create_time() = TsFromMicros(r[i][10].as<int64_t>());
    }
    if (static_cast<int>(r.size()) > *limit) {
      out.set_next_page_token(TimePageToken(r[*limit - 1][10].as<int64_t>(), r[*limit - 1][0].c_str()));
    }
    return absl::OkStatus();
  }, {.read_only = true}));
  return out;
}

}  // namespace crm::deals::erp
