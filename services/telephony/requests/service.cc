// File: services/telephony/requests/service.cc
#include "services/telephony/requests/service.h"

#include "libs/rpc/call.h"

namespace crm::telephony::requests {

grpc::Status CallRequestServiceImpl::CreateCallRequest(grpc::ServerContext* ctx,
                                                       const v1::CreateCallRequestRequest* req, v1::CallRequest* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) {
    return api_.Create(c, req->request(), crm::rpc::IdempotencyKey(*ctx));
  });
}
grpc::Status CallRequestServiceImpl::GetCallRequest(grpc::ServerContext* ctx, const v1::GetCallRequestRequest* req,
                                                    v1::CallRequest* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) { return api_.Get(c, req->id()); });
}
grpc::Status CallRequestServiceImpl::ListCallRequests(grpc::ServerContext* ctx, const v1::ListCallRequestsRequest* req,
                                                      v1::ListCallRequestsResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) { return api_.List(c, *req); });
}
grpc::Status CallRequestServiceImpl::AcceptCallRequest(grpc::ServerContext* ctx,
                                                       const v1::AcceptCallRequestRequest* req, v1::CallRequest* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) { return api_.Accept(c, req->id()); });
}
grpc::Status CallRequestServiceImpl::DeclineCallRequest(grpc::ServerContext* ctx,
                                                        const v1::DeclineCallRequestRequest* req, v1::CallRequest* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) { return api_.Decline(c, *req); });
}
grpc::Status CallRequestServiceImpl::FinishCallRequest(grpc::ServerContext* ctx,
                                                       const v1::FinishCallRequestRequest* req, v1::CallRequest* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) { return api_.Finish(c, *req); });
}
grpc::Status CallRequestServiceImpl::GetCallRequestStatistics(grpc::ServerContext* ctx,
                                                              const v1::GetCallRequestStatisticsRequest* req,
                                                              v1::CallRequestStatistics* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) { return api_.Statistics(c, *req); });
}
grpc::Status CallRequestServiceImpl::SetReadiness(grpc::ServerContext* ctx, const v1::SetReadinessRequest* req,
                                                  v1::OperatorState* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) { return api_.SetReadiness(c, *req); });
}
grpc::Status CallRequestServiceImpl::GetMyState(grpc::ServerContext* ctx, const v1::GetMyStateRequest*,
                                                v1::OperatorState* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) { return api_.MyState(c); });
}
grpc::Status CallRequestServiceImpl::ListOperatorStates(grpc::ServerContext* ctx, const v1::ListOperatorStatesRequest*,
                                                        v1::ListOperatorStatesResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) { return api_.Operators(c); });
}

}  // namespace crm::telephony::requests
