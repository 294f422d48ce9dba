// File: services/deals/sql.h
// -----------------------------------------------------------------------------
// The small SQL and text helpers every store of the deals service uses (deals, clients, tasks,
// timeline), so each writes its queries the same way: parameters collected in a SqlParams (access.h),
// timestamps passed exact to the microsecond, LIKE patterns escaped, lengths counted in characters.
//
// Example:
//   SqlParams p;
//   std::string sql = absl::StrCat("SELECT ", MicrosOf("d.create_time"), " FROM deals d WHERE d.name ILIKE ",
//                                  p.Add("%" + EscapeLike(query) + "%"), " AND d.create_time < ", TsParam(p, t));
//   pqxx::result r = Exec(tx, sql, p);
#ifndef CRM_SERVICES_DEALS_SQL_H_
#define CRM_SERVICES_DEALS_SQL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/base/strings.h"
#include "libs/pg/sql_time.h"
#include "libs/pg/statement_recorder.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "services/deals/access.h"

namespace pqxx {
class result;
class transaction_base;
}  // namespace pqxx

namespace crm::deals {

// Runs `sql` with the parameters collected in `p` ($1, $2, ... in the order added).
pqxx::result Exec(pqxx::transaction_base& tx, const std::string& sql, const SqlParams& p);

// Exec for a statement run often: prepared on the connection the first time its text is seen, so
// PostgreSQL parses and plans it once per connection instead of at every call.
pqxx::result ExecPrepared(pqxx::transaction_base& tx, const std::string& sql, const SqlParams& p);

// Testing seam (libs/pg/statement_recorder.h): while a StatementRecorder lives, every statement Exec and
// ExecPrepared run (on any thread) is also kept in it with its parameter values, so a test can EXPLAIN
// exactly what the stores send (listing_test.cc). One at a time; test code only.
using StatementRecorder = crm::pg::StatementRecorder;

// The page rule of every list of deals (issue 16, README "Lists"): a page_size below 0 is
// INVALID_ARGUMENT naming `field`, 0 takes `default_size`, and one above `max_size` is clamped to it.
absl::StatusOr<int> PageSize(std::string_view field, int64_t requested, int default_size, int max_size);

// Keyset pages of lists ordered by a position (contacts and line items in the order they were added):
// the opaque token of the page that ends at `pos`, and the position a token holds (nullopt for "",
// INVALID_ARGUMENT naming `field` for a token not made here).
std::string PosPageToken(int64_t pos);
absl::StatusOr<std::optional<int64_t>> DecodePosPageToken(std::string_view field, std::string_view token);

// Keyset pages of lists ordered by (a timestamp, id) — deals by create_time, tasks by due_time, the
// timeline by create_time: the opaque token of the page that ends at the row with `micros` and `id`,
// and the key a token holds (nullopt for "", INVALID_ARGUMENT naming `field` for a token not made here).
struct TimePageKey {
  int64_t micros = 0;
  std::string id;
};
std::string TimePageToken(int64_t micros, std::string_view id);
absl::StatusOr<std::optional<TimePageKey>> DecodeTimePageToken(std::string_view field, std::string_view token);

// Keyset pages of lists ordered by (lower(name), id): the opaque token of the page that ends at the
// row with `lower_name` and `id`, and the SQL condition "after that token" on `alias`.name and
// `alias`.id (INVALID_ARGUMENT naming page_token for a token that is not one of these).
std::string NamePageToken(std::string_view lower_name, std::string_view id);
absl::StatusOr<std::string> AfterNamePageToken(std::string_view token, std::string_view alias, SqlParams& p);

// Adds `t` to `p` and returns an SQL timestamptz expression equal to it to the microsecond.
std::string TsParam(SqlParams& p, absl::Time t);

// The microseconds since the epoch of timestamptz `column` (libs/pg/sql_time.h).
using crm::pg::MicrosOf;

// The Timestamp of `micros` microseconds since the epoch.
google::protobuf::Timestamp TsFromMicros(int64_t micros);

// The strings of a JSON array text (array_to_json output); anything else gives an empty list.
std::vector<std::string> JsonStrings(const std::string& text);

// `s` with LIKE's wildcards and escape character escaped, to match literally (default ESCAPE '\').
std::string EscapeLike(const std::string& s);

// The number of Unicode characters (code points) of UTF-8 text `s` (libs/base/strings.h).
using crm::CodePoints;

}  // namespace crm::deals

#endif  // CRM_SERVICES_DEALS_SQL_H_
