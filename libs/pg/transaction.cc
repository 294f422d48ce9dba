// InTransaction() and the libpqxx/PostgreSQL error → absl::Status mapping (declared in pool.h).
#include <algorithm>
#include <pqxx/except>
#include <pqxx/nontransaction>
#include <string>
#include <string_view>
#include <vector>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/log/log.h"
#include "libs/pg/notifier.h"
#include "libs/pg/notify.h"
#include "libs/pg/pool.h"

namespace crm::pg {
namespace {

constexpr std::string_view kSerializationFailure = "40001";
constexpr std::string_view kDeadlockDetected = "40P01";

// PostgreSQL's text on one line: "ERROR:  x\nDETAIL:  y\n" → "x; DETAIL: y".
std::string OneLine(std::string_view what) {
  for (std::string_view severity : {"ERROR:  ", "FATAL:  ", "PANIC:  "}) {
    if (what.substr(0, severity.size()) == severity) {
      what.remove_prefix(severity.size());
      break;
    }
  }
  while (!what.empty() && (what.back() == '\n' || what.back() == ' ' || what.back() == '\r')) {
    what.remove_suffix(1);
  }
  std::string out;
  out.reserve(what.size());
  for (size_t i = 0; i < what.size(); ++i) {
    if (what[i] == '\n') {
      out += "; ";
      continue;
    }
    // "DETAIL:  x" → "DETAIL: x" (libpq pads field labels with two spaces).
    if (what[i] == ' ' && i > 0 && what[i - 1] == ':' && i + 1 < what.size() && what[i + 1] == ' ') continue;
    out.push_back(what[i]);
  }
  return out.empty() ? "unknown PostgreSQL error" : out;
}

absl::StatusCode CodeForSqlState(std::string_view s) {
  auto cls = [&s](std::string_view c) { return s.substr(0, 2) == c; };
  if (s == "23505") return absl::StatusCode::kAlreadyExists;
  if (cls("23")) return absl::StatusCode::kFailedPrecondition;
  if (cls("22")) return absl::StatusCode::kInvalidArgument;
  if (s == "40003") return absl::StatusCode::kUnavailable;
  if (cls("40") || s == "55P03") return absl::StatusCode::kAborted;
  if (cls("08") || s == "57P01" || s == "57P02" || s == "57P03") return absl::StatusCode::kUnavailable;
  if (s == "57014") return absl::StatusCode::kDeadlineExceeded;
  if (cls("53")) return absl::StatusCode::kResourceExhausted;
  return absl::StatusCode::kInternal;
}

// What a client is told instead of PostgreSQL's words (which name constraints and quote values): by
// SQLSTATE class, in plain terms (see WithPublicMessage in libs/base/status.h).
std::string_view PublicText(absl::StatusCode code, std::string_view s) {
  auto cls = [&s](std::string_view c) { return s.substr(0, 2) == c; };
  if (s == "23505") return "a record with these values already exists";
  if (cls("23")) return "the change conflicts with the stored data (a record it refers to is missing, or a rule of the data would break)";
  if (cls("22")) return "a value is outside what can be stored";
  if (s == "40003") return "the outcome of the change is unknown (the database connection was lost); check before retrying";
  switch (code) {
    case absl::StatusCode::kAborted: return "the change conflicted with a concurrent one; retry";
    case absl::StatusCode::kUnavailable: return "the database is unavailable; retry later";
    case absl::StatusCode::kDeadlineExceeded: return "the database did not answer in time";
    case absl::StatusCode::kResourceExhausted: return "the database is out of resources; retry later";
    default: return "internal error";
  }
}

absl::Status Make(absl::StatusCode code, std::string message, std::string_view sqlstate) {
  absl::Status status(code, message);
  if (!sqlstate.empty()) status.SetPayload(kSqlStatePayload, absl::Cord(AsAbsl(sqlstate)));
  return WithPublicMessage(std::move(status), PublicText(code, sqlstate));
}

bool IsConflict(const absl::Status& status) {
  const std::string s = SqlState(status);
  return s == kSerializationFailure || s == kDeadlockDetected;
}

// What one attempt came to.
struct Attempt {
  absl::Status status;
  bool retryable = false;          // a conflict, or a connection lost before COMMIT was sent
  bool connection_broken = false;  // the connection must not be reused
};

const char* SetTransactionSql(const TxOptions& o) {
  using I = TxOptions::Isolation;
  switch (o.isolation) {
    case I::kReadCommitted:
      return o.read_only ? "SET TRANSACTION READ ONLY" : nullptr;
    case I::kRepeatableRead:
      return o.read_only ? "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
                         : "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ";
    case I::kSerializable:
      return o.read_only ? "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY"
                         : "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE";
  }
  return nullptr;
}

absl::Status InDoubt(std::string_view detail) {
  return Make(absl::StatusCode::kUnavailable, absl::StrCat(
      "the connection was lost while committing: the transaction's outcome is unknown (it may or "
      "may not have been committed; check before retrying): ",
      OneLine(detail)), "40003");
}

absl::Status LoggedInDoubt(std::string_view detail) {
  absl::Status status = InDoubt(detail);
  log::Error("PostgreSQL commit outcome unknown", {{"status", status}});
  return status;
}

// The channels NotifyAfterCommit asked for in the transaction RunOnce runs on this thread (notify.h);
// scopes nest when a transaction's function runs another InTransaction.
// Matched by connection, so a subtransaction of the transaction counts as it.
struct AfterCommit {
  const pqxx::connection_base* conn;
  AfterCommit* outer;
  std::vector<std::string> channels;
};
thread_local AfterCommit* after_commit = nullptr;

class AfterCommitScope {
 public:
  AfterCommitScope() : scope_{nullptr, after_commit, {}} { after_commit = &scope_; }
  ~AfterCommitScope() { after_commit = scope_.outer; }
  void Watch(const pqxx::connection_base& conn) { scope_.conn = &conn; }
  AfterCommitScope(const AfterCommitScope&) = delete;
  AfterCommitScope& operator=(const AfterCommitScope&) = delete;

