// File: services/deals/applications/service.cc
#include "services/deals/applications/service.h"

#include "libs/rpc/call.h"

namespace crm::deals::applications {

using crm::common::v1::Principal;

grpc::Status DealApplicationServiceImpl::CreateDealApplication(grpc::ServerContext* ctx,
                                                               const v1::CreateDealApplicationRequest* req,
                                                               v1::DealApplication* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Create(ActorOf(caller, *ctx), req->application(), rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status DealApplicationServiceImpl::GetDealApplication(grpc::ServerContext* ctx,
                                                            const v1::GetDealApplicationRequest* req,
                                                            v1::DealApplication* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.Get(caller, req->id()); });
}

grpc::Status DealApplicationServiceImpl::ListDealApplications(grpc::ServerContext* ctx,
                                                              const v1::ListDealApplicationsRequest* req,
                                                              v1::ListDealApplicationsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.List(caller, *req); });
}

grpc::Status DealApplicationServiceImpl::UpdateDealApplication(grpc::ServerContext* ctx,
                                                               const v1::UpdateDealApplicationRequest* req,
                                                               v1::DealApplication* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Update(ActorOf(caller, *ctx), req->application(), req->update_mask());
  });
}

grpc::Status DealApplicationServiceImpl::RecalculateShares(grpc::ServerContext* ctx,
                                                           const v1::RecalculateSharesRequest* req,
                                                           v1::DealApplication* out) {
  return rpc::Serve(*ctx, out,
                    [&](const Principal& caller) { return store_.RecalculateShares(ActorOf(caller, *ctx), *req); });
}

grpc::Status DealApplicationServiceImpl::ChangeDealApplicationStatus(
    grpc::ServerContext* ctx, const v1::ChangeDealApplicationStatusRequest* req, v1::DealApplication* out) {
  return rpc::Serve(*ctx, out,
                    [&](const Principal& caller) { return store_.ChangeStatus(ActorOf(caller, *ctx), *req); });
}

grpc::Status DealApplicationServiceImpl::ListMarketingCampaigns(grpc::ServerContext* ctx,
                                                                const v1::ListMarketingCampaignsRequest* req,
                                                                v1::ListMarketingCampaignsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.ListCampaigns(caller, *req); });
}

}  // namespace crm::deals::applications
