// File: services/dialogs/telegram/service.h
// -----------------------------------------------------------------------------
// The Telegram part's gRPC services (T1): BotService (dialogs.admin; bots.h) and TelegramIntake (public:
// the webhook, authenticated by the bot's secret token; intake.h). The gateway routes
// POST /v1/telegram/hooks/{hook} to ReceiveUpdate with the raw body and the
// X-Telegram-Bot-Api-Secret-Token header as metadata kSecretTokenHeader (G3).
#ifndef CRM_SERVICES_DIALOGS_TELEGRAM_SERVICE_H_
#define CRM_SERVICES_DIALOGS_TELEGRAM_SERVICE_H_

#include "crm/dialogs/v1/bots.grpc.pb.h"
#include "crm/dialogs/v1/intake.grpc.pb.h"

namespace crm::dialogs::telegram {

class BotStore;
class WebhookIntake;

// The metadata key the gateway forwards Telegram's secret header as.
inline constexpr char kSecretTokenHeader[] = "x-telegram-bot-api-secret-token";

class BotServiceImpl final : public crm::dialogs::v1::BotService::Service {
 public:
  explicit BotServiceImpl(BotStore& store) : store_(store) {}
  grpc::Status CreateBot(grpc::ServerContext* ctx, const crm::dialogs::v1::CreateBotRequest* req,
                         crm::dialogs::v1::Bot* out) override;
  grpc::Status GetBot(grpc::ServerContext* ctx, const crm::dialogs::v1::GetBotRequest* req,
                      crm::dialogs::v1::Bot* out) override;
  grpc::Status ListBots(grpc::ServerContext* ctx, const crm::dialogs::v1::ListBotsRequest* req,
                        crm::dialogs::v1::ListBotsResponse* out) override;
  grpc::Status UpdateBot(grpc::ServerContext* ctx, const crm::dialogs::v1::UpdateBotRequest* req,
                         crm::dialogs::v1::Bot* out) override;

 private:
  BotStore& store_;
};

class TelegramIntakeImpl final : public crm::dialogs::v1::TelegramIntake::Service {
 public:
  explicit TelegramIntakeImpl(WebhookIntake& intake) : intake_(intake) {}
  grpc::Status ReceiveUpdate(grpc::ServerContext* ctx, const crm::dialogs::v1::ReceiveUpdateRequest* req,
                             google::protobuf::Empty* out) override;

 private:
  WebhookIntake& intake_;
};

}  // namespace crm::dialogs::telegram

#endif  // CRM_SERVICES_DIALOGS_TELEGRAM_SERVICE_H_
