// InTransaction() and StatusFromException() against the real cluster (CRM_TEST_PG_DSN).
#include <array>
#include <atomic>
#include <memory>
#include <pqxx/except>
#include <pqxx/nontransaction>
#include <pqxx/notification>
#include <pqxx/subtransaction>
#include <pqxx/result>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status.h"
#include "libs/pg/notifier.h"
#include "libs/pg/notify.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"

namespace crm::pg {
namespace {

using ::testing::HasSubstr;
using testing::TempDatabase;
using Isolation = TxOptions::Isolation;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

class TransactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = TempDatabase::Create("tx");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    auto pool = Pool::Create({.dsn = db_->dsn(), .size = 2, .acquire_timeout = absl::Seconds(30)});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
    Exec(R"sql(
      CREATE TABLE parent (id int PRIMARY KEY);
      CREATE TABLE item (
        id        int  PRIMARY KEY,
        parent_id int  REFERENCES parent (id),
        qty       int  NOT NULL CONSTRAINT item_qty_positive CHECK (qty > 0),
        email     text CONSTRAINT item_email_key UNIQUE
      );
      CREATE TABLE oncall (id int PRIMARY KEY, v int NOT NULL);
      INSERT INTO oncall VALUES (1, 0), (2, 0);
      INSERT INTO parent VALUES (1);
    )sql");
  }

  // Runs SQL on a connection of its own, outside any pool.
  pqxx::result Exec(const std::string& sql) {
    pqxx::connection conn(db_->dsn());
    pqxx::nontransaction tx(conn);
    return tx.exec(sql);
  }

  int Count(const std::string& table) { return Exec("SELECT count(*) FROM " + table)[0][0].as<int>(); }

  // The status of running `sql` in a transaction.
  absl::Status Run(const std::string& sql) {
    return InTransaction(*pool_, [&](pqxx::work& tx) {
      tx.exec(sql);
      return absl::OkStatus();
    });
  }

  std::unique_ptr<TempDatabase> db_;
  std::unique_ptr<Pool> pool_;
};

