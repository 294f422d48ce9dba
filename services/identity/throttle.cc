// File: services/identity/throttle.cc
#include "services/identity/throttle.h"

#include <algorithm>

namespace crm::identity {

int CountedFailures(const DelayPolicy& policy, int failures, absl::Time last_failure, absl::Time now) {
  if (failures <= 0 || now - last_failure >= policy.forget_after) return 0;
  return failures;
}

absl::Duration DelayAfter(const DelayPolicy& policy, int failures) {
  const int over = failures - policy.free_failures;
  if (over <= 0) return absl::ZeroDuration();
  absl::Duration delay = policy.first_delay;
  for (int i = 1; i < over && delay < policy.max_delay; ++i) delay *= 2;
  return std::min(delay, policy.max_delay);
}

absl::Duration WaitBefore(const DelayPolicy& policy, int failures, absl::Time last_failure, absl::Time now) {
  const int counted = CountedFailures(policy, failures, last_failure, now);
  const absl::Duration wait = last_failure + DelayAfter(policy, counted) - now;
  return std::max(wait, absl::ZeroDuration());
}

}  // namespace crm::identity
