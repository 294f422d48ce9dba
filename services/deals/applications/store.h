// File: services/deals/applications/store.h
// -----------------------------------------------------------------------------
// Deal applications («Заявка на сделку», D15 second half, seed 004 §6.3) in PostgreSQL beside the
// requests, clients and the inventory they point at (the deals database).
//
// What the store promises:
//   - an application is made from a client request (client_requests): its client, project and
//     responsible are the request's; the caller must be able to see the request
//     (interactions.read.*) and hold applications.write.* reaching the request's responsible;
//   - the unit is realty's, of the request's project (INVALID_ARGUMENT naming application.unit_id
//     otherwise); a unit with an ACTIVE booking of another client, or SOLD / WITHDRAWN, is
//     FAILED_PRECONDITION naming application.unit_id; the price is the booking's fixed final price when
//     the request's client holds the unit's ACTIVE booking, else the unit's current final price — fixed
//     on the application when the unit is set (the unit row is read FOR SHARE in the same transaction);
//   - participants are deals clients, each once; У at most once (a unique index too); Р on every
//     person and never on a company; НЛ from the client's birth date at the application's date (its
//     creation day in the company's time zone, on the injected clock) and ДУЛ from the card's passport,
//     both derived when read (so a corrected card shows at once);
//   - shares by shares.h on every write and on RecalculateShares; own funds ≤ price; the payment
//     schedule positive, dates not going back, summing to the price exactly;
//   - every write is all or nothing in one transaction with the application's version (0 = any, stale →
//     ABORTED), every bad field named at once, an event on crm.deals.application.v1
//     (applications_event_types.h); a create honours Idempotency-Key (pg::RunIdempotent, same
//     transaction);
//   - lists newest first on an index for every filter and scope (plan_test.cc), names beside ids.
#ifndef CRM_SERVICES_DEALS_APPLICATIONS_STORE_H_
#define CRM_SERVICES_DEALS_APPLICATIONS_STORE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crm/deals/v1/applications.pb.h"
#include "libs/events/outbox.h"
#include "libs/pg/pool.h"
#include "services/deals/deals.h"

namespace crm::deals::applications {

namespace v1 = crm::deals::v1;

class ApplicationStore {
 public:
  // `zone`: the company's time zone (the application's date, НЛ).
  ApplicationStore(pg::Pool& pool, const Clock& clock, absl::TimeZone zone);

  absl::StatusOr<v1::DealApplication> Create(const Actor& actor, const v1::DealApplication& in,
                                             std::string_view idempotency_key = "");
  absl::StatusOr<v1::DealApplication> Get(const crm::common::v1::Principal& caller, std::string_view id);
  absl::StatusOr<v1::ListDealApplicationsResponse> List(const crm::common::v1::Principal& caller,
                                                        const v1::ListDealApplicationsRequest& req);
  absl::StatusOr<v1::DealApplication> Update(const Actor& actor, const v1::DealApplication& in,
                                             const google::protobuf::FieldMask& mask);
  absl::StatusOr<v1::DealApplication> RecalculateShares(const Actor& actor, const v1::RecalculateSharesRequest& req);
  absl::StatusOr<v1::DealApplication> ChangeStatus(const Actor& actor,
                                                   const v1::ChangeDealApplicationStatusRequest& req);
  absl::StatusOr<v1::ListMarketingCampaignsResponse> ListCampaigns(const crm::common::v1::Principal& caller,
                                                                   const v1::ListMarketingCampaignsRequest& req);

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  absl::TimeZone zone_;
  crm::events::OutboxWriter outbox_;
};

}  // namespace crm::deals::applications

#endif  // CRM_SERVICES_DEALS_APPLICATIONS_STORE_H_
