// File: services/dialogs/routing/distribute.h
// -----------------------------------------------------------------------------
// T6's decision, PURE (table test: distribute_test.cc): who among a bot's operators gets a dialog.
//
//   * The bot's rules (operator or group ↔ project, topic; "" matches any; groups expanded to their
//     members) that match the dialog's project and topic give each matched operator their best priority.
//     A bot WITHOUT rules: every operator with rights on it matches at priority 0.
//   * Only operators with rights on the bot count (`operators` are exactly those); a rule naming anyone
//     else is ignored. Available = ONLINE, open < capacity, not in `exclude` (who timed out on it).
//   * The highest priority that has an available operator wins; among them the fewest open dialogs, then
//     the longest idle (the oldest last assignment; never assigned = idlest), then the smallest user id.
//   * Nobody available → nullopt: the dialog stays QUEUED for the matched operators.
#ifndef CRM_SERVICES_DIALOGS_ROUTING_DISTRIBUTE_H_
#define CRM_SERVICES_DIALOGS_ROUTING_DISTRIBUTE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace crm::dialogs::routing {

enum class Presence { kOffline, kOnline, kAway };

// "ONLINE" / "AWAY" / "OFFLINE" as stored; anything else is offline.
Presence PresenceOf(std::string_view code);
const char* PresenceCode(Presence p);

struct Rule {
  std::string user_id;  // a group's rule is one Rule per member
  std::string project;  // "" = any
  std::string topic;    // "" = any
  int priority = 0;
};

struct OperatorState {
  std::string user_id;
  Presence presence = Presence::kOffline;
  int capacity = 0;
  int open = 0;  // IN_WORK dialogs now
  absl::Time last_assigned = absl::InfinitePast();
};

// See the file comment.
std::optional<std::string> Choose(const std::vector<Rule>& rules, const std::vector<OperatorState>& operators,
                                  std::string_view project, std::string_view topic,
                                  const std::vector<std::string>& exclude = {});

}  // namespace crm::dialogs::routing

#endif  // CRM_SERVICES_DIALOGS_ROUTING_DISTRIBUTE_H_
