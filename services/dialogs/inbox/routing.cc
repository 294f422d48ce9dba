// File: services/dialogs/inbox/routing.cc
#include "services/dialogs/inbox/routing.h"

#include <pqxx/pqxx>

#include <algorithm>

#include "libs/base/time.h"
#include "libs/pg/prepared.h"
#include "services/dialogs/inbox/sql.h"

namespace crm::dialogs::inbox {

absl::Status Distribute(pqxx::transaction_base& tx, const crm::dialogs::v1::Dialog& dialog, absl::Time not_before,
                        absl::Time now) {
  if (dialog.closed()) return absl::OkStatus();
  crm::pg::ExecPrepared(tx, sql::kQueue, dialog.id(), FormatRfc3339Utc(std::max(now, not_before)),
                        FormatRfc3339Utc(now));
  return absl::OkStatus();
}

}  // namespace crm::dialogs::inbox
