// File: services/robots/actions.h
// -----------------------------------------------------------------------------
// Deal actions of robots (R1, R6): DealsClient reads deals and applies a rule's actions to a deal over
// the deals service's gRPC API (DealService, TaskService, TimelineService and PipelineService, all
// served on one address by crm-deals).
//
// Every call carries a deadline (DealsClientOptions::timeout), the robots service principal acting on
// behalf of the rule's author (crm::rpc::ServicePrincipal("robots", author) with deals.read.all,
// deals.write.all and deals.copy), signed with the robots key, and `x-crm-automation-depth` = the
// change's depth in the automation chain, so that the events deals writes for it carry the depth and
// robots' loop guard sees it.
//
// Exactly once in effect: Apply() may be called again with the same ActionContext (a retry after a
// crash or a lost reply) and the deal ends up as if it had been called once:
//   create_task, add_comment, copy_deal  send `idempotency-key` = ctx.idempotency_key, so deals returns
//                                        the first call's result instead of making a second one
//                                        (create_task with skip_if_open also makes none while a task of
//                                        its title is open);
//   complete_tasks                       completes the tasks of its title still OPEN: a repeat finds
//                                        them done;
//   add_tag, set_field, change_responsible, move_stage
//                                        read the deal first and do nothing when it already is as the
//                                        action wants it; writes carry the version read and are redone
//                                        on a version conflict (ABORTED) with a fresh read, a few times.
// (A person undoing the change between the first call and its retry gets it redone: the second call
// only sees the deal, not the history.)
//
// Errors keep the deals service's code and message. IsTransient() tells which are worth retrying with
// backoff (deals down, a deadline, a conflict that outlived the retries); the others are permanent for
// this ctx: INVALID_ARGUMENT (a bad action), NOT_FOUND (the deal is gone), PERMISSION_DENIED,
// FAILED_PRECONDITION (a stage gate refused the move; the message lists what is missing).
//
// Example:
//   const auto* service = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
//       crm::deals::v1::DealService::service_full_name());
//   auto channel = crm::rpc::MakeChannel({.target = deals_target}, *service);
//   crm::robots::DealsClient deals(channel, &robots_key, &calendar, calendar.zone());
//   CRM_ASSIGN_OR_RETURN(crm::deals::v1::Deal deal, deals.GetDeal(deal_id));
//   crm::robots::ActionContext ctx{.deal_id = deal_id, .deal = &deal,
//                                  .idempotency_key = absl::StrCat(execution_id, "/", index),
//                                  .depth = event_depth + 1, .on_behalf_of_user_id = rule.updated_by(),
//                                  .now = clock.Now()};
//   absl::StatusOr<std::string> detail = deals.Apply(rule.actions(index), ctx);
//   if (!detail.ok() && crm::robots::IsTransient(detail.status())) { /* retry later, same ctx */ }
#ifndef CRM_SERVICES_ROBOTS_ACTIONS_H_
#define CRM_SERVICES_ROBOTS_ACTIONS_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/base/status.h"
#include "crm/deals/v1/deals.pb.h"
#include "crm/deals/v1/tasks.pb.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc
namespace crm {
class Clock;
}  // namespace crm
namespace crm::auth {
class SigningKey;
}  // namespace crm::auth
namespace crm::calendar {
class WorkingCalendar;
}  // namespace crm::calendar
namespace crm::robots::v1 {
class Action;
}  // namespace crm::robots::v1

namespace crm::robots {

// Who a robot acts as and how deep in the automation chain its change is.
struct ActionContext {
  // The deal the action applies to.
  std::string deal_id;
  // The deal as loaded for this run, not owned; may be null. The read-check-write actions (add_tag,
  // set_field, change_responsible) first try their update on it — deals refuses a stale one by its
  // version, and then they read afresh — and conclude "nothing to do" only from a fresh read.
  const crm::deals::v1::Deal* deal = nullptr;
  // Unique per execution × action index, the same on every retry of that action; sent as
  // `idempotency-key` by the creating actions. Required by create_task, add_comment and copy_deal.
  std::string idempotency_key;
  // Sent as x-crm-automation-depth: 1 for a change made by a robot on a person's change, n + 1 on a
  // change of depth n. Not sent when <= 0.
  int depth = 1;
  // The rule's author: the service principal acts on their behalf (deals records them as the actor).
  std::string on_behalf_of_user_id;
  // create_task: the task's creator (Постановщик) when not the author — the call is made on their
  // behalf, so deals records them as the creator (seed 002: the head of sales). "" = the author.
  std::string creator_user_id;
  // The run's clock: task due times are counted from it.
  absl::Time now;
};

struct DealsClientOptions {
  // The deadline of every call, counted from its start.
  absl::Duration timeout = absl::Seconds(5);
  // Dates the principal's signature; nullptr = the system clock. (Tests pass the clock the server
  // checks signatures against.)
  const crm::Clock* clock = nullptr;
  // Attempts in all of a read-check-write action (add_tag, set_field, change_responsible) when the
  // deal changes under it (ABORTED "version mismatch"); then ABORTED is returned.
  int conflict_attempts = 5;
};

// The robots' client of crm.deals. Thread-safe; the key and calendar must outlive it.
class DealsClient {
 public:
  // `channel` reaches crm.deals (DealService, TaskService, TimelineService, PipelineService). `key`
  // signs the robots principal; nullptr sends it unsigned (only servers without trusted keys believe
  // it: development). `calendar` counts working-time task deadlines (may be null: then they are
  // InvalidArgument); `zone` is the one the execution log shows due times in.
  DealsClient(std::shared_ptr<grpc::Channel> channel, const crm::auth::SigningKey* key,
              const crm::calendar::WorkingCalendar* calendar, absl::TimeZone zone, DealsClientOptions options = {});
  ~DealsClient();
  DealsClient(const DealsClient&) = delete;
  DealsClient& operator=(const DealsClient&) = delete;

