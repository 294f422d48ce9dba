// File: services/deals/erp/task_mirror.h
// -----------------------------------------------------------------------------
// Tasks mirrored to 1C (D17, seed 002: «Задача логисту передается в 1С, выполнение задачи отображается
// в Битрикс24»; «Задача зеркалится в 1С логисту, статус выполнения отображается»).
//
// Out: deals' own task events (crm.deals.task.v1: created, completed, cancelled) are consumed by ApplyTaskEvent
// (an idempotent consumer, libs/events/consumer.h). A task of a deal whose direction mirrors tasks
// (ErpSettings.directions[].tasks_mirrored) gets a mirror row and crm.deals.erp_task.published.v1 on
// crm.deals.erp_task.v1 (key = task id, so one task's events keep their order) with the task, its deal's
// name and its responsible's name — what 1C consumes from Kafka. A task event at or below the version the
// mirror last stood for is not published again (the echo of 1C's own report, or a redelivery).
//
// In: ReportStatus is 1C's call (erp.sync) by ITS task GUID: IN_PROGRESS / DONE / CANCELLED with the time
// of the change in 1C. The first report links the GUID to the task (task_id); then last writer wins
// (rules.h DecideReport): a report older than 1C's last taken one, or than the CRM's own later change of
// the task's status, is discarded and logged (erp_task_conflicts, ListConflicts); otherwise the deals task
// takes the status in the same transaction — DONE with its result (the comment, or «Выполнено в 1С») and a
// timeline entry, CANCELLED, or OPEN again (reopened) — with deals' task events (completed / cancelled)
// and crm.deals.erp_task.status_reported.v1.
//
// Example:
//   TaskMirror mirror(*pool, clock);
//   consumer = Consumer::Create({.group_id = "deals.erp", .topics = {"crm.deals.task.v1"}}, *pool,
//       [&](pqxx::transaction_base& tx, const events::ConsumedEvent& e) { return mirror.ApplyTaskEvent(tx, e); });
//   CRM_ASSIGN_OR_RETURN(v1::ErpTask t, mirror.ReportStatus(actor, request));
#ifndef CRM_SERVICES_DEALS_ERP_TASK_MIRROR_H_
#define CRM_SERVICES_DEALS_ERP_TASK_MIRROR_H_

#include "absl/status/statusor.h"
#include "crm/deals/v1/erp.pb.h"
#include "libs/events/consumer.h"
#include "libs/events/outbox.h"
#include "services/deals/deals.h"

namespace crm::deals::erp {

// Deals' task topic, consumed by the mirror.
inline constexpr char kTaskTopic[] = "crm.deals.task.v1";
inline constexpr char kReportErpTaskStatusMethod[] = "crm.deals.v1.ErpService/ReportErpTaskStatus";
// How far ahead of the CRM's clock 1C's change_time may be.
inline constexpr absl::Duration kMaxClockSkew = absl::Minutes(5);
// The result of a task 1C finished without a comment.
inline constexpr char kDefaultErpResult[] = "Выполнено в 1С";

// Thread-safe; pool and clock must outlive it.
class TaskMirror {
 public:
  TaskMirror(pg::Pool& pool, const Clock& clock);

  // The consumer's handler for crm.deals.task.v1 (see the file comment).
  absl::Status ApplyTaskEvent(pqxx::transaction_base& tx, const events::ConsumedEvent& event);

  absl::StatusOr<crm::deals::v1::ErpTask> ReportStatus(const Actor& actor,
                                                       const crm::deals::v1::ReportErpTaskStatusRequest& request);
  absl::StatusOr<crm::deals::v1::ErpTask> Get(const crm::common::v1::Principal& caller, std::string_view task_id);
  absl::StatusOr<crm::deals::v1::ListErpTaskConflictsResponse> ListConflicts(
      const crm::common::v1::Principal& caller, const crm::deals::v1::ListErpTaskConflictsRequest& request);

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  crm::events::OutboxWriter outbox_;
};

}  // namespace crm::deals::erp

#endif  // CRM_SERVICES_DEALS_ERP_TASK_MIRROR_H_
