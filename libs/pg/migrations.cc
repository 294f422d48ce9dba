#include "libs/pg/migrations.h"

#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <memory>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "libs/base/status.h"
#include "libs/log/log.h"
#include "libs/pg/conninfo.h"
#include "libs/pg/pool.h"

namespace crm::pg {
namespace {

// Session advisory lock held while migrating ("crmmigr1"). Advisory locks are per database, so services
// sharing a cluster do not wait for each other.
constexpr int64_t kLockKey = 0x63726d6d69677231;

constexpr char kCreateTable[] = R"sql(
CREATE TABLE IF NOT EXISTS crm_schema_migrations (
  component  text        NOT NULL,
  version    int         NOT NULL,
  name       text        NOT NULL,
  checksum   text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (component, version)
))sql";

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

std::string Label(const Migration& m) { return absl::StrCat(m.component, "/", m.name); }

// Checks the list and returns it in application order: components in order of first appearance, then
// versions.
absl::StatusOr<std::vector<const Migration*>> Plan(const std::vector<Migration>& migrations) {
  std::map<std::string, size_t> component_rank;
  std::map<std::pair<std::string, int>, const Migration*> seen;
  for (const Migration& m : migrations) {
    if (m.component.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("migration ", m.name, ": component is empty"));
    }
    if (m.version <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("migration ", Label(m), ": version must be > 0, got ", m.version));
    }
    auto [it, inserted] = seen.emplace(std::make_pair(m.component, m.version), &m);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat("migrations ", Label(*it->second), " and ", Label(m),
                                                     " both have version ", m.version, " in component ",
                                                     m.component));
    }
    component_rank.emplace(m.component, component_rank.size());
  }
  std::vector<const Migration*> plan;
  plan.reserve(migrations.size());
  for (const Migration& m : migrations) plan.push_back(&m);
  std::sort(plan.begin(), plan.end(), [&component_rank](const Migration* a, const Migration* b) {
    const size_t ra = component_rank.at(a->component), rb = component_rank.at(b->component);
    return ra != rb ? ra < rb : a->version < b->version;
  });
  return plan;
}

struct Recorded {
  std::string name;
  std::string checksum;
  std::string applied_at;
};

absl::StatusOr<int> MigrateLocked(pqxx::connection& conn, const std::vector<const Migration*>& plan) {
  {
    pqxx::work tx(conn);
    tx.exec(kCreateTable);
    tx.commit();
  }
  std::map<std::pair<std::string, int>, Recorded> recorded;
  {
    pqxx::work tx(conn);
    for (const auto& row : tx.exec("SELECT component, version, name, checksum, applied_at::text "
                                   "FROM crm_schema_migrations")) {
      recorded[{row[0].as<std::string>(), row[1].as<int>()}] =
          Recorded{row[2].as<std::string>(), row[3].as<std::string>(), row[4].as<std::string>()};
    }
    tx.commit();
  }

  // Refuse to run anything if history was rewritten: list every edited migration at once.
  std::vector<std::string> edited;
  std::vector<std::pair<const Migration*, std::string>> pending;
  for (const Migration* m : plan) {
    const std::string checksum = Sha256Hex(m->sql);
    if (checksum.empty()) return absl::InternalError("SHA-256 failed (OpenSSL EVP_Digest)");
    auto it = recorded.find({m->component, m->version});
    if (it == recorded.end()) {
      pending.emplace_back(m, checksum);
    } else if (it->second.checksum != checksum) {
      edited.push_back(absl::StrCat("migration ", Label(*m), " (component ", m->component, ", version ",
                                    m->version, ", recorded as ", it->second.name,
                                    ") was changed after it was "
                                    "applied at ",
                                    it->second.applied_at, ": recorded sha256 ", it->second.checksum,
                                    ", now ", checksum));
    }
  }
  if (!edited.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(absl::StrJoin(edited, "; "),
                     ". Applied migrations must not be edited: restore the file and add a new "
                     "migration with the change."));
  }

  int applied = 0;
  for (const auto& [m, checksum] : pending) {
    const absl::Time start = absl::Now();
    try {
      pqxx::work tx(conn);
      tx.exec(m->sql);
      tx.exec_params0(
          "INSERT INTO crm_schema_migrations (component, version, name, checksum) VALUES ($1, $2, $3, $4)",
          m->component, m->version, m->name, checksum);
      tx.commit();
    } catch (const std::exception& e) {
      return Annotate(StatusFromException(e),
                      absl::StrCat("applying migration ", Label(*m), " (", applied, " applied before it)"));
    }
    ++applied;
    log::Info("applied migration", {{"component", m->component},
                                    {"version", m->version},
                                    {"name", m->name},
                                    {"took", absl::Now() - start}});
  }
  return applied;
}

}  // namespace

absl::StatusOr<int> Migrate(const std::string& dsn, const std::vector<Migration>& migrations) {
  CRM_ASSIGN_OR_RETURN(std::vector<const Migration*> plan, Plan(migrations));
  CRM_ASSIGN_OR_RETURN(std::unique_ptr<pqxx::connection> conn, internal::Connect(dsn, "crm-migrate"));
  try {
    {
      // Blocks while another replica migrates. Reactivation is off (internal::Connect), so a connection lost
      // while we hold the lock fails the run instead of silently continuing without the lock.
      pqxx::nontransaction tx(*conn);
      if (!tx.exec_params1("SELECT pg_try_advisory_lock($1)", kLockKey)[0].as<bool>()) {
        log::Info("waiting for another process's migrations to finish",
                  {{"database", internal::DescribeConninfo(dsn)}});
        tx.exec_params("SELECT pg_advisory_lock($1)", kLockKey);
      }
    }
    absl::StatusOr<int> result = MigrateLocked(*conn, plan);
    if (result.ok()) {
      pqxx::nontransaction tx(*conn);
      tx.exec_params("SELECT pg_advisory_unlock($1)", kLockKey);
      log::Info(
          "database schema up to date",
          {{"database", internal::DescribeConninfo(dsn)}, {"applied", *result}, {"known", plan.size()}});
    }
    return result;  // On error, closing the connection releases the lock.
  } catch (const std::exception& e) {
    return Annotate(StatusFromException(e), "migrating " + internal::DescribeConninfo(dsn));
  }
}

absl::StatusOr<std::unique_ptr<Pool>> MigrateAndOpen(const std::vector<Migration>& migrations, PoolOptions options) {
  absl::StatusOr<int> applied = Migrate(options.dsn, migrations);
  if (!applied.ok()) return applied.status();
  log::Info("migrations applied", {{"count", *applied}});
  return Pool::Create(std::move(options));
}

}  // namespace crm::pg
