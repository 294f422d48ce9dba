// File: libs/pg/conninfo.h
// -----------------------------------------------------------------------------
// INTERNAL to libs/pg (used by pool.cc, migrations.cc, testing.cc and the tests): libpq conninfo
// handling and the one place that opens a connection. Services use Pool / Migrate instead.
//
// A DSN may be `key=value` pairs or a `postgresql://` URI; both are parsed by libpq itself, so these
// helpers accept exactly what libpq accepts. Error messages never contain the password.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(std::string dsn, internal::WithConninfoOverrides(admin, {{"dbname", "t1"}}));
//   CRM_ASSIGN_OR_RETURN(auto conn, internal::Connect(dsn, "crm-migrate"));
#ifndef CRM_LIBS_PG_CONNINFO_H_
#define CRM_LIBS_PG_CONNINFO_H_

#include <memory>
#include <pqxx/connection>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace crm::pg::internal {

// Returns `dsn` rewritten as `key='value'` pairs with each override set (replacing any value the DSN had).
// InvalidArgument, without echoing the DSN, if libpq cannot parse it.
absl::StatusOr<std::string> WithConninfoOverrides(
    const std::string& dsn, const std::vector<std::pair<std::string, std::string>>& overrides);

// Returns "host=... port=... dbname=... user=..." for messages: never the password. Keys the DSN does not
// set read "(default)". An unparsable DSN gives "(unparsable conninfo)".
std::string DescribeConninfo(const std::string& dsn);

// Opens a connection (application_name set from the start when non-empty) with libpqxx 6's transparent
// reactivation turned off, so a broken connection stays broken (and session state such as advisory locks is
// never silently lost). Unavailable naming host/port/dbname/user (never the password) when it cannot connect;
// InvalidArgument if the DSN does not parse.
absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect(const std::string& dsn,
                                                          const std::string& application_name);

// Returns true if `conn` looks usable: open, and nothing unexpected (a termination notice, EOF) is waiting on
// its socket. Cheap (a zero-timeout poll); does not talk to the server. Call only while no transaction runs.
bool LooksHealthy(pqxx::connection_base& conn);

}  // namespace crm::pg::internal

#endif  // CRM_LIBS_PG_CONNINFO_H_
