// File: services/dialogs/inbox/users.cc
#include "services/dialogs/inbox/users.h"

#include <pqxx/pqxx>

#include <string>
#include <vector>

#include "crm/events/v1/envelope.pb.h"
#include "crm/identity/v1/events.pb.h"
#include "libs/base/uuid.h"
#include "libs/events/consumer.h"
#include "libs/pg/prepared.h"
#include "libs/pg/sql_array.h"
#include "proto/crm/identity/v1/event_types.h"

namespace crm::dialogs::inbox {
namespace {

constexpr char kUpsertUser[] =
    "INSERT INTO user_directory (user_id, full_name, team_ids, active, supervisor_id, version, update_time) "
    "VALUES ($1::uuid, $2, $3::uuid[], $4, NULLIF($5, '')::uuid, $6, now()) ON CONFLICT (user_id) DO UPDATE SET "
    "full_name = EXCLUDED.full_name, team_ids = EXCLUDED.team_ids, active = EXCLUDED.active, "
    "supervisor_id = EXCLUDED.supervisor_id, version = EXCLUDED.version, update_time = now() "
    "WHERE user_directory.version < EXCLUDED.version";

}  // namespace

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
  std::vector<std::string> teams;
  for (const std::string& t : user.team_ids()) {
    if (IsUuid(t)) teams.push_back(t);
  }
  // T6: the user's supervisor sees their dialogs (access.h); anything but a user id is no supervisor.
  const std::string supervisor = IsUuid(user.supervisor_id()) ? user.supervisor_id() : std::string();
  crm::pg::ExecPrepared(tx, kUpsertUser, user.id(), user.full_name(), crm::pg::ArrayLiteral(teams), user.active(),
                        supervisor, static_cast<int64_t>(user.version()));
  return absl::OkStatus();
}

}  // namespace crm::dialogs::inbox
