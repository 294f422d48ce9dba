// File: services/mortgage/convert.h
// -----------------------------------------------------------------------------
// Between the API (proto/crm/mortgage/v1/mortgage.proto) and the plain values of the pure calculator
// (reference.h, multicalc.h), pure (no I/O):
//   * the client profile and the property, validated (InvalidArgument naming "profile.age", ...);
//   * the dated reference documents resolved "as of" a day: the latest rate document (Установка /
//     Отмена) of each program's valid schemes, the latest stop-factor document and PTI coefficient of
//     each bank — into a Reference for MultiCalculate, or into BankConditions for GetConditions;
//   * offers and schedules back to proto (rates as FormatRate decimals, dates "YYYY-MM-DD").
//
// Example:
//   crm::mortgage::Catalog catalog = crm::mortgage::DemoCatalog();   // or loaded from PostgreSQL
//   CRM_ASSIGN_OR_RETURN(auto ref, crm::mortgage::ResolveReference(absl::CivilDay(2026, 7, 1), catalog));
//   CRM_ASSIGN_OR_RETURN(auto client, crm::mortgage::ClientFromProto(request.profile()));
//   CRM_ASSIGN_OR_RETURN(auto purchase, crm::mortgage::PurchaseFromProto(request.property()));
//   CRM_ASSIGN_OR_RETURN(auto result, crm::mortgage::MultiCalculate(ref, client, purchase, {}));
//   for (const auto& o : result.offers) crm::mortgage::OfferToProto(o, response.add_offers());
#ifndef CRM_SERVICES_MORTGAGE_CONVERT_H_
#define CRM_SERVICES_MORTGAGE_CONVERT_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "crm/mortgage/v1/mortgage.pb.h"
#include "services/mortgage/multicalc.h"
#include "services/mortgage/reference.h"
#include "services/mortgage/schedule.h"

namespace crm::mortgage {

// Everything the reference service stores, as it stores it: banks, programs (with their schemes) and
// every dated document ever posted (documents are never edited; later ones supersede earlier ones).
struct Catalog {
  std::vector<v1::Bank> banks;
  std::vector<v1::Program> programs;
  std::vector<v1::RateDocument> rate_documents;
  std::vector<v1::StopFactorDocument> stop_factor_documents;
  std::vector<v1::PtiDocument> pti_documents;
};

// The profile as a Client. UNSPECIFIED employment / income proof mean HIRED / NDFL_2. Promises
// InvalidArgument naming the field ("profile.age" outside 18..90, "profile.employment" unknown,
// "profile.monthly_income" negative, "profile.children_ages[1]", ...; see ValidateInput).
absl::StatusOr<Client> ClientFromProto(const v1::ClientProfile& profile);

// The property as a Purchase. Promises InvalidArgument naming "property.type" (unspecified or
// unknown), "property.price" (<= 0), "property.down_payment" (negative or not below the price),
// "property.term_months" (1..600), "property.region".
absl::StatusOr<Purchase> PurchaseFromProto(const v1::Property& property);

// The conditions in force on `as_of`. Promises, for each bank and program that is not archived (a
// program of an archived or unknown bank is skipped):
//   * program rates: among the program's schemes valid on as_of (valid_from <= as_of, and as_of <=
//     valid_to unless it is empty; not cancelled), the latest rate document dated on or before as_of
//     per scheme (by date, then registered_at, then number) decides: SET gives its cells and
//     adjustments, CANCEL gives none. Of several schemes with rates, the one whose document is latest
//     wins. No scheme / no document / CANCEL: the program is kept with no cells (it has no rate);
//   * stop factors: the bank's latest stop-factor document on or before as_of (SET: its factors,
//     CANCEL: none);
//   * the PTI coefficient: the bank's entry in the latest PTI document on or before as_of that has
//     one (by date, then registered_at, then number);
//   * banks and programs in the catalogue's order.
// InvalidArgument naming the offending element ("programs[3].schemes[0].valid_from",
// "rate_documents[7].cells[2].rate", "pti_documents[0].entries[1].coefficient", ...) when a value in
// force cannot be read.
absl::StatusOr<Reference> ResolveReference(absl::CivilDay as_of, const Catalog& catalog);

// The same selection as ResolveReference, as ReferenceService.GetConditions returns it: one entry per
// bank that is not archived; each program with only its schemes valid on as_of, the deciding scheme's
// code, cells, adjustments and document id (empty when no rate is in force). Unreadable dates are
// treated as not in force (never fails).
std::vector<v1::BankConditions> ConditionsAsOf(absl::CivilDay as_of, const Catalog& catalog);

// The offer as the API returns it (bank and program ids/names/kind from offer.bank / offer.program,
// the rate via FormatRate, the schedule when the offer has one).
void OfferToProto(const Offer& offer, v1::Offer* out);

// The schedule as the API returns it (payment = regular payment, last_payment = the last row's).
void ScheduleToProto(const Schedule& schedule, v1::Schedule* out);

// Proto <-> plain convention profile (UNSPECIFIED = MONTHLY / HALF_UP).
ConventionProfile ProfileFromProto(const v1::ConventionProfile& profile);
void ProfileToProto(const ConventionProfile& profile, v1::ConventionProfile* out);

}  // namespace crm::mortgage

#endif  // CRM_SERVICES_MORTGAGE_CONVERT_H_
