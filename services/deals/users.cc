// File: services/deals/users.cc
#include "services/deals/users.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "crm/identity/v1/events.pb.h"
#include "libs/base/uuid.h"
#include "libs/pg/sql_array.h"
#include "proto/crm/events/v1/envelope.pb.h"

namespace crm::deals {
namespace {

namespace idv1 = crm::identity::v1;

// A PostgreSQL array literal of UUIDs ("{a,b}"); anything that is not a UUID is left out.
std::string UuidArray(const google::protobuf::RepeatedPtrField<std::string>& ids) {
  std::vector<std::string> ok;
  for (const std::string& id : ids) {
    if (IsUuid(id)) ok.push_back(id);
  }
  return absl::StrCat("{", absl::StrJoin(ok, ","), "}");
}

}  // namespace

absl::StatusOr<std::vector<std::string>> TeamsOf(pqxx::transaction_base& tx, std::string_view user_id) {
  std::vector<std::string> out;
  if (!IsUuid(user_id)) return out;
  pqxx::result r = tx.exec_params("SELECT unnest(team_ids)::text FROM user_directory WHERE user_id = $1::uuid",
                                  std::string(user_id));
  for (const pqxx::row& row : r) out.push_back(row[0].c_str());
  return out;
}

absl::Status DirectorySeeder::Seed(pqxx::transaction_base& tx, std::string_view user_id,
                                   const std::vector<std::string>& team_ids) {
  if (!IsUuid(user_id)) return absl::OkStatus();
  const std::string id(user_id);
  {
    absl::MutexLock lock(&mu_);
    if (known_.contains(id)) return absl::OkStatus();
  }
  pqxx::result inserted = tx.exec_params(
      "INSERT INTO user_directory (user_id, team_ids, version) VALUES ($1::uuid, $2::uuid[], 0) "
      "ON CONFLICT (user_id) DO NOTHING RETURNING user_id",
      id, pg::ArrayLiteral(team_ids));
  // Remembered only when the entry was there before this transaction: ours may still roll back.
  if (inserted.empty()) {
    absl::MutexLock lock(&mu_);
    if (known_.size() >= 100'000) known_.clear();  // bounded
    known_.insert(id);
  }
  return absl::OkStatus();
}

absl::Status ApplyUserEvent(pqxx::transaction_base& tx, const events::ConsumedEvent& event) {
  const events::v1::Envelope& e = event.envelope;
  idv1::User user;
  if (e.type() == "crm.identity.user.created.v1") {
    idv1::UserCreated created;
    if (!e.payload().UnpackTo(&created)) return absl::InvalidArgumentError("malformed UserCreated payload");
    user = created.user();
  } else if (e.type() == "crm.identity.user.updated.v1") {
    idv1::UserUpdated updated;
    if (!e.payload().UnpackTo(&updated)) return absl::InvalidArgumentError("malformed UserUpdated payload");
    user = updated.user();
  } else {
    return absl::OkStatus();
  }
  if (!IsUuid(user.id())) return absl::InvalidArgumentError("user event without a user id");
  const std::string teams = UuidArray(user.team_ids());
  pqxx::result stored = tx.exec_params(
      "INSERT INTO user_directory (user_id, team_ids, active, version, full_name, update_time) "
      "VALUES ($1::uuid, $2::uuid[], $3, $4, $5, now()) "
      "ON CONFLICT (user_id) DO UPDATE SET team_ids = EXCLUDED.team_ids, active = EXCLUDED.active, "
      "version = EXCLUDED.version, full_name = EXCLUDED.full_name, update_time = now() "
      "WHERE user_directory.version < EXCLUDED.version RETURNING user_id",
      user.id(), teams, user.active(), static_cast<long long>(user.version()), user.full_name());
  if (stored.empty()) return absl::OkStatus();  // an older event than what is known
  // The responsible's deals follow their teams (the board's totals trigger ignores this column).
  tx.exec_params(
      "UPDATE deals SET team_ids = $2::uuid[] WHERE responsible_id = $1::uuid AND team_ids IS DISTINCT FROM $2::uuid[]",
      user.id(), teams);
  return absl::OkStatus();
}

}  // namespace crm::deals
