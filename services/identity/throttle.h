// File: services/identity/throttle.h
// -----------------------------------------------------------------------------
// The sign-in delay policy, apart from the clock and the database: after a run of failed attempts a
// key must wait before its next attempt. The first `free_failures` failures cost nothing (typos); each
// further one doubles the wait, from `first_delay` up to `max_delay`; a key with no failure for
// `forget_after` starts again from zero. sessions.cc keeps one record per key in PostgreSQL
// (`signin_failures`: failure count and the time of the last failure) and asks this policy whether an
// attempt may go ahead and, if not, for how long to tell the client to wait.
//
// Example:
//   const DelayPolicy p{.free_failures = 5};
//   DelayAfter(p, 5);   // 0 s: still free
//   DelayAfter(p, 6);   // 1 s
//   DelayAfter(p, 8);   // 4 s
//   WaitBefore(p, 8, last_failure, now);  // what remains of those 4 s (0 when they have passed)
#ifndef CRM_SERVICES_IDENTITY_THROTTLE_H_
#define CRM_SERVICES_IDENTITY_THROTTLE_H_

#include "absl/time/time.h"

namespace crm::identity {

struct DelayPolicy {
  int free_failures = 5;                          // failures allowed without any delay
  absl::Duration first_delay = absl::Seconds(1);  // the wait after failure free_failures + 1
  absl::Duration max_delay = absl::Minutes(15);   // the doubling stops here
  absl::Duration forget_after = absl::Hours(1);   // a quiet period that clears the count
};

// The two throttles of a sign-in. A (login, client address) pair is slowed down after a few failures,
// so guessing one user's password from one place gets slow quickly while the same user signing in from
// their own address is not affected. An address is slowed down after many failures over any logins
// (credential stuffing, password spraying); its free allowance covers an office behind one NAT address.
struct SignInThrottlePolicy {
  DelayPolicy per_login_address{.free_failures = 5};
  DelayPolicy per_address{.free_failures = 30};
};

// The failures of a record (`failures`, the last at `last_failure`) that still count at `now`: all of
// them, or 0 once `forget_after` has passed since the last one. Never negative.
int CountedFailures(const DelayPolicy& policy, int failures, absl::Time last_failure, absl::Time now);

// The wait the policy demands after `failures` counted failures: zero for up to free_failures, then
// first_delay * 2^(failures - free_failures - 1), at most max_delay.
absl::Duration DelayAfter(const DelayPolicy& policy, int failures);

// How long from `now` until the record allows the next attempt: zero when it may go ahead now,
// otherwise last_failure + DelayAfter(counted failures) - now.
absl::Duration WaitBefore(const DelayPolicy& policy, int failures, absl::Time last_failure, absl::Time now);

}  // namespace crm::identity

#endif  // CRM_SERVICES_IDENTITY_THROTTLE_H_