  // The channels asked for (moved out: the caller posts them to its pool's notifier).
  std::vector<std::string> Take() { return std::move(scope_.channels); }

  // The NOTIFYs, on `conn` outside a transaction; a failure is logged (the commit stands).
  void Send(pqxx::connection& conn) {
    if (scope_.channels.empty()) return;
    std::string sql;
    for (const std::string& c : scope_.channels) absl::StrAppend(&sql, "NOTIFY ", c, ";");
    try {
      pqxx::nontransaction n(conn);
      n.exec(sql);
    } catch (const std::exception& e) {
      log::Warn("NOTIFY after commit failed; listeners find the change at their next poll",
                   {{"error", OneLine(e.what())}});
    }
  }

 private:
  AfterCommit scope_;
};

// Runs one attempt. Never throws. After a commit the NOTIFYs asked for go to `notifier` (a pool's) when
// given, else on `conn` at once.
Attempt RunOnce(pqxx::connection& conn, absl::FunctionRef<absl::Status(pqxx::work&)> fn,
                const TxOptions& options, internal::Notifier* notifier = nullptr) {
  Attempt out;
  bool commit_sent = false;
  try {
    AfterCommitScope notify;  // outlives tx: the NOTIFYs go once tx is gone
    {
      pqxx::work tx(conn);
      notify.Watch(conn);
      if (const char* set = SetTransactionSql(options)) tx.exec(set);
      absl::Status status = fn(tx);
      if (!status.ok()) {
        try {
          tx.abort();
        } catch (const std::exception&) {
          // The connection went away: the server rolls back on its own.
        }
        out.connection_broken = !conn.is_open();
        out.retryable = IsConflict(status) || out.connection_broken;
        out.status = std::move(status);
        return out;
      }
      commit_sent = true;
      tx.commit();
    }
    if (notifier != nullptr) {
      notifier->Post(notify.Take());
    } else {
      notify.Send(conn);
    }
    return out;
  } catch (const pqxx::in_doubt_error& e) {
    out.status = LoggedInDoubt(e.what());
    out.connection_broken = true;
    return out;
  } catch (const pqxx::serialization_failure& e) {
    out.status = StatusFromException(e);  // The server rolled back, even when raised by COMMIT.
    out.retryable = true;
  } catch (const pqxx::deadlock_detected& e) {
    out.status = StatusFromException(e);
    out.retryable = true;
  } catch (const pqxx::broken_connection& e) {
    out.status = commit_sent ? LoggedInDoubt(e.what()) : StatusFromException(e);
    out.retryable = !commit_sent;
  } catch (const std::exception& e) {
    out.status = StatusFromException(e);
    out.retryable = IsConflict(out.status);
  } catch (...) {
    out.status = absl::InternalError("non-standard exception thrown inside a transaction");
  }
  out.connection_broken = !conn.is_open();
  // fn may have swallowed a broken_connection and thrown something else: still safe to retry before COMMIT.
  if (out.connection_broken && !commit_sent) out.retryable = true;
  return out;
}

// Logs the retry, then waits with full-jitter exponential backoff: uniform in (0, min(100ms, 2ms *
// 2^(attempt-1))].
void Backoff(int attempt, int max_attempts, const absl::Status& why) {
  log::Info("retrying PostgreSQL transaction", {{"attempt", attempt + 1},
                                                {"max_attempts", max_attempts},
                                                {"sqlstate", SqlState(why)},
                                                {"reason", why}});
  static thread_local absl::BitGen gen;
  const absl::Duration cap =
      std::min(absl::Milliseconds(100), absl::Milliseconds(2) * (1 << std::min(attempt - 1, 10)));
  absl::SleepFor(absl::Microseconds(
      absl::Uniform<int64_t>(absl::IntervalOpenClosed, gen, 0, absl::ToInt64Microseconds(cap))));
}

absl::Status WithAttempts(absl::Status status, int attempts) {
  if (attempts <= 1 || status.ok()) return status;
  absl::Status out(status.code(), absl::StrCat(status.message(), " (after ", attempts, " attempts)"));
  status.ForEachPayload([&out](absl::string_view url, const absl::Cord& p) { out.SetPayload(url, p); });
  return out;
}

}  // namespace

void NotifyAfterCommit(pqxx::transaction_base& tx, const char* channel) {
  for (AfterCommit* s = after_commit; s != nullptr; s = s->outer) {
    if (s->conn != &tx.conn()) continue;
    for (const std::string& c : s->channels) {
      if (c == channel) return;
    }
    s->channels.emplace_back(channel);
    return;
  }
  tx.exec_params("SELECT pg_notify($1, '')", channel);  // not InTransaction's: delivered at tx's commit
}

absl::Status InTransaction(Pool& pool, absl::FunctionRef<absl::Status(pqxx::work&)> fn,
                           const TxOptions& options) {
  const int max_attempts = std::max(1, options.max_attempts);
  for (int attempt = 1;; ++attempt) {
    Attempt result;
    {
      absl::StatusOr<Pool::Lease> lease = pool.Acquire();
      if (!lease.ok()) return lease.status();
      result = RunOnce(lease->conn(), fn, options, &pool.notifier());
      if (result.connection_broken) lease->Discard();
    }  // The connection goes back to the pool before any backoff.
    if (result.status.ok() || !result.retryable || attempt >= max_attempts) {
      return WithAttempts(std::move(result.status), attempt);
    }
    Backoff(attempt, max_attempts, result.status);
  }
}

absl::Status ReadOnce(Pool& pool, absl::FunctionRef<absl::Status(pqxx::transaction_base&)> fn) {
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<Pool::Lease> lease = pool.Acquire();
    if (!lease.ok()) return lease.status();
    absl::Status status;
    try {
      pqxx::nontransaction tx(lease->conn());
      status = fn(tx);
    } catch (const std::exception& e) {
      status = StatusFromException(e);
    }
    if (lease->conn().is_open()) return status;
    lease->Discard();
    if (status.ok() || attempt >= 2) return status;
  }
}

