// File: services/dialogs/routing/service.h
// -----------------------------------------------------------------------------
// The routing API (T6, T8; routing.proto): `Routing` decides each call from the caller's Principal in one
// transaction; `RoutingServiceImpl` is the thin gRPC RoutingService over it (gateway routes under
// /v1/dialogs/routing… and /v1/dialogs/{id}:redirect|:release|/timeline).
//   * dialogs.admin edits rules, groups, operators (capacity, rights per bot) and the bots' answer timeouts;
//     dialogs.supervise (or admin) reads them and the report. Creating POSTs honour Idempotency-Key.
//   * SetPresence: dialogs.operate, the caller's own; ONLINE offers the queues of the caller's bots.
//   * RedirectDialog / ReleaseDialog: an IN_WORK dialog's responsible, or a supervisor; the target user must
//     operate the dialog's bot (FAILED_PRECONDITION naming user_id), a group must be the bot's and have an
//     available member (FAILED_PRECONDITION naming group_id). Version 0 = any, a stale one ABORTED.
//   * GetDialogTimeline: whoever sees the dialog (inbox/access.h); paged by the page rule (oldest first; the
//     token is where the assignments and the bot's transitions (T9) stopped: "t1.<assignment id>.<seq>").
//   * Lists: the page rule (page_size < 0 refused, 0 = 50, above 200 clamped), a keyset page_token (the last
//     item's id: rules and groups in creation order — UUIDv7 —, operators by user id).
#ifndef CRM_SERVICES_DIALOGS_ROUTING_SERVICE_H_
#define CRM_SERVICES_DIALOGS_ROUTING_SERVICE_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "crm/common/v1/common.pb.h"
#include "crm/dialogs/v1/routing.grpc.pb.h"

namespace crm {
class Clock;
}  // namespace crm
namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::dialogs::routing {

namespace v1 = ::crm::dialogs::v1;
using crm::common::v1::Principal;

class Router;

inline constexpr char kAdmin[] = "dialogs.admin";
inline constexpr int kDefaultCapacity = 5;
inline constexpr int kMaxCapacity = 100;
inline constexpr int kMaxAnswerTimeoutMinutes = 24 * 60;
inline constexpr int kMaxReportDays = 366;

class Routing {
 public:
  Routing(crm::pg::Pool& pool, const Clock& clock, const Router& router);

  absl::StatusOr<v1::ListRoutingRulesResponse> ListRules(const Principal& caller,
                                                         const v1::ListRoutingRulesRequest& req);
  absl::StatusOr<v1::RoutingRule> CreateRule(const Principal& caller, const v1::CreateRoutingRuleRequest& req,
                                             std::string_view idempotency_key);
  absl::Status DeleteRule(const Principal& caller, std::string_view id);
  absl::StatusOr<v1::ListOperatorGroupsResponse> ListGroups(const Principal& caller,
                                                            const v1::ListOperatorGroupsRequest& req);
  absl::StatusOr<v1::OperatorGroup> CreateGroup(const Principal& caller, const v1::CreateOperatorGroupRequest& req,
                                                std::string_view idempotency_key);
  absl::StatusOr<v1::ListOperatorsResponse> ListOperators(const Principal& caller, const v1::ListOperatorsRequest& req);
  absl::StatusOr<v1::Operator> UpdateOperator(const Principal& caller, const v1::UpdateOperatorRequest& req);
  absl::StatusOr<v1::Operator> SetPresence(const Principal& caller, const v1::SetPresenceRequest& req);
  absl::StatusOr<v1::BotRouting> GetBotRouting(const Principal& caller, std::string_view bot_id);
  absl::StatusOr<v1::BotRouting> UpdateBotRouting(const Principal& caller, const v1::UpdateBotRoutingRequest& req);
  absl::StatusOr<v1::Dialog> Redirect(const Principal& caller, const v1::RedirectDialogRequest& req);
  absl::StatusOr<v1::Dialog> Release(const Principal& caller, const v1::ReleaseDialogRequest& req);
  // T8, T9: the summary of the whole dialog and a page of its history — routing's assignments and the
  // chat-bot's transitions merged in time order (at one instant the bot's first).
  absl::StatusOr<v1::DialogTimeline> Timeline(const Principal& caller, const v1::GetDialogTimelineRequest& req);
  absl::StatusOr<v1::ResponseReport> Report(const Principal& caller, const v1::GetResponseReportRequest& req);

 private:
  crm::pg::Pool& pool_;
  const Clock& clock_;
  const Router& router_;
};

class RoutingServiceImpl final : public v1::RoutingService::Service {
 public:
  explicit RoutingServiceImpl(Routing& routing) : routing_(routing) {}

  grpc::Status ListRoutingRules(grpc::ServerContext* ctx, const v1::ListRoutingRulesRequest* req,
                                v1::ListRoutingRulesResponse* out) override;
  grpc::Status CreateRoutingRule(grpc::ServerContext* ctx, const v1::CreateRoutingRuleRequest* req,
                                 v1::RoutingRule* out) override;
  grpc::Status DeleteRoutingRule(grpc::ServerContext* ctx, const v1::DeleteRoutingRuleRequest* req,
                                 v1::DeleteRoutingRuleResponse* out) override;
  grpc::Status ListOperatorGroups(grpc::ServerContext* ctx, const v1::ListOperatorGroupsRequest* req,
                                  v1::ListOperatorGroupsResponse* out) override;
  grpc::Status CreateOperatorGroup(grpc::ServerContext* ctx, const v1::CreateOperatorGroupRequest* req,
                                   v1::OperatorGroup* out) override;
  grpc::Status ListOperators(grpc::ServerContext* ctx, const v1::ListOperatorsRequest* req,
                             v1::ListOperatorsResponse* out) override;
  grpc::Status UpdateOperator(grpc::ServerContext* ctx, const v1::UpdateOperatorRequest* req,
                              v1::Operator* out) override;
  grpc::Status SetPresence(grpc::ServerContext* ctx, const v1::SetPresenceRequest* req, v1::Operator* out) override;
  grpc::Status GetBotRouting(grpc::ServerContext* ctx, const v1::GetBotRoutingRequest* req,
                             v1::BotRouting* out) override;
  grpc::Status UpdateBotRouting(grpc::ServerContext* ctx, const v1::UpdateBotRoutingRequest* req,
                                v1::BotRouting* out) override;
  grpc::Status RedirectDialog(grpc::ServerContext* ctx, const v1::RedirectDialogRequest* req,
                              v1::Dialog* out) override;
  grpc::Status ReleaseDialog(grpc::ServerContext* ctx, const v1::ReleaseDialogRequest* req, v1::Dialog* out) override;
  grpc::Status GetDialogTimeline(grpc::ServerContext* ctx, const v1::GetDialogTimelineRequest* req,
                                 v1::DialogTimeline* out) override;
  grpc::Status GetResponseReport(grpc::ServerContext* ctx, const v1::GetResponseReportRequest* req,
                                 v1::ResponseReport* out) override;

 private:
  Routing& routing_;
};

}  // namespace crm::dialogs::routing

#endif  // CRM_SERVICES_DIALOGS_ROUTING_SERVICE_H_
