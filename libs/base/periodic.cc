// File: libs/base/periodic.cc
#include "libs/base/periodic.h"

#include <utility>

namespace crm {

Periodic::Periodic(absl::Duration every, std::function<void()> fn, bool run_at_start)
    : thread_([this, every, run_at_start, fn = std::move(fn)] {
        if (run_at_start) fn();
        for (;;) {
          {
            absl::MutexLock lock(&mu_);
            auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
            mu_.AwaitWithTimeout(absl::Condition(&stop), every);
            if (stopping_) return;
          }
          fn();
        }
      }) {}

Periodic::~Periodic() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

}  // namespace crm