absl::Status InTransaction(pqxx::connection& conn, absl::FunctionRef<absl::Status(pqxx::work&)> fn,
                           const TxOptions& options) {
  const int max_attempts = std::max(1, options.max_attempts);
  for (int attempt = 1;; ++attempt) {
    Attempt result = RunOnce(conn, fn, options);
    const bool retry = result.retryable && !result.connection_broken;
    if (result.status.ok() || !retry || attempt >= max_attempts) {
      return WithAttempts(std::move(result.status), attempt);
    }
    Backoff(attempt, max_attempts, result.status);
  }
}

absl::Status StatusFromException(const std::exception& e) {
  const std::string text = OneLine(e.what());
  // libpqxx 6 keeps the SQLSTATE only on sql_error; for the classes it turns into other exception types the
  // type tells the state.
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) return InDoubt(e.what());
  if (dynamic_cast<const pqxx::too_many_connections*>(&e) != nullptr) {
    return Make(absl::StatusCode::kResourceExhausted, text, "53300");
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return Make(absl::StatusCode::kUnavailable, absl::StrCat("connection to PostgreSQL lost: ", text), "");
  }
  if (dynamic_cast<const pqxx::serialization_failure*>(&e) != nullptr) {
    return Make(absl::StatusCode::kAborted, text, kSerializationFailure);
  }
  if (dynamic_cast<const pqxx::deadlock_detected*>(&e) != nullptr) {
    return Make(absl::StatusCode::kAborted, text, kDeadlockDetected);
  }
  if (dynamic_cast<const pqxx::statement_completion_unknown*>(&e) != nullptr) {
    return Make(absl::StatusCode::kUnavailable, absl::StrCat("statement outcome unknown: ", text), "40003");
  }
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr) {
    return Make(absl::StatusCode::kAborted, text, "40000");
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e); sql != nullptr) {
    const std::string& state = sql->sqlstate();
    return Make(state.empty() ? absl::StatusCode::kInternal : CodeForSqlState(state), text, state);
  }
  return Make(absl::StatusCode::kInternal, text, "");
}

std::string SqlState(const absl::Status& status) {
  const auto payload = status.GetPayload(kSqlStatePayload);  // absl::optional: not std:: in this Abseil.
  return payload.has_value() ? std::string(*payload) : std::string();
}

}  // namespace crm::pg
