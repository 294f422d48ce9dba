// File: services/deals/applications/service.h
// -----------------------------------------------------------------------------
// crm.deals.v1.DealApplicationService (applications.proto, D15): thin handlers over ApplicationStore.
#ifndef CRM_SERVICES_DEALS_APPLICATIONS_SERVICE_H_
#define CRM_SERVICES_DEALS_APPLICATIONS_SERVICE_H_

#include "crm/deals/v1/applications.grpc.pb.h"
#include "services/deals/applications/store.h"

namespace crm::deals::applications {

class DealApplicationServiceImpl final : public v1::DealApplicationService::Service {
 public:
  explicit DealApplicationServiceImpl(ApplicationStore& store) : store_(store) {}

  grpc::Status CreateDealApplication(grpc::ServerContext* ctx, const v1::CreateDealApplicationRequest* req,
                                     v1::DealApplication* out) override;
  grpc::Status GetDealApplication(grpc::ServerContext* ctx, const v1::GetDealApplicationRequest* req,
                                  v1::DealApplication* out) override;
  grpc::Status ListDealApplications(grpc::ServerContext* ctx, const v1::ListDealApplicationsRequest* req,
                                    v1::ListDealApplicationsResponse* out) override;
  grpc::Status UpdateDealApplication(grpc::ServerContext* ctx, const v1::UpdateDealApplicationRequest* req,
                                     v1::DealApplication* out) override;
  grpc::Status RecalculateShares(grpc::ServerContext* ctx, const v1::RecalculateSharesRequest* req,
                                 v1::DealApplication* out) override;
  grpc::Status ChangeDealApplicationStatus(grpc::ServerContext* ctx, const v1::ChangeDealApplicationStatusRequest* req,
                                           v1::DealApplication* out) override;
  grpc::Status ListMarketingCampaigns(grpc::ServerContext* ctx, const v1::ListMarketingCampaignsRequest* req,
                                      v1::ListMarketingCampaignsResponse* out) override;

 private:
  ApplicationStore& store_;
};

}  // namespace crm::deals::applications

#endif  // CRM_SERVICES_DEALS_APPLICATIONS_SERVICE_H_
