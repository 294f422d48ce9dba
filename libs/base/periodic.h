// File: libs/base/periodic.h
// -----------------------------------------------------------------------------
// A background job run every so often on a thread of its own: pruning, purging, scans. Services own
// one per job (crm::rpc::Server::Own), so it stops with them.
//
// Example:
//   server.Own(std::make_unique<crm::Periodic>(absl::Hours(1), [sessions] { (void)sessions->Prune(); }));
#ifndef CRM_LIBS_BASE_PERIODIC_H_
#define CRM_LIBS_BASE_PERIODIC_H_

#include <functional>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace crm {

class Periodic {
 public:
  // Runs `fn` every `every` (and once at once when `run_at_start`) until destroyed. `fn` reports its
  // own errors; runs never overlap.
  Periodic(absl::Duration every, std::function<void()> fn, bool run_at_start = false);
  // Waits for a run in progress to finish; no run starts after.
  ~Periodic();
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

 private:
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace crm

#endif  // CRM_LIBS_BASE_PERIODIC_H_
