// File: services/dialogs/outreach/qr.h
// -----------------------------------------------------------------------------
// Personal QR codes per operator and project (T7). One code per (bot, operator, project): CreateQrCode
// makes it once (a repeat returns it) with the signed payload (token.h), the deep link
// https://t.me/<bot username>?start=<payload> and a random typed code unique on the bot; the PNG is
// rendered on request (qr_png.h). dialogs.operate makes the caller's own codes; another operator's takes
// dialogs.supervise; reading: the code's operator, a supervisor or an administrator.
//
// The client side (start_hook.h; the inbox's processor calls it in the chat's transaction): a /start
// whose payload verifies for the bot and names a stored code, or a /start or text that is a stored typed
// code, refers the dialog — once (dialog_referrals): the dialog takes the code's project (inbox's
// kSetProject) and PreferredOperator(tx, dialog) names the code's operator for routing (T6: offer the
// dialog to them first). Anything else is ordinary input.
#ifndef CRM_SERVICES_DIALOGS_OUTREACH_QR_H_
#define CRM_SERVICES_DIALOGS_OUTREACH_QR_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "crm/dialogs/v1/outreach.pb.h"
#include "crm/dialogs/v1/scenarios.pb.h"
#include "google/api/httpbody.pb.h"
#include "services/dialogs/outreach/common.h"
#include "services/dialogs/outreach/token.h"

namespace crm {
class Clock;
}  // namespace crm
namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::dialogs::outreach {

class QrCodes {
 public:
  QrCodes(crm::pg::Pool& pool, const Clock& clock, std::string_view key_material);

  absl::StatusOr<v1::QrCode> Create(const Principal& caller, const v1::CreateQrCodeRequest& req,
                                    std::string_view idempotency_key);
  absl::StatusOr<v1::QrCode> Get(const Principal& caller, std::string_view id);
  absl::StatusOr<google::api::HttpBody> Image(const Principal& caller, std::string_view id);

  // The processor's hook (start_hook.h); see the file comment.
  absl::Status OnClientInput(pqxx::transaction_base& tx, const v1::Dialog& dialog, const v1::Input& input,
                             absl::Time now) const;

  const QrSigner& signer() const { return signer_; }

 private:
  crm::pg::Pool& pool_;
  const Clock& clock_;
  QrSigner signer_;
};

// The operator a QR code referred the dialog to ("" when none): routing offers it to them first.
absl::StatusOr<std::string> PreferredOperator(pqxx::transaction_base& tx, std::string_view dialog_id);

}  // namespace crm::dialogs::outreach

#endif  // CRM_SERVICES_DIALOGS_OUTREACH_QR_H_
