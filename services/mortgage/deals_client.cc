// File: services/mortgage/deals_client.cc
#include "services/mortgage/deals_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "libs/auth/service_credential.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/rpc/call.h"

namespace crm::mortgage {

namespace dv1 = crm::deals::v1;
using crm::common::v1::Principal;

namespace {

constexpr char kClientField[] = "application.client_id";
constexpr char kDealField[] = "application.deal_id";

// M4's refusal: FAILED_PRECONDITION naming `field`.
absl::Status NotVisible(const char* field, std::string_view what) {
  return WithFieldViolations(absl::FailedPreconditionError(absl::StrCat(field, ": ", AsAbsl(what))),
                             {{field, std::string(what)}});
}

// What deals' `status` for the `field` (a client or a deal of id `id`) means for the application.
absl::Status Refusal(const grpc::Status& status, const char* field, const char* noun, std::string_view id) {
  switch (status.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::INVALID_ARGUMENT:
      return NotVisible(field,
                        absl::StrCat("no ", noun, " ", AsAbsl(id), " in deals that the caller may see"));
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::CANCELLED:
      return absl::UnavailableError(absl::StrCat("deals is unavailable, so ", field,
                                                 " cannot be checked now; nothing was created, try again"));
    default:
      return absl::InternalError(
          absl::StrCat("deals answered the check of ", field, " with ", FromGrpcStatus(status).ToString()));
  }
}

}  // namespace

DealsClient::DealsClient(std::shared_ptr<grpc::Channel> clients, std::shared_ptr<grpc::Channel> deals,
                         const auth::SigningKey* key, const Clock& clock, absl::Duration timeout)
    : clients_(dv1::ClientService::NewStub(std::move(clients))),
      deals_(dv1::DealService::NewStub(deals)),
      deal_applications_(dv1::DealApplicationService::NewStub(std::move(deals))),
      key_(key),
      clock_(clock),
      timeout_(timeout) {}

std::unique_ptr<DealsClient> DealsClient::Connect(const rpc::ChannelOptions& options,
                                                  const auth::SigningKey* key, const Clock& clock) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  return std::make_unique<DealsClient>(
      rpc::MakeChannel(options, *pool->FindServiceByName(dv1::ClientService::service_full_name())),
      rpc::MakeChannel(options, *pool->FindServiceByName(dv1::DealService::service_full_name())), key, clock,
      options.default_timeout);
}

absl::Status DealsClient::Prepare(grpc::ClientContext& call, const grpc::ServerContextBase& incoming,
                                  const Principal& caller) const {
  call.set_deadline(absl::ToChronoTime(std::min(absl::Now() + timeout_, rpc::Deadline(incoming))));
  if (const std::string id = rpc::RequestId(incoming); !id.empty())
    call.AddMetadata(rpc::kRequestIdHeader, id);
  if (key_ == nullptr) {
    rpc::SetCaller(call, caller);
    return absl::OkStatus();
  }
  const std::string bytes = caller.SerializeAsString();
  CRM_ASSIGN_OR_RETURN(std::string sig, auth::SignPrincipalBytes(bytes, *key_, clock_.Now()));
  call.AddMetadata(rpc::kPrincipalHeader, bytes);
  call.AddMetadata(std::string(auth::kPrincipalSigHeader), sig);
  return absl::OkStatus();
}

absl::Status DealsClient::CheckParties(const grpc::ServerContextBase& incoming, const Principal& caller,
                                       std::string_view client_id, std::string_view deal_id) const {
  {
    grpc::ClientContext call;
    CRM_RETURN_IF_ERROR(Prepare(call, incoming, caller));
    dv1::GetClientRequest req;
    req.set_id(std::string(client_id));
    dv1::Client client;
    const grpc::Status s = clients_->GetClient(&call, req, &client);
    if (!s.ok()) return Refusal(s, kClientField, "client", client_id);
  }
  if (deal_id.empty()) return absl::OkStatus();
  grpc::ClientContext call;
  CRM_RETURN_IF_ERROR(Prepare(call, incoming, caller));
  dv1::GetDealRequest req;
  req.set_id(std::string(deal_id));
  dv1::Deal deal;
  const grpc::Status s = deals_->GetDeal(&call, req, &deal);
  if (!s.ok()) return Refusal(s, kDealField, "deal", deal_id);
  if (!deal.client_id().empty() && deal.client_id() != client_id) {
    return NotVisible(kDealField, absl::StrCat("deal ", AsAbsl(deal_id), " is another client's (",
                                               deal.client_id(), "), not application.client_id's"));
  }
  return absl::OkStatus();
}

absl::StatusOr<dv1::DealApplication> DealsClient::GetDealApplication(const grpc::ServerContextBase& incoming,
                                                                    const Principal& caller,
                                                                    std::string_view id) const {
  grpc::ClientContext call;
  CRM_RETURN_IF_ERROR(Prepare(call, incoming, caller));
  dv1::GetDealApplicationRequest req;
  req.set_id(std::string(id));
  dv1::DealApplication out;
  const grpc::Status s = deal_applications_->GetDealApplication(&call, req, &out);
  if (!s.ok()) return Refusal(s, "application.deal_application_id", "deal application", id);
  return out;
}

}  // namespace crm::mortgage
