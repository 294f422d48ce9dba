// File: services/mortgage/deals_client.h
// -----------------------------------------------------------------------------
// M4: an application's client and deal must exist and be visible to the caller. Mortgage keeps no copy
// of deals' clients and deals; it asks deals (ClientService.GetClient, DealService.GetDeal) *as the
// caller*: the caller's principal (as the gateway signed it to mortgage: user, permissions, teams) is
// forwarded, signed with mortgage's own service key (CRM_MORTGAGE_SERVICE_KEY_FILE, kid "mortgage", in
// the suite's trusted keys) the way the suite's services call each other (libs/auth/service_credential.h),
// so deals' own access rules (clients.read; deals.read.own / .team / .all) decide what the caller sees,
// and a deal the caller may not see is as absent as one that does not exist.
//
// Answers of CheckParties:
//   OK                   the client exists and the caller sees it; and the deal, when one is named, too,
//                        and it is that client's (or has no client yet);
//   FAILED_PRECONDITION  naming application.client_id or application.deal_id (field violations, as the
//                        gateway shows them): not found, not visible, or the deal of another client;
//   UNAVAILABLE          deals could not be asked (down, overloaded, out of time): try again later;
//   INTERNAL             deals answered something else (e.g. it did not believe the forwarded caller).
//
// Example (a handler):
//   CRM_RETURN_IF_ERROR(deals.CheckParties(*server_ctx, caller, app.client_id(), app.deal_id()));
#ifndef CRM_SERVICES_MORTGAGE_DEALS_CLIENT_H_
#define CRM_SERVICES_MORTGAGE_DEALS_CLIENT_H_

#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "crm/deals/v1/clients.grpc.pb.h"
#include "crm/deals/v1/deals.grpc.pb.h"
#include "crm/deals/v1/applications.grpc.pb.h"
#include "absl/status/statusor.h"
#include "libs/rpc/client.h"

namespace grpc {
class Channel;
class ClientContext;
class ServerContextBase;
}  // namespace grpc
namespace crm {
class Clock;
}  // namespace crm
namespace crm::auth {
class SigningKey;
}  // namespace crm::auth

namespace crm::mortgage {

class DealsClient {
 public:
  // Calls deals over `clients` (ClientService) and `deals` (DealService), each call given at most
  // `timeout` (and no more than the incoming call has left). `key` signs the forwarded caller at
  // `clock`'s now; nullptr sends it unsigned (only a deals without trusted keys believes that:
  // development). `key` and `clock` must outlive the client.
  DealsClient(std::shared_ptr<grpc::Channel> clients, std::shared_ptr<grpc::Channel> deals,
              const crm::auth::SigningKey* key, const crm::Clock& clock,
              absl::Duration timeout = absl::Seconds(3));

  // Channels to deals at options.target that retry GetClient / GetDeal on UNAVAILABLE (rpc::MakeChannel),
  // calls given options.default_timeout.
  static std::unique_ptr<DealsClient> Connect(const crm::rpc::ChannelOptions& options,
                                              const crm::auth::SigningKey* key, const crm::Clock& clock);

  // See the file comment: `caller` is the incoming call's (`incoming`) principal. `client_id` is
  // required; `deal_id` may be "" (no deal).
  absl::Status CheckParties(const grpc::ServerContextBase& incoming, const crm::common::v1::Principal& caller,
                            std::string_view client_id, std::string_view deal_id) const;

  // Issue 17: the deal application `id` as the caller sees it (DealApplicationService.GetDealApplication
  // over the deals channel). NOT_FOUND / PERMISSION_DENIED / INVALID_ARGUMENT become FAILED_PRECONDITION
  // naming application.deal_application_id; UNAVAILABLE when deals cannot be asked.
  absl::StatusOr<crm::deals::v1::DealApplication> GetDealApplication(const grpc::ServerContextBase& incoming,
                                                                     const crm::common::v1::Principal& caller,
                                                                     std::string_view id) const;

 private:
  // Deadline, request id and the signed caller of one call.
  absl::Status Prepare(grpc::ClientContext& call, const grpc::ServerContextBase& incoming,
                       const crm::common::v1::Principal& caller) const;

  std::unique_ptr<crm::deals::v1::ClientService::Stub> clients_;
  std::unique_ptr<crm::deals::v1::DealService::Stub> deals_;
  std::unique_ptr<crm::deals::v1::DealApplicationService::Stub> deal_applications_;
  const crm::auth::SigningKey* key_;
  const crm::Clock& clock_;
  absl::Duration timeout_;
};

}  // namespace crm::mortgage

#endif  // CRM_SERVICES_MORTGAGE_DEALS_CLIENT_H_
