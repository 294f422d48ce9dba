// File: services/telephony/calls/deals_sync.h
// -----------------------------------------------------------------------------
// Caller identification (P2) and calls in the client's timeline (D16) — deals over gRPC, never inside the
// intake's transaction: the worker of the call_deals_sync queue. The intake writes the rows in the
// transaction of the fact that needs them (intake.h), so nothing is lost while deals is down; the worker
// takes one due row at a time (FOR UPDATE SKIP LOCKED: replicas share the queue), calls deals, and deletes
// the row in the same transaction once deals answered — a failure keeps it with its error and retries with
// backoff (1 s doubling up to 1 h). deals' calls are harmless to repeat.
//   * 'identify': ClientService.FindDuplicates(outside number) → none; one client: the call's client;
//     several: all kept as candidates (with names) for the operator (SetCallClient), never guessed. Emits
//     crm.telephony.call.identified.v1 with the candidates. An operator's earlier choice stays.
//   * 'interaction': InteractionService.UpsertInteraction — source "telephony", external_id = the call id,
//     kind CALL, DONE, the direction, start/end times, a subject with the duration or «пропущенный», the
//     call's client, employee (responsible), deal and project; deals answers with the primacy
//     («Первичный»/«Вторичный», per project) and the interaction id, both stored on the call. A call without
//     a client or without an employee is parked (due_time NULL) until SetCallClient or identification gives
//     one; SetCallClient makes it due again.
// telephony calls deals as itself: service "telephony" with clients.read, interactions.read.all and
// interactions.write.all, signed with the service key (kid "telephony"); unsigned without a key
// (development).
#ifndef CRM_SERVICES_TELEPHONY_CALLS_DEALS_SYNC_H_
#define CRM_SERVICES_TELEPHONY_CALLS_DEALS_SYNC_H_

#include <memory>

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
namespace crm::events {
class OutboxWriter;
}  // namespace crm::events
namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::telephony::calls {

inline constexpr char kInteractionSource[] = "telephony";

class DealsSync {
 public:
  // `deals` reaches deals' ClientService and InteractionService; `key` may be null (development).
  DealsSync(crm::pg::Pool& pool, const Clock& clock, const crm::events::OutboxWriter& outbox,
            std::shared_ptr<grpc::Channel> deals, const crm::auth::SigningKey* key,
            absl::Duration call_timeout = absl::Seconds(5));
  ~DealsSync();

  // Handles due rows one transaction each until none is due (or `max` were handled); returns how many
  // were handled (answered, parked or rescheduled).
  absl::StatusOr<int> DrainOnce(int max = 1000);

 private:
  struct Stubs;
  absl::StatusOr<bool> HandleOne();

  crm::pg::Pool& pool_;
  const Clock& clock_;
  const crm::events::OutboxWriter& outbox_;
  std::unique_ptr<Stubs> stubs_;
  const crm::auth::SigningKey* key_;
  absl::Duration timeout_;
};

}  // namespace crm::telephony::calls

#endif  // CRM_SERVICES_TELEPHONY_CALLS_DEALS_SYNC_H_
