// File: services/dialogs/routing/distribute.cc
#include "services/dialogs/routing/distribute.h"

#include <algorithm>
#include <tuple>

#include "absl/container/flat_hash_map.h"

namespace crm::dialogs::routing {

Presence PresenceOf(std::string_view code) {
  if (code == "ONLINE") return Presence::kOnline;
  if (code == "AWAY") return Presence::kAway;
  return Presence::kOffline;
}

const char* PresenceCode(Presence p) {
  switch (p) {
    case Presence::kOnline: return "ONLINE";
    case Presence::kAway: return "AWAY";
    case Presence::kOffline: break;
  }
  return "OFFLINE";
}

std::optional<std::string> Choose(const std::vector<Rule>& rules, const std::vector<OperatorState>& operators,
                                  std::string_view project, std::string_view topic,
                                  const std::vector<std::string>& exclude) {
  // Each matched operator's best priority (T6 rules).
  absl::flat_hash_map<std::string, int> priority;
  if (rules.empty()) {
    for (const OperatorState& o : operators) priority[o.user_id] = 0;
  } else {
    for (const Rule& r : rules) {
      if (!r.project.empty() && r.project != project) continue;
      if (!r.topic.empty() && r.topic != topic) continue;
      auto [it, inserted] = priority.try_emplace(r.user_id, r.priority);
      if (!inserted) it->second = std::max(it->second, r.priority);
    }
  }
  const OperatorState* best = nullptr;
  int best_priority = 0;
  for (const OperatorState& o : operators) {
    auto p = priority.find(o.user_id);
    if (p == priority.end()) continue;
    if (o.presence != Presence::kOnline || o.open >= o.capacity) continue;
    if (std::find(exclude.begin(), exclude.end(), o.user_id) != exclude.end()) continue;
    // Higher priority, fewer open, idler, smaller id.
    auto key = [](int prio, const OperatorState& s) {
      return std::make_tuple(-prio, s.open, s.last_assigned, std::string_view(s.user_id));
    };
    if (best == nullptr || key(p->second, o) < key(best_priority, *best)) {
      best = &o;
      best_priority = p->second;
    }
  }
  if (best == nullptr) return std::nullopt;
  return best->user_id;
}

}  // namespace crm::dialogs::routing
