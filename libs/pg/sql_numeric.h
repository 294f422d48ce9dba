// File: libs/pg/sql_numeric.h
// -----------------------------------------------------------------------------
// Sums that cannot fail. PostgreSQL sums bigint columns as numeric (exact, unbounded); casting such a
// sum back to bigint raises "bigint out of range" when it passes int64 — one deal with an extreme
// amount would then break its pipeline's board for every user (issue 15). Inputs are bounded where they
// enter (proto/crm/common/v1/validation.proto), so a real sum fits; a sum read into an int64 still goes
// through SaturatingBigint, which clamps instead of failing.
//
// Example:
//   absl::StrCat("SELECT ", crm::pg::SaturatingBigint("coalesce(sum(amount_minor), 0)"), " FROM deals ...")
#ifndef CRM_LIBS_PG_SQL_NUMERIC_H_
#define CRM_LIBS_PG_SQL_NUMERIC_H_

#include <string>
#include <string_view>

namespace crm::pg {

// An SQL expression equal to `numeric_expr` as a bigint, clamped to int64's range.
std::string SaturatingBigint(std::string_view numeric_expr);

}  // namespace crm::pg

#endif  // CRM_LIBS_PG_SQL_NUMERIC_H_
