// File: libs/pg/notifier.cc
#include "libs/pg/notifier.h"

#include <algorithm>
#include <pqxx/pqxx>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/log/log.h"
#include "libs/pg/conninfo.h"

namespace crm::pg::internal {

Notifier::Notifier(std::string dsn, std::string application_name)
    : dsn_(std::move(dsn)), application_name_(std::move(application_name)) {}

Notifier::~Notifier() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Notifier::Post(const std::vector<std::string>& channels) {
  if (channels.empty()) return;
  absl::MutexLock lock(&mu_);
  for (const std::string& c : channels) {
    if (std::find(pending_.begin(), pending_.end(), c) == pending_.end()) pending_.push_back(c);
  }
  if (!started_) {
    started_ = true;
    thread_ = std::thread([this] { Run(); });
  }
}

int64_t Notifier::sends() {
  absl::MutexLock lock(&mu_);
  return sends_;
}

void Notifier::Run() {
  for (;;) {
    std::vector<std::string> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Notifier* n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(n->mu_) { return !n->pending_.empty() || n->stopping_; },
          this));
      if (pending_.empty()) return;  // stopping, nothing left
      batch.swap(pending_);
    }
    // Posted from here on waits for the next send: it comes after this one, so after its commit.
    const bool sent = Send(batch);
    absl::MutexLock lock(&mu_);
    if (sent) ++sends_;
  }
}

bool Notifier::Send(const std::vector<std::string>& batch) {
  std::string sql;
  for (const std::string& c : batch) absl::StrAppend(&sql, "NOTIFY ", c, ";");
  try {
    if (conn_ == nullptr || !conn_->is_open()) {
      absl::StatusOr<std::unique_ptr<pqxx::connection>> c = Connect(dsn_, application_name_ + "-notify");
      if (!c.ok()) {
        log::Warn("NOTIFY after commit: no connection; listeners find the change at their next poll",
                  {{"error", c.status()}});
        return false;
      }
      conn_ = *std::move(c);
    }
    pqxx::nontransaction n(*conn_);
    n.exec(sql);
    return true;
  } catch (const std::exception& e) {
    log::Warn("NOTIFY after commit failed; listeners find the change at their next poll", {{"error", e.what()}});
    conn_.reset();
    return false;
  }
}

}  // namespace crm::pg::internal
