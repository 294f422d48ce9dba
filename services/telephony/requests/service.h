// File: services/telephony/requests/service.h
// -----------------------------------------------------------------------------
// CallRequestService (requests.proto): the thin gRPC face of CallRequests (api.h); gateway routes under
// /v1/telephony/requests… and /v1/telephony/operators….
#ifndef CRM_SERVICES_TELEPHONY_REQUESTS_SERVICE_H_
#define CRM_SERVICES_TELEPHONY_REQUESTS_SERVICE_H_

#include "crm/telephony/v1/requests.grpc.pb.h"
#include "services/telephony/requests/api.h"

namespace crm::telephony::requests {

class CallRequestServiceImpl final : public v1::CallRequestService::Service {
 public:
  explicit CallRequestServiceImpl(CallRequests& api) : api_(api) {}

  grpc::Status CreateCallRequest(grpc::ServerContext* ctx, const v1::CreateCallRequestRequest* req,
                                 v1::CallRequest* out) override;
  grpc::Status GetCallRequest(grpc::ServerContext* ctx, const v1::GetCallRequestRequest* req,
                              v1::CallRequest* out) override;
  grpc::Status ListCallRequests(grpc::ServerContext* ctx, const v1::ListCallRequestsRequest* req,
                                v1::ListCallRequestsResponse* out) override;
  grpc::Status AcceptCallRequest(grpc::ServerContext* ctx, const v1::AcceptCallRequestRequest* req,
                                 v1::CallRequest* out) override;
  grpc::Status DeclineCallRequest(grpc::ServerContext* ctx, const v1::DeclineCallRequestRequest* req,
                                  v1::CallRequest* out) override;
  grpc::Status FinishCallRequest(grpc::ServerContext* ctx, const v1::FinishCallRequestRequest* req,
                                 v1::CallRequest* out) override;
  grpc::Status GetCallRequestStatistics(grpc::ServerContext* ctx, const v1::GetCallRequestStatisticsRequest* req,
                                        v1::CallRequestStatistics* out) override;
  grpc::Status SetReadiness(grpc::ServerContext* ctx, const v1::SetReadinessRequest* req,
                            v1::OperatorState* out) override;
  grpc::Status GetMyState(grpc::ServerContext* ctx, const v1::GetMyStateRequest* req, v1::OperatorState* out) override;
  grpc::Status ListOperatorStates(grpc::ServerContext* ctx, const v1::ListOperatorStatesRequest* req,
                                  v1::ListOperatorStatesResponse* out) override;

 private:
  CallRequests& api_;
};

}  // namespace crm::telephony::requests

#endif  // CRM_SERVICES_TELEPHONY_REQUESTS_SERVICE_H_
