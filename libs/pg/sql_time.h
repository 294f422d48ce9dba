// File: libs/pg/sql_time.h
// -----------------------------------------------------------------------------
// Timestamps between C++ and SQL exactly to the microsecond: as a bigint of Unix microseconds, never
// through a double (`to_timestamp(x / 1e6)` loses microseconds past 2^53 and breaks keyset pages).
//
// Example:
//   tx.exec_params(absl::StrCat("SELECT ", crm::pg::MicrosOf("create_time"), " FROM t WHERE create_time < ",
//                               crm::pg::TimeOfMicros(1)), absl::ToUnixMicros(before));
#ifndef CRM_LIBS_PG_SQL_TIME_H_
#define CRM_LIBS_PG_SQL_TIME_H_

#include <string>
#include <string_view>

namespace crm::pg {

// An SQL bigint expression: the Unix microseconds of timestamptz `column` (NULL when it is NULL).
std::string MicrosOf(std::string_view column);

// An SQL timestamptz expression equal to the bigint of Unix microseconds in parameter $`n`.
std::string TimeOfMicros(int n);

}  // namespace crm::pg

#endif  // CRM_LIBS_PG_SQL_TIME_H_
