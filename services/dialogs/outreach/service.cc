// File: services/dialogs/outreach/service.cc
#include "services/dialogs/outreach/service.h"

#include "libs/base/status.h"
#include "libs/rpc/call.h"

namespace crm::dialogs::outreach {

using crm::rpc::Serve;

grpc::Status TemplateServiceImpl::CreateTemplate(grpc::ServerContext* ctx, const v1::CreateTemplateRequest* req,
                                                 v1::Template* out) {
  return Serve(*ctx, out, [&](const Principal& c) { return t_.Create(c, *req, crm::rpc::IdempotencyKey(*ctx)); });
}
grpc::Status TemplateServiceImpl::GetTemplate(grpc::ServerContext* ctx, const v1::GetTemplateRequest* req,
                                              v1::Template* out) {
  return Serve(*ctx, out, [&](const Principal& c) { return t_.Get(c, req->id()); });
}
grpc::Status TemplateServiceImpl::ListTemplates(grpc::ServerContext* ctx, const v1::ListTemplatesRequest* req,
                                                v1::ListTemplatesResponse* out) {
  return Serve(*ctx, out, [&](const Principal& c) { return t_.List(c, *req); });
}
grpc::Status TemplateServiceImpl::UpdateTemplate(grpc::ServerContext* ctx, const v1::UpdateTemplateRequest* req,
                                                 v1::Template* out) {
  return Serve(*ctx, out, [&](const Principal& c) { return t_.Update(c, *req); });
}
grpc::Status TemplateServiceImpl::DeleteTemplate(grpc::ServerContext* ctx, const v1::DeleteTemplateRequest* req,
                                                 google::protobuf::Empty* out) {
  return Serve(*ctx, out, [&](const Principal& c) -> absl::StatusOr<google::protobuf::Empty> {
    CRM_RETURN_IF_ERROR(t_.Delete(c, *req));
    return google::protobuf::Empty();
  });
}
grpc::Status TemplateServiceImpl::RenderTemplate(grpc::ServerContext* ctx, const v1::RenderTemplateRequest* req,
                                                 v1::RenderedTemplate* out) {
  return Serve(*ctx, out, [&](const Principal& c) { return t_.RenderFor(c, *req); });
}
grpc::Status TemplateServiceImpl::SendTemplate(grpc::ServerContext* ctx, const v1::SendTemplateRequest* req,
                                               v1::Message* out) {
  return Serve(*ctx, out, [&](const Principal& c) { return t_.SendTemplate(c, *req, crm::rpc::IdempotencyKey(*ctx)); });
}
grpc::Status TemplateServiceImpl::StartDialog(grpc::ServerContext* ctx, const v1::StartDialogRequest* req,
                                              v1::StartDialogResponse* out) {
  return Serve(*ctx, out, [&](const Principal& c) { return t_.StartDialog(c, *req, crm::rpc::IdempotencyKey(*ctx)); });
}

grpc::Status QrCodeServiceImpl::CreateQrCode(grpc::ServerContext* ctx, const v1::CreateQrCodeRequest* req,
                                             v1::QrCode* out) {
  return Serve(*ctx, out, [&](const Principal& c) { return q_.Create(c, *req, crm::rpc::IdempotencyKey(*ctx)); });
}
grpc::Status QrCodeServiceImpl::GetQrCode(grpc::ServerContext* ctx, const v1::GetQrCodeRequest* req, v1::QrCode* out) {
  return Serve(*ctx, out, [&](const Principal& c) { return q_.Get(c, req->id()); });
}
grpc::Status QrCodeServiceImpl::GetQrCodeImage(grpc::ServerContext* ctx, const v1::GetQrCodeRequest* req,
                                               google::api::HttpBody* out) {
  return Serve(*ctx, out, [&](const Principal& c) { return q_.Image(c, req->id()); });
}

grpc::Status MailingServiceImpl::CreateMailing(grpc::ServerContext* ctx, const v1::CreateMailingRequest* req,
                                               v1::Mailing* out) {
  return Serve(*ctx, out, [&](const Principal& c) { return m_.Create(c, *req, crm::rpc::IdempotencyKey(*ctx)); });
}
grpc::Status MailingServiceImpl::GetMailing(grpc::ServerContext* ctx, const v1::GetMailingRequest* req,
                                            v1::Mailing* out) {
  return Serve(*ctx, out, [&](const Principal& c) { return m_.Get(c, req->id()); });
}
grpc::Status MailingServiceImpl::ListRecipients(grpc::ServerContext* ctx, const v1::ListRecipientsRequest* req,
                                                v1::ListRecipientsResponse* out) {
  return Serve(*ctx, out, [&](const Principal& c) { return m_.ListRecipients(c, *req); });
}
grpc::Status MailingServiceImpl::CancelMailing(grpc::ServerContext* ctx, const v1::CancelMailingRequest* req,
                                               v1::Mailing* out) {
  return Serve(*ctx, out, [&](const Principal& c) { return m_.Cancel(c, req->id()); });
}

grpc::Status RegisterServiceImpl::ListMessageHistory(grpc::ServerContext* ctx, const v1::ListMessageHistoryRequest* req,
                                                     v1::ListMessageHistoryResponse* out) {
  return Serve(*ctx, out, [&](const Principal& c) { return r_.History(c, *req); });
}
grpc::Status RegisterServiceImpl::ListBotChats(grpc::ServerContext* ctx, const v1::ListBotChatsRequest* req,
                                               v1::ListBotChatsResponse* out) {
  return Serve(*ctx, out, [&](const Principal& c) { return r_.BotChats(c, *req); });
}

}  // namespace crm::dialogs::outreach
