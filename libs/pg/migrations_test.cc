// Migrate() against the real cluster (CRM_TEST_PG_DSN), with the files in testdata/migrations embedded by
// crm_sql_migrations() (component "pgtest"), and two pg_migrate_probe processes racing.
#include "libs/pg/migrations.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/pg/testing.h"
#include "tests/support/process.h"

namespace crm {
const std::vector<crm::pg::Migration>& PgTestMigrations();
}  // namespace crm

namespace crm::pg {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempDatabase;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

class MigrationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = TempDatabase::Create("migrate");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
  }

  pqxx::result Query(const std::string& sql) {
    pqxx::connection conn(db_->dsn());
    pqxx::nontransaction tx(conn);
    return tx.exec(sql);
  }

  std::vector<std::string> Column(const std::string& sql) {
    std::vector<std::string> out;
    for (const auto& row : Query(sql)) out.push_back(row[0].as<std::string>());
    return out;
  }

  std::unique_ptr<TempDatabase> db_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(EmbeddedMigrationsTest, KeepTheFilesTextByteForByte) {
  const std::vector<Migration>& m = PgTestMigrations();
  ASSERT_EQ(m.size(), 3u);
  const char* names[] = {"0001_create_probe.sql", "0002_slow_insert.sql", "0003_tricky_text.sql"};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(m[i].component, "pgtest");
    EXPECT_EQ(m[i].version, i + 1);
    EXPECT_EQ(m[i].name, names[i]);
    const std::string text = ReadFile(std::string(CRM_PG_TESTDATA_DIR) + "/" + names[i]);
    ASSERT_FALSE(text.empty()) << names[i];
    EXPECT_EQ(m[i].sql, text) << names[i];
  }
}

TEST_F(MigrationsTest, AppliesEachOnceAndASecondRunAppliesNothing) {
  absl::StatusOr<int> applied = Migrate(db_->dsn(), PgTestMigrations());
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 3);
  EXPECT_THAT(Column("SELECT migration FROM probe_applications ORDER BY logged_at"),
              ElementsAre("0001", "0002", "0003"));
  EXPECT_THAT(Column("SELECT obj_description('probe_items'::regclass, 'pg_class')"),
              ElementsAre("a ${not_a_var} b @NOT_A_VAR@ c \"x\" d 'y' e \\n f; g )\" h"));

  // The record: one row per migration, checksum = SHA-256 of the SQL as PostgreSQL computes it.
  pqxx::connection conn(db_->dsn());
  pqxx::nontransaction tx(conn);
  for (const Migration& m : PgTestMigrations()) {
    pqxx::row r = tx.exec_params1(
        "SELECT name, checksum = encode(sha256(convert_to($3, 'UTF8')), 'hex') FROM crm_schema_migrations "
        "WHERE component = $1 AND version = $2",
        m.component, m.version, m.sql);
    EXPECT_EQ(r[0].as<std::string>(), m.name);
    EXPECT_TRUE(r[1].as<bool>()) << m.name;
  }

  applied = Migrate(db_->dsn(), PgTestMigrations());
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 0);
  EXPECT_EQ(Query("SELECT count(*) FROM probe_applications")[0][0].as<int>(), 3);
}

TEST_F(MigrationsTest, EditedMigrationIsFailedPreconditionNamingTheFileAndNothingRuns) {
  ASSERT_TRUE(Migrate(db_->dsn(), PgTestMigrations()).ok());
  std::vector<Migration> edited = PgTestMigrations();
  edited[1].sql += "\n-- a harmless-looking edit\n";
  edited.push_back(
      {"pgtest", 4, "0004_new.sql", "INSERT INTO probe_applications (migration) VALUES ('0004');"});
  absl::StatusOr<int> applied = Migrate(db_->dsn(), edited);
  ASSERT_EQ(applied.status().code(), absl::StatusCode::kFailedPrecondition) << applied.status();
  EXPECT_THAT(Message(applied.status()), HasSubstr("pgtest/0002_slow_insert.sql"));
  EXPECT_THAT(Message(applied.status()), HasSubstr("changed after it was applied"));
  EXPECT_EQ(Query("SELECT count(*) FROM probe_applications")[0][0].as<int>(), 3);  // 0004 did not run.
}

TEST_F(MigrationsTest, RunsComponentsInTheOrderGivenThenByVersion) {
  auto log = [](const std::string& what) { return "INSERT INTO log (what) VALUES ('" + what + "');"; };
  const std::vector<Migration> migrations = {
      {"setup", 1, "0001_log.sql", "CREATE TABLE log (id serial PRIMARY KEY, what text);"},
      {"b", 2, "0002_b.sql", log("b2")},
      {"a", 2, "0002_a.sql", log("a2")},
      {"b", 1, "0001_b.sql", log("b1")},
      {"a", 1, "0001_a.sql", log("a1")},
  };
  absl::StatusOr<int> applied = Migrate(db_->dsn(), migrations);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 5);
  EXPECT_THAT(Column("SELECT what FROM log ORDER BY id"), ElementsAre("b1", "b2", "a1", "a2"));
}

