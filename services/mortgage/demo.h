// File: services/mortgage/demo.h
// -----------------------------------------------------------------------------
// The demo reference data of the multi-calculator: the 25 banks of seed 004 §5.2.2 with ten programs
// each (classic new build and ready housing, family, IT, military, developer-subsidised, «по двум
// документам», consumer, Far East, country house), their rate documents, stop factors (seed §5.2.7) and
// one PTI document (seed «Ввод коэффициента платёж/доход»). Plausible 2026 figures, not any bank's real
// offer. Deterministic: the same catalogue (ids included) on every call, so tests and benchmarks can
// name programs by id.
//
// Dated documents make "as of" matter:
//   * every program's rate is SET on 2026-01-01 (Сбербанк's family program also has an expired 2025
//     scheme with its own document);
//   * 2026-06-01: a second SET lowers Сбербанк's classic new-build rate by 1 p.p. (kDemoRateChangeProgramId);
//   * 2026-09-01: a CANCEL removes ВТБ's developer-subsidised rate (kDemoCancelledProgramId).
//
// Example:
//   crm::mortgage::Catalog catalog = crm::mortgage::DemoCatalog();
//   CRM_ASSIGN_OR_RETURN(auto ref, crm::mortgage::ResolveReference(absl::CivilDay(2026, 7, 1), catalog));
//   CRM_ASSIGN_OR_RETURN(auto r, crm::mortgage::MultiCalculate(ref, crm::mortgage::DemoClient(),
//                                                              crm::mortgage::DemoPurchase(), {}));
#ifndef CRM_SERVICES_MORTGAGE_DEMO_H_
#define CRM_SERVICES_MORTGAGE_DEMO_H_

#include <string>

#include "services/mortgage/convert.h"
#include "services/mortgage/multicalc.h"

namespace crm::mortgage {

// The demo catalogue: 25 banks (seed codes; ЛОКО-Банк gets 00000049 because the seed lists 00000048
// twice and Bank.code is unique) x 10 programs, ids valid UUID text derived from the codes.
Catalog DemoCatalog();

// The id of a demo bank from its seed code ("00000014" = Сбербанк).
std::string DemoBankId(const std::string& code);

// The program whose rate changes on 2026-06-01 (Сбербанк, classic new build) and the one whose rate
// is cancelled on 2026-09-01 (ВТБ, developer-subsidised).
extern const char kDemoRateChangeProgramId[];
extern const char kDemoCancelledProgramId[];

// A typical client: 34, married, one child of 4, 250 000 ₽ a month (2-НДФЛ), insured, hired with 10
// years' experience, 36 months at the current job.
Client DemoClient();

// A typical purchase: a new-build flat in Moscow (77) for 12 000 000 ₽, 3 000 000 ₽ down, 25 years.
Purchase DemoPurchase();

}  // namespace crm::mortgage

#endif  // CRM_SERVICES_MORTGAGE_DEMO_H_
