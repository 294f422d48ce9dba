// File: services/deals/tasks.cc
#include "services/deals/tasks.h"

#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/log/log.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/rpc/call.h"
#include "services/deals/access.h"
#include "services/deals/idempotent.h"
#include "services/deals/listing.h"
#include "services/deals/sql.h"
#include "services/deals/timeline.h"
#include "services/deals/violations.h"

namespace crm::deals {

using crm::common::v1::Principal;

namespace {

constexpr size_t kMaxTitle = 500;
constexpr size_t kMaxResult = 5000;
constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 200;

std::string TaskColumns() {
  return absl::StrCat("t.id::text, t.deal_id::text, t.kind, t.title, ", MicrosOf("t.due_time"),
                      ", t.responsible_id::text, COALESCE(t.creator_id::text, ''), t.status, t.result, ",
                      MicrosOf("t.completed_time"), ", ", MicrosOf("t.create_time"), ", ", MicrosOf("t.update_time"),
                      ", t.version");
}

v1::Task ReadTask(const pqxx::row& r) {
  v1::Task t;
  t.set_id(r[0].as<std::string>());
  t.set_deal_id(r[1].as<std::string>());
  t.set_kind(static_cast<v1::Task::Kind>(r[2].as<int>()));
  t.set_title(r[3].as<std::string>());
  *t.mutable_due_time() = TsFromMicros(r[4].as<int64_t>());
  t.set_responsible_id(r[5].as<std::string>());
  t.set_creator_id(r[6].as<std::string>());
  t.set_status(static_cast<v1::Task::Status>(r[7].as<int>()));
  t.set_result(r[8].as<std::string>());
  if (!r[9].is_null()) *t.mutable_completed_time() = TsFromMicros(r[9].as<int64_t>());
  *t.mutable_create_time() = TsFromMicros(r[10].as<int64_t>());
  *t.mutable_update_time() = TsFromMicros(r[11].as<int64_t>());
  t.set_version(r[12].as<int64_t>());
  return t;
}

std::optional<v1::Task> LoadTask(pqxx::transaction_base& tx, const std::string& id, bool for_update) {
  SqlParams p;
  pqxx::result r = Exec(tx,
                        absl::StrCat("SELECT ", TaskColumns(), " FROM tasks t WHERE t.id = ", p.Add(id), "::uuid",
                                     for_update ? " FOR UPDATE" : ""),
                        p);
  if (r.empty()) return std::nullopt;
  return ReadTask(r[0]);
}

// Writes every mutable column of `t` (by id).
void SaveTask(pqxx::transaction_base& tx, const v1::Task& t) {
  SqlParams p;
  Exec(tx,
       absl::StrCat("UPDATE tasks SET kind = ", p.Add(absl::StrCat(static_cast<int>(t.kind()))), "::smallint, title = ",
                    p.Add(t.title()), ", due_time = ", TsParam(p, FromProtoTimestamp(t.due_time())),
                    ", responsible_id = ", p.Add(t.responsible_id()), "::uuid, status = ",
                    p.Add(absl::StrCat(static_cast<int>(t.status()))), "::smallint, result = ", p.Add(t.result()),
                    ", completed_time = ",
                    t.has_completed_time() ? TsParam(p, FromProtoTimestamp(t.completed_time())) : std::string("NULL"),
                    ", update_time = ", TsParam(p, FromProtoTimestamp(t.update_time())), ", version = ",
                    p.Add(absl::StrCat(t.version())), "::bigint WHERE id = ", p.Add(t.id()), "::uuid"),
       p);
}

// deals.next_task_time := earliest due time of the deal's open tasks (NULL when none). Nothing else.
void RecomputeNextTask(pqxx::transaction_base& tx, const std::string& deal_id) {
  SqlParams p;
  const std::string d = p.Add(deal_id);
  ExecPrepared(tx,
       absl::StrCat("UPDATE deals SET next_task_time = (SELECT min(due_time) FROM tasks WHERE deal_id = ", d,
                    "::uuid AND status = 1) WHERE id = ", d, "::uuid"),
       p);
}

// Records every violation of the task's fields being set in `v` (issue 16).
void ValidateFields(const v1::Task& t, bool check_kind, bool check_title, bool check_due, bool check_resp,
                    Violations& v) {
  if (check_kind && (t.kind() == v1::Task::KIND_UNSPECIFIED || !v1::Task::Kind_IsValid(t.kind()))) {
    v.Add("task.kind", "required: CALL, MEETING, EMAIL, FOLLOW_UP or CUSTOM");
  }
  if (check_title) {
    if (t.title().empty()) v.Add("task.title", "required");
    if (CodePoints(t.title()) > kMaxTitle) v.Add("task.title", "longer than 500 characters");
  }
  if (check_due && !t.has_due_time()) v.Add("task.due_time", "required");
  if (check_resp && !t.responsible_id().empty() && !IsUuid(t.responsible_id())) {
    v.Add("task.responsible_id", "not a UUID");
  }
}

// Versions (issue 16, README "Versions"): 0 means any version; a stale one is ABORTED.
absl::Status CheckVersion(int64_t given, int64_t stored) {
  if (given != 0 && given != stored) {
    return absl::AbortedError(absl::StrCat("version mismatch: the task is at version ", stored, ", not ", given));
  }
  return absl::OkStatus();
}

constexpr char kByDue[] = " ORDER BY t.due_time, t.id LIMIT ";

// The deals' responsibles through whom `caller` sees tasks in the own and team scopes, as an SQL set
// usable after IN: the caller (own), or the caller and who shares a team with them in deals' user
// directory (team; listing.h's VisibleResponsiblesSql, the same deals as access.h's `team_ids &&
// caller's teams` since a deal's team_ids are its responsible's teams); empty for other scopes.
std::string DealResponsiblesSql(const Principal& caller, SqlParams& p) {
  const std::string me = ActingUserId(caller);
  switch (ReadScope(caller)) {
    case Scope::kTeam:
      return VisibleResponsiblesSql(caller, p);
    case Scope::kOwn:
      if (!me.empty()) return absl::StrCat("(SELECT ", p.Add(me), "::uuid)");
      break;
    case Scope::kAll:
    case Scope::kNone:
      break;
  }
  return "(SELECT NULL::uuid WHERE FALSE)";
}

// A SELECT of TaskColumns() of at most `limit` tasks that match `where` (over alias t, values in `p`)
// and that `caller` may see, by (due_time, id) — ListTasks' table in tasks.h:
//   - all: every task, on the order's index (tasks_due, tasks_status_due) or the filter's;
//   - `narrow` (where names one deal or one responsible, whose index reaches few tasks): those tasks,
//     visibility checked on each (its responsible is the caller, or its deal's is one of theirs);
//   - own / team: one ordered index range per source of visibility — the caller's own tasks
//     (tasks_responsible_*) and, per deal responsible of DealResponsiblesSql, the tasks of their deals
//     (tasks_deal_responsible_*) — at most `limit` keys each, the first `limit` of them, then those
//     rows: O(sources × limit) index entries whatever the table holds;
//   - none: the caller's own tasks.
std::string ScopedTasksSql(const Principal& caller, const std::string& where, bool narrow, int limit,
                           SqlParams& p) {
  const std::string me = ActingUserId(caller);
  const Scope scope = ReadScope(caller);
  const auto page = [&](const std::string& condition) {
    return absl::StrCat("SELECT ", TaskColumns(), " FROM tasks t WHERE ", condition, kByDue, limit);
  };
  if (scope == Scope::kAll) return page(where);
  const std::string mine = me.empty() ? "" : absl::StrCat("t.responsible_id = ", p.Add(me), "::uuid");
  if (scope == Scope::kNone) {
    return mine.empty() ? page("FALSE") : page(absl::StrCat(mine, " AND (", where, ")"));
  }
  const std::string responsibles = DealResponsiblesSql(caller, p);
  if (narrow) {
    const std::string through_deal = absl::StrCat("t.deal_responsible_id IN ", responsibles);
    return page(absl::StrCat(mine.empty() ? through_deal : absl::StrCat("(", mine, " OR ", through_deal, ")"),
                             " AND (", where, ")"));
  }
  std::string keys = absl::StrCat("SELECT k.due_time, k.id FROM ", responsibles,
                                  " AS m(id) CROSS JOIN LATERAL (SELECT t.due_time, t.id FROM tasks t WHERE "
                                  "t.deal_responsible_id = m.id AND (",
                                  where, ")", kByDue, limit, ") k");
  // UNION: a task of the caller's on a deal of theirs comes from both branches, once.
  if (!mine.empty()) {
    keys = absl::StrCat("(SELECT t.due_time, t.id FROM tasks t WHERE ", mine, " AND (", where, ")", kByDue,
                        limit, ") UNION ", keys);
  }
  return absl::StrCat("SELECT ", TaskColumns(), " FROM tasks t WHERE t.id = ANY(ARRAY(SELECT k.id FROM (",
                      keys, ") k ORDER BY k.due_time, k.id LIMIT ", limit, "))", kByDue, limit);
}

}  // namespace

bool ResultRequired(v1::Task::Kind kind) { return kind == v1::Task::CALL || kind == v1::Task::MEETING; }

TaskStore::TaskStore(pg::Pool& pool, const Clock& clock) : pool_(pool), clock_(clock), outbox_("deals", clock) {}

namespace {

absl::Status EmitTask(pqxx::transaction_base& tx, const events::OutboxWriter& outbox, const Actor& actor,
                      const v1::Task& task, const DealOwnership& deal, const char* type,
                      const google::protobuf::Message& payload) {
  std::vector<std::string> users{task.responsible_id()};
  if (deal.responsible_id != task.responsible_id()) users.push_back(deal.responsible_id);
  return outbox
      .Append(tx, {.aggregate_type = "task",
                   .aggregate_id = task.id(),
                   .type = type,
                   .payload = &payload,
                   .actor = actor.principal,
                   .request_id = actor.request_id,
                   .visible_to_user_ids = std::move(users),
                   .visible_to_team_ids = deal.team_ids,
                   .automation_depth = actor.automation_depth,
                   .skip_automation = actor.skip_automation})
      .status();
}

absl::Status Timeline(pqxx::transaction_base& tx, const Actor& actor, const v1::Task& task,
                      v1::TimelineEntry::Kind kind, absl::Time now) {
  v1::TimelineEntry e;
  e.set_deal_id(task.deal_id());
  e.set_kind(kind);
  e.set_actor_id(ActingUserId(actor.principal));
  *e.mutable_create_time() = ToProtoTimestamp(now);
  e.set_task_id(task.id());
  e.set_text(kind == v1::TimelineEntry::TASK_COMPLETED && !task.result().empty()
                 ? absl::StrCat(task.title(), "\n", task.result())
                 : task.title());
  return RecordDealChange(tx, e);
}

}  // namespace

absl::StatusOr<v1::Task> TaskStore::Create(const Actor& actor, const v1::Task& in, std::string_view idempotency_key) {
  {
    Violations v;  // every violation at once (issue 16)
    if (!IsUuid(in.deal_id())) v.Add("task.deal_id", "not a UUID");
    ValidateFields(in, true, true, true, true, v);
    CRM_RETURN_IF_ERROR(v.Status());
  }
  const absl::Time now = clock_.Now();
  v1::Task t;
  t.set_id(NewUuidV7());
  t.set_deal_id(in.deal_id());
  t.set_kind(in.kind());
  t.set_title(in.title());
  *t.mutable_due_time() = in.due_time();
  t.set_creator_id(ActingUserId(actor.principal));
  t.set_status(v1::Task::OPEN);
  *t.mutable_create_time() = ToProtoTimestamp(now);
  *t.mutable_update_time() = t.create_time();
  t.set_version(1);
  const v1::Task draft = t;
  const pg::IdempotencyScope scope{.caller = rpc::IdempotencyCaller(actor.principal),
                                   .method = "crm.deals.v1.TaskService/CreateTask",
                                   .key = std::string(idempotency_key)};
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return pg::RunIdempotent(tx, scope, now, in, t, [&]() -> absl::Status {
      t = draft;
      CRM_ASSIGN_OR_RETURN(DealOwnership deal, LoadDealOwnership(tx, t.deal_id(), /*for_update=*/true));
      CRM_RETURN_IF_ERROR(CheckCanWrite(actor.principal, deal));
      t.set_responsible_id(in.responsible_id().empty() ? deal.responsible_id : in.responsible_id());
      // deal_responsible_id (ListTasks' scopes) as read under the deal's row lock: a reassignment of the
      // deal waits for this transaction, and its trigger (migration 0010) then moves this task too.
      SqlParams p;
      ExecPrepared(tx,
           absl::StrCat(
               "INSERT INTO tasks (id, deal_id, kind, title, due_time, responsible_id, deal_responsible_id, "
               "creator_id, status, create_time, update_time, version) VALUES (",
               p.Add(t.id()), "::uuid, ", p.Add(t.deal_id()), "::uuid, ",
               p.Add(absl::StrCat(static_cast<int>(t.kind()))), "::smallint, ", p.Add(t.title()), ", ",
               TsParam(p, FromProtoTimestamp(t.due_time())), ", ", p.Add(t.responsible_id()), "::uuid, ",
               p.Add(deal.responsible_id), "::uuid, NULLIF(", p.Add(t.creator_id()), ", '')::uuid, 1, ",
               TsParam(p, FromProtoTimestamp(t.create_time())), ", ",
               TsParam(p, FromProtoTimestamp(t.update_time())), ", 1)"),
           p);
      RecomputeNextTask(tx, t.deal_id());
      CRM_RETURN_IF_ERROR(Timeline(tx, actor, t, v1::TimelineEntry::TASK_CREATED, now));
      v1::TaskCreated ev;
      *ev.mutable_task() = t;
      return EmitTask(tx, outbox_, actor, t, deal, kTaskCreatedType, ev);
    });
  }));
  return t;
}

