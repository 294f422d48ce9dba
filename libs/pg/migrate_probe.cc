// pg_migrate_probe: runs crm::pg::Migrate() with the test migrations (testdata/migrations, component
// "pgtest") on the DSN given as its only argument. Used by migrations_test to race two processes.
// Prints "applied=<n> start_us=<unix micros> end_us=<unix micros>" and exits 0, or prints the error on
// stderr and exits 1.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/pg/migrations.h"

namespace crm {
const std::vector<crm::pg::Migration>& PgTestMigrations();
}  // namespace crm

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <conninfo>\n", argv[0]);
    return 2;
  }
  const absl::Time start = absl::Now();
  absl::StatusOr<int> applied = crm::pg::Migrate(argv[1], crm::PgTestMigrations());
  const absl::Time end = absl::Now();
  if (!applied.ok()) {
    std::fprintf(stderr, "%s\n", applied.status().ToString().c_str());
    return 1;
  }
  std::printf("applied=%d start_us=%lld end_us=%lld\n", *applied,
              static_cast<long long>(absl::ToUnixMicros(start)),
              static_cast<long long>(absl::ToUnixMicros(end)));
  return 0;
}
