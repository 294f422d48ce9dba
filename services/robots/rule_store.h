// File: services/robots/rule_store.h
// -----------------------------------------------------------------------------
// Rules as data (R1): stored, versioned, and indexed in memory for matching events.
//
// Every change makes a new version; all versions are kept (rule_versions), so an execution that started
// on version 3 finishes on version 3 even after the rule moved on. A rule with a SCHEDULE trigger owns one
// schedule ("rule:<id>") in the ScheduleStore, kept in step with the rule in the same transaction.
//
// Matching reads a RuleIndex: an immutable snapshot of the enabled rules, grouped by trigger kind and by
// the stage or pipeline the trigger names, so an event looks at the few rules that can match it, not at
// all of them. Current() reloads it when another replica (or this one) changed a rule.
//
// Example:
//   crm::robots::RuleStore rules(*pool, clock, &schedules, {.calendar = "company", .time_zone = zone});
//   CRM_ASSIGN_OR_RETURN(v1::Rule r, rules.Create(caller, rule, idempotency_key));
//   CRM_ASSIGN_OR_RETURN(std::shared_ptr<const crm::robots::RuleIndex> index, rules.Current());
//   for (const v1::Rule* rule : index->Candidates(v1::Trigger::STAGE_ENTERED, pipeline_id, stage_id)) ...
#ifndef CRM_SERVICES_ROBOTS_RULE_STORE_H_
#define CRM_SERVICES_ROBOTS_RULE_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crm/robots/v1/robots.pb.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm {
class Clock;
}  // namespace crm
namespace crm::common::v1 {
class Principal;
}  // namespace crm::common::v1
namespace crm::pg {
class Pool;
}  // namespace crm::pg
namespace crm::timers {
class ScheduleStore;
}  // namespace crm::timers

namespace crm::robots {

// The timer kind of a SCHEDULE rule's occurrences; the payload is the rule id.
inline constexpr char kScheduleTimerKind[] = "robots.schedule";

// An immutable snapshot of the enabled rules (their current versions) for matching.
class RuleIndex {
 public:
  explicit RuleIndex(std::vector<crm::robots::v1::Rule> rules, int64_t revision);

  // The rules with trigger `kind` whose trigger could match a deal in `pipeline_id` / `stage_id`: those
  // naming that stage, those naming that pipeline and no stage, and those naming neither. The caller
  // still checks the rest of the trigger (to_stage_ids, field). Pointers live as long as the index.
  std::vector<const crm::robots::v1::Rule*> Candidates(crm::robots::v1::Trigger::Kind kind,
                                                       std::string_view pipeline_id,
                                                       std::string_view stage_id) const;
  // Every rule of trigger `kind`.
  const std::vector<const crm::robots::v1::Rule*>& OfKind(crm::robots::v1::Trigger::Kind kind) const;

  int64_t revision() const { return revision_; }
  size_t size() const { return rules_.size(); }

 private:
  std::vector<crm::robots::v1::Rule> rules_;
  int64_t revision_;
  // (kind, stage or pipeline id or "") -> rules
  absl::flat_hash_map<std::string, std::vector<const crm::robots::v1::Rule*>> by_key_;
  absl::flat_hash_map<int, std::vector<const crm::robots::v1::Rule*>> by_kind_;
};

// Where SCHEDULE rules' schedules run.
struct RuleStoreOptions {
  std::string calendar = "company";       // working calendar of "every working day"
  std::string time_zone = "Europe/Moscow";  // the company's zone (Schedule.time_zone "" = this)
  // How often Current() asks the database whether rules changed; 0 = on every call.
  absl::Duration refresh = absl::Seconds(1);
};

// Rules in the robots database. Thread-safe.
class RuleStore {
 public:
  // `pool`, `clock` and `schedules` (may be nullptr: SCHEDULE rules are then refused) outlive the store.
  RuleStore(pg::Pool& pool, const Clock& clock, timers::ScheduleStore* schedules, RuleStoreOptions options = {});

  // Stores `rule` (validated by ValidateRule; output-only fields ignored) at version 1 and returns it.
  // With an idempotency key, a repeat of the same request returns the first result.
  absl::StatusOr<crm::robots::v1::Rule> Create(const crm::common::v1::Principal& caller,
                                               const crm::robots::v1::Rule& rule,
                                               std::string_view idempotency_key);

  // Stores `rule` at version 1 with its own id (a UUID) unless a rule with that id exists. An existing
  // one whose last version is the installer's (`caller`: nobody edited it) and differs from `rule` gets
  // `rule` as its next version (a newer build's definition); one someone else changed since is left as
  // it is, edits included. Returns whether it created or changed the rule. For demo and fixture rules.
  absl::StatusOr<bool> Install(const crm::common::v1::Principal& caller, const crm::robots::v1::Rule& rule);

  // The rule at its current version (`version` 0) or at `version`. NotFound naming the id.
  absl::StatusOr<crm::robots::v1::Rule> Get(std::string_view id, int64_t version);

  // Rules by id, optionally only those triggered in one pipeline and / or enabled ones.
  absl::StatusOr<crm::robots::v1::ListRulesResponse> List(const crm::robots::v1::ListRulesRequest& request);

  // Applies the paths of `mask` (name, description, enabled, trigger, condition, delay, actions,
  // coalesce_window, max_depth; empty = all of them) of `rule` to the stored rule when rule.version is
  // its current version (ABORTED "version mismatch" otherwise), validates the result and stores it as
  // the next version. Pending steps of earlier runs keep their version.
  absl::StatusOr<crm::robots::v1::Rule> Update(const crm::common::v1::Principal& caller,
                                               const crm::robots::v1::Rule& rule,
                                               const std::vector<std::string>& mask);

  // The rule `id` at `version`, read in `tx`.
  static absl::StatusOr<crm::robots::v1::Rule> GetVersion(pqxx::transaction_base& tx, std::string_view id,
                                                          int64_t version);

  // The enabled rules as of at most options.refresh ago (fresh after a change made through this store).
  absl::StatusOr<std::shared_ptr<const RuleIndex>> Current();

 private:
  absl::Status SyncSchedule(pqxx::transaction_base& tx, const crm::robots::v1::Rule& rule);
  absl::StatusOr<crm::robots::v1::Rule> Store(pqxx::transaction_base& tx, const crm::common::v1::Principal& caller,
                                              crm::robots::v1::Rule rule, bool create);

  pg::Pool& pool_;
  const Clock& clock_;
  timers::ScheduleStore* schedules_;
  RuleStoreOptions options_;
  absl::Mutex mu_;
  std::shared_ptr<const RuleIndex> index_ ABSL_GUARDED_BY(mu_);
  absl::Time checked_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace crm::robots

#endif  // CRM_SERVICES_ROBOTS_RULE_STORE_H_
