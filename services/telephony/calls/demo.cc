// File: services/telephony/calls/demo.cc
#include "services/telephony/calls/demo.h"

#include <pqxx/pqxx>

#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "services/telephony/calls/sql.h"

namespace crm::telephony::calls {

absl::Status InstallDemo(crm::pg::Pool& pool) {
  struct Plan {
    const char* login;
    const char* extension;
  };
  constexpr Plan kPlans[] = {{"cc.operator", "101"}, {"manager", "102"}, {"admin", "100"}};
  return crm::pg::InTransaction(pool, [&](pqxx::work& tx) -> absl::Status {
    crm::pg::ExecPrepared(tx, sql::kLockPlans);
    for (const Plan& p : kPlans) crm::pg::ExecPrepared(tx, sql::kPlanExtension, "asterisk", p.extension, p.login);
    // Users whose event arrived before the plan get theirs now.
    crm::pg::ExecPrepared(tx, sql::kAssignKnownPlans);
    return absl::OkStatus();
  });
}

}  // namespace crm::telephony::calls
