// File: services/dialogs/inbox/service.h
// -----------------------------------------------------------------------------
// The operator API (T7, first part): `Inbox` decides each call from the caller's Principal (access.h) in
// one transaction; `DialogServiceImpl` is the thin gRPC DialogService over it (inbox.proto; gateway routes
// under /v1/dialogs). Lists follow the page rule (page_size < 0 refused, 0 = 50, above 200 clamped) with
// a keyset page_token (the last dialog's number; the last message's id).
//   * SendMessage: text 1..4096 characters, or a file by http(s) URL or a Telegram file_id with an optional
//     caption; queued through telegram's Outgoing in the same transaction as the message (its state follows
//     through the hook wire.cc registers); Idempotency-Key honoured (crm::pg::RunIdempotent).
//   * TakeDialog: ONE conditional UPDATE … WHERE status = 'QUEUED' AND (the caller operates the bot, or
//     supervises); the winner's repeat returns the dialog, anyone else FAILED_PRECONDITION naming it.
//   * PickClient, SetDialogStatus: version 0 = any, a stale one ABORTED.
#ifndef CRM_SERVICES_DIALOGS_INBOX_SERVICE_H_
#define CRM_SERVICES_DIALOGS_INBOX_SERVICE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "crm/common/v1/common.pb.h"
#include "crm/dialogs/v1/inbox.grpc.pb.h"

namespace crm {
class Clock;
}  // namespace crm
namespace crm::events {
class OutboxWriter;
}  // namespace crm::events
namespace crm::pg {
class Pool;
}  // namespace crm::pg
namespace crm::dialogs::telegram {
class Outgoing;
}  // namespace crm::dialogs::telegram

namespace crm::dialogs::inbox {

namespace v1 = ::crm::dialogs::v1;
using crm::common::v1::Principal;

inline constexpr int kDefaultPage = 50;
inline constexpr int kMaxPage = 200;

class Inbox {
 public:
  Inbox(crm::pg::Pool& pool, const Clock& clock, const crm::events::OutboxWriter& outbox,
        telegram::Outgoing& outgoing);

  absl::StatusOr<v1::ListDialogsResponse> ListDialogs(const Principal& caller, const v1::ListDialogsRequest& req);
  absl::StatusOr<v1::Dialog> GetDialog(const Principal& caller, std::string_view id);
  absl::StatusOr<v1::ListMessagesResponse> ListMessages(const Principal& caller, const v1::ListMessagesRequest& req);
  absl::StatusOr<v1::Message> SendMessage(const Principal& caller, const v1::SendMessageRequest& req,
                                          std::string_view idempotency_key);
  absl::StatusOr<v1::Dialog> TakeDialog(const Principal& caller, std::string_view id);
  absl::StatusOr<v1::Dialog> PickClient(const Principal& caller, const v1::PickClientRequest& req);
  absl::StatusOr<v1::Dialog> SetDialogStatus(const Principal& caller, const v1::SetDialogStatusRequest& req);
  absl::StatusOr<v1::Dialog> MarkRead(const Principal& caller, std::string_view id);

 private:
  crm::pg::Pool& pool_;
  const Clock& clock_;
  const crm::events::OutboxWriter& outbox_;
  telegram::Outgoing& outgoing_;
};

class DialogServiceImpl final : public v1::DialogService::Service {
 public:
  explicit DialogServiceImpl(Inbox& inbox) : inbox_(inbox) {}

  grpc::Status ListDialogs(grpc::ServerContext* ctx, const v1::ListDialogsRequest* req,
                           v1::ListDialogsResponse* out) override;
  grpc::Status GetDialog(grpc::ServerContext* ctx, const v1::GetDialogRequest* req, v1::Dialog* out) override;
  grpc::Status ListMessages(grpc::ServerContext* ctx, const v1::ListMessagesRequest* req,
                            v1::ListMessagesResponse* out) override;
  grpc::Status SendMessage(grpc::ServerContext* ctx, const v1::SendMessageRequest* req, v1::Message* out) override;
  grpc::Status TakeDialog(grpc::ServerContext* ctx, const v1::TakeDialogRequest* req, v1::Dialog* out) override;
  grpc::Status PickClient(grpc::ServerContext* ctx, const v1::PickClientRequest* req, v1::Dialog* out) override;
  grpc::Status SetDialogStatus(grpc::ServerContext* ctx, const v1::SetDialogStatusRequest* req,
                               v1::Dialog* out) override;
  grpc::Status MarkRead(grpc::ServerContext* ctx, const v1::MarkReadRequest* req, v1::Dialog* out) override;

 private:
  Inbox& inbox_;
};

}  // namespace crm::dialogs::inbox

#endif  // CRM_SERVICES_DIALOGS_INBOX_SERVICE_H_