absl::StatusOr<v1::Task> TaskStore::Get(const Principal& caller, std::string_view id) {
  if (!IsUuid(id)) return InvalidFieldError("id", "not a UUID");
  v1::Task t;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        std::optional<v1::Task> row = LoadTask(tx, std::string(id), false);
        if (!row.has_value()) return absl::NotFoundError("task not found");
        CRM_ASSIGN_OR_RETURN(DealOwnership deal, LoadDealOwnership(tx, row->deal_id(), false));
        if (row->responsible_id() != ActingUserId(caller) && !CheckCanRead(caller, deal).ok()) {
          return absl::NotFoundError("task not found");
        }
        t = *std::move(row);
        return absl::OkStatus();
      },
      {.read_only = true}));
  return t;
}

absl::StatusOr<v1::ListTasksResponse> TaskStore::List(const Principal& caller, const v1::ListTasksRequest& req) {
  Violations v;  // every violation at once (issue 16)
  if (!req.deal_id().empty() && !IsUuid(req.deal_id())) v.Add("deal_id", "not a UUID");
  std::string responsible = req.responsible();
  if (IsMe(responsible)) {  // "me" (or "mine", issue 16): the caller
    responsible = ActingUserId(caller);
    if (responsible.empty()) v.Add("responsible", "\"me\" needs a user caller");
  } else if (!responsible.empty() && !IsUuid(responsible)) {
    v.Add("responsible", "not a UUID or \"me\"");
  }
  if (!v1::Task::Status_IsValid(req.status())) v.Add("status", "unknown status: OPEN, DONE or CANCELLED");
  const int size = v.Value(PageSize("page_size", req.page_size(), kDefaultPageSize, kMaxPageSize)).value_or(0);
  std::optional<TimePageKey> after =
      v.Value(DecodeTimePageToken("page_token", req.page_token())).value_or(std::nullopt);
  CRM_RETURN_IF_ERROR(v.Status());
  SqlParams p;
  std::string where = "TRUE";
  if (!req.deal_id().empty()) absl::StrAppend(&where, " AND t.deal_id = ", p.Add(req.deal_id()), "::uuid");
  if (!responsible.empty()) absl::StrAppend(&where, " AND t.responsible_id = ", p.Add(responsible), "::uuid");
  if (req.status() != v1::Task::STATUS_UNSPECIFIED) {
    absl::StrAppend(&where, " AND t.status = ", p.Add(absl::StrCat(static_cast<int>(req.status()))),
                    "::smallint");
  }
  if (req.has_due_before()) {
    absl::StrAppend(&where, " AND t.due_time < ", TsParam(p, FromProtoTimestamp(req.due_before())));
  }
  if (req.has_due_after()) {
    absl::StrAppend(&where, " AND t.due_time >= ", TsParam(p, FromProtoTimestamp(req.due_after())));
  }
  if (req.overdue()) absl::StrAppend(&where, " AND t.status = 1 AND t.due_time < ", TsParam(p, clock_.Now()));
  if (after.has_value()) {
    absl::StrAppend(&where, " AND (t.due_time, t.id) > (", TsParam(p, absl::FromUnixMicros(after->micros)),
                    ", ", p.Add(after->id), "::uuid)");
  }
  // The caller's own tasks are all visible to them: no scope to apply.
  const bool own_tasks = !responsible.empty() && responsible == ActingUserId(caller);
  const std::string sql =
      own_tasks ? absl::StrCat("SELECT ", TaskColumns(), " FROM tasks t WHERE ", where, kByDue, size + 1)
                : ScopedTasksSql(caller, where, /*narrow=*/!req.deal_id().empty() || !responsible.empty(),
                                 size + 1, p);
  v1::ListTasksResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        pqxx::result r = Exec(tx, sql, p);
        for (size_t i = 0; i < r.size() && static_cast<int>(i) < size; ++i) *out.add_tasks() = ReadTask(r[i]);
        if (static_cast<int>(r.size()) > size) {
          const v1::Task& last = out.tasks(size - 1);
          out.set_next_page_token(
              TimePageToken(absl::ToUnixMicros(FromProtoTimestamp(last.due_time())), last.id()));
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::Task> TaskStore::Update(const Actor& actor, const v1::Task& in, const google::protobuf::FieldMask& mask) {
  std::set<std::string> paths;
  {
    Violations v;  // every violation at once (issue 16)
    if (!IsUuid(in.id())) v.Add("task.id", "not a UUID");
    if (mask.paths_size() == 0) v.Add("update_mask", "required");
    for (const std::string& path : mask.paths()) {
      static const std::set<std::string> kPaths = {"kind", "title", "due_time", "responsible_id"};
      if (!kPaths.contains(path)) v.Add("update_mask", absl::StrCat("cannot update ", QuoteForError(path)));
      paths.insert(path);
    }
    ValidateFields(in, paths.contains("kind"), paths.contains("title"), paths.contains("due_time"),
                   paths.contains("responsible_id"), v);
    if (paths.contains("responsible_id") && in.responsible_id().empty()) v.Add("task.responsible_id", "required");
    CRM_RETURN_IF_ERROR(v.Status());
  }
  v1::Task t;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    std::optional<v1::Task> old = LoadTask(tx, in.id(), false);
    if (!old.has_value()) return absl::NotFoundError("task not found");
    CRM_ASSIGN_OR_RETURN(DealOwnership deal, LoadDealOwnership(tx, old->deal_id(), /*for_update=*/true));
    CRM_RETURN_IF_ERROR(CheckCanWrite(actor.principal, deal));
    old = LoadTask(tx, in.id(), true);
    CRM_RETURN_IF_ERROR(CheckVersion(in.version(), old->version()));
    if (old->status() != v1::Task::OPEN) return absl::FailedPreconditionError("task is not open");
    t = *old;
    if (paths.contains("kind")) t.set_kind(in.kind());
    if (paths.contains("title")) t.set_title(in.title());
    if (paths.contains("due_time")) *t.mutable_due_time() = in.due_time();
    if (paths.contains("responsible_id")) t.set_responsible_id(in.responsible_id());
    t.set_version(old->version() + 1);
    *t.mutable_update_time() = ToProtoTimestamp(clock_.Now());
    SaveTask(tx, t);
    RecomputeNextTask(tx, t.deal_id());
    // Moved past now, the task is no longer overdue: report it again when the new due time passes.
    if (paths.contains("due_time") && FromProtoTimestamp(t.due_time()) > FromProtoTimestamp(t.update_time())) {
      SqlParams p;
      Exec(tx, absl::StrCat("UPDATE tasks SET overdue_notify_time = NULL WHERE id = ", p.Add(t.id()), "::uuid"), p);
    }
    return absl::OkStatus();
  }));
  return t;
}

