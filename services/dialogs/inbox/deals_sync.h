// File: services/dialogs/inbox/deals_sync.h
// -----------------------------------------------------------------------------
// Pipeline step 4, and T2's client search: the worker of the deals_sync queue. Rows are written in the
// transaction of the change that needs them (store.h RecordMessage, EnqueueLink), so nothing is lost
// when deals is down; the worker takes one due row at a time (FOR UPDATE SKIP LOCKED: replicas share the
// queue), calls deals, and deletes the row in the same transaction once deals answered — a failure keeps
// it with its error and retries with backoff (1 s doubling up to 1 h). Deals' calls are harmless to repeat.
//   * 'link': ClientService.FindDuplicates(phone) → one client: linked; several: candidates for the
//     operator (PickClient); none: the phone stays. Written only while the dialog still has that phone
//     and waits for it (a /stop or another phone meanwhile wins).
//   * 'interaction': InteractionService.UpsertInteraction (D16) of one message — source "telegram",
//     external_id = the message id, kind DIALOG, DONE, INBOUND for the client's and OUTBOUND for an
//     operator's, the dialog's client and its responsible (deals needs both: the row is parked until the
//     dialog has them, then made due — linking and taking unpark it).
// dialogs calls deals as itself: the principal of service "dialogs" with clients.read,
// interactions.read.all and interactions.write.all, signed with the service key (kid "dialogs") that
// deals trusts; without a key (development) unsigned.
#ifndef CRM_SERVICES_DIALOGS_INBOX_DEALS_SYNC_H_
#define CRM_SERVICES_DIALOGS_INBOX_DEALS_SYNC_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace grpc {
class Channel;
}  // namespace grpc
namespace crm {
class Clock;
}  // namespace crm
namespace crm::auth {
class SigningKey;
}  // namespace crm::auth
namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::dialogs::inbox {

inline constexpr char kInteractionSource[] = "telegram";

class DealsSync {
 public:
  // `deals` reaches deals' ClientService and InteractionService; `key` may be null (development).
  DealsSync(crm::pg::Pool& pool, const Clock& clock, std::shared_ptr<grpc::Channel> deals,
            const crm::auth::SigningKey* key, absl::Duration call_timeout = absl::Seconds(5));
  ~DealsSync();

  // Handles due rows one transaction each until none is due (or `max` were handled); returns how many
  // were handled (answered or rescheduled).
  absl::StatusOr<int> DrainOnce(int max = 1000);

 private:
  struct Stubs;
  absl::StatusOr<bool> HandleOne();

  crm::pg::Pool& pool_;
  const Clock& clock_;
  std::unique_ptr<Stubs> stubs_;
  const crm::auth::SigningKey* key_;
  absl::Duration timeout_;
};

}  // namespace crm::dialogs::inbox

#endif  // CRM_SERVICES_DIALOGS_INBOX_DEALS_SYNC_H_
