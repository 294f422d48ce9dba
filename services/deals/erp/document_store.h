// File: services/deals/erp/document_store.h
// -----------------------------------------------------------------------------
// Documents of deals (D17, seed 002): счёт, договор, счёт-договор, акт, УПД with number, date, amount and
// status (DRAFT → SENT → SIGNED, or CANCELLED), made by people in the CRM or upserted in bulk by 1C.
//
// What the store promises:
//   - access "as for deals": reading a document needs read access to its deal, making, changing or
//     signing one write access; erp.sync (1C) reaches every deal; a document of an invisible deal is
//     NOT_FOUND "document not found";
//   - SIGNED is reached only through SignDocument or 1C's upsert, and in that transaction the accountant's
//     notice is queued (notices.h): exactly one notice per document; a signed document never changes
//     again (FAILED_PRECONDITION "document is signed", or in a batch a violation naming the field);
//   - BatchUpsertDocuments (erp.sync) keys on 1C's GUID (external_id) and is all or nothing, every bad
//     row named ("documents[3].amount.amount_minor"); an identical row changes nothing;
//   - every change writes crm.deals.document.{created,updated,signed}.v1 (topic crm.deals.document.v1,
//     key = document id, visible to the deal's responsible and teams) in its transaction; every creating
//     POST records its reply under its Idempotency-Key there too;
//   - ListDocuments: a deal's (with the kinds its amount calls for, rules.h) or every deal's (deals.read.all
//     or erp.sync) by kind and status, newest date first, each on an index (plan_test.cc).
//
// Example:
//   DocumentStore documents(*pool, clock, {.deal_url_prefix = "https://crm.example/v1/deals/"});
//   CRM_ASSIGN_OR_RETURN(v1::Document d, documents.Sign(actor, request));   // queues the accountant's e-mail
#ifndef CRM_SERVICES_DEALS_ERP_DOCUMENT_STORE_H_
#define CRM_SERVICES_DEALS_ERP_DOCUMENT_STORE_H_

#include <string>

#include "absl/status/statusor.h"
#include "crm/deals/v1/erp.pb.h"
#include "libs/events/outbox.h"
#include "services/deals/deals.h"

namespace crm::deals::erp {

inline constexpr int kMaxDocuments = 1'000;
inline constexpr char kCreateDocumentMethod[] = "crm.deals.v1.DocumentService/CreateDocument";
inline constexpr char kBatchUpsertDocumentsMethod[] = "crm.deals.v1.DocumentService/BatchUpsertDocuments";
inline constexpr char kSignDocumentMethod[] = "crm.deals.v1.DocumentService/SignDocument";

struct DocumentOptions {
  // The link to the deal in the accountant's e-mail: this + the deal id ("" for no link).
  std::string deal_url_prefix;
};

// Thread-safe; pool and clock must outlive it.
class DocumentStore {
 public:
  DocumentStore(pg::Pool& pool, const Clock& clock, DocumentOptions options = {});

  absl::StatusOr<crm::deals::v1::Document> Create(const Actor& actor, const crm::deals::v1::Document& document);
  absl::StatusOr<crm::deals::v1::BatchUpsertDocumentsResponse> Upsert(
      const Actor& actor, const crm::deals::v1::BatchUpsertDocumentsRequest& request);
  absl::StatusOr<crm::deals::v1::Document> Get(const crm::common::v1::Principal& caller, std::string_view id);
  absl::StatusOr<crm::deals::v1::ListDocumentsResponse> List(const crm::common::v1::Principal& caller,
                                                             const crm::deals::v1::ListDocumentsRequest& request);
  absl::StatusOr<crm::deals::v1::Document> Update(const Actor& actor, const crm::deals::v1::Document& document,
                                                  const google::protobuf::FieldMask& mask);
  absl::StatusOr<crm::deals::v1::Document> Sign(const Actor& actor, const crm::deals::v1::SignDocumentRequest& request);

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  const DocumentOptions options_;
  crm::events::OutboxWriter outbox_;
};

}  // namespace crm::deals::erp

#endif  // CRM_SERVICES_DEALS_ERP_DOCUMENT_STORE_H_
