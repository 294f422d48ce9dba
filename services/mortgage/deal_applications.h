// File: services/mortgage/deal_applications.h
// -----------------------------------------------------------------------------
// Issue 17 (D15, seed 004 §6.3: «ипотечный менеджер в заявке на сделку должен создать ипотечную заявку»): a
// mortgage application started from a deal application of deals. Mortgage already calls deals (M4,
// deals_client.h) and deals never calls mortgage, so the mortgage side reads the deal application as the
// caller and keeps the link:
//   FillFromDealApplication  before CreateApplication: when application.deal_application_id is set, reads it
//                            and fills what the request left empty — client_id (the signer П, else the first
//                            real participant Р, else the request's client), deal_id (the deal application's
//                            deal, when the client is the request's and the caller sees it), bank_id,
//                            loan = price − own
//                            funds (kopecks), project (the project's name) and object_description (project,
//                            building, phase, section, floor, unit); refuses a deal application that is not
//                            paid by MORTGAGE or is CANCELLED (FAILED_PRECONDITION naming
//                            application.deal_application_id);
//   LinkDealApplication      inside CreateApplication's transaction: stores the link in its indexed column;
//   DealApplicationFilter    ListApplications' condition for the deal_application_id filter.
#ifndef CRM_SERVICES_MORTGAGE_DEAL_APPLICATIONS_H_
#define CRM_SERVICES_MORTGAGE_DEAL_APPLICATIONS_H_

#include <string>

#include "absl/status/status.h"
#include "crm/mortgage/v1/applications.pb.h"
#include "services/mortgage/deals_client.h"
#include "services/mortgage/sql.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm::mortgage {

absl::Status FillFromDealApplication(const DealsClient& deals, const grpc::ServerContextBase& incoming,
                                     const crm::common::v1::Principal& caller,
                                     crm::mortgage::v1::CreateApplicationRequest& req);

void LinkDealApplication(pqxx::transaction_base& tx, const crm::mortgage::v1::Application& app);

// " AND a.deal_application_id = $n::uuid", or "" without the filter.
std::string DealApplicationFilter(const std::string& deal_application_id, Params& p);

}  // namespace crm::mortgage

#endif  // CRM_SERVICES_MORTGAGE_DEAL_APPLICATIONS_H_
