// File: services/deals/erp/demo.h
// -----------------------------------------------------------------------------
// Demo data of the 1C side (D17) for `tools/crm up` (crm-deals demo, after the demo pipelines): the
// direction «Продажа» (seed 002) managed by 1C — its proposals come from 1C, its tasks are mirrored — and
// the accountant «Бухгалтерия <buh@crm.local>» (only while the settings were never edited); a few catalogue
// items from «1С»; two demo deals of companies in «Продажа»: «Поставка оборудования» (620 000 ₽: a
// contract and an invoice, seed 002's thresholds) with an AGREED proposal, the contract SIGNED (its
// accountant's e-mail queued) and the invoice SENT; «Поверка приборов» (180 000 ₽) with a DRAFT
// invoice-contract.
//
// Everything goes through the stores (events, the notice queue) keyed so loading again adds nothing:
// deals and clients by fixed ids, catalogue items, proposals and documents by their demo 1C GUIDs.
//
// Example:
//   CRM_RETURN_IF_ERROR(crm::deals::erp::LoadDemoErp(*pool, crm::SystemClock()));
#ifndef CRM_SERVICES_DEALS_ERP_DEMO_H_
#define CRM_SERVICES_DEALS_ERP_DEMO_H_

#include "absl/status/status.h"

namespace crm {
class Clock;
namespace pg {
class Pool;
}  // namespace pg
}  // namespace crm

namespace crm::deals::erp {

inline constexpr char kDemoSupplyDealId[] = "01930000-0017-7000-8000-00000000d001";   // Поставка оборудования
inline constexpr char kDemoMetrologyDealId[] = "01930000-0017-7000-8000-00000000d002";  // Поверка приборов

// Loads the demo data (see the file comment); safe to run again.
absl::Status LoadDemoErp(pg::Pool& pool, const Clock& clock);

}  // namespace crm::deals::erp

#endif  // CRM_SERVICES_DEALS_ERP_DEMO_H_