absl::StatusOr<v1::Task> TaskStore::Complete(const Actor& actor, const v1::CompleteTaskRequest& req) {
  {
    Violations v;  // every violation at once (issue 16)
    if (!IsUuid(req.id())) v.Add("id", "not a UUID");
    if (CodePoints(req.result()) > kMaxResult) v.Add("result", "longer than 5000 characters");
    CRM_RETURN_IF_ERROR(v.Status());
  }
  v1::Task t;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(pool_, clock_.Now(), actor.principal, actor.idempotency_key,
                                              kCompleteTaskMethod, req, t,
                                              [&](pqxx::transaction_base& tx) -> absl::Status {
    std::optional<v1::Task> old = LoadTask(tx, req.id(), false);
    if (!old.has_value()) return absl::NotFoundError("task not found");
    CRM_ASSIGN_OR_RETURN(DealOwnership deal, LoadDealOwnership(tx, old->deal_id(), /*for_update=*/true));
    const bool own_task = !ActingUserId(actor.principal).empty() && old->responsible_id() == ActingUserId(actor.principal);
    if (!own_task) CRM_RETURN_IF_ERROR(CheckCanWrite(actor.principal, deal));
    old = LoadTask(tx, req.id(), true);
    CRM_RETURN_IF_ERROR(CheckVersion(req.version(), old->version()));
    if (old->status() != v1::Task::OPEN) return absl::FailedPreconditionError("task is not open");
    if (ResultRequired(old->kind()) && req.result().empty()) {
      return InvalidFieldError("result", "required to complete a call or a meeting");
    }
    const absl::Time now = clock_.Now();
    t = *old;
    t.set_status(v1::Task::DONE);
    t.set_result(req.result());
    *t.mutable_completed_time() = ToProtoTimestamp(now);
    *t.mutable_update_time() = ToProtoTimestamp(now);
    t.set_version(old->version() + 1);
    SaveTask(tx, t);
    RecomputeNextTask(tx, t.deal_id());
    CRM_RETURN_IF_ERROR(Timeline(tx, actor, t, v1::TimelineEntry::TASK_COMPLETED, now));
    v1::TaskCompleted ev;
    *ev.mutable_task() = t;
    return EmitTask(tx, outbox_, actor, t, deal, kTaskCompletedType, ev);
  }));
  return t;
}

