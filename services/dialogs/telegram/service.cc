#include "services/dialogs/telegram/service.h"

#include <string>

#include <grpcpp/grpcpp.h>

#include "libs/rpc/call.h"
#include "services/dialogs/telegram/bots.h"
#include "services/dialogs/telegram/intake.h"

namespace crm::dialogs::telegram {

namespace v1 = crm::dialogs::v1;
using crm::common::v1::Principal;

grpc::Status BotServiceImpl::CreateBot(grpc::ServerContext* ctx, const v1::CreateBotRequest* req, v1::Bot* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Create(caller, *req, crm::rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status BotServiceImpl::GetBot(grpc::ServerContext* ctx, const v1::GetBotRequest* req, v1::Bot* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.Get(caller, req->id()); });
}

grpc::Status BotServiceImpl::ListBots(grpc::ServerContext* ctx, const v1::ListBotsRequest* req,
                                      v1::ListBotsResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.List(caller, *req); });
}

grpc::Status BotServiceImpl::UpdateBot(grpc::ServerContext* ctx, const v1::UpdateBotRequest* req, v1::Bot* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.Update(caller, *req); });
}

grpc::Status TelegramIntakeImpl::ReceiveUpdate(grpc::ServerContext* ctx, const v1::ReceiveUpdateRequest* req,
                                               google::protobuf::Empty*) {
  // Public: no caller; the secret token is the authentication.
  return crm::rpc::Handle(*ctx, [&]() -> absl::Status {
    std::string secret;
    const auto& md = ctx->client_metadata();
    if (auto it = md.find(kSecretTokenHeader); it != md.end()) secret.assign(it->second.data(), it->second.size());
    return intake_.Receive(req->hook(), secret, req->body().data()).status();
  });
}

}  // namespace crm::dialogs::telegram
