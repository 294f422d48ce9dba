// File: services/deals/interactions/request_store.h
// -----------------------------------------------------------------------------
// Client requests (запросы, D15 first half, seed 004 §6.2) in PostgreSQL (table client_requests,
// component "requests"): RequestStore serves ClientRequestService's calls; RefreshRequest is how the
// interaction store keeps a request's derived fields current.
//
// What the store promises:
//   - a request belongs to one client and one project (realty's id, no foreign key yet) and never moves;
//     its criteria and responsible change with UpdateClientRequest (version 0 = any, a stale one ABORTED);
//   - its stage, last_outcome, last_interaction_time and next_interaction_time are derived, never set:
//     RefreshRequest recomputes them (stage.h's StageOf over the request's DONE interactions in the
//     order they finished) in the transaction of every interaction change that can move them, under the
//     request's row lock, and writes crm.deals.request.stage_changed.v1 when the stage moved or
//     crm.deals.request.updated.v1 naming the derived fields that changed otherwise;
//   - Create honours an idempotency key (libs/pg/idempotency.h): the record commits with the request and
//     its crm.deals.request.created.v1;
//   - every bad field is named at once (InvalidFieldsError, proto paths "request.area_to_centi_m2");
//   - ListClientRequests reads an ordered index range for every filter (client, project, responsible,
//     stage) and every scope (own, team, all), newest first, keyset-paginated (plan_test.cc, on
//     1 000 000 requests).
//
// Example:
//   RequestStore requests(*pool, crm::SystemClock());
//   CRM_ASSIGN_OR_RETURN(v1::ClientRequest r, requests.Create(actor, draft, rpc::IdempotencyKey(ctx)));
#ifndef CRM_SERVICES_DEALS_INTERACTIONS_REQUEST_STORE_H_
#define CRM_SERVICES_DEALS_INTERACTIONS_REQUEST_STORE_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "crm/deals/v1/requests.pb.h"
#include "google/protobuf/field_mask.pb.h"
#include "libs/events/outbox.h"
#include "services/deals/deals.h"
#include "services/deals/interactions/access.h"
#include "services/deals/users.h"

namespace crm::deals::interactions {

// The request `id` as stored (with its client's name), locking its row when `for_update`; nullopt when
// there is none.
std::optional<crm::deals::v1::ClientRequest> LoadRequest(pqxx::transaction_base& tx, const std::string& id,
                                                         bool for_update);

// Recomputes request `id`'s derived fields from its interactions (see the file comment) and writes the
// event of what moved, as `actor`, at `now`. The request must exist; its row is locked.
absl::Status RefreshRequest(pqxx::transaction_base& tx, const events::OutboxWriter& outbox, const Actor& actor,
                            const std::string& id, absl::Time now);

// A request read once under its row lock with its responsible's teams: what an interaction's write
// checks (its client, project, visibility) and then refreshes, without reading the row again.
struct LockedRequest {
  crm::deals::v1::ClientRequest request;
  Owner owner;
};
// The request `id` locked (FOR UPDATE) with its owner; nullopt when there is none.
absl::StatusOr<std::optional<LockedRequest>> LockRequest(pqxx::transaction_base& tx, const std::string& id);
// RefreshRequest of a request this transaction locked with LockRequest (its row is not read again).
absl::Status RefreshRequest(pqxx::transaction_base& tx, const events::OutboxWriter& outbox, const Actor& actor,
                            const LockedRequest& locked, absl::Time now);

class RequestStore {
 public:
  RequestStore(pg::Pool& pool, const Clock& clock);

  absl::StatusOr<crm::deals::v1::ClientRequest> Create(const Actor& actor, const crm::deals::v1::ClientRequest& in,
                                                       std::string_view idempotency_key = "");
  absl::StatusOr<crm::deals::v1::ClientRequest> Get(const crm::common::v1::Principal& caller, std::string_view id);
  absl::StatusOr<crm::deals::v1::ClientRequest> Update(const Actor& actor, const crm::deals::v1::ClientRequest& in,
                                                       const google::protobuf::FieldMask& mask);
  absl::StatusOr<crm::deals::v1::ListClientRequestsResponse> List(
      const crm::common::v1::Principal& caller, const crm::deals::v1::ListClientRequestsRequest& req);

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  events::OutboxWriter outbox_;
  DirectorySeeder directory_;
};

}  // namespace crm::deals::interactions

#endif  // CRM_SERVICES_DEALS_INTERACTIONS_REQUEST_STORE_H_
