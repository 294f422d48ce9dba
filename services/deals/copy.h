// File: services/deals/copy.h
// -----------------------------------------------------------------------------
// Deal copy (D11) and the redacted partner copy (D12): seed 000 §4.1–4.4, §5.1–5.3, §5.6, rights §6.3.
// The RPCs CopyDeal and BatchCopyDeals of DealService are served from here; robots call the same RPC
// for the automatic copies of seed 000 §5.5–5.8.
//
// What a copy promises:
//   - the source is never modified; the copy records copied_from_id = source id (ListDeals with
//     filter.copied_from_id lists a source's copies);
//   - the copy is a new deal in the target pipeline and stage with a new id, version 1 and the status
//     of the stage's kind; the target stage's gates apply to the copy as to any new deal;
//   - the caller needs deals.copy, must see the source (else NOT_FOUND) and be allowed to create a deal
//     with the copy's responsible (else PERMISSION_DENIED);
//   - CopyOptions choose what is copied (absent options = everything); a redacted copy carries only
//     technical custom fields and, when asked, line items — never the client, contacts, notes, tags,
//     source, amount or the source's name;
//   - the copy, its contacts, products and notes, DealCreated, DealCopied and the idempotency record
//     commit together or not at all; the same Idempotency-Key returns the same copy;
//   - BatchCopy reports each source's result in request order; one failure does not fail the batch.
//
// Example:
//   crm::deals::DealCopier copier(deals_store);
//   crm::deals::v1::CopyDealRequest req;
//   req.set_id(source_id);
//   req.set_responsible_id(other_manager_id);
//   absl::StatusOr<crm::deals::v1::Deal> copy = copier.Copy(actor, req, /*idempotency_key=*/"ui-42");
#ifndef CRM_SERVICES_DEALS_COPY_H_
#define CRM_SERVICES_DEALS_COPY_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "crm/deals/v1/deals.pb.h"
#include "libs/events/outbox.h"
#include "services/deals/deals.h"

namespace crm::deals {

// Event type of crm.deals.v1.DealCopied (aggregate: the source deal).
inline constexpr char kDealCopiedType[] = "crm.deals.deal.copied.v1";
// Most sources one BatchCopy takes.
inline constexpr int kMaxBatchCopy = 100;

// Copies deals through `deals` (DealStore::CreateInTx, in the store's database). Thread-safe; `deals`
// must outlive it.
class DealCopier {
 public:
  explicit DealCopier(DealStore& deals);

  // Makes one copy as described in the file overview and returns it (for a repeated idempotency key:
  // the copy made the first time, and nothing new is written).
  absl::StatusOr<crm::deals::v1::Deal> Copy(const Actor& actor, const crm::deals::v1::CopyDealRequest& req,
                                            std::string_view idempotency_key = "");

  // Copies every source of req.ids, each in its own transaction; fails as a whole only for an invalid
  // request (no ids, more than kMaxBatchCopy).
  absl::StatusOr<crm::deals::v1::BatchCopyDealsResponse> BatchCopy(const Actor& actor,
                                                                   const crm::deals::v1::BatchCopyDealsRequest& req,
                                                                   std::string_view idempotency_key = "");

 private:
  DealStore& deals_;
  crm::events::OutboxWriter outbox_;
};

}  // namespace crm::deals

#endif  // CRM_SERVICES_DEALS_COPY_H_
