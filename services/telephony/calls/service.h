// File: services/telephony/calls/service.h
// -----------------------------------------------------------------------------
// The call log and the commands (P1, P2): `Calls` decides each request from the caller's Principal in one
// transaction; `CallServiceImpl` is the thin gRPC CallService over it (calls.proto; the gateway routes it
// under /v1/telephony).
//   * Scopes: telephony.read.all sees every call; calls.operate the caller's own (the employee on the call,
//     or on one of its legs for GetCall); a call the caller may not see is NOT_FOUND.
//   * ListCalls: filters client, deal, user ("me" or an id), direction, missed only, start time range;
//     newest first by (start time, id), keyset page_token; page_size < 0 refused, 0 = 50, above 200
//     clamped. Each filter and scope reads an index in that order (calls_plan_test.cc).
//   * Commands (Originate, Transfer, Hold, Merge, Hangup) go to the PBX adapter of the call's provider
//     (Originate: the configured provider) from pbx.h's registry; none registered: FAILED_PRECONDITION
//     naming the provider. Originate rings the caller's own extension (extensions table) and honours
//     Idempotency-Key. A leg command is the call's employee's (calls.operate) or telephony.manage's.
//   * SetCallClient: the operator's choice among the candidates (any client when there were none), a deal
//     and a project; the call's interaction in deals follows (deals_sync.h). A client cannot change once
//     deals recorded the interaction (deals keeps the client of an interaction).
//   * Extensions admin: telephony.manage.
#ifndef CRM_SERVICES_TELEPHONY_CALLS_SERVICE_H_
#define CRM_SERVICES_TELEPHONY_CALLS_SERVICE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "crm/common/v1/common.pb.h"
#include "crm/telephony/v1/calls.grpc.pb.h"

namespace crm {
class Clock;
}  // namespace crm
namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::telephony::calls {

class PbxRegistry;
namespace v1 = ::crm::telephony::v1;
using crm::common::v1::Principal;

inline constexpr char kOperate[] = "calls.operate";
inline constexpr char kReadAll[] = "telephony.read.all";
inline constexpr char kManage[] = "telephony.manage";
inline constexpr int kDefaultPage = 50;
inline constexpr int kMaxPage = 200;

class Calls {
 public:
  // `provider`: the PBX click-to-call uses (CRM_TELEPHONY_PROVIDER).
  Calls(crm::pg::Pool& pool, const Clock& clock, const PbxRegistry& pbx, std::string provider);

  absl::StatusOr<v1::ListCallsResponse> ListCalls(const Principal& caller, const v1::ListCallsRequest& req);
  absl::StatusOr<v1::Call> GetCall(const Principal& caller, std::string_view id);
  absl::StatusOr<v1::OriginateResponse> Originate(const Principal& caller, const v1::OriginateRequest& req,
                                                  std::string_view idempotency_key);
  absl::StatusOr<v1::CallCommandResponse> Transfer(const Principal& caller, const v1::TransferRequest& req);
  absl::StatusOr<v1::CallCommandResponse> Hold(const Principal& caller, const v1::HoldRequest& req);
  absl::StatusOr<v1::CallCommandResponse> Merge(const Principal& caller, const v1::MergeRequest& req);
  absl::StatusOr<v1::CallCommandResponse> Hangup(const Principal& caller, const v1::HangupRequest& req);
  absl::StatusOr<v1::Call> SetCallClient(const Principal& caller, const v1::SetCallClientRequest& req);
  absl::StatusOr<v1::ListExtensionsResponse> ListExtensions(const Principal& caller,
                                                            const v1::ListExtensionsRequest& req);
  absl::StatusOr<v1::Extension> PutExtension(const Principal& caller, const v1::PutExtensionRequest& req);
  absl::StatusOr<v1::DeleteExtensionResponse> DeleteExtension(const Principal& caller,
                                                              const v1::DeleteExtensionRequest& req);

 private:
  crm::pg::Pool& pool_;
  const Clock& clock_;
  const PbxRegistry& pbx_;
  std::string provider_;
};

class CallServiceImpl final : public v1::CallService::Service {
 public:
  explicit CallServiceImpl(Calls& calls) : calls_(calls) {}

  grpc::Status ListCalls(grpc::ServerContext* ctx, const v1::ListCallsRequest* req,
                         v1::ListCallsResponse* out) override;
  grpc::Status GetCall(grpc::ServerContext* ctx, const v1::GetCallRequest* req, v1::Call* out) override;
  grpc::Status Originate(grpc::ServerContext* ctx, const v1::OriginateRequest* req,
                         v1::OriginateResponse* out) override;
  grpc::Status Transfer(grpc::ServerContext* ctx, const v1::TransferRequest* req,
                        v1::CallCommandResponse* out) override;
  grpc::Status Hold(grpc::ServerContext* ctx, const v1::HoldRequest* req, v1::CallCommandResponse* out) override;
  grpc::Status Merge(grpc::ServerContext* ctx, const v1::MergeRequest* req, v1::CallCommandResponse* out) override;
  grpc::Status Hangup(grpc::ServerContext* ctx, const v1::HangupRequest* req, v1::CallCommandResponse* out) override;
  grpc::Status SetCallClient(grpc::ServerContext* ctx, const v1::SetCallClientRequest* req, v1::Call* out) override;
  grpc::Status ListExtensions(grpc::ServerContext* ctx, const v1::ListExtensionsRequest* req,
                              v1::ListExtensionsResponse* out) override;
  grpc::Status PutExtension(grpc::ServerContext* ctx, const v1::PutExtensionRequest* req,
                            v1::Extension* out) override;
  grpc::Status DeleteExtension(grpc::ServerContext* ctx, const v1::DeleteExtensionRequest* req,
                               v1::DeleteExtensionResponse* out) override;

 private:
  Calls& calls_;
};

}  // namespace crm::telephony::calls

#endif  // CRM_SERVICES_TELEPHONY_CALLS_SERVICE_H_
