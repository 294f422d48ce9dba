// File: libs/pg/notifier.h
// -----------------------------------------------------------------------------
// The NOTIFYs a pool's committed transactions asked for (notify.h), sent by one thread on a connection of
// its own — not by the committing thread on its connection, which then returns at once.
//
// Contract:
//   * Post(channels) after a commit: every channel posted is NOTIFYed at least once AFTER the Post (so a
//     listener woken by it sees that commit's rows), possibly together with the channels of other commits
//     posted meanwhile: while one send is in flight, what is posted waits for the next, and a channel
//     asked for by many commits goes once. Under load, one NOTIFY answers many commits, and listeners wake
//     once per send instead of once per commit.
//   * Never blocks on the server, never fails: a send that fails is logged and dropped (the connection is
//     reopened for the next); listeners poll as a fallback anyway (notify.h).
//   * The thread and the connection start with the first Post; the destructor sends what is still posted
//     (best effort) and joins.
// Internal to crm::pg (Pool owns one; InTransaction posts to it).
#ifndef CRM_LIBS_PG_NOTIFIER_H_
#define CRM_LIBS_PG_NOTIFIER_H_

#include <memory>
#include <pqxx/connection>  // libpqxx 6: pqxx::connection is a typedef, not forward-declarable
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace crm::pg::internal {

class Notifier {
 public:
  Notifier(std::string dsn, std::string application_name);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Asks for NOTIFY on each of `channels` (identifiers) after this call; see the file comment.
  void Post(const std::vector<std::string>& channels);

  // Sends completed so far (tests: coalescing shows as fewer sends than posts).
  int64_t sends();

 private:
  void Run();
  // One NOTIFY statement per channel of `batch`, in one round trip. False when it failed.
  bool Send(const std::vector<std::string>& batch);

  const std::string dsn_;
  const std::string application_name_;
  std::unique_ptr<pqxx::connection> conn_;  // the thread's only
  absl::Mutex mu_;
  std::vector<std::string> pending_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  int64_t sends_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace crm::pg::internal

#endif  // CRM_LIBS_PG_NOTIFIER_H_
