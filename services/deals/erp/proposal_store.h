// File: services/deals/erp/proposal_store.h
// -----------------------------------------------------------------------------
// Proposals (КП, D17, seed 002: «КП и номенклатура берется из 1С ... если направление сделки содержит
// Россия»): versioned documents with their lines, made in 1C and upserted here in bulk by 1C's GUID.
//
// What the store promises:
//   - BatchUpsertProposals (erp.sync) is all or nothing: every bad row is named at once
//     ("proposals[2].lines[0].product_external_id: not in the catalogue", "proposals[0].deal_id: the
//     deal's direction «Первичная обработка» does not take proposals from 1C"), and nothing is written;
//   - a deal takes proposals only when its direction (pipeline) says so (ErpSettings.directions);
//   - 1C's `revision` orders a proposal's versions: a higher one replaces the proposal (its lines, status,
//     number, dates) and is kept in its history (proposal_revisions); the same one with the same content
//     changes nothing; the same one with other content is refused naming `revision`; a lower one is
//     ignored (counted stale) — a late retry of an old message cannot undo a newer one;
//   - lines name catalogue items by their GUID (the item's name and price are the defaults) or are free
//     text with a name; totals follow commerce.proto's rule (products.h LineTotal); one currency a
//     proposal;
//   - crm.deals.proposal.created.v1 / revised.v1 (topic crm.deals.proposal.v1, key = proposal id, visible
//     to the deal's responsible and teams) in the same transaction; the reply is recorded under the
//     call's Idempotency-Key there too;
//   - GetProposal / ListProposals need read access to the deal (or erp.sync); a deal's list is newest
//     date first on (deal_id[, status], doc_date DESC, id DESC), keyset-paged.
//
// Example:
//   ProposalStore proposals(*pool, clock);
//   CRM_ASSIGN_OR_RETURN(v1::BatchUpsertProposalsResponse r, proposals.Upsert(actor, request));
#ifndef CRM_SERVICES_DEALS_ERP_PROPOSAL_STORE_H_
#define CRM_SERVICES_DEALS_ERP_PROPOSAL_STORE_H_

#include "absl/status/statusor.h"
#include "crm/deals/v1/erp.pb.h"
#include "libs/events/outbox.h"
#include "services/deals/deals.h"

namespace crm::deals::erp {

inline constexpr int kMaxProposals = 1'000;
inline constexpr int kMaxProposalLines = 1'000;
inline constexpr char kBatchUpsertProposalsMethod[] = "crm.deals.v1.ErpService/BatchUpsertProposals";

// Thread-safe; pool and clock must outlive it.
class ProposalStore {
 public:
  ProposalStore(pg::Pool& pool, const Clock& clock);

  absl::StatusOr<crm::deals::v1::BatchUpsertProposalsResponse> Upsert(
      const Actor& actor, const crm::deals::v1::BatchUpsertProposalsRequest& request);
  absl::StatusOr<crm::deals::v1::Proposal> Get(const crm::common::v1::Principal& caller, std::string_view id);
  absl::StatusOr<crm::deals::v1::ListProposalsResponse> List(const crm::common::v1::Principal& caller,
                                                             const crm::deals::v1::ListProposalsRequest& request);

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  crm::events::OutboxWriter outbox_;
};

}  // namespace crm::deals::erp

#endif  // CRM_SERVICES_DEALS_ERP_PROPOSAL_STORE_H_
