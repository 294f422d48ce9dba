#include "services/mortgage/sql.h"

#include <pqxx/pqxx>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/pg/statement_recorder.h"

namespace crm::mortgage {

std::string Params::Add(std::string value) {
  values_.push_back(std::move(value));
  return absl::StrCat("$", values_.size());
}

std::string Params::Ts(absl::Time t) {
  return absl::StrCat("('epoch'::timestamptz + ", Add(absl::StrCat(absl::ToUnixMicros(t))),
                      "::bigint * interval '1 microsecond')");
}

std::string Params::Bytes(const std::string& bytes) {
  return absl::StrCat(Add(absl::StrCat("\\x", absl::BytesToHexString(bytes))), "::bytea");
}

pqxx::result Run(pqxx::transaction_base& tx, const std::string& sql, const Params& p) {
  crm::pg::RecordStatement(sql, p.values());
  return tx.exec_params(sql, pqxx::prepare::make_dynamic_params(p.values()));
}

}  // namespace crm::mortgage
