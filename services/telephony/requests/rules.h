// File: services/telephony/requests/rules.h
// -----------------------------------------------------------------------------
// The call-request queue's rules (P4), pure: no database, table-tested (rules_test.cc). The store
// (queue.h) applies them inside its transactions.
//
//   * Order (the matcher): due requests by priority (1 first), then due time (the planned time, else the
//     creation time), then id; free operators longest idle first (idle_since, then user id) — app_queue's
//     "leastrecent", measured from when the operator last became free. Pair() zips the two orders.
//   * Readiness after an offer or a request ends (seed 004 §6.5.5): «Готов» takes one request, then the
//     operator is «Не готов» until they press it again; «Авто-готов» is ready again by itself; an offer
//     left to expire sets «Не готов» («Не принял заявку»), like app_queue's autopause — else an absent
//     operator would hold every request for 35 seconds in turn.
//   * Outcomes: BACK_TO_QUEUE queues the request again from a planned time in the future (required), at
//     priority 1 («Приоритет 1: заявки с плановым временем»); the others end it (DONE).
#ifndef CRM_SERVICES_TELEPHONY_REQUESTS_RULES_H_
#define CRM_SERVICES_TELEPHONY_REQUESTS_RULES_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace crm::telephony::requests {

// The offer's accept timer (seed 004 §6.5.5: «35 секунд на то, чтобы начать работу по заявке»).
inline constexpr absl::Duration kDefaultOfferTimeout = absl::Seconds(35);
inline constexpr int kHighestPriority = 1;
inline constexpr int kLowestPriority = 3;
inline constexpr int kDefaultPriority = 2;

// The reasons the system writes (data staff read).
inline constexpr char kReasonExpired[] = "Не принял заявку";
inline constexpr char kReasonAfterRequest[] = "Заявка обработана";

enum class Readiness { kReady, kAutoReady, kNotReady };
enum class OfferEnd { kAccepted, kDeclined, kExpired, kFinished };

// The readiness (and reason) an operator has after `end` of their offer or request.
std::pair<Readiness, std::string> ReadinessAfter(Readiness now, std::string_view reason, OfferEnd end);

// The priority of a new request: `given` (1..3) or, for 0, 1 with a planned time and 2 without.
int PriorityOf(int given, bool planned);

// When a request may be offered: its planned time, else its creation time.
absl::Time DueOf(std::optional<absl::Time> planned, absl::Time created);

// A due request as the matcher orders it.
struct QueuedRequest {
  std::string id;
  int priority = kDefaultPriority;
  absl::Time due;
};
// A free ready operator as the matcher orders them.
struct FreeOperator {
  std::string user_id;
  absl::Time idle_since;
};
// (request id, operator id) pairs: each request in queue order to the longest idle operator left, except
// a pair in `exclude` (an operator who just declined or let the request expire is not offered it again in
// the same pass); a request with no operator left for it waits. See the file comment.
std::vector<std::pair<std::string, std::string>> Pair(
    std::vector<QueuedRequest> requests, std::vector<FreeOperator> operators,
    const std::vector<std::pair<std::string, std::string>>& exclude = {});

}  // namespace crm::telephony::requests

#endif  // CRM_SERVICES_TELEPHONY_REQUESTS_RULES_H_
