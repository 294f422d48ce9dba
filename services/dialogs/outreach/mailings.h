// File: services/dialogs/outreach/mailings.h
// -----------------------------------------------------------------------------
// Mailings by template to a client list (T9), with per-recipient delivery status.
//   * Create (dialogs.supervise; Idempotency-Key): 1..10 000 deals client ids (repeats once), the
//     template of the bot, parameters; the mailing RUNNING and every recipient PENDING, one transaction,
//     MailingChanged "created" on crm.dialogs.mailing.v1.
//   * The worker (DrainOnce; the service runs it every MAILING_INTERVAL on every replica, each mailing
//     claimed FOR UPDATE SKIP LOCKED) keeps at most `window` of a mailing's messages in telegram's queue:
//     each next PENDING recipient gets the client's last chat on the bot (none → NO_CHAT), the template
//     rendered for that dialog's project (a render error → FAILED with it), and an outgoing row (→
//     QUEUED). Telegram's sender paces them within its limits (429s included: the row waits and goes).
//   * telegram's state hook (ApplyOutgoingChange, in the sender's transaction): sent → SENT, failed →
//     FAILED with the error. A mailing whose recipients are all final is DONE ("finished" event).
//   * Cancel: PENDING recipients become CANCELLED, the mailing CANCELLED ("cancelled" event); those
//     already queued go on and keep their status. Progress counters live on the mailing row.
#ifndef CRM_SERVICES_DIALOGS_OUTREACH_MAILINGS_H_
#define CRM_SERVICES_DIALOGS_OUTREACH_MAILINGS_H_

#include <string>
#include <string_view>

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

inline constexpr int kMaxRecipients = 10000;

struct MailingOptions {
  int window = 1000;  // a mailing's messages in telegram's queue at once
  int mailings_per_pass = 10;
};

class Mailings {
 public:
  Mailings(crm::pg::Pool& pool, const Clock& clock, const crm::events::OutboxWriter& outbox,
           telegram::Outgoing& outgoing, MailingOptions options = {});

  absl::StatusOr<v1::Mailing> Create(const Principal& caller, const v1::CreateMailingRequest& req,
                                     std::string_view idempotency_key);
  absl::StatusOr<v1::Mailing> Get(const Principal& caller, std::string_view id);
  absl::StatusOr<v1::ListRecipientsResponse> ListRecipients(const Principal& caller,
                                                            const v1::ListRecipientsRequest& req);
  absl::StatusOr<v1::Mailing> Cancel(const Principal& caller, std::string_view id);

  // One pass of the worker; returns the recipients it handled.
  absl::StatusOr<int> DrainOnce();
  // telegram's outgoing-state hook (see the file comment).
  absl::Status ApplyOutgoingChange(pqxx::transaction_base& tx, const telegram::OutgoingChange& change) const;

 private:
  absl::StatusOr<int> Pass(pqxx::transaction_base& tx, const std::string& mailing_id);
  absl::Status Publish(pqxx::transaction_base& tx, const std::string& id, const char* type,
                       const Principal& actor) const;

  crm::pg::Pool& pool_;
  const Clock& clock_;
  const crm::events::OutboxWriter& outbox_;
  telegram::Outgoing& outgoing_;
  const MailingOptions options_;
};

}  // namespace crm::dialogs::outreach

#endif  // CRM_SERVICES_DIALOGS_OUTREACH_MAILINGS_H_
