// File: libs/pg/idempotency.h
// -----------------------------------------------------------------------------
// Idempotent creating calls, decided inside the caller's own transaction: the record of a key, the
// change it made and the events it wrote commit together or not at all, so a retried request after a
// lost reply can never make a second object, and a failed first attempt leaves the key free.
//
// A service that uses it creates the table in one of its migrations:
//   CREATE TABLE idempotency (
//     caller         text        NOT NULL,   -- who: RunIdempotent's IdempotencyScope.caller
//     method         text        NOT NULL,   -- "crm.deals.v1.DealService/CreateDeal"
//     key            text        NOT NULL,   -- the client's key (≤ 200 bytes)
//     request_sha256 bytea       NOT NULL,   -- fingerprint of the request the key was first used with
//     response       bytea       NOT NULL,   -- the serialized reply returned to every repeat
//     create_time    timestamptz NOT NULL,
//     PRIMARY KEY (caller, method, key));
//
// Example:
//   crm::pg::IdempotencyScope scope{.caller = who, .method = "crm.deals.v1.DealService/CreateDeal",
//                                   .key = rpc::IdempotencyKey(ctx)};
//   CRM_RETURN_IF_ERROR(pg::InTransaction(pool, [&](pqxx::work& tx) -> absl::Status {
//     return pg::RunIdempotent(tx, scope, clock.Now(), request, reply, [&]() -> absl::Status {
//       CRM_ASSIGN_OR_RETURN(reply, store.CreateInTx(tx, ...));
//       return absl::OkStatus();
//     });
//   }));
#ifndef CRM_LIBS_PG_IDEMPOTENCY_H_
#define CRM_LIBS_PG_IDEMPOTENCY_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf
namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm {
class Clock;
class Periodic;
}  // namespace crm

namespace crm::pg {

class Pool;

// How long a key is remembered; after that the same key makes a new object.
inline constexpr absl::Duration kIdempotencyRetention = absl::Hours(24);
// Longest key accepted, in bytes.
inline constexpr size_t kMaxIdempotencyKeyBytes = 200;

// Whose key it is and for which call. Keys of different callers or methods never meet.
struct IdempotencyScope {
  std::string caller;
  std::string method;
  // The client's key; "" = the call is not idempotent (fn simply runs).
  std::string key;
};

// Within `tx`: the first time (scope.caller, scope.method, scope.key) is seen in the retention
// window, runs `fn` (which fills `reply`) and records the reply; a repeat returns the recorded reply in
// `reply` without running `fn`. A concurrent repeat waits for the first to commit or roll back. Errors:
// INVALID_ARGUMENT naming "idempotency-key" for a key over kMaxIdempotencyKeyBytes or one reused with
// a different `request`; fn's own status (the key is then not recorded, as the caller rolls back).
absl::Status RunIdempotent(pqxx::transaction_base& tx, const IdempotencyScope& scope, absl::Time now,
                           const google::protobuf::Message& request, google::protobuf::Message& reply,
                           absl::FunctionRef<absl::Status()> fn);

// Deletes records older than the retention at `now`; returns how many. Safe to run on every replica.
absl::StatusOr<int> PurgeIdempotency(pqxx::transaction_base& tx, absl::Time now);

// PurgeIdempotency every hour on a thread of its own, in its own transaction on `pool`, at `clock`'s now;
// a failure is logged and tried again the next hour. What every service that honours idempotency keys
// owns beside its server.
std::unique_ptr<Periodic> HourlyIdempotencyPurge(Pool& pool, const Clock& clock);

}  // namespace crm::pg

#endif  // CRM_LIBS_PG_IDEMPOTENCY_H_