absl::StatusOr<v1::Task> TaskStore::Cancel(const Actor& actor, const v1::CancelTaskRequest& req) {
  if (!IsUuid(req.id())) return InvalidFieldError("id", "not a UUID");
  v1::Task t;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(pool_, clock_.Now(), actor.principal, actor.idempotency_key,
                                              kCancelTaskMethod, req, t,
                                              [&](pqxx::transaction_base& tx) -> absl::Status {
    std::optional<v1::Task> old = LoadTask(tx, req.id(), false);
    if (!old.has_value()) return absl::NotFoundError("task not found");
    CRM_ASSIGN_OR_RETURN(DealOwnership deal, LoadDealOwnership(tx, old->deal_id(), /*for_update=*/true));
    CRM_RETURN_IF_ERROR(CheckCanWrite(actor.principal, deal));
    old = LoadTask(tx, req.id(), true);
    CRM_RETURN_IF_ERROR(CheckVersion(req.version(), old->version()));
    if (old->status() != v1::Task::OPEN) return absl::FailedPreconditionError("task is not open");
    t = *old;
    t.set_status(v1::Task::CANCELLED);
    *t.mutable_update_time() = ToProtoTimestamp(clock_.Now());
    t.set_version(old->version() + 1);
    SaveTask(tx, t);
    RecomputeNextTask(tx, t.deal_id());
    v1::TaskCancelled ev;
    *ev.mutable_task() = t;
    return EmitTask(tx, outbox_, actor, t, deal, kTaskCancelledType, ev);
  }));
  return t;
}

