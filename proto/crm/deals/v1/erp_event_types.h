// File: proto/crm/deals/v1/erp_event_types.h
// -----------------------------------------------------------------------------
// The topics and event type names of the 1C side of deals (D17, erp_events.proto) as the producer
// (services/deals/erp) and consumers (1C, robots) spell them: one place, so a rename cannot leave a
// consumer listening for a type nobody sends. Header only.
#ifndef CRM_PROTO_CRM_DEALS_V1_ERP_EVENT_TYPES_H_
#define CRM_PROTO_CRM_DEALS_V1_ERP_EVENT_TYPES_H_

namespace crm::deals::v1 {

// Topic of the Document* events; key = document id; aggregate "document".
inline constexpr char kDocumentTopic[] = "crm.deals.document.v1";
inline constexpr char kDocumentAggregate[] = "document";
inline constexpr char kDocumentCreatedType[] = "crm.deals.document.created.v1";
inline constexpr char kDocumentUpdatedType[] = "crm.deals.document.updated.v1";
inline constexpr char kDocumentSignedType[] = "crm.deals.document.signed.v1";
inline constexpr char kDocumentAccountantNotifiedType[] = "crm.deals.document.accountant_notified.v1";
inline constexpr char kDocumentAccountantNoticeFailedType[] = "crm.deals.document.accountant_notice_failed.v1";

// Topic of the Proposal* events; key = proposal id; aggregate "proposal".
inline constexpr char kProposalTopic[] = "crm.deals.proposal.v1";
inline constexpr char kProposalAggregate[] = "proposal";
inline constexpr char kProposalCreatedType[] = "crm.deals.proposal.created.v1";
inline constexpr char kProposalRevisedType[] = "crm.deals.proposal.revised.v1";

// Topic of the ErpTask* events (the tasks mirrored to 1C); key = task id; aggregate "erp_task".
inline constexpr char kErpTaskTopic[] = "crm.deals.erp_task.v1";
inline constexpr char kErpTaskAggregate[] = "erp_task";
inline constexpr char kErpTaskPublishedType[] = "crm.deals.erp_task.published.v1";
inline constexpr char kErpTaskStatusReportedType[] = "crm.deals.erp_task.status_reported.v1";

}  // namespace crm::deals::v1

#endif  // CRM_PROTO_CRM_DEALS_V1_ERP_EVENT_TYPES_H_
