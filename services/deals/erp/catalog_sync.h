// File: services/deals/erp/catalog_sync.h
// -----------------------------------------------------------------------------
// 1C's nomenclature into deals' catalogue in bulk (D6, D17): BatchUpsertCatalogItems upserts thousands
// of commerce.proto Products by external_id — 1C's GUID, which is the catalogue's own key (products'
// UNIQUE external_id), so no other mapping is kept — in ONE transaction:
//   - every item is checked first and every bad one named at once ("items[3].name", "items[7].external_id:
//     repeated in this batch"); one bad item refuses the whole call, nothing is written;
//   - one INSERT ... ON CONFLICT (external_id) over unnest()ed arrays: a new GUID makes a product, a
//     changed one bumps its version, an identical one changes nothing (counted unchanged); concurrent
//     calls never make two products of one GUID;
//   - crm.deals.product.created.v1 / updated.v1 (products.h; topic crm.deals.product.v1) for every product
//     made or changed, written to the outbox by one statement in the same transaction;
//   - the reply (counts) is recorded under the call's Idempotency-Key in that transaction.
// Needs catalog.manage (as UpsertProduct).
//
// Example:
//   CatalogSync sync(*pool, clock);
//   CRM_ASSIGN_OR_RETURN(v1::BatchUpsertCatalogItemsResponse r, sync.Upsert(actor, request));
#ifndef CRM_SERVICES_DEALS_ERP_CATALOG_SYNC_H_
#define CRM_SERVICES_DEALS_ERP_CATALOG_SYNC_H_

#include "absl/status/statusor.h"
#include "crm/deals/v1/erp.pb.h"
#include "libs/events/outbox.h"
#include "services/deals/deals.h"

namespace crm::deals::erp {

inline constexpr int kMaxCatalogItems = 10'000;
inline constexpr char kBatchUpsertCatalogItemsMethod[] = "crm.deals.v1.ErpService/BatchUpsertCatalogItems";

// Thread-safe; pool and clock must outlive it.
class CatalogSync {
 public:
  CatalogSync(pg::Pool& pool, const Clock& clock);

  absl::StatusOr<crm::deals::v1::BatchUpsertCatalogItemsResponse> Upsert(
      const Actor& actor, const crm::deals::v1::BatchUpsertCatalogItemsRequest& request);

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  crm::events::OutboxWriter outbox_;
};

}  // namespace crm::deals::erp

#endif  // CRM_SERVICES_DEALS_ERP_CATALOG_SYNC_H_