  // The deal `id` as deals has it now (read as the robots service on its own).
  absl::StatusOr<crm::deals::v1::Deal> GetDeal(std::string_view id);

  // Up to `limit` open deals of the pipeline (every responsible's), newest first, each as GetDeal
  // returns it (custom fields included); a deal deleted meanwhile is left out. For schedule rules.
  absl::StatusOr<std::vector<crm::deals::v1::Deal>> ListOpenDeals(std::string_view pipeline_id, int limit);

  // Applies `action` to deal ctx.deal_id, exactly once in effect for the same ctx (file comment).
  // Returns a short detail for the execution log: "task <id> due 2026-11-30 10:00 MSK", "comment <id>",
  // "tag «…» added" / "tag «…» already there", "priority set to PRIORITY_A" / "priority already
  // PRIORITY_A" (custom fields shown as their FieldValue JSON), "moved to stage <id>" / "already in
  // stage <id>", "responsible set to <id>" / "responsible already <id>", "copy <id>", "task «…» already
  // open: <id>" (skip_if_open), "completed 1 task «…»" / "no open task «…»".
  // Notify, StartReport and IncrementCounter are not deal actions: Unimplemented. An action with bad
  // parameters is InvalidArgument naming the field ("create_task.responsible"); deals' own errors keep
  // their code.
  absl::StatusOr<std::string> Apply(const crm::robots::v1::Action& action, const ActionContext& ctx);

  // The moment a task made at `now` with `due_in` is due: now + due_in, or in working time of the
  // calendar when `working_time` — a whole number of days as working days (the same wall time on the
  // n-th working day after, moved to the next working time if outside it: "2 working days"), anything
  // else as working hours ("1 working hour": Friday 18:30 → Monday 10:00 on a Mon–Fri 9–18 calendar).
  absl::StatusOr<absl::Time> DueTime(absl::Time now, absl::Duration due_in, bool working_time) const;

 private:
  struct Stubs;
  // Sets the deadline, the principal (on behalf of `on_behalf_of`), the depth (when > 0) and the
  // idempotency key (when not empty) of one call.
  absl::Status Prepare(grpc::ClientContext& call, std::string_view on_behalf_of, int depth,
                       std::string_view idempotency_key) const;
  class DealSnapshot;
  absl::StatusOr<crm::deals::v1::Deal> Read(std::string_view id, const ActionContext& ctx);
  absl::StatusOr<crm::deals::v1::Deal> Update(const crm::deals::v1::Deal& deal, std::string_view path,
                                              const ActionContext& ctx);
  absl::StatusOr<std::vector<crm::deals::v1::FieldDefinition>> FieldDefinitions(const ActionContext& ctx);
  absl::StatusOr<std::string> StagePipeline(std::string_view stage_id, const ActionContext& ctx);

  absl::StatusOr<std::string> CreateTask(const crm::robots::v1::Action& action, const ActionContext& ctx);
  absl::StatusOr<std::string> AddComment(const crm::robots::v1::Action& action, const ActionContext& ctx);
  absl::StatusOr<std::string> AddTag(const crm::robots::v1::Action& action, const ActionContext& ctx);
  absl::StatusOr<std::string> SetField(const crm::robots::v1::Action& action, const ActionContext& ctx);
  absl::StatusOr<std::string> MoveStage(const crm::robots::v1::Action& action, const ActionContext& ctx);
  absl::StatusOr<std::string> ChangeResponsible(const crm::robots::v1::Action& action, const ActionContext& ctx);
  absl::StatusOr<std::string> CopyDeal(const crm::robots::v1::Action& action, const ActionContext& ctx);
  absl::StatusOr<std::string> CompleteTasks(const crm::robots::v1::Action& action, const ActionContext& ctx);
  // The deal's OPEN tasks titled `title`, read on behalf of the author.
  absl::StatusOr<std::vector<crm::deals::v1::Task>> OpenTasks(std::string_view title, const ActionContext& ctx);

  std::unique_ptr<Stubs> stubs_;
  const crm::auth::SigningKey* key_;
  const crm::calendar::WorkingCalendar* calendar_;
  absl::TimeZone zone_;
  DealsClientOptions options_;
};

// Which failures to retry with backoff, the same ctx: crm::IsTransient (libs/base/status.h).
using ::crm::IsTransient;

}  // namespace crm::robots

#endif  // CRM_SERVICES_ROBOTS_ACTIONS_H_
