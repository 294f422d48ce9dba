// File: libs/pg/migrations.h
// -----------------------------------------------------------------------------
// Schema migrations, applied forward only at service start (or by a Job) by every replica at once.
//
// A migration is an SQL script identified by (component, version). A database may hold several components
// (a service's own tables, the outbox of libs/events, ...), each numbered 1, 2, 3, ... on its own. Applied
// migrations are recorded, with a SHA-256 of their SQL, in table crm_schema_migrations; a recorded migration
// is never run again and must never be edited (add a new one instead).
//
// Migrations are usually embedded from files `NNNN_name.sql` by the CMake helper crm_sql_migrations()
// (tools/cmake/crm.cmake), which defines `const std::vector<crm::pg::Migration>& crm::<FUNCTION>()`.
// Each script runs inside a transaction: it must not contain BEGIN/COMMIT, nor statements that cannot run in
// a transaction block (CREATE INDEX CONCURRENTLY, ALTER TYPE ... ADD VALUE before PG 12, VACUUM).
//
// Example:
//   // services/deals/CMakeLists.txt:
//   //   crm_sql_migrations(NAME deals_migrations COMPONENT deals DIR migrations FUNCTION DealsMigrations)
//   namespace crm { const std::vector<crm::pg::Migration>& DealsMigrations(); }
//   std::vector<crm::pg::Migration> all = crm::EventsMigrations();   // libs/events/schema.h
//   all.insert(all.end(), crm::DealsMigrations().begin(), crm::DealsMigrations().end());
//   CRM_ASSIGN_OR_RETURN(int applied, crm::pg::Migrate(dsn, all));
#ifndef CRM_LIBS_PG_MIGRATIONS_H_
#define CRM_LIBS_PG_MIGRATIONS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/pg/pool.h"

namespace crm::pg {

// One forward migration. An aggregate, initialised as {component, version, name, sql}.
struct Migration {
  std::string component;  // e.g. "deals"; non-empty
  int version;            // > 0, unique within the component; applied in increasing order
  std::string name;       // the file name, e.g. "0003_add_deal_stage.sql": used in messages
  std::string sql;        // one or more statements, run in one transaction
};

// Applies, in (component order given, version) order, every migration not yet recorded in table
// crm_schema_migrations(component text, version int, name text, checksum text /*sha256 hex of sql*/,
// applied_at timestamptz, PRIMARY KEY(component, version)), which it creates if missing. Each migration runs
// in its own transaction together with its record, so a failure leaves the earlier ones applied and the
// failing one not at all. While running it holds a session advisory lock on a fixed key, so replicas starting
// at once apply each migration exactly once (the others wait, then find nothing to do); the DSN must
// therefore reach PostgreSQL directly or through session pooling, not transaction pooling.
// Returns how many were applied now (0 when already up to date).
// Errors: InvalidArgument if a component is empty or a version is <= 0 or repeated within its component
// (nothing is applied); FailedPrecondition naming component and file for every recorded migration whose
// checksum differs from its SQL now (checked before anything is applied); Unavailable if the database cannot
// be reached; otherwise the StatusFromException() status of the failing migration, prefixed with its
// component and file. Recorded migrations missing from `migrations` (a newer binary ran) are ignored.
absl::StatusOr<int> Migrate(const std::string& dsn, const std::vector<Migration>& migrations);

// What a service does first with its database: Migrate(options.dsn, migrations) (the count applied goes
// to the log), then a pool with `options`. Migrate's errors, or Pool::Create's.
absl::StatusOr<std::unique_ptr<Pool>> MigrateAndOpen(const std::vector<Migration>& migrations, PoolOptions options);

}  // namespace crm::pg

#endif  // CRM_LIBS_PG_MIGRATIONS_H_
