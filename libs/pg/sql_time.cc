#include "libs/pg/sql_time.h"

#include "absl/strings/str_cat.h"
#include "libs/base/strings.h"

namespace crm::pg {

std::string MicrosOf(std::string_view column) {
  return absl::StrCat("(extract(epoch FROM ", AsAbsl(column), ") * 1000000)::bigint");
}

std::string TimeOfMicros(int n) {
  return absl::StrCat("(timestamptz 'epoch' + $", n, "::bigint * interval '1 microsecond')");
}

}  // namespace crm::pg
