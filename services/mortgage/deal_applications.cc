// File: services/mortgage/deal_applications.cc
#include "services/mortgage/deal_applications.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "libs/base/status.h"
#include "libs/base/uuid.h"

namespace crm::mortgage {

namespace dv1 = crm::deals::v1;
using crm::common::v1::Principal;

namespace {

constexpr char kField[] = "application.deal_application_id";

absl::Status Refuse(const std::string& why) {
  return WithFieldViolations(absl::FailedPreconditionError(absl::StrCat(kField, ": ", why)), {{kField, why}});
}

// «ЖК Северный парк, Корпус 1 (Очередь 1), секция 1, этаж 5, кв. 101».
std::string ObjectOf(const dv1::DealApplication& d) {
  std::string s = d.project_name();
  if (!d.building_name().empty()) absl::StrAppend(&s, ", ", d.building_name());
  if (!d.phase().empty()) absl::StrAppend(&s, " (", d.phase(), ")");
  absl::StrAppend(&s, ", секция ", d.section_number(), ", этаж ", d.floor(), ", кв. ", d.unit_number());
  return s;
}

}  // namespace

absl::Status FillFromDealApplication(const DealsClient& deals, const grpc::ServerContextBase& incoming,
                                     const Principal& caller, v1::CreateApplicationRequest& req) {
  v1::Application& a = *req.mutable_application();
  if (a.deal_application_id().empty()) return absl::OkStatus();
  if (!IsUuid(a.deal_application_id())) return InvalidFieldError(kField, "not a UUID");
  CRM_ASSIGN_OR_RETURN(dv1::DealApplication d, deals.GetDealApplication(incoming, caller, a.deal_application_id()));
  if (d.payment_kind() != dv1::MORTGAGE) {
    return Refuse(absl::StrCat("the deal application's payment kind is ", dv1::PaymentKind_Name(d.payment_kind()),
                               ", not MORTGAGE"));
  }
  if (d.status() == dv1::DealApplication::CANCELLED) return Refuse("the deal application is cancelled");
  if (d.unit_id().empty()) return Refuse("the deal application has no unit (no price to lend against)");
  if (a.client_id().empty()) {
    std::string client;
    for (const dv1::DealParticipant& x : d.participants()) {
      if (x.signer()) {
        client = x.client_id();
        break;
      }
    }
    for (const dv1::DealParticipant& x : d.participants()) {
      if (client.empty() && x.real()) client = x.client_id();
    }
    a.set_client_id(client.empty() ? d.client_id() : client);
  }
  // The sale's deal is the request's client's: it goes with that client only, and only when the caller sees
  // it (a mortgage specialist may not see a manager's deal: the application is then made without one).
  if (a.deal_id().empty() && !d.deal_id().empty() && a.client_id() == d.client_id() &&
      deals.CheckParties(incoming, caller, a.client_id(), d.deal_id()).ok()) {
    a.set_deal_id(d.deal_id());
  }
  if (a.bank_id().empty()) a.set_bank_id(d.bank_id());
  if (a.loan() == 0) a.set_loan(d.price().amount_minor() - d.own_funds().amount_minor());
  if (a.project().empty()) a.set_project(d.project_name());
  if (a.object_description().empty()) a.set_object_description(ObjectOf(d));
  return absl::OkStatus();
}

void LinkDealApplication(pqxx::transaction_base& tx, const v1::Application& app) {
  if (app.deal_application_id().empty()) return;
  Params p;
  Run(tx,
      absl::StrCat("UPDATE applications SET deal_application_id = ", p.Add(app.deal_application_id()),
                   "::uuid WHERE id = ", p.Add(app.id()), "::uuid"),
      p);
}

std::string DealApplicationFilter(const std::string& deal_application_id, Params& p) {
  if (deal_application_id.empty()) return "";
  return absl::StrCat(" AND a.deal_application_id = ", p.Add(deal_application_id), "::uuid");
}

}  // namespace crm::mortgage
