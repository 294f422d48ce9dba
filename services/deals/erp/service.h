// File: services/deals/erp/service.h
// -----------------------------------------------------------------------------
// The gRPC handlers of the 1C side (D17; thin: the caller, the idempotency key, the store): ErpService
// and DocumentService (erp.proto). The stores must outlive the services.
#ifndef CRM_SERVICES_DEALS_ERP_SERVICE_H_
#define CRM_SERVICES_DEALS_ERP_SERVICE_H_

#include "crm/deals/v1/erp.grpc.pb.h"
#include "services/deals/erp/catalog_sync.h"
#include "services/deals/erp/document_store.h"
#include "services/deals/erp/proposal_store.h"
#include "services/deals/erp/settings_store.h"
#include "services/deals/erp/task_mirror.h"

namespace crm::deals::erp {

class ErpServiceImpl final : public crm::deals::v1::ErpService::Service {
 public:
  ErpServiceImpl(SettingsStore& settings, CatalogSync& catalog, ProposalStore& proposals, TaskMirror& tasks)
      : settings_(settings), catalog_(catalog), proposals_(proposals), tasks_(tasks) {}
  grpc::Status GetErpSettings(grpc::ServerContext* ctx, const crm::deals::v1::GetErpSettingsRequest* req,
                              crm::deals::v1::ErpSettings* out) override;
  grpc::Status UpdateErpSettings(grpc::ServerContext* ctx, const crm::deals::v1::UpdateErpSettingsRequest* req,
                                 crm::deals::v1::ErpSettings* out) override;
  grpc::Status BatchUpsertCatalogItems(grpc::ServerContext* ctx,
                                       const crm::deals::v1::BatchUpsertCatalogItemsRequest* req,
                                       crm::deals::v1::BatchUpsertCatalogItemsResponse* out) override;
  grpc::Status BatchUpsertProposals(grpc::ServerContext* ctx, const crm::deals::v1::BatchUpsertProposalsRequest* req,
                                    crm::deals::v1::BatchUpsertProposalsResponse* out) override;
  grpc::Status GetProposal(grpc::ServerContext* ctx, const crm::deals::v1::GetProposalRequest* req,
                           crm::deals::v1::Proposal* out) override;
  grpc::Status ListProposals(grpc::ServerContext* ctx, const crm::deals::v1::ListProposalsRequest* req,
                             crm::deals::v1::ListProposalsResponse* out) override;
  grpc::Status ReportErpTaskStatus(grpc::ServerContext* ctx, const crm::deals::v1::ReportErpTaskStatusRequest* req,
                                   crm::deals::v1::ErpTask* out) override;
  grpc::Status GetErpTask(grpc::ServerContext* ctx, const crm::deals::v1::GetErpTaskRequest* req,
                          crm::deals::v1::ErpTask* out) override;
  grpc::Status ListErpTaskConflicts(grpc::ServerContext* ctx, const crm::deals::v1::ListErpTaskConflictsRequest* req,
                                    crm::deals::v1::ListErpTaskConflictsResponse* out) override;

 private:
  SettingsStore& settings_;
  CatalogSync& catalog_;
  ProposalStore& proposals_;
  TaskMirror& tasks_;
};

class DocumentServiceImpl final : public crm::deals::v1::DocumentService::Service {
 public:
  explicit DocumentServiceImpl(DocumentStore& store) : store_(store) {}
  grpc::Status CreateDocument(grpc::ServerContext* ctx, const crm::deals::v1::CreateDocumentRequest* req,
                              crm::deals::v1::Document* out) override;
  grpc::Status BatchUpsertDocuments(grpc::ServerContext* ctx, const crm::deals::v1::BatchUpsertDocumentsRequest* req,
                                    crm::deals::v1::BatchUpsertDocumentsResponse* out) override;
  grpc::Status GetDocument(grpc::ServerContext* ctx, const crm::deals::v1::GetDocumentRequest* req,
                           crm::deals::v1::Document* out) override;
  grpc::Status ListDocuments(grpc::ServerContext* ctx, const crm::deals::v1::ListDocumentsRequest* req,
                             crm::deals::v1::ListDocumentsResponse* out) override;
  grpc::Status UpdateDocument(grpc::ServerContext* ctx, const crm::deals::v1::UpdateDocumentRequest* req,
                              crm::deals::v1::Document* out) override;
  grpc::Status SignDocument(grpc::ServerContext* ctx, const crm::deals::v1::SignDocumentRequest* req,
                            crm::deals::v1::Document* out) override;

 private:
  DocumentStore& store_;
};

}  // namespace crm::deals::erp

#endif  // CRM_SERVICES_DEALS_ERP_SERVICE_H_