TEST_F(TransactionTest, CommitsWhenFnReturnsOk) {
  const absl::Status s = InTransaction(*pool_, [](pqxx::work& tx) {
    tx.exec0("INSERT INTO item (id, qty) VALUES (1, 5)");
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(Count("item"), 1);
}

TEST_F(TransactionTest, RollsBackAndReturnsFnsStatusWhenFnFails) {
  int attempts = 0;
  const absl::Status s = InTransaction(*pool_, [&](pqxx::work& tx) {
    ++attempts;
    tx.exec0("INSERT INTO item (id, qty) VALUES (1, 5)");
    return absl::NotFoundError("no such deal");
  });
  EXPECT_EQ(s, absl::NotFoundError("no such deal"));
  EXPECT_EQ(attempts, 1);
  EXPECT_EQ(Count("item"), 0);
}

TEST_F(TransactionTest, ExceptionFromFnBecomesStatusAndRollsBack) {
  const absl::Status s = InTransaction(*pool_, [](pqxx::work& tx) -> absl::Status {
    tx.exec0("INSERT INTO item (id, qty) VALUES (1, 5)");
    throw std::runtime_error("handler bug");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(Message(s), HasSubstr("handler bug"));
  EXPECT_EQ(Count("item"), 0);
}

TEST_F(TransactionTest, AppliesIsolationAndReadOnly) {
  std::string isolation, read_only;
  auto show = [&](pqxx::work& tx) {
    isolation = tx.exec1("SHOW transaction_isolation")[0].as<std::string>();
    read_only = tx.exec1("SHOW transaction_read_only")[0].as<std::string>();
    return absl::OkStatus();
  };
  ASSERT_TRUE(InTransaction(*pool_, show).ok());
  EXPECT_EQ(isolation, "read committed");
  EXPECT_EQ(read_only, "off");
  ASSERT_TRUE(InTransaction(*pool_, show, {.isolation = Isolation::kRepeatableRead}).ok());
  EXPECT_EQ(isolation, "repeatable read");
  ASSERT_TRUE(InTransaction(*pool_, show, {.isolation = Isolation::kSerializable, .read_only = true}).ok());
  EXPECT_EQ(isolation, "serializable");
  EXPECT_EQ(read_only, "on");

  const absl::Status write = InTransaction(*pool_,
                                           [](pqxx::work& tx) {
                                             tx.exec0("INSERT INTO item (id, qty) VALUES (1, 5)");
                                             return absl::OkStatus();
                                           },
                                           {.read_only = true});
  EXPECT_FALSE(write.ok());
  EXPECT_EQ(SqlState(write), "25006");  // read_only_sql_transaction
  EXPECT_EQ(Count("item"), 0);
}

// Classic write skew: each transaction reads both rows and writes one. Run serially the result is {1, 2} in
// some order (sum 3); run concurrently without serializable isolation both would write 1 (sum 2).
class WriteSkew {
 public:
  explicit WriteSkew(Pool& pool) : pool_(pool) {}

  // Runs the two transactions at once, both reading before either writes.
  std::array<absl::Status, 2> Run(int max_attempts) {
    std::array<absl::Status, 2> result;
    std::thread t0([&] { result[0] = One(0, max_attempts); });
    std::thread t1([&] { result[1] = One(1, max_attempts); });
    t0.join();
    t1.join();
    return result;
  }
  int attempts() const { return attempts_[0] + attempts_[1]; }

 private:
  absl::Status One(int k, int max_attempts) {
    return InTransaction(pool_,
                         [&](pqxx::work& tx) {
                           const int attempt = ++attempts_[k];
                           const int sum = tx.exec1("SELECT sum(v) FROM oncall")[0].as<int>();
                           if (attempt == 1) {  // Only the first round is forced to overlap.
                             read_[k].Notify();
                             if (!read_[1 - k].WaitForNotificationWithTimeout(absl::Seconds(30))) {
                               return absl::DeadlineExceededError("the other transaction never read");
                             }
                           }
                           tx.exec_params0("UPDATE oncall SET v = $1 WHERE id = $2", sum + 1, k + 1);
                           return absl::OkStatus();
                         },
                         {.isolation = Isolation::kSerializable, .max_attempts = max_attempts});
  }

  Pool& pool_;
  std::array<std::atomic<int>, 2> attempts_{};
  std::array<absl::Notification, 2> read_;
};

TEST_F(TransactionTest, SerializationConflictIsRealWithoutRetries) {
  WriteSkew skew(*pool_);
  const std::array<absl::Status, 2> s = skew.Run(/*max_attempts=*/1);
  EXPECT_NE(s[0].ok(), s[1].ok()) << s[0] << " / " << s[1];
  const absl::Status& failed = s[0].ok() ? s[1] : s[0];
  EXPECT_EQ(failed.code(), absl::StatusCode::kAborted) << failed;
  EXPECT_EQ(SqlState(failed), "40001");
  EXPECT_EQ(Exec("SELECT sum(v) FROM oncall")[0][0].as<int>(), 1);
}

TEST_F(TransactionTest, SerializationConflictIsRetriedToTheSerialResult) {
  WriteSkew skew(*pool_);
  const std::array<absl::Status, 2> s = skew.Run(/*max_attempts=*/5);
  ASSERT_TRUE(s[0].ok()) << s[0];
  ASSERT_TRUE(s[1].ok()) << s[1];
  EXPECT_GE(skew.attempts(), 3);  // At least one of them ran again.
  const pqxx::result rows = Exec("SELECT v FROM oncall ORDER BY v");
  EXPECT_EQ(rows[0][0].as<int>(), 1);
  EXPECT_EQ(rows[1][0].as<int>(), 2);
}

TEST_F(TransactionTest, DeadlockIsRetried) {
  std::array<std::atomic<int>, 2> attempts{};
  std::array<absl::Notification, 2> locked;
  auto one = [&](int k) {
    return InTransaction(*pool_, [&](pqxx::work& tx) {
      const int attempt = ++attempts[k];
      tx.exec0("SET LOCAL deadlock_timeout = '20ms'");
      tx.exec_params0("UPDATE oncall SET v = v + 1 WHERE id = $1", k + 1);
      if (attempt == 1) {
        locked[k].Notify();
        if (!locked[1 - k].WaitForNotificationWithTimeout(absl::Seconds(30))) {
          return absl::DeadlineExceededError("the other transaction never locked");
        }
      }
      tx.exec_params0("UPDATE oncall SET v = v + 10 WHERE id = $1", 2 - k);  // The other's row: a cycle.
      return absl::OkStatus();
    });
  };
  absl::Status s0, s1;
  std::thread t0([&] { s0 = one(0); });
  std::thread t1([&] { s1 = one(1); });
  t0.join();
  t1.join();
  ASSERT_TRUE(s0.ok()) << s0;
  ASSERT_TRUE(s1.ok()) << s1;
  EXPECT_EQ(attempts[0] + attempts[1], 3);
  EXPECT_EQ(Exec("SELECT sum(v) FROM oncall")[0][0].as<int>(), 22);
}

TEST_F(TransactionTest, ConflictStatusReturnedByFnIsRetriedToo) {
  int attempts = 0;
  const absl::Status s = InTransaction(*pool_, [&](pqxx::work& tx) {
    if (++attempts == 1) {
      try {
        throw pqxx::serialization_failure("could not serialize access");
      } catch (const std::exception& e) {
        return StatusFromException(e);  // fn converted it itself.
      }
    }
    tx.exec0("INSERT INTO item (id, qty) VALUES (1, 5)");
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(attempts, 2);
}

TEST_F(TransactionTest, GivesUpAfterMaxAttempts) {
  int attempts = 0;
  const absl::Status s = InTransaction(*pool_,
                                       [&](pqxx::work&) -> absl::Status {
                                         ++attempts;
                                         throw pqxx::deadlock_detected("deadlock detected");
                                       },
                                       {.max_attempts = 3});
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(SqlState(s), "40P01");
  EXPECT_THAT(Message(s), HasSubstr("after 3 attempts"));
  EXPECT_EQ(attempts, 3);
}

TEST_F(TransactionTest, ConnectionBrokenBeforeCommitIsRetriedOnAFreshConnection) {
  auto pool = Pool::Create({.dsn = db_->dsn(), .size = 1, .acquire_timeout = absl::Seconds(5)});
  ASSERT_TRUE(pool.ok()) << pool.status();
  int attempts = 0;
  int first_pid = 0, last_pid = 0;
  const absl::Status s = InTransaction(**pool, [&](pqxx::work& tx) {
    last_pid = tx.conn().backendpid();
    tx.exec0("INSERT INTO item (id, qty) VALUES (1, 5)");
    if (++attempts == 1) {
      first_pid = last_pid;
      tx.exec("SELECT pg_terminate_backend(pg_backend_pid())");  // The server drops us mid-transaction.
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(attempts, 2);
  EXPECT_NE(first_pid, last_pid);
  EXPECT_EQ(Count("item"), 1);
}

// ReadOnce sends the statement alone (no transaction block around it) and reads again on a fresh
// connection when the first one broke.
TEST_F(TransactionTest, ReadOnceRunsOutsideATransactionBlockAndRetriesABrokenConnection) {
  std::string in_block;
  ASSERT_TRUE(ReadOnce(*pool_, [&](pqxx::transaction_base& tx) {
                // now() is the transaction's start; in a block of its own it equals the statement's.
                in_block = tx.exec1("SELECT now() <> statement_timestamp()")[0].as<std::string>();
                return absl::OkStatus();
              }).ok());
  EXPECT_EQ(in_block, "f");

  auto pool = Pool::Create({.dsn = db_->dsn(), .size = 1, .acquire_timeout = absl::Seconds(5)});
  ASSERT_TRUE(pool.ok()) << pool.status();
  int attempts = 0;
  int first_pid = 0, last_pid = 0;
  int parents = 0;
  const absl::Status s = ReadOnce(**pool, [&](pqxx::transaction_base& tx) -> absl::Status {
    last_pid = tx.conn().backendpid();
    if (++attempts == 1) {
      first_pid = last_pid;
      tx.exec("SELECT pg_terminate_backend(pg_backend_pid())");
    }
    parents = tx.exec1("SELECT count(*) FROM parent")[0].as<int>();
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(attempts, 2);
  EXPECT_NE(first_pid, last_pid);
  EXPECT_EQ(parents, 1);
}

TEST_F(TransactionTest, ConnectionVariantDoesNotRetryABrokenConnection) {
  pqxx::connection conn(db_->dsn());
  int attempts = 0;
  const absl::Status s = InTransaction(conn, [&](pqxx::work& tx) {
    ++attempts;
    tx.exec("SELECT pg_terminate_backend(pg_backend_pid())");
    return absl::OkStatus();
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(attempts, 1);
}

TEST_F(TransactionTest, ConnectionVariantCommitsAndRetriesConflicts) {
  pqxx::connection conn(db_->dsn());
  int attempts = 0;
  const absl::Status s = InTransaction(conn, [&](pqxx::work& tx) -> absl::Status {
    if (++attempts == 1) throw pqxx::serialization_failure("could not serialize access");
    tx.exec0("INSERT INTO item (id, qty) VALUES (1, 5)");
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(Count("item"), 1);
}

// --- NotifyAfterCommit (notify.h) -------------------------------------------------------------------

// A connection LISTENing on crm_test: what arrived, and the items it saw once woken.
class Listener final : public pqxx::notification_receiver {
 public:
  explicit Listener(pqxx::connection& c) : pqxx::notification_receiver(c, "crm_test"), conn_(c) {}
  void operator()(const std::string&, int) override { ++received; }
  // Takes what arrived, waiting up to `seconds` for the first; then reads how many items there are.
  void Collect(int seconds) {
    if (conn_.get_notifs() == 0 && seconds > 0) conn_.await_notification(seconds, 0);
    while (conn_.get_notifs() > 0) {
    }
    if (received == 0) return;
    pqxx::nontransaction tx(conn_);
    items_seen = tx.exec("SELECT count(*) FROM item")[0][0].as<int>();
  }
  int received = 0;
  int items_seen = -1;

 private:
  pqxx::connection& conn_;
};

TEST_F(TransactionTest, NotifyAfterCommitWakesListenersOnceWithTheRowsCommitted) {
  pqxx::connection listen(db_->dsn());
  Listener listener(listen);
  const absl::Status s = InTransaction(*pool_, [&](pqxx::work& tx) {
    tx.exec0("INSERT INTO item (id, qty) VALUES (1, 5)");
    NotifyAfterCommit(tx, "crm_test");
    {
      pqxx::subtransaction sub(tx);  // a subtransaction counts as its transaction: still once
      NotifyAfterCommit(sub, "crm_test");
      sub.commit();
    }
    NotifyAfterCommit(tx, "crm_test");
    listener.Collect(0);
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(listener.received, 0) << "notified before the commit";
  listener.Collect(10);
  EXPECT_EQ(listener.received, 1);
  EXPECT_EQ(listener.items_seen, 1);  // woken, the listener sees the committed row
}

TEST_F(TransactionTest, NotifyAfterCommitSendsNothingForARollbackAndOnceForARetriedTransaction) {
  pqxx::connection listen(db_->dsn());
  Listener listener(listen);
  absl::Status s = InTransaction(*pool_, [&](pqxx::work& tx) {
    tx.exec0("INSERT INTO item (id, qty) VALUES (1, 5)");
    NotifyAfterCommit(tx, "crm_test");
    return absl::NotFoundError("changed my mind");
  });
  ASSERT_EQ(s.code(), absl::StatusCode::kNotFound);
  int attempts = 0;
  s = InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
    ++attempts;
    tx.exec0("INSERT INTO item (id, qty) VALUES (2, 5)");
    NotifyAfterCommit(tx, "crm_test");
    if (attempts == 1) throw pqxx::serialization_failure("could not serialize access");
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(attempts, 2);
  listener.Collect(10);
  listener.Collect(0);
  EXPECT_EQ(listener.received, 1);
  EXPECT_EQ(listener.items_seen, 1);
}

TEST_F(TransactionTest, NotifyAfterCommitCoalescesABurstAndTheLastSendFollowsTheLastCommit) {
  pqxx::connection listen(db_->dsn());
  Listener listener(listen);
  constexpr int kThreads = 8, kEach = 50;
  auto pool = Pool::Create({.dsn = db_->dsn(), .size = kThreads, .acquire_timeout = absl::Seconds(30)});
  ASSERT_TRUE(pool.ok()) << pool.status();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const absl::Status s = InTransaction(**pool, [&](pqxx::work& tx) {
          tx.exec_params0("INSERT INTO item (id, qty) VALUES ($1, 1)", t * kEach + i + 1);
          NotifyAfterCommit(tx, "crm_test");
          return absl::OkStatus();
        });
        ASSERT_TRUE(s.ok()) << s;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  // Every commit is followed by a send: woken by the last one, the listener sees every row.
  while (listener.items_seen < kThreads * kEach) {
    const int before = listener.received;
    listener.Collect(10);
    ASSERT_GT(listener.received, before) << "no NOTIFY after the last commits: " << listener.items_seen << " rows seen";
  }
  EXPECT_EQ(listener.items_seen, kThreads * kEach);
  // Concurrent commits shared sends: fewer than one per commit (one connection, one send at a time).
  EXPECT_LT((*pool)->notifier().sends(), kThreads * kEach);
  EXPECT_GE((*pool)->notifier().sends(), 1);
}

TEST_F(TransactionTest, NotifyAfterCommitOutsideInTransactionNotifiesAtThatCommit) {
  pqxx::connection listen(db_->dsn());
  Listener listener(listen);
  pqxx::connection c(db_->dsn());
  {
    pqxx::work tx(c);
    tx.exec0("INSERT INTO item (id, qty) VALUES (1, 5)");
    NotifyAfterCommit(tx, "crm_test");
    tx.commit();
  }
  listener.Collect(10);
  EXPECT_EQ(listener.received, 1);
  EXPECT_EQ(listener.items_seen, 1);
}

TEST_F(TransactionTest, ServerErrorsMapToCanonicalCodes) {
  ASSERT_TRUE(Run("INSERT INTO item (id, qty, email) VALUES (1, 1, 'a@example.com')").ok());

  const absl::Status unique = Run("INSERT INTO item (id, qty, email) VALUES (2, 1, 'a@example.com')");
  EXPECT_EQ(unique.code(), absl::StatusCode::kAlreadyExists) << unique;
  EXPECT_THAT(Message(unique), HasSubstr("item_email_key"));
  EXPECT_EQ(SqlState(unique), "23505");

  const absl::Status fk = Run("INSERT INTO item (id, qty, parent_id) VALUES (3, 1, 42)");
  EXPECT_EQ(fk.code(), absl::StatusCode::kFailedPrecondition) << fk;
  EXPECT_THAT(Message(fk), HasSubstr("item_parent_id_fkey"));
  EXPECT_EQ(SqlState(fk), "23503");

  const absl::Status check = Run("INSERT INTO item (id, qty) VALUES (4, 0)");
  EXPECT_EQ(check.code(), absl::StatusCode::kFailedPrecondition) << check;
  EXPECT_THAT(Message(check), HasSubstr("item_qty_positive"));
  EXPECT_EQ(SqlState(check), "23514");

  const absl::Status not_null = Run("INSERT INTO item (id, qty) VALUES (5, NULL)");
  EXPECT_EQ(not_null.code(), absl::StatusCode::kFailedPrecondition) << not_null;
  EXPECT_THAT(Message(not_null), HasSubstr("qty"));
  EXPECT_EQ(SqlState(not_null), "23502");

  const absl::Status bad_input = InTransaction(*pool_, [](pqxx::work& tx) {
    tx.exec_params0("INSERT INTO item (id, qty) VALUES (6, $1::int)", std::string("twelve"));
    return absl::OkStatus();
  });
  EXPECT_EQ(bad_input.code(), absl::StatusCode::kInvalidArgument) << bad_input;
  EXPECT_THAT(Message(bad_input), HasSubstr("twelve"));
  EXPECT_EQ(SqlState(bad_input), "22P02");

  const absl::Status timeout = Run("SET LOCAL statement_timeout = '50ms'; SELECT pg_sleep(30)");
  EXPECT_EQ(timeout.code(), absl::StatusCode::kDeadlineExceeded) << timeout;
  EXPECT_EQ(SqlState(timeout), "57014");

  const absl::Status syntax = Run("SELEKT 1");
  EXPECT_EQ(syntax.code(), absl::StatusCode::kInternal) << syntax;
  EXPECT_EQ(SqlState(syntax), "42601");

  // What a client is told instead (issue 15): plain words, none of PostgreSQL's.
  EXPECT_EQ(PublicMessage(unique), "a record with these values already exists");
  EXPECT_THAT(PublicMessage(fk).value_or(""), HasSubstr("conflicts with the stored data"));
  EXPECT_EQ(PublicMessage(bad_input), "a value is outside what can be stored");
  EXPECT_EQ(PublicMessage(syntax), "internal error");
  for (const absl::Status& s : {unique, fk, check, not_null, bad_input, timeout, syntax}) {
    EXPECT_THAT(PublicMessage(s).value_or("none"), ::testing::Not(HasSubstr("item"))) << s;
  }

  EXPECT_EQ(Count("item"), 1);
}

}  // namespace
}  // namespace crm::pg
