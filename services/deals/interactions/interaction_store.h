// File: services/deals/interactions/interaction_store.h
// -----------------------------------------------------------------------------
// Interactions (взаимодействия, D16, seed 004 §6.4–6.6) in PostgreSQL (table interactions, component
// "interactions"): InteractionStore serves InteractionService's record, read, list, change, complete
// and cancel calls and «Задачи на сегодня» (agenda.cc).
//
// What the store promises:
//   - access by the responsible, as for deals (access.h); a service principal with
//     interactions.write.all records for any responsible;
//   - an interaction is its client's; its request must be the same client's and sets its project; its
//     deal must exist; its calendar slot is booked with it (calendar_store.h: never over capacity);
//   - primacy (§6.5.2): the first interaction of a client in a project is PRIMARY, every later one
//     SECONDARY — decided under a transaction-scoped advisory lock on (client, project) and guarded by
//     the partial unique index interactions_primary, so concurrent first calls make exactly one primary;
//   - overdue is derived (PLANNED and planned_time before the injected clock's now), never stored;
//   - UpsertInteraction records one interaction per (source, external_id) whatever the retries and their
//     concurrency (an advisory lock on the key, the unique index interactions_external): the first call
//     creates it, later ones update what they carry (status only forward: PLANNED → DONE / CANCELLED),
//     and a repeat of what is stored changes nothing — no version bump, no event;
//   - CompleteInteraction turns PLANNED into DONE with its result and decode, and plans the next
//     interaction the decode calls for (stage.h's NextKindFor) in the same transaction; «Отказ» plans
//     nothing; a call or meeting of a request needs a decode;
//   - every change writes its event to crm.deals.interaction.v1 in its transaction (created, updated,
//     completed — with the deals it touched —, cancelled) and refreshes the derived fields of the
//     requests it concerns (request_store.h's RefreshRequest);
//   - CreateInteraction honours an idempotency key; version 0 = any version, a stale one ABORTED; every
//     bad field is named at once;
//   - ListInteractions and GetTodayTasks read ordered index ranges for every filter and scope, however
//     many interactions there are (plan_test.cc, on 1 000 000 of them).
//
// Example:
//   InteractionStore store(*pool, crm::SystemClock(), zone);
//   CRM_ASSIGN_OR_RETURN(v1::Interaction call, store.Upsert(actor, pbx_call));   // twice: one call
//   CRM_ASSIGN_OR_RETURN(v1::CompleteInteractionResponse done, store.Complete(actor, req));
#ifndef CRM_SERVICES_DEALS_INTERACTIONS_INTERACTION_STORE_H_
#define CRM_SERVICES_DEALS_INTERACTIONS_INTERACTION_STORE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crm/deals/v1/interactions.pb.h"
#include "crm/deals/v1/interactions_events.pb.h"
#include "google/protobuf/field_mask.pb.h"
#include "libs/events/outbox.h"
#include "services/deals/deals.h"
#include "services/deals/interactions/access.h"
#include "services/deals/interactions/request_store.h"
#include "services/deals/users.h"

namespace pqxx {
class row;
}  // namespace pqxx

namespace crm::deals::interactions {

// The most deals one finished interaction touches when it has no deal of its own (its client's open
// deals, newest first).
inline constexpr int kMaxTouchedDeals = 20;

// The columns ReadInteraction reads over interactions i joined to clients c, and the reading.
const std::string& InteractionColumns();
inline constexpr int kInteractionColumnCount = 29;  // how many InteractionColumns() has
crm::deals::v1::Interaction ReadInteraction(const pqxx::row& r, absl::Time now);

class InteractionStore {
 public:
  InteractionStore(pg::Pool& pool, const Clock& clock, absl::TimeZone zone);

  absl::StatusOr<crm::deals::v1::Interaction> Create(const Actor& actor, const crm::deals::v1::Interaction& in,
                                                     std::string_view idempotency_key = "");
  absl::StatusOr<crm::deals::v1::Interaction> Upsert(const Actor& actor, const crm::deals::v1::Interaction& in);
  absl::StatusOr<crm::deals::v1::Interaction> Get(const crm::common::v1::Principal& caller, std::string_view id);
  absl::StatusOr<crm::deals::v1::ListInteractionsResponse> List(const crm::common::v1::Principal& caller,
                                                                const crm::deals::v1::ListInteractionsRequest& req);
  absl::StatusOr<crm::deals::v1::Interaction> Update(const Actor& actor, const crm::deals::v1::Interaction& in,
                                                     const google::protobuf::FieldMask& mask);
  absl::StatusOr<crm::deals::v1::CompleteInteractionResponse> Complete(
      const Actor& actor, const crm::deals::v1::CompleteInteractionRequest& req);
  absl::StatusOr<crm::deals::v1::Interaction> Cancel(const Actor& actor,
                                                     const crm::deals::v1::CancelInteractionRequest& req);
  // «Задачи на сегодня» (agenda.cc).
  absl::StatusOr<crm::deals::v1::TodayTasks> Today(const crm::common::v1::Principal& caller,
                                                   const crm::deals::v1::GetTodayTasksRequest& req);

 private:
  // Records `x` (validated, defaults applied) in `tx`: the checks, the slot, primacy, the events. `x` gets
  // its id, primacy and times; `request` its request as read (locked) for the checks, which the caller
  // refreshes with it (RefreshRequest), and `owner` x's responsible's teams as read after the caller was
  // seeded into the directory.
  absl::Status InsertInTx(pqxx::transaction_base& tx, const Actor& actor, crm::deals::v1::Interaction& x,
                          absl::Time now, std::optional<LockedRequest>& request, Owner& owner);
  // `x` (stored as `old`) made DONE at `now` in `tx`, with its events (visible by `owner`, x's responsible
  // as the caller has read it); the request is refreshed by the caller.
  absl::Status MarkDone(pqxx::transaction_base& tx, const Actor& actor, crm::deals::v1::Interaction& x,
                        const Owner& owner, absl::Time now);
  // `x`, PLANNED, made CANCELLED at `now` in `tx`: its slot released, its event (with `reason`, visible
  // by `owner`, x's responsible); the request is refreshed by the caller.
  absl::Status MarkCancelled(pqxx::transaction_base& tx, const Actor& actor, crm::deals::v1::Interaction& x,
                             const Owner& owner, const std::string& reason, absl::Time now);

  pg::Pool& pool_;
  const Clock& clock_;
  absl::TimeZone zone_;
  events::OutboxWriter outbox_;
  DirectorySeeder directory_;
};

}  // namespace crm::deals::interactions

#endif  // CRM_SERVICES_DEALS_INTERACTIONS_INTERACTION_STORE_H_
