// File: services/telephony/calls/grpc_service.cc
// CallServiceImpl: the thin gRPC surface of Calls (service.h).
#include "libs/rpc/call.h"
#include "services/telephony/calls/service.h"

namespace crm::telephony::calls {

grpc::Status CallServiceImpl::ListCalls(grpc::ServerContext* ctx, const v1::ListCallsRequest* req,
                                        v1::ListCallsResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) { return calls_.ListCalls(caller, *req); });
}
grpc::Status CallServiceImpl::GetCall(grpc::ServerContext* ctx, const v1::GetCallRequest* req, v1::Call* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) { return calls_.GetCall(caller, req->id()); });
}
grpc::Status CallServiceImpl::Originate(grpc::ServerContext* ctx, const v1::OriginateRequest* req,
                                        v1::OriginateResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return calls_.Originate(caller, *req, crm::rpc::IdempotencyKey(*ctx));
  });
}
grpc::Status CallServiceImpl::Transfer(grpc::ServerContext* ctx, const v1::TransferRequest* req,
                                       v1::CallCommandResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) { return calls_.Transfer(caller, *req); });
}
grpc::Status CallServiceImpl::Hold(grpc::ServerContext* ctx, const v1::HoldRequest* req,
                                   v1::CallCommandResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) { return calls_.Hold(caller, *req); });
}
grpc::Status CallServiceImpl::Merge(grpc::ServerContext* ctx, const v1::MergeRequest* req,
                                    v1::CallCommandResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) { return calls_.Merge(caller, *req); });
}
grpc::Status CallServiceImpl::Hangup(grpc::ServerContext* ctx, const v1::HangupRequest* req,
                                     v1::CallCommandResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) { return calls_.Hangup(caller, *req); });
}
grpc::Status CallServiceImpl::SetCallClient(grpc::ServerContext* ctx, const v1::SetCallClientRequest* req,
                                            v1::Call* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) { return calls_.SetCallClient(caller, *req); });
}
grpc::Status CallServiceImpl::ListExtensions(grpc::ServerContext* ctx, const v1::ListExtensionsRequest* req,
                                             v1::ListExtensionsResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) { return calls_.ListExtensions(caller, *req); });
}
grpc::Status CallServiceImpl::PutExtension(grpc::ServerContext* ctx, const v1::PutExtensionRequest* req,
                                           v1::Extension* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) { return calls_.PutExtension(caller, *req); });
}
grpc::Status CallServiceImpl::DeleteExtension(grpc::ServerContext* ctx, const v1::DeleteExtensionRequest* req,
                                              v1::DeleteExtensionResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) { return calls_.DeleteExtension(caller, *req); });
}

}  // namespace crm::telephony::calls
