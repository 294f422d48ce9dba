// File: services/gateway/edge/ratelimit.h
// -----------------------------------------------------------------------------
// Token-bucket rate limiting keyed by a string (a user id, a client IP). Each key owns a bucket holding
// at most `burst` tokens that refills continuously at `rate_per_second`; a request costing `cost` tokens
// is allowed when the bucket holds at least that many, and the tokens are then taken. A refused request
// takes nothing and learns how long until enough tokens will be there.
//
// Time comes from an injected crm::Clock, so tests move a ManualClock instead of sleeping. Memory is
// bounded: at most `max_keys` buckets are kept and the least recently used one is forgotten beyond that
// (a forgotten key comes back with a full bucket, so size `max_keys` above the number of keys active
// within burst/rate seconds).
//
// Example:
//   crm::gateway::RateLimiter per_ip(/*rate_per_second=*/10, /*burst=*/20, crm::SystemClock(),
//                                    /*max_keys=*/100'000);
//   auto d = per_ip.Take(remote_ip);
//   if (!d.allowed) return TooManyRequests(d.retry_after);
#ifndef CRM_SERVICES_GATEWAY_EDGE_RATELIMIT_H_
#define CRM_SERVICES_GATEWAY_EDGE_RATELIMIT_H_

#include <cstddef>
#include <memory>
#include <string_view>

#include "absl/time/time.h"
#include "libs/base/clock.h"

namespace crm::gateway {

// A set of token buckets, one per key. Thread-safe: Take() may be called from any number of threads.
class RateLimiter {
 public:
  // The answer to one Take().
  struct Decision {
    // True if the request may proceed (its tokens were taken).
    bool allowed = false;
    // When refused: how long until the bucket will hold enough tokens for the same cost (> 0), or
    // absl::InfiniteDuration() when the cost exceeds `burst` and can never be met. Zero when allowed.
    absl::Duration retry_after = absl::ZeroDuration();
  };

  // `rate_per_second` > 0 tokens refill per second up to `burst` (> 0) tokens; a new key starts full.
  // At most `max_keys` (>= 1) buckets are kept. `clock` must outlive the limiter. If the clock steps
  // back, no tokens are added until it passes the last time seen.
  RateLimiter(double rate_per_second, double burst, const Clock& clock, size_t max_keys);
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Takes `cost` (>= 0) tokens from `key`'s bucket if it holds that many; marks `key` most recently used.
  Decision Take(std::string_view key, double cost = 1);

  // Returns the number of keys currently tracked (<= max_keys).
  size_t size() const;

 private:
  struct State;
  const double rate_;
  const double burst_;
  const Clock& clock_;
  const size_t max_keys_;
  std::unique_ptr<State> state_;
};

}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_EDGE_RATELIMIT_H_
