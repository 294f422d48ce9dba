// File: libs/pg/sql_array.h
// -----------------------------------------------------------------------------
// A list of strings as one SQL parameter: a PostgreSQL array literal, every element quoted and escaped,
// so any text is safe and a list of any length is one placeholder (`$1::text[]`, `$1::uuid[]`).
//
// Example:
//   tx.exec_params("SELECT ... WHERE id = ANY($1::uuid[])", crm::pg::ArrayLiteral(ids));
#ifndef CRM_LIBS_PG_SQL_ARRAY_H_
#define CRM_LIBS_PG_SQL_ARRAY_H_

#include <string>
#include <vector>

namespace crm::pg {

// Returns the array literal of `items` ("{\"a\",\"b\"}"; "{}" for none); pass it as a parameter and cast it.
std::string ArrayLiteral(const std::vector<std::string>& items);

}  // namespace crm::pg

#endif  // CRM_LIBS_PG_SQL_ARRAY_H_
