// File: services/deals/applications/checks.h
// -----------------------------------------------------------------------------
// What a write of a deal application checks inside its transaction (D15 second half, seed 004 §6.3; the
// store's promises are in store.h): the unit's price and whether another client holds it, the sale's
// deal, and blocks 2 and 3 — participants and their flags, shares (shares.h), payment terms. Every
// violation is collected, with proto paths ("application.participants[2].real").
#ifndef CRM_SERVICES_DEALS_APPLICATIONS_CHECKS_H_
#define CRM_SERVICES_DEALS_APPLICATIONS_CHECKS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crm/deals/v1/applications.pb.h"
#include "services/deals/violations.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm::deals::applications {

namespace v1 = crm::deals::v1;

// crm.common.v1.Money of `minor` in `currency`.
crm::common::v1::Money Money(int64_t minor, const std::string& currency);

// The price an application takes for a unit: the booking's fixed final price when `client_id` holds the
// unit's ACTIVE booking (booking_id set), else the unit's current final price.
struct UnitPrice {
  int64_t price_minor = 0;
  std::string currency;
  std::string booking_id;
};

// Reads unit `unit_id` FOR SHARE (a booking or price change waits for this transaction). INVALID_ARGUMENT
// naming application.unit_id for no such unit or one of another project; FAILED_PRECONDITION naming it
// for a unit another client holds, or SOLD / WITHDRAWN.
absl::StatusOr<UnitPrice> PriceOfUnit(pqxx::transaction_base& tx, const std::string& unit_id,
                                      const std::string& project_id, const std::string& client_id);

// The sale's deal (a.deal_id, optional): one `caller` sees, of the application's client or of none;
// a violation naming application.deal_id otherwise.
void CheckDeal(pqxx::transaction_base& tx, const crm::common::v1::Principal& caller, const v1::DealApplication& a,
               Violations& v);

// Checks blocks 2 and 3 of `a` (its price already fixed in a.price()), recomputes the owners' shares
// (equal split when `equal_split`), fills the participants' client names and kinds and the campaign's
// name. OK or INVALID_ARGUMENT with every violation.
absl::Status Complete(pqxx::transaction_base& tx, v1::DealApplication& a, bool equal_split);

}  // namespace crm::deals::applications

#endif  // CRM_SERVICES_DEALS_APPLICATIONS_CHECKS_H_
