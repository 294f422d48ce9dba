// File: services/telephony/requests/rules.cc
#include "services/telephony/requests/rules.h"

#include <algorithm>
#include <tuple>

namespace crm::telephony::requests {

std::pair<Readiness, std::string> ReadinessAfter(Readiness now, std::string_view reason, OfferEnd end) {
  switch (end) {
    case OfferEnd::kExpired:
      return {Readiness::kNotReady, kReasonExpired};
    case OfferEnd::kFinished:
      if (now == Readiness::kReady) return {Readiness::kNotReady, kReasonAfterRequest};
      break;
    case OfferEnd::kAccepted:
    case OfferEnd::kDeclined:
      break;
  }
  return {now, std::string(reason)};
}

int PriorityOf(int given, bool planned) {
  if (given != 0) return given;
  return planned ? kHighestPriority : kDefaultPriority;
}

absl::Time DueOf(std::optional<absl::Time> planned, absl::Time created) { return planned ? *planned : created; }

std::vector<std::pair<std::string, std::string>> Pair(
    std::vector<QueuedRequest> requests, std::vector<FreeOperator> operators,
    const std::vector<std::pair<std::string, std::string>>& exclude) {
  std::sort(requests.begin(), requests.end(), [](const QueuedRequest& a, const QueuedRequest& b) {
    return std::tie(a.priority, a.due, a.id) < std::tie(b.priority, b.due, b.id);
  });
  std::sort(operators.begin(), operators.end(), [](const FreeOperator& a, const FreeOperator& b) {
    return std::tie(a.idle_since, a.user_id) < std::tie(b.idle_since, b.user_id);
  });
  std::vector<std::pair<std::string, std::string>> out;
  std::vector<bool> taken(operators.size(), false);
  for (const QueuedRequest& r : requests) {
    for (size_t i = 0; i < operators.size(); ++i) {
      if (taken[i]) continue;
      const std::pair<std::string, std::string> pair(r.id, operators[i].user_id);
      if (std::find(exclude.begin(), exclude.end(), pair) != exclude.end()) continue;
      taken[i] = true;
      out.push_back(pair);
      break;
    }
    if (out.size() == operators.size()) break;
  }
  return out;
}

}  // namespace crm::telephony::requests
