// File: libs/pg/testing.h
// -----------------------------------------------------------------------------
// Test support (target crm::pg_testing): a throwaway database per test on the real PostgreSQL cluster named
// by the environment variable CRM_TEST_PG_DSN (an admin conninfo; `tools/crm test` sets it). Tests that need
// PostgreSQL must fail, not skip, when it is missing: Create() then returns an error that says so.
//
// Example:
//   TEST(DealsStoreTest, CreatesDeal) {
//     auto db = crm::pg::testing::TempDatabase::Create("deals");
//     ASSERT_TRUE(db.ok()) << db.status();
//     ASSERT_TRUE(crm::pg::Migrate((*db)->dsn(), crm::DealsMigrations()).ok());
//     auto pool = crm::pg::Pool::Create({.dsn = (*db)->dsn(), .size = 2});
//     ...
//   }  // the database is dropped here
#ifndef CRM_LIBS_PG_TESTING_H_
#define CRM_LIBS_PG_TESTING_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace crm::pg::testing {

// A fresh, empty database on the cluster named by CRM_TEST_PG_DSN, dropped (WITH (FORCE), so open
// connections do not block it) when destroyed; a failed drop is reported as a test failure.
class TempDatabase {
 public:
  // Creates database "<prefix>_<random>" (prefix lower-cased, reduced to [a-z0-9_], at most 40 characters).
  // FailedPrecondition with a clear message if CRM_TEST_PG_DSN is unset or empty; Unavailable if the cluster
  // cannot be reached; the CREATE DATABASE error otherwise.
  static absl::StatusOr<std::unique_ptr<TempDatabase>> Create(std::string_view prefix = "t");

  ~TempDatabase();
  TempDatabase(const TempDatabase&) = delete;
  TempDatabase& operator=(const TempDatabase&) = delete;

  // Conninfo (key='value' pairs) for the new database: the admin DSN's host/port/user/password, this dbname.
  const std::string& dsn() const;
  // The database name.
  const std::string& name() const;

  // Runs `sql` (one or more statements) in one committed transaction on this database; a failure fails
  // the test (ADD_FAILURE with the error).
  void Exec(const std::string& sql) const;
  // The integer in the first column of the one row `sql` returns; -1 (and a test failure) on error.
  int64_t Count(const std::string& sql) const;

 private:
  TempDatabase(std::string admin_dsn, std::string name, std::string dsn);

  const std::string admin_dsn_;
  const std::string name_;
  const std::string dsn_;
};

}  // namespace crm::pg::testing

#endif  // CRM_LIBS_PG_TESTING_H_