absl::StatusOr<int> TaskStore::ReportOverdue(int batch_size) {
  if (batch_size <= 0) return absl::InvalidArgumentError("batch_size must be positive");
  Actor system;
  system.principal.set_kind(Principal::KIND_SERVICE);
  system.principal.set_service("deals");
  int total = 0;
  for (;;) {
    const absl::Time now = clock_.Now();
    int batch = 0;
    CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
      batch = 0;
      SqlParams p;
      const std::string at = TsParam(p, now);
      // Rows another scan (or a task change) holds are skipped; a row changed and committed since this
      // statement's snapshot is checked again in its latest version before it is locked (READ
      // COMMITTED), so a task reported, completed or cancelled meanwhile is left out.
      pqxx::result r = Exec(
          tx,
          absl::StrCat("WITH due AS (SELECT id FROM tasks WHERE status = 1 AND overdue_notify_time IS NULL AND "
                       "due_time < ", at, " ORDER BY due_time, id LIMIT ", batch_size,
                       " FOR UPDATE SKIP LOCKED) "
                       "UPDATE tasks t SET overdue_notify_time = ", at,
                       " FROM due, deals d WHERE t.id = due.id AND d.id = t.deal_id RETURNING ", TaskColumns(),
                       ", d.responsible_id::text, array_to_string(d.team_ids, ',')"),
          p);
      for (const pqxx::row& row : r) {
        v1::TaskOverdue ev;
        *ev.mutable_task() = ReadTask(row);
        DealOwnership deal;
        deal.responsible_id = row[13].as<std::string>();
        for (absl::string_view team : absl::StrSplit(row[14].as<std::string>(), ',', absl::SkipEmpty())) {
          deal.team_ids.emplace_back(team);
        }
        CRM_RETURN_IF_ERROR(EmitTask(tx, outbox_, system, ev.task(), deal, kTaskOverdueType, ev));
      }
      batch = static_cast<int>(r.size());
      return absl::OkStatus();
    }));
    total += batch;
    if (batch < batch_size) return total;
  }
}

