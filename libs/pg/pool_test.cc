// Pool against the real cluster (CRM_TEST_PG_DSN): bounded concurrency, exhaustion, dead connections,
// bad DSNs.
#include "libs/pg/pool.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <pqxx/except>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/pg/conninfo.h"
#include "libs/pg/testing.h"

namespace crm::pg {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::TempDatabase;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

std::unique_ptr<TempDatabase> NewDatabase() {
  auto db = TempDatabase::Create("pool");
  if (!db.ok()) {
    ADD_FAILURE() << db.status();
    return nullptr;
  }
  return *std::move(db);
}

std::unique_ptr<Pool> NewPool(const TempDatabase& db, int size, absl::Duration timeout,
                              std::string application_name = "crm-pg-pool-test") {
  auto pool = Pool::Create({.dsn = db.dsn(),
                            .size = size,
                            .acquire_timeout = timeout,
                            .application_name = std::move(application_name)});
  if (!pool.ok()) {
    ADD_FAILURE() << pool.status();
    return nullptr;
  }
  return *std::move(pool);
}

// Runs a real round trip; throws if the connection is unusable.
int QueryBackendPid(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  return tx.exec1("SELECT pg_backend_pid()")[0].as<int>();
}

TEST(PoolTest, ConcurrentAcquiresBeyondSizeAllSucceedInTurn) {
  auto db = NewDatabase();
  ASSERT_NE(db, nullptr);
  constexpr int kSize = 2;
  constexpr int kThreads = 8;
  auto pool = NewPool(*db, kSize, absl::Seconds(30));
  ASSERT_NE(pool, nullptr);

  std::atomic<int> started{0}, holders{0}, max_holders{0}, ok{0};
  absl::Notification all_started, saturated;
  std::atomic<bool> saturated_once{false};
  std::mutex mu;
  std::set<int> pids;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      if (started.fetch_add(1) + 1 == kThreads) all_started.Notify();
      absl::StatusOr<Pool::Lease> lease = pool->Acquire();
      if (!lease.ok()) {
        ADD_FAILURE() << lease.status();
        return;
      }
      const int now = holders.fetch_add(1) + 1;
      for (int seen = max_holders.load(); now > seen && !max_holders.compare_exchange_weak(seen, now);) {
      }
      if (now == kSize && !saturated_once.exchange(true)) saturated.Notify();
      const int pid = QueryBackendPid(lease->conn());
      {
        std::lock_guard<std::mutex> lock(mu);
        pids.insert(pid);
      }
      // The first holders keep their connection until the pool is full and every thread competes for one.
      EXPECT_TRUE(saturated.WaitForNotificationWithTimeout(absl::Seconds(30)));
      EXPECT_TRUE(all_started.WaitForNotificationWithTimeout(absl::Seconds(30)));
      holders.fetch_sub(1);
      ok.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads);
  EXPECT_EQ(max_holders.load(), kSize);  // Never more than `size` at once, and the pool did fill up.
  EXPECT_LE(pids.size(), static_cast<size_t>(kSize));
}

TEST(PoolTest, ExhaustedPoolReturnsDeadlineExceededAfterTheTimeout) {
  auto db = NewDatabase();
  ASSERT_NE(db, nullptr);
  const absl::Duration timeout = absl::Milliseconds(50);
  auto pool = NewPool(*db, 1, timeout);
  ASSERT_NE(pool, nullptr);
  {
    absl::StatusOr<Pool::Lease> held = pool->Acquire();
    ASSERT_TRUE(held.ok()) << held.status();

    const absl::Time start = absl::Now();
    absl::StatusOr<Pool::Lease> second = pool->Acquire();
    const absl::Duration waited = absl::Now() - start;
    ASSERT_EQ(second.status().code(), absl::StatusCode::kDeadlineExceeded) << second.status();
    EXPECT_THAT(Message(second.status()), HasSubstr("exhausted"));
    EXPECT_GE(waited, timeout);
    EXPECT_LT(waited, absl::Seconds(5));
  }
  // Returned: available again at once.
  absl::StatusOr<Pool::Lease> again = pool->Acquire();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_GT(QueryBackendPid(again->conn()), 0);
}

TEST(PoolTest, ConnectionKilledWhileIdleIsDroppedAndNextAcquireWorks) {
  auto db = NewDatabase();
  ASSERT_NE(db, nullptr);
  auto pool = NewPool(*db, 1, absl::Seconds(5));
  ASSERT_NE(pool, nullptr);
  int victim = 0;
  {
    absl::StatusOr<Pool::Lease> lease = pool->Acquire();
    ASSERT_TRUE(lease.ok()) << lease.status();
    victim = QueryBackendPid(lease->conn());
  }
  {
    pqxx::connection admin(db->dsn());
    pqxx::nontransaction tx(admin);
    // Waits (up to 5 s) until the backend has exited, so its goodbye is already on the client's socket.
    ASSERT_TRUE(tx.exec_params1("SELECT pg_terminate_backend($1, 5000)", victim)[0].as<bool>());
  }
  absl::StatusOr<Pool::Lease> lease = pool->Acquire();
  ASSERT_TRUE(lease.ok()) << lease.status();
  const int pid = QueryBackendPid(lease->conn());  // Would throw broken_connection on the dead one.
  EXPECT_NE(pid, victim);
}