TEST_F(MigrationsTest, AFailingMigrationKeepsTheEarlierOnesAndIsRetriedNextTime) {
  std::vector<Migration> migrations = {
      {"c", 1, "0001_table.sql", "CREATE TABLE x (i int);"},
      {"c", 2, "0002_broken.sql", "INSERT INTO x VALUES (1); SELEKT 1;"},
  };
  absl::StatusOr<int> applied = Migrate(db_->dsn(), migrations);
  ASSERT_FALSE(applied.ok());
  EXPECT_THAT(Message(applied.status()), HasSubstr("c/0002_broken.sql"));
  EXPECT_THAT(Message(applied.status()), HasSubstr("SELEKT"));
  EXPECT_THAT(Column("SELECT component || '/' || version FROM crm_schema_migrations"), ElementsAre("c/1"));
  EXPECT_EQ(Query("SELECT count(*) FROM x")[0][0].as<int>(), 0);  // 0002's INSERT rolled back with it.

  migrations[1].sql = "INSERT INTO x VALUES (1);";
  applied = Migrate(db_->dsn(), migrations);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 1);
}

TEST(MigrateValidationTest, RejectsBadVersionsBeforeConnecting) {
  const std::string no_db = "host=/nonexistent port=1";
  auto code = [&](const std::vector<Migration>& m) { return Migrate(no_db, m).status().code(); };
  EXPECT_EQ(code({{"a", 1, "0001_x.sql", ""}, {"a", 1, "0001_y.sql", ""}}),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({{"a", 0, "0000_x.sql", ""}}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({{"a", -3, "x.sql", ""}}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({{"", 1, "0001_x.sql", ""}}), absl::StatusCode::kInvalidArgument);
  // The same version in two components is fine (it then fails only for want of a server).
  EXPECT_EQ(code({{"a", 1, "0001_x.sql", ""}, {"b", 1, "0001_x.sql", ""}}), absl::StatusCode::kUnavailable);
  const absl::Status dup = Migrate(no_db, {{"a", 1, "0001_x.sql", ""}, {"a", 1, "0001_y.sql", ""}}).status();
  EXPECT_THAT(Message(dup), HasSubstr("a/0001_x.sql"));
  EXPECT_THAT(Message(dup), HasSubstr("a/0001_y.sql"));
}

struct ProbeResult {
  int exit_code = -1;
  int applied = -1;
  long long start_us = 0, end_us = 0;
  std::string output;
};

// Waits for a pg_migrate_probe to report ("applied=N start_us=S end_us=E") and exit.
ProbeResult Finish(crm::testing::Process& p) {
  ProbeResult r;
  absl::StatusOr<std::string> line = p.ReadLineStartingWith("applied=", absl::Seconds(60));
  r.output = line.ok() ? *line : line.status().ToString();
  r.exit_code = p.Wait(absl::Seconds(60)).value_or(-1);
  std::sscanf(r.output.c_str(), "applied=%d start_us=%lld end_us=%lld", &r.applied, &r.start_us, &r.end_us);
  return r;
}

TEST_F(MigrationsTest, TwoProcessesAtOnceApplyEachMigrationExactlyOnce) {
  absl::StatusOr<std::unique_ptr<crm::testing::Process>> a =
      crm::testing::Process::Spawn({CRM_PG_MIGRATE_PROBE, db_->dsn()});
  absl::StatusOr<std::unique_ptr<crm::testing::Process>> b =
      crm::testing::Process::Spawn({CRM_PG_MIGRATE_PROBE, db_->dsn()});
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  const ProbeResult ra = Finish(**a);
  const ProbeResult rb = Finish(**b);
  ASSERT_EQ(ra.exit_code, 0) << ra.output;
  ASSERT_EQ(rb.exit_code, 0) << rb.output;

  // They really overlapped: each started before the other finished (0002 alone takes 300 ms).
  EXPECT_LT(std::max(ra.start_us, rb.start_us), std::min(ra.end_us, rb.end_us)) << ra.output << rb.output;
  // One applied everything; the other waited for the lock and found nothing to do.
  EXPECT_EQ(std::min(ra.applied, rb.applied), 0) << ra.output << rb.output;
  EXPECT_EQ(std::max(ra.applied, rb.applied), 3) << ra.output << rb.output;
  // A double application would show as two rows (probe_applications has no unique key).
  EXPECT_THAT(Column("SELECT migration || ':' || count(*) FROM probe_applications GROUP BY migration ORDER "
                     "BY migration"),
              ElementsAre("0001:1", "0002:1", "0003:1"));
  EXPECT_EQ(Query("SELECT count(*) FROM crm_schema_migrations")[0][0].as<int>(), 3);
}

}  // namespace
}  // namespace crm::pg
