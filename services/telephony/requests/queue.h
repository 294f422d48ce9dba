// File: services/telephony/requests/queue.h
// -----------------------------------------------------------------------------
// The call-request queue's effects (P4), all in the CALLER's transaction (an API call's, a timer's, the
// sweep's), with their events on crm.telephony.request.v1 through the outbox:
//
//   * Match: the due queued requests (call_requests_queue) are offered to the free ready operators
//     (call_operators_free) in the order of rules.h; both reads are FOR UPDATE SKIP LOCKED, so matchers on
//     any number of threads and replicas take disjoint rows and never wait for each other; each locks only
//     as many requests as there are free operators and as many operators as it found requests. Each offer is one
//     statement (sql::kOffer) — an attempt, the request OFFERED, the operator holding it — guarded by the
//     partial unique indexes (one open attempt per request and per operator, one active request per
//     operator) — and a durable timer (kOfferExpiryKind) at the deadline.
//   * Accept / Decline / Finish: the operator's own offer or request in work, locked (request first, then
//     operator: one lock order everywhere). Decline and expiry put the request back in its place; the
//     operator's readiness then follows rules.h's ReadinessAfter.
//   * Timers: kOfferExpiryKind ends a still-pending offer (EXPIRED) and matches again; kDueKind (a planned
//     time came) matches.
// Every effect that frees an operator or queues a request matches again in the same transaction.
#ifndef CRM_SERVICES_TELEPHONY_REQUESTS_QUEUE_H_
#define CRM_SERVICES_TELEPHONY_REQUESTS_QUEUE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/telephony/requests/rules.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm::events {
class OutboxWriter;
}  // namespace crm::events
namespace crm::timers {
struct Timer;
}  // namespace crm::timers

namespace crm::telephony::requests {

inline constexpr char kOfferExpiryKind[] = "telephony.offer_expiry";
inline constexpr char kDueKind[] = "telephony.request_due";

struct QueueOptions {
  absl::Duration offer_timeout = kDefaultOfferTimeout;
  int match_batch = 50;  // free operators (and due requests) one Match looks at
};

class Queue {
 public:
  // `outbox` must outlive the queue.
  Queue(const crm::events::OutboxWriter& outbox, QueueOptions options);

  // Offers due requests to free operators; returns how many offers were made. `exclude`: (request,
  // operator) pairs not to make in this pass. See the file comment.
  absl::StatusOr<int> Match(pqxx::transaction_base& tx, absl::Time now,
                            const std::vector<std::pair<std::string, std::string>>& exclude = {}) const;

  // A request just inserted: its due timer when it is planned later than now (Match does the rest).
  absl::Status Queued(pqxx::transaction_base& tx, std::string_view request_id, absl::Time due, absl::Time now) const;

  // The offer of `request_id` to `user_id` taken: IN_WORK. FAILED_PRECONDITION when it is not offered to
  // them now (another operator's, expired, already accepted); NOT_FOUND for no such request.
  absl::Status Accept(pqxx::transaction_base& tx, std::string_view request_id, std::string_view user_id,
                      absl::Time now) const;
  // The offer given back: QUEUED in its place, offered to someone else. Errors as Accept.
  absl::Status Decline(pqxx::transaction_base& tx, std::string_view request_id, std::string_view user_id,
                       std::string_view comment, absl::Time now) const;
  // The request in work ended with `outcome` (a RequestOutcome name without its prefix); BACK_TO_QUEUE
  // with `planned` (the caller checked it is later than now). FAILED_PRECONDITION unless it is IN_WORK
  // by `user_id`.
  absl::Status Finish(pqxx::transaction_base& tx, std::string_view request_id, std::string_view user_id,
                      std::string_view outcome, std::optional<absl::Time> planned, std::string_view comment,
                      absl::Time now) const;

  absl::Status OnOfferExpiry(pqxx::transaction_base& tx, const crm::timers::Timer& timer, absl::Time now) const;
  absl::Status OnDue(pqxx::transaction_base& tx, const crm::timers::Timer& timer, absl::Time now) const;

  const QueueOptions& options() const { return options_; }
  const crm::events::OutboxWriter& outbox() const { return outbox_; }

 private:
  absl::Status EndOffer(pqxx::transaction_base& tx, std::string_view request_id, std::string_view user_id,
                        int64_t attempt_id, OfferEnd end, std::string_view comment, absl::Time now) const;

  const crm::events::OutboxWriter& outbox_;
  QueueOptions options_;
};

// The readiness as call_operators stores it, and back.
const char* ReadinessText(Readiness r);
Readiness ReadinessOf(std::string_view text);

}  // namespace crm::telephony::requests

#endif  // CRM_SERVICES_TELEPHONY_REQUESTS_QUEUE_H_
