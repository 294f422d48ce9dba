// File: services/deals/users.h
// -----------------------------------------------------------------------------
// The read model deals keeps of identity's users (deals does not call identity per request and never
// reads its tables): each user's teams, from the UserCreated / UserUpdated events on
// crm.identity.user.v1. A deal's `team_ids` are its responsible's teams — the rows team access
// (deals.read.team / deals.write.team) matches on — and follow them when the user changes teams.
//
// Example:
//   // wiring: an idempotent consumer applies identity's events
//   crm::events::Consumer::Create({.brokers = b, .group_id = "deals", .topics = {crm::deals::kUserTopic}},
//                                 pool, crm::deals::ApplyUserEvent);
//   // in a deal's transaction
//   CRM_ASSIGN_OR_RETURN(std::vector<std::string> teams, crm::deals::TeamsOf(tx, responsible_id));
#ifndef CRM_SERVICES_DEALS_USERS_H_
#define CRM_SERVICES_DEALS_USERS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "libs/events/consumer.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm::deals {

inline constexpr char kUserTopic[] = "crm.identity.user.v1";

// Returns the teams of user `user_id` as last heard from identity; empty for a user not heard of yet.
absl::StatusOr<std::vector<std::string>> TeamsOf(pqxx::transaction_base& tx, std::string_view user_id);

// Records users in the directory from their own calls, for the time before identity's UserCreated
// arrives: team access (listing.h) finds a deal through its responsible's directory entry, so a user
// who creates deals right after being made is seen by their team lead at once. The entry carries the
// teams of the user's token and version 0, so identity's first event replaces it. Users found already
// recorded are remembered, so this costs a statement per user per process, not per call. Thread-safe.
class DirectorySeeder {
 public:
  // Inserts `user_id` with `team_ids` (UUIDs, as access.h's CallerTeamIds gives them) in `tx` unless the
  // directory has them.
  absl::Status Seed(pqxx::transaction_base& tx, std::string_view user_id, const std::vector<std::string>& team_ids);

 private:
  absl::Mutex mu_;
  absl::flat_hash_set<std::string> known_ ABSL_GUARDED_BY(mu_);
};

// Applies one crm.identity.user.v1 event in `tx`: records the user's teams (ignoring an event older
// than what is stored) and moves the team_ids of the deals they are responsible for along. Other event
// types are ignored; a payload that does not parse is InvalidArgument (the consumer parks it).
absl::Status ApplyUserEvent(pqxx::transaction_base& tx, const events::ConsumedEvent& event);

}  // namespace crm::deals

#endif  // CRM_SERVICES_DEALS_USERS_H_
