#include "libs/pg/testing.h"

#include <cctype>
#include <cstdlib>
#include <pqxx/pqxx>
#include <utility>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "libs/pg/conninfo.h"
#include "libs/pg/pool.h"

namespace crm::pg::testing {
namespace {

constexpr char kEnv[] = "CRM_TEST_PG_DSN";

absl::StatusOr<std::string> AdminDsn() {
  const char* dsn = std::getenv(kEnv);
  if (dsn == nullptr || *dsn == '\0') {
    return absl::FailedPreconditionError(absl::StrCat(
        kEnv, " is not set: PostgreSQL tests need an admin conninfo for a throwaway cluster, e.g. ", kEnv,
        "='host=/tmp/crm-devpg port=55432 user=postgres dbname=postgres' (tools/crm test sets it)"));
  }
  return std::string(dsn);
}

std::string DatabaseName(std::string_view prefix) {
  std::string name;
  for (char c : prefix) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '_') name.push_back(static_cast<char>(std::tolower(u)));
    if (name.size() == 40) break;
  }
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) name = absl::StrCat("t", name);
  absl::BitGen gen;  // Seeded from the OS: unique across test processes running at once.
  return absl::StrCat(name, "_", absl::StrFormat("%016x", absl::Uniform<uint64_t>(gen)));
}

// Runs one statement outside a transaction (CREATE/DROP DATABASE cannot run inside one).
absl::Status RunAdmin(const std::string& admin_dsn, const std::string& sql) {
  auto conn = internal::Connect(admin_dsn, "crm-test-admin");
  if (!conn.ok()) return conn.status();
  try {
    pqxx::nontransaction tx(**conn);
    tx.exec(sql);
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<TempDatabase>> TempDatabase::Create(std::string_view prefix) {
  absl::StatusOr<std::string> admin = AdminDsn();
  if (!admin.ok()) return admin.status();
  const std::string name = DatabaseName(prefix);
  absl::StatusOr<std::string> dsn = internal::WithConninfoOverrides(*admin, {{"dbname", name}});
  if (!dsn.ok()) return dsn.status();
  // The name is [a-z0-9_] only, so it needs no quoting.
  if (absl::Status s = RunAdmin(*admin, absl::StrCat("CREATE DATABASE ", name)); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("creating test database ", name, ": ", s.message()));
  }
  return std::unique_ptr<TempDatabase>(new TempDatabase(*std::move(admin), name, *std::move(dsn)));
}

TempDatabase::TempDatabase(std::string admin_dsn, std::string name, std::string dsn)
    : admin_dsn_(std::move(admin_dsn)), name_(std::move(name)), dsn_(std::move(dsn)) {}

TempDatabase::~TempDatabase() {
  absl::Status s = RunAdmin(admin_dsn_, absl::StrCat("DROP DATABASE IF EXISTS ", name_, " WITH (FORCE)"));
  if (!s.ok()) ADD_FAILURE() << "dropping test database " << name_ << ": " << s;
}

const std::string& TempDatabase::dsn() const { return dsn_; }

const std::string& TempDatabase::name() const { return name_; }

void TempDatabase::Exec(const std::string& sql) const {
  try {
    pqxx::connection c(dsn_);
    pqxx::work tx(c);
    tx.exec(sql);
    tx.commit();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "SQL failed: " << e.what() << "\n" << sql;
  }
}

int64_t TempDatabase::Count(const std::string& sql) const {
  try {
    pqxx::connection c(dsn_);
    pqxx::work tx(c);
    return tx.exec1(sql)[0].as<int64_t>();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "SQL failed: " << e.what() << "\n" << sql;
    return -1;
  }
}

}  // namespace crm::pg::testing
