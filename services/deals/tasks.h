// File: services/deals/tasks.h
// -----------------------------------------------------------------------------
// Tasks and reminders of deals (D9): TaskStore keeps them in PostgreSQL; TaskServiceImpl serves
// crm.deals.v1.TaskService over it.
//
// What the store promises:
//   - the deal's access (access.h) governs its tasks (read to see, write to change); a task's
//     responsible may always see (GetTask, ListTasks) and complete their own task;
//   - in the transaction of every task change: deals.next_task_time becomes the earliest due_time of
//     the deal's OPEN tasks (NULL when none; deals.version is not touched), a timeline entry is written
//     (TASK_CREATED / TASK_COMPLETED) and the event crm.deals.task.{created,completed,cancelled}.v1
//     (aggregate "task", visible to the responsible) goes to the outbox;
//   - ABORTED "version mismatch" when a given version (non-zero) is stale;
//   - ListTasks is ordered by (due_time, id), keyset-paginated; overdue means OPEN and due before the
//     injected clock's now;
//   - every ListTasks scope and filter reads on an index however many tasks there are (issue 14;
//     checked on 1 000 000 tasks by lists_plan_test.cc, which EXPLAINs what the store sends). A task
//     carries its deal's responsible (deal_responsible_id, kept current by a trigger on deals, migration
//     0010), so each source of visibility is an ordered index range (with the status first when the
//     request filters by status or overdue):
//
//       scope | no deal_id or responsible filter                  | deal_id or responsible filter
//       ------+---------------------------------------------------+---------------------------------
//       all   | tasks_due / tasks_status_due                      | tasks_deal_due or
//       own   | the caller's tasks (tasks_responsible_*) merged   | tasks_responsible_*, visibility
//             | with their deals' (tasks_deal_responsible_*)      | checked on each of their tasks
//       team  | the same, one branch per visible responsible      |
//       none  | the caller's tasks                                |
//
//     Team scope reaches "tasks of deals whose responsible is the caller or shares a team with them"
//     through deals' user directory (listing.h's VisibleResponsiblesSql): the same deals as access.h's
//     `team_ids && caller's teams`, a deal's team_ids being its responsible's teams (GetTask still
//     checks its one deal on team_ids). responsible "me" lists the caller's tasks, all visible to them;
//   - ReportOverdue() writes crm.deals.task.overdue.v1 once for each task that became overdue, however
//     many replicas scan at once; a task whose due time is moved past the time of that change is
//     reported again when the new due time passes (the actor is the deals service itself).
//
// Example:
//   crm::deals::TaskStore tasks(*pool, crm::SystemClock());
//   crm::deals::TaskServiceImpl service(tasks);
//   server.AddService(&service);
//   crm::deals::OverdueReporter overdue(tasks, absl::Seconds(30));  // scans until destroyed
#ifndef CRM_SERVICES_DEALS_TASKS_H_
#define CRM_SERVICES_DEALS_TASKS_H_

#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crm/deals/v1/tasks.grpc.pb.h"
#include "libs/base/periodic.h"
#include "libs/events/outbox.h"
#include "services/deals/deals.h"

namespace crm::deals {

inline constexpr char kTaskCreatedType[] = "crm.deals.task.created.v1";
inline constexpr char kTaskCompletedType[] = "crm.deals.task.completed.v1";
inline constexpr char kTaskCancelledType[] = "crm.deals.task.cancelled.v1";
inline constexpr char kTaskOverdueType[] = "crm.deals.task.overdue.v1";

// Returns whether completing a task of `kind` requires a result (CALL and MEETING).
bool ResultRequired(crm::deals::v1::Task::Kind kind);

// Tasks in PostgreSQL. Thread-safe; the pool and clock must outlive it.
class TaskStore {
 public:
  TaskStore(pg::Pool& pool, const Clock& clock);

