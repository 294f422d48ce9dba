// File: services/dialogs/outreach/service.h
// -----------------------------------------------------------------------------
// The outreach's gRPC services (outreach.proto), thin over the stores: TemplateService (templates.h),
// QrCodeService (qr.h), MailingService (mailings.h), RegisterService (registers.h).
#ifndef CRM_SERVICES_DIALOGS_OUTREACH_SERVICE_H_
#define CRM_SERVICES_DIALOGS_OUTREACH_SERVICE_H_

#include "crm/dialogs/v1/outreach.grpc.pb.h"
#include "services/dialogs/outreach/mailings.h"
#include "services/dialogs/outreach/qr.h"
#include "services/dialogs/outreach/registers.h"
#include "services/dialogs/outreach/templates.h"

namespace crm::dialogs::outreach {

class TemplateServiceImpl final : public v1::TemplateService::Service {
 public:
  explicit TemplateServiceImpl(Templates& t) : t_(t) {}
  grpc::Status CreateTemplate(grpc::ServerContext* ctx, const v1::CreateTemplateRequest* req, v1::Template* out) override;
  grpc::Status GetTemplate(grpc::ServerContext* ctx, const v1::GetTemplateRequest* req, v1::Template* out) override;
  grpc::Status ListTemplates(grpc::ServerContext* ctx, const v1::ListTemplatesRequest* req,
                             v1::ListTemplatesResponse* out) override;
  grpc::Status UpdateTemplate(grpc::ServerContext* ctx, const v1::UpdateTemplateRequest* req, v1::Template* out) override;
  grpc::Status DeleteTemplate(grpc::ServerContext* ctx, const v1::DeleteTemplateRequest* req,
                              google::protobuf::Empty* out) override;
  grpc::Status RenderTemplate(grpc::ServerContext* ctx, const v1::RenderTemplateRequest* req,
                              v1::RenderedTemplate* out) override;
  grpc::Status SendTemplate(grpc::ServerContext* ctx, const v1::SendTemplateRequest* req, v1::Message* out) override;
  grpc::Status StartDialog(grpc::ServerContext* ctx, const v1::StartDialogRequest* req,
                           v1::StartDialogResponse* out) override;

 private:
  Templates& t_;
};

class QrCodeServiceImpl final : public v1::QrCodeService::Service {
 public:
  explicit QrCodeServiceImpl(QrCodes& q) : q_(q) {}
  grpc::Status CreateQrCode(grpc::ServerContext* ctx, const v1::CreateQrCodeRequest* req, v1::QrCode* out) override;
  grpc::Status GetQrCode(grpc::ServerContext* ctx, const v1::GetQrCodeRequest* req, v1::QrCode* out) override;
  grpc::Status GetQrCodeImage(grpc::ServerContext* ctx, const v1::GetQrCodeRequest* req,
                              google::api::HttpBody* out) override;

 private:
  QrCodes& q_;
};

class MailingServiceImpl final : public v1::MailingService::Service {
 public:
  explicit MailingServiceImpl(Mailings& m) : m_(m) {}
  grpc::Status CreateMailing(grpc::ServerContext* ctx, const v1::CreateMailingRequest* req, v1::Mailing* out) override;
  grpc::Status GetMailing(grpc::ServerContext* ctx, const v1::GetMailingRequest* req, v1::Mailing* out) override;
  grpc::Status ListRecipients(grpc::ServerContext* ctx, const v1::ListRecipientsRequest* req,
                              v1::ListRecipientsResponse* out) override;
  grpc::Status CancelMailing(grpc::ServerContext* ctx, const v1::CancelMailingRequest* req, v1::Mailing* out) override;

 private:
  Mailings& m_;
};

class RegisterServiceImpl final : public v1::RegisterService::Service {
 public:
  explicit RegisterServiceImpl(Registers& r) : r_(r) {}
  grpc::Status ListMessageHistory(grpc::ServerContext* ctx, const v1::ListMessageHistoryRequest* req,
                                  v1::ListMessageHistoryResponse* out) override;
  grpc::Status ListBotChats(grpc::ServerContext* ctx, const v1::ListBotChatsRequest* req,
                            v1::ListBotChatsResponse* out) override;

 private:
  Registers& r_;
};

}  // namespace crm::dialogs::outreach

#endif  // CRM_SERVICES_DIALOGS_OUTREACH_SERVICE_H_