OverdueReporter::OverdueReporter(TaskStore& store, absl::Duration interval)
    : store_(store), periodic_(interval, [this] { Run(); }, /*run_at_start=*/true) {}

void OverdueReporter::Run() {
  absl::StatusOr<int> reported = store_.ReportOverdue();
  if (!reported.ok()) {
    log::Warn("overdue task scan failed", {{"error", reported.status()}});
  } else if (*reported > 0) {
    log::Info("overdue tasks reported", {{"count", *reported}});
  }
}

// ---------------------------------------------------------------------------------------------------
// Service

grpc::Status TaskServiceImpl::CreateTask(grpc::ServerContext* ctx, const v1::CreateTaskRequest* req, v1::Task* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Create(ActorOf(caller, *ctx), req->task(), rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status TaskServiceImpl::GetTask(grpc::ServerContext* ctx, const v1::GetTaskRequest* req, v1::Task* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.Get(caller, req->id()); });
}

grpc::Status TaskServiceImpl::ListTasks(grpc::ServerContext* ctx, const v1::ListTasksRequest* req,
                                        v1::ListTasksResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.List(caller, *req); });
}

grpc::Status TaskServiceImpl::UpdateTask(grpc::ServerContext* ctx, const v1::UpdateTaskRequest* req, v1::Task* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Update(ActorOf(caller, *ctx), req->task(), req->update_mask());
  });
}

grpc::Status TaskServiceImpl::CompleteTask(grpc::ServerContext* ctx, const v1::CompleteTaskRequest* req,
                                           v1::Task* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Complete(ActorOf(caller, *ctx), *req);
  });
}

grpc::Status TaskServiceImpl::CancelTask(grpc::ServerContext* ctx, const v1::CancelTaskRequest* req, v1::Task* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Cancel(ActorOf(caller, *ctx), *req);
  });
}

}  // namespace crm::deals