  // Creates an OPEN task (id, creator, status, version, times set here). With a non-empty
  // `idempotency_key` a repeat by the same caller within 24 hours returns the first task unchanged and
  // writes nothing; the key reused with a different task is INVALID_ARGUMENT naming "idempotency-key"
  // (libs/pg/idempotency.h; the record commits with the task).
  absl::StatusOr<crm::deals::v1::Task> Create(const Actor& actor, const crm::deals::v1::Task& task,
                                              std::string_view idempotency_key = "");
  // The task `id` if the caller may see its deal.
  absl::StatusOr<crm::deals::v1::Task> Get(const crm::common::v1::Principal& caller, std::string_view id);
  // Visible tasks matching the request's filters.
  absl::StatusOr<crm::deals::v1::ListTasksResponse> List(const crm::common::v1::Principal& caller,
                                                         const crm::deals::v1::ListTasksRequest& req);
  // Applies kind, title, due_time, responsible_id of an OPEN task when task.version matches.
  absl::StatusOr<crm::deals::v1::Task> Update(const Actor& actor, const crm::deals::v1::Task& task,
                                              const google::protobuf::FieldMask& mask);
  // Marks an OPEN task DONE.
  absl::StatusOr<crm::deals::v1::Task> Complete(const Actor& actor, const crm::deals::v1::CompleteTaskRequest& req);
  // Marks an OPEN task CANCELLED.
  absl::StatusOr<crm::deals::v1::Task> Cancel(const Actor& actor, const crm::deals::v1::CancelTaskRequest& req);
  // Reports every OPEN task whose due_time is before the clock's now and that was not yet reported for
  // that due time: marks it reported and writes TaskOverdue (kTaskOverdueType) to the outbox, in one
  // transaction per batch of at most `batch_size` tasks (earliest due first). Safe to run concurrently
  // with itself in other processes (tasks another scan holds are left to it) and with task changes
  // (a task completed or cancelled first is not reported). The task's version is not changed. Returns
  // how many tasks this call reported; on an error, the batches committed before it stay reported.
  absl::StatusOr<int> ReportOverdue(int batch_size = 100);

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  crm::events::OutboxWriter outbox_;
};

// crm.deals.v1.TaskService over a TaskStore (which must outlive it).
class TaskServiceImpl final : public crm::deals::v1::TaskService::Service {
 public:
  explicit TaskServiceImpl(TaskStore& store) : store_(store) {}
  grpc::Status CreateTask(grpc::ServerContext* ctx, const crm::deals::v1::CreateTaskRequest* req,
                          crm::deals::v1::Task* out) override;
  grpc::Status GetTask(grpc::ServerContext* ctx, const crm::deals::v1::GetTaskRequest* req,
                       crm::deals::v1::Task* out) override;
  grpc::Status ListTasks(grpc::ServerContext* ctx, const crm::deals::v1::ListTasksRequest* req,
                         crm::deals::v1::ListTasksResponse* out) override;
  grpc::Status UpdateTask(grpc::ServerContext* ctx, const crm::deals::v1::UpdateTaskRequest* req,
                          crm::deals::v1::Task* out) override;
  grpc::Status CompleteTask(grpc::ServerContext* ctx, const crm::deals::v1::CompleteTaskRequest* req,
                            crm::deals::v1::Task* out) override;
  grpc::Status CancelTask(grpc::ServerContext* ctx, const crm::deals::v1::CancelTaskRequest* req,
                          crm::deals::v1::Task* out) override;

 private:
  TaskStore& store_;
};

// Runs `store.ReportOverdue()` on a thread of its own: at once, then every `interval` after the end of
// the previous scan, until destroyed (the destructor stops it and waits for a running scan to end).
// Errors are logged and the next scan tries again. The store must outlive it.
class OverdueReporter {
 public:
  OverdueReporter(TaskStore& store, absl::Duration interval);

 private:
  void Run();

  TaskStore& store_;
  Periodic periodic_;  // last: starts after the members it uses exist
};

}  // namespace crm::deals

#endif  // CRM_SERVICES_DEALS_TASKS_H_