TEST(PoolTest, ConnectionKilledWhileLeasedIsClosedOnReturnAndFreesItsSlot) {
  auto db = NewDatabase();
  ASSERT_NE(db, nullptr);
  auto pool = NewPool(*db, 1, absl::Milliseconds(50));
  ASSERT_NE(pool, nullptr);
  int victim = 0;
  {
    absl::StatusOr<Pool::Lease> lease = pool->Acquire();
    ASSERT_TRUE(lease.ok()) << lease.status();
    victim = QueryBackendPid(lease->conn());
    {
      pqxx::connection admin(db->dsn());
      pqxx::nontransaction tx(admin);
      ASSERT_TRUE(tx.exec_params1("SELECT pg_terminate_backend($1, 5000)", victim)[0].as<bool>());
    }
    EXPECT_THROW(QueryBackendPid(lease->conn()), pqxx::broken_connection);  // No silent reconnect.
  }
  absl::StatusOr<Pool::Lease> lease = pool->Acquire();  // The slot was freed: no 50 ms timeout.
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_NE(QueryBackendPid(lease->conn()), victim);
}

TEST(PoolTest, DiscardClosesTheConnectionAndFreesItsSlot) {
  auto db = NewDatabase();
  ASSERT_NE(db, nullptr);
  auto pool = NewPool(*db, 1, absl::Milliseconds(50));
  ASSERT_NE(pool, nullptr);
  absl::StatusOr<Pool::Lease> first = pool->Acquire();
  ASSERT_TRUE(first.ok()) << first.status();
  const int discarded = QueryBackendPid(first->conn());
  first->Discard();
  absl::StatusOr<Pool::Lease> second = pool->Acquire();  // `first` still exists, but holds nothing.
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(QueryBackendPid(second->conn()), discarded);
}

TEST(PoolTest, ApplicationNameIsShownInPgStatActivity) {
  auto db = NewDatabase();
  ASSERT_NE(db, nullptr);
  auto pool = NewPool(*db, 1, absl::Seconds(5), "crm-deals-it's");
  ASSERT_NE(pool, nullptr);
  absl::StatusOr<Pool::Lease> lease = pool->Acquire();
  ASSERT_TRUE(lease.ok()) << lease.status();
  pqxx::nontransaction tx(lease->conn());
  EXPECT_EQ(tx.exec1("SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()")[0]
                .as<std::string>(),
            "crm-deals-it's");
}

TEST(PoolTest, BadDsnFailsAtCreateNamingTheDatabaseButNotThePassword) {
  auto db = NewDatabase();
  ASSERT_NE(db, nullptr);
  const std::string password = "Sup3r-Secret-pw";

  // Reachable server, missing database (with the cluster's real credentials, whatever its auth method).
  absl::StatusOr<std::string> dsn = internal::WithConninfoOverrides(db->dsn(), {{"dbname", "crm_no_such_db"}});
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  absl::StatusOr<std::unique_ptr<Pool>> pool = Pool::Create({.dsn = *dsn});
  ASSERT_EQ(pool.status().code(), absl::StatusCode::kUnavailable) << pool.status();
  EXPECT_THAT(Message(pool.status()), HasSubstr("dbname=crm_no_such_db"));
  EXPECT_THAT(Message(pool.status()), HasSubstr("host="));
  EXPECT_THAT(Message(pool.status()), HasSubstr("does not exist"));
  EXPECT_THAT(Message(pool.status()), Not(HasSubstr("password")));

  // Reachable server, wrong password: rejected, and the password is not repeated.
  dsn = internal::WithConninfoOverrides(db->dsn(), {{"password", password}});
  ASSERT_TRUE(dsn.ok()) << dsn.status();
  pool = Pool::Create({.dsn = *dsn});
  ASSERT_FALSE(pool.ok());
  EXPECT_THAT(Message(pool.status()), Not(HasSubstr(password)));

  // URI with the password in it; nothing listens on port 1.
  pool = Pool::Create({.dsn = "postgresql://crm:" + password + "@127.0.0.1:1/crm_nowhere?connect_timeout=5"});
  ASSERT_EQ(pool.status().code(), absl::StatusCode::kUnavailable) << pool.status();
  EXPECT_THAT(Message(pool.status()), HasSubstr("host=127.0.0.1 port=1 dbname=crm_nowhere user=crm"));
  EXPECT_THAT(Message(pool.status()), Not(HasSubstr(password)));

  // Not a conninfo at all: libpq's parse error would echo a piece of it, so it is not shown.
  pool = Pool::Create({.dsn = "host=x password=" + password + " " + password});
  ASSERT_EQ(pool.status().code(), absl::StatusCode::kInvalidArgument) << pool.status();
  EXPECT_THAT(Message(pool.status()), Not(HasSubstr(password)));
}

TEST(PoolTest, RejectsBadOptions) {
  EXPECT_EQ(Pool::Create({.dsn = "dbname=x", .size = 0}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Pool::Create({.dsn = "dbname=x", .acquire_timeout = absl::Seconds(-1)}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crm::pg
