// File: services/gateway/edge/ratelimit.cc
#include "services/gateway/edge/ratelimit.h"

#include <algorithm>
#include <list>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "libs/base/strings.h"

namespace crm::gateway {

struct RateLimiter::State {
  struct Bucket {
    std::string key;
    double tokens;
    absl::Time last;
  };
  absl::Mutex mu;
  std::list<Bucket> lru ABSL_GUARDED_BY(mu);  // front = most recently used
  absl::flat_hash_map<std::string, std::list<Bucket>::iterator> index ABSL_GUARDED_BY(mu);
};

RateLimiter::RateLimiter(double rate_per_second, double burst, const Clock& clock, size_t max_keys)
    : rate_(rate_per_second > 0 ? rate_per_second : 1e-9),
      burst_(burst > 0 ? burst : 1),
      clock_(clock),
      max_keys_(std::max<size_t>(max_keys, 1)),
      state_(std::make_unique<State>()) {}

RateLimiter::~RateLimiter() = default;

RateLimiter::Decision RateLimiter::Take(std::string_view key, double cost) {
  cost = std::max(cost, 0.0);
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&state_->mu);
  auto& lru = state_->lru;
  auto& index = state_->index;
  auto it = index.find(AsAbsl(key));
  std::list<State::Bucket>::iterator b;
  if (it == index.end()) {
    lru.push_front(State::Bucket{std::string(key), burst_, now});
    b = lru.begin();
    index.emplace(b->key, b);
    while (lru.size() > max_keys_) {
      index.erase(lru.back().key);
      lru.pop_back();
    }
  } else {
    b = it->second;
    lru.splice(lru.begin(), lru, b);
    if (now > b->last) {
      b->tokens = std::min(burst_, b->tokens + rate_ * absl::ToDoubleSeconds(now - b->last));
      b->last = now;
    }
  }
  Decision d;
  if (b->tokens >= cost) {
    b->tokens -= cost;
    d.allowed = true;
    return d;
  }
  if (cost > burst_) {
    d.retry_after = absl::InfiniteDuration();
  } else {
    d.retry_after = std::max(absl::Seconds((cost - b->tokens) / rate_), absl::Nanoseconds(1));
  }
  return d;
}

size_t RateLimiter::size() const {
  absl::MutexLock lock(&state_->mu);
  return state_->lru.size();
}

}  // namespace crm::gateway
