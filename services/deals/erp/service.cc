// File: services/deals/erp/service.cc
#include "services/deals/erp/service.h"

#include "libs/rpc/call.h"

namespace crm::deals::erp {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;

grpc::Status ErpServiceImpl::GetErpSettings(grpc::ServerContext* ctx, const v1::GetErpSettingsRequest*,
                                            v1::ErpSettings* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return settings_.Get(caller); });
}

grpc::Status ErpServiceImpl::UpdateErpSettings(grpc::ServerContext* ctx, const v1::UpdateErpSettingsRequest* req,
                                               v1::ErpSettings* out) {
  return rpc::Serve(*ctx, out,
                    [&](const Principal& caller) { return settings_.Update(ActorOf(caller, *ctx), req->settings()); });
}

grpc::Status ErpServiceImpl::BatchUpsertCatalogItems(grpc::ServerContext* ctx,
                                                     const v1::BatchUpsertCatalogItemsRequest* req,
                                                     v1::BatchUpsertCatalogItemsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return catalog_.Upsert(ActorOf(caller, *ctx), *req); });
}

grpc::Status ErpServiceImpl::BatchUpsertProposals(grpc::ServerContext* ctx, const v1::BatchUpsertProposalsRequest* req,
                                                  v1::BatchUpsertProposalsResponse* out) {
  return rpc::Serve(*ctx, out,
                    [&](const Principal& caller) { return proposals_.Upsert(ActorOf(caller, *ctx), *req); });
}

grpc::Status ErpServiceImpl::GetProposal(grpc::ServerContext* ctx, const v1::GetProposalRequest* req,
                                         v1::Proposal* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return proposals_.Get(caller, req->id()); });
}

grpc::Status ErpServiceImpl::ListProposals(grpc::ServerContext* ctx, const v1::ListProposalsRequest* req,
                                           v1::ListProposalsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return proposals_.List(caller, *req); });
}

grpc::Status ErpServiceImpl::ReportErpTaskStatus(grpc::ServerContext* ctx, const v1::ReportErpTaskStatusRequest* req,
                                                 v1::ErpTask* out) {
  return rpc::Serve(*ctx, out,
                    [&](const Principal& caller) { return tasks_.ReportStatus(ActorOf(caller, *ctx), *req); });
}

grpc::Status ErpServiceImpl::GetErpTask(grpc::ServerContext* ctx, const v1::GetErpTaskRequest* req,
                                        v1::ErpTask* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return tasks_.Get(caller, req->task_id()); });
}

grpc::Status ErpServiceImpl::ListErpTaskConflicts(grpc::ServerContext* ctx, const v1::ListErpTaskConflictsRequest* req,
                                                  v1::ListErpTaskConflictsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return tasks_.ListConflicts(caller, *req); });
}

grpc::Status DocumentServiceImpl::CreateDocument(grpc::ServerContext* ctx, const v1::CreateDocumentRequest* req,
                                                 v1::Document* out) {
  return rpc::Serve(*ctx, out,
                    [&](const Principal& caller) { return store_.Create(ActorOf(caller, *ctx), req->document()); });
}

grpc::Status DocumentServiceImpl::BatchUpsertDocuments(grpc::ServerContext* ctx,
                                                       const v1::BatchUpsertDocumentsRequest* req,
                                                       v1::BatchUpsertDocumentsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.Upsert(ActorOf(caller, *ctx), *req); });
}

grpc::Status DocumentServiceImpl::GetDocument(grpc::ServerContext* ctx, const v1::GetDocumentRequest* req,
                                              v1::Document* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.Get(caller, req->id()); });
}

grpc::Status DocumentServiceImpl::ListDocuments(grpc::ServerContext* ctx, const v1::ListDocumentsRequest* req,
                                                v1::ListDocumentsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.List(caller, *req); });
}

grpc::Status DocumentServiceImpl::UpdateDocument(grpc::ServerContext* ctx, const v1::UpdateDocumentRequest* req,
                                                 v1::Document* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Update(ActorOf(caller, *ctx), req->document(), req->update_mask());
  });
}

grpc::Status DocumentServiceImpl::SignDocument(grpc::ServerContext* ctx, const v1::SignDocumentRequest* req,
                                               v1::Document* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.Sign(ActorOf(caller, *ctx), *req); });
}

}  // namespace crm::deals::erp
