// File: services/dialogs/outreach/templates.h
// -----------------------------------------------------------------------------
// Message templates (T7) in PostgreSQL and their use: CRUD (dialogs.admin or dialogs.supervise — seed 004's Telegram supervisor — edits; whoever operates or reads
// dialogs reads them), a template sent to an open dialog, and a new outbound dialog by template.
//   * SendTemplate renders for the dialog's project and, in ONE transaction, enqueues telegram's outgoing
//     row and records the operator's message (inbox store.h RecordMessage: MessageExchanged, D16) — the
//     message follows its outgoing state through the inbox's hook. Idempotency-Key honoured.
//   * StartDialog finds the client's Telegram chat on the bot from an earlier dialog (deals' client id;
//     none → FAILED_PRECONDITION naming client_id), opens (or continues) the chat's dialog (inbox
//     OpenDialog), makes it the caller's IN_WORK with the client and the project, then sends as above.
//     A dialog in work with another operator is refused unless the caller supervises.
#ifndef CRM_SERVICES_DIALOGS_OUTREACH_TEMPLATES_H_
#define CRM_SERVICES_DIALOGS_OUTREACH_TEMPLATES_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crm/dialogs/v1/outreach.pb.h"
#include "services/dialogs/outreach/common.h"

namespace crm {
class Clock;
}  // namespace crm
namespace crm::events {
class OutboxWriter;
}  // namespace crm::events
namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::dialogs::outreach {

inline constexpr char kAdmin[] = "dialogs.admin";

// The live template `id` (nullopt-like NOT_FOUND when there is none).
absl::StatusOr<v1::Template> LoadTemplate(pqxx::transaction_base& tx, std::string_view id);

class Templates {
 public:
  Templates(crm::pg::Pool& pool, const Clock& clock, const crm::events::OutboxWriter& outbox,
            telegram::Outgoing& outgoing);

  absl::StatusOr<v1::Template> Create(const Principal& caller, const v1::CreateTemplateRequest& req,
                                      std::string_view idempotency_key);
  absl::StatusOr<v1::Template> Get(const Principal& caller, std::string_view id);
  absl::StatusOr<v1::ListTemplatesResponse> List(const Principal& caller, const v1::ListTemplatesRequest& req);
  absl::StatusOr<v1::Template> Update(const Principal& caller, const v1::UpdateTemplateRequest& req);
  absl::Status Delete(const Principal& caller, const v1::DeleteTemplateRequest& req);
  absl::StatusOr<v1::RenderedTemplate> RenderFor(const Principal& caller, const v1::RenderTemplateRequest& req);
  absl::StatusOr<v1::Message> SendTemplate(const Principal& caller, const v1::SendTemplateRequest& req,
                                           std::string_view idempotency_key);
  absl::StatusOr<v1::StartDialogResponse> StartDialog(const Principal& caller, const v1::StartDialogRequest& req,
                                                      std::string_view idempotency_key);

 private:
  crm::pg::Pool& pool_;
  const Clock& clock_;
  const crm::events::OutboxWriter& outbox_;
  telegram::Outgoing& outgoing_;
};

}  // namespace crm::dialogs::outreach

#endif  // CRM_SERVICES_DIALOGS_OUTREACH_TEMPLATES_H_
