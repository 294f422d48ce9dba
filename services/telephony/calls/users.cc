// File: services/telephony/calls/users.cc
#include "services/telephony/calls/users.h"

#include <pqxx/pqxx>

#include <string>

#include "crm/events/v1/envelope.pb.h"
#include "crm/identity/v1/events.pb.h"
#include "libs/base/uuid.h"
#include "libs/events/consumer.h"
#include "libs/pg/prepared.h"
#include "proto/crm/identity/v1/event_types.h"
#include "services/telephony/calls/sql.h"

namespace crm::telephony::calls {

absl::Status ApplyUserEvent(pqxx::transaction_base& tx, const crm::events::ConsumedEvent& event) {
  namespace idv1 = crm::identity::v1;
  const crm::events::v1::Envelope& e = event.envelope;
  idv1::User user;
  if (e.type() == idv1::kUserCreatedType) {
    idv1::UserCreated created;
    if (!e.payload().UnpackTo(&created)) return absl::InvalidArgumentError("malformed UserCreated payload");
    user = created.user();
  } else if (e.type() == idv1::kUserUpdatedType) {
    idv1::UserUpdated updated;
    if (!e.payload().UnpackTo(&updated)) return absl::InvalidArgumentError("malformed UserUpdated payload");
    user = updated.user();
  } else {
    return absl::OkStatus();
  }
  if (!IsUuid(user.id())) return absl::InvalidArgumentError("user event without a user id");
  if (user.login().empty()) return absl::OkStatus();
  crm::pg::ExecPrepared(tx, sql::kLockPlans);
  crm::pg::ExecPrepared(tx, sql::kUpsertUserLogin, user.id(), user.login(), static_cast<int64_t>(user.version()));
  crm::pg::ExecPrepared(tx, sql::kAssignPendingExtensions, user.login(), user.id());
  return absl::OkStatus();
}

}  // namespace crm::telephony::calls
