// File: libs/base/clock.h
// -----------------------------------------------------------------------------
// A clock to inject. Code that needs "now" (robots' timers, SLA deadlines, id generation, token expiry)
// takes a `const crm::Clock&` instead of calling absl::Now(), so production passes SystemClock() and tests
// pass a ManualClock they move by hand: no sleeping in tests.
//
// Example:
//   class Reminder {
//    public:
//     explicit Reminder(const crm::Clock& clock) : clock_(clock) {}
//     bool Due(absl::Time at) const { return clock_.Now() >= at; }
//    private:
//     const crm::Clock& clock_;
//   };
//   Reminder prod(crm::SystemClock());
//
//   crm::ManualClock clock(absl::FromUnixSeconds(1'800'000'000));
//   Reminder test(clock);
//   clock.Advance(absl::Hours(2));
#ifndef CRM_LIBS_BASE_CLOCK_H_
#define CRM_LIBS_BASE_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace crm {

// A source of the current time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Returns the current time.
  virtual absl::Time Now() const = 0;
};

// Returns the process-wide wall clock (absl::Now()). The object lives for the whole process.
Clock& SystemClock();

// A clock that stands still until told to move. Thread-safe: Now() may race with Advance()/Set() and
// always sees one of the values set.
class ManualClock final : public Clock {
 public:
  // Starts at `start`.
  explicit ManualClock(absl::Time start);
  ManualClock(const ManualClock&) = delete;
  ManualClock& operator=(const ManualClock&) = delete;

  // Returns the time last set (start plus every Advance(), or the last Set()).
  absl::Time Now() const override;
  // Moves the clock by `d` (a negative `d` moves it back).
  void Advance(absl::Duration d);
  // Jumps to `t`, forwards or backwards (to simulate a wall-clock step).
  void Set(absl::Time t);

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crm

#endif  // CRM_LIBS_BASE_CLOCK_H_
