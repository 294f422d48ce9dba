#include "libs/pg/sql_numeric.h"

#include "absl/strings/str_cat.h"

namespace crm::pg {

std::string SaturatingBigint(std::string_view numeric_expr) {
  return absl::StrCat("LEAST(GREATEST((", absl::string_view(numeric_expr.data(), numeric_expr.size()),
                      ")::numeric, -9223372036854775808), 9223372036854775807)::bigint");
}

}  // namespace crm::pg
