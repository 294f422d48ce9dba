#include "libs/pg/pool.h"

#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/log/log.h"
#include "libs/pg/conninfo.h"
#include "libs/pg/notifier.h"

namespace crm::pg {

// State shared by the pool and its leases, so a lease may safely outlive the Pool object.
class Pool::Lease::Core {
 public:
  explicit Core(PoolOptions options) : options_(std::move(options)) {}

  const PoolOptions& options() const { return options_; }

  // Takes an idle connection, or reserves a slot for a new one (returns null then), waiting until `deadline`.
  // false: timed out.
  bool TakeOrReserve(absl::Time deadline, std::unique_ptr<pqxx::connection>& out) {
    absl::MutexLock lock(&mu_);
    auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < options_.size;
    };
    if (!mu_.AwaitWithDeadline(absl::Condition(&available), deadline)) return false;
    if (!idle_.empty()) {
      out = std::move(idle_.back());  // Most recently used: warmest caches, lets the others age out.
      idle_.pop_back();
    } else {
      ++open_;
    }
    return true;
  }

  // Adds a connection opened at Create() (counted as open, idle).
  void AddIdle(std::unique_ptr<pqxx::connection> conn) {
    absl::MutexLock lock(&mu_);
    ++open_;
    idle_.push_back(std::move(conn));
  }

  // Returns a healthy connection to the idle list, or closes it (outside the lock) and frees its slot.
  void Return(std::unique_ptr<pqxx::connection> conn, bool discard) {
    if (!discard && conn != nullptr && conn->is_open()) {
      absl::MutexLock lock(&mu_);
      if (!closed_) {
        idle_.push_back(std::move(conn));
        return;
      }
    }
    conn.reset();  // Closing may talk to the server: not under the lock.
    FreeSlot();
  }

  void FreeSlot() {
    absl::MutexLock lock(&mu_);
    --open_;
  }

  // Closes every idle connection; later returns close theirs.
  void Close() {
    std::vector<std::unique_ptr<pqxx::connection>> idle;
    {
      absl::MutexLock lock(&mu_);
      closed_ = true;
      idle.swap(idle_);
      open_ -= static_cast<int>(idle.size());
    }
  }

 private:
  const PoolOptions options_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // idle + leased + being opened
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

Pool::Lease::Lease(std::shared_ptr<Core> core, std::unique_ptr<pqxx::connection> conn)
    : core_(std::move(core)), conn_(std::move(conn)) {}

Pool::Lease::Lease(Lease&& other) noexcept = default;

Pool::Lease& Pool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Release(false);
    core_ = std::move(other.core_);
    conn_ = std::move(other.conn_);
  }
  return *this;
}

Pool::Lease::~Lease() { Release(false); }

pqxx::connection& Pool::Lease::conn() { return *conn_; }

pqxx::connection* Pool::Lease::operator->() { return conn_.get(); }

void Pool::Lease::Discard() { Release(true); }

void Pool::Lease::Release(bool discard) {
  if (core_ == nullptr) return;
  std::shared_ptr<Core> core = std::move(core_);
  core_ = nullptr;
  core->Return(std::move(conn_), discard);
}

Pool::Pool(PoolOptions options)
    : options_(std::move(options)), core_(std::make_shared<Lease::Core>(options_)) {}

Pool::~Pool() {
  notifier_.reset();  // sends what is still posted, joins its thread
  core_->Close();
}

absl::StatusOr<std::unique_ptr<Pool>> Pool::Create(PoolOptions options) {
  if (options.size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("pg pool size must be at least 1, got ", options.size));
  }
  if (options.acquire_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("pg pool acquire_timeout must not be negative");
  }
  auto conn = internal::Connect(options.dsn, options.application_name);
  if (!conn.ok()) return conn.status();
  std::unique_ptr<Pool> pool(new Pool(std::move(options)));
  pool->core_->AddIdle(*std::move(conn));
  return pool;
}

absl::StatusOr<Pool::Lease> Pool::Acquire() {
  const absl::Time deadline = absl::Now() + options_.acquire_timeout;
  while (true) {
    std::unique_ptr<pqxx::connection> conn;
    if (!core_->TakeOrReserve(deadline, conn)) {
      return absl::DeadlineExceededError(absl::StrCat(
          "pg pool exhausted: all ", options_.size, " connections stayed in use for ",
          absl::FormatDuration(options_.acquire_timeout),
          " (shorten transactions, or raise PoolOptions.size within the server's max_connections)"));
    }
    if (conn != nullptr) {
      if (internal::LooksHealthy(*conn)) return Lease(core_, std::move(conn));
      // Died while idle (server restart, pg_terminate_backend, idle timeout): drop it and try again.
      log::Warn("dropped a dead idle PostgreSQL connection from the pool",
                {{"application_name", options_.application_name}});
      core_->Return(std::move(conn), /*discard=*/true);
      continue;
    }
    auto opened = internal::Connect(options_.dsn, options_.application_name);
    if (!opened.ok()) {
      core_->FreeSlot();
      return opened.status();
    }
    return Lease(core_, *std::move(opened));
  }
}

const PoolOptions& Pool::options() const { return options_; }

internal::Notifier& Pool::notifier() {
  std::call_once(notifier_once_, [this] {
    notifier_ = std::make_unique<internal::Notifier>(options_.dsn, options_.application_name);
  });
  return *notifier_;
}

}  // namespace crm::pg
