#include "libs/pg/prepared.h"

#include <functional>
#include <pqxx/connection_base>

#include "absl/strings/str_cat.h"

namespace crm::pg {

std::string Prepare(pqxx::transaction_base& tx, const std::string& sql) {
  std::string name = absl::StrCat("crm_", absl::Hex(std::hash<std::string>{}(sql), absl::kZeroPad16));
  // libpqxx keeps each connection's definitions: the same name with the same text is a no-op, and it
  // sends the PREPARE with the statement's first run (again after a reconnect).
  tx.conn().prepare(name, sql);
  return name;
}

}  // namespace crm::pg
