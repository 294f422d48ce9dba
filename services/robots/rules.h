// File: services/robots/rules.h
// -----------------------------------------------------------------------------
// Rules as data (R1), the pure part: validating a crm.robots.v1.Rule and evaluating its condition tree
// against a snapshot of one deal, with an explanation of every predicate looked at. No database, no RPC:
// the service loads the facts, this decides.
//
// Predicate fields (Predicate.field) and how they compare:
//   number  "amount" (minor units; unset = empty), "counter.<name>" (absent counter = 0),
//           "minutes_in_stage" / "minutes_since_created" (whole minutes from Deal.stage_enter_time /
//           create_time to Facts::now, floored; empty when that time is unset)
//   text    "pipeline_id", "stage_id", "source", "responsible_id", "client_id" ("" = empty),
//           "priority" ("A" / "B" / "C"; "PRIORITY_A" in values is accepted too; unspecified = empty)
//   list    "tags"
//   bool    "has_open_task", "has_comment_since_stage" (values "true" / "false"; never empty)
//   custom  "custom.<code>": by the FieldValue member that is set — number (NUMBER, decimal text), money
//           (MONEY, minor units; currency not compared), text (STRING, URL, USER, ENUM, DATE), time
//           (DATETIME), flag (BOOL), options (MULTI_ENUM). A field the deal does not have, or has with no
//           member set, is empty.
// Ops: EQ / NE / IN (equal to any of values) on every kind but lists; LT / LE / GT / GE on numbers (exact
// decimal comparison), on dates ("2026-11-24", text fields holding a date) and on datetimes (values in RFC
// 3339, or a date compared with the datetime's day in Facts::zone); CONTAINS (every one of values is among
// the list's) and IN (any of values is among the list's) on lists; IS_SET / IS_EMPTY on everything.
// An empty field makes IS_EMPTY true and every other comparison false (NE included: nothing is known
// about it). A comparison that does not apply to the value (GT on a text, a value that does not parse)
// is false.
//
// Example:
//   CRM_RETURN_IF_ERROR(crm::robots::ValidateRule(rule));       // INVALID_ARGUMENT naming every bad field
//   crm::robots::Facts facts{.deal = &deal, .has_open_task = false,
//                            .counters = {{"touches", 2}}, .now = clock.Now()};
//   crm::robots::Evaluation ev = crm::robots::Evaluate(rule.condition(), facts);
//   if (!ev.result) execution.set_state(Execution::NOT_MATCHED);
//   for (auto& p : ev.predicates) *execution.add_predicates() = p;   // «amount GT 50000000» true «60000000»
#ifndef CRM_SERVICES_ROBOTS_RULES_H_
#define CRM_SERVICES_ROBOTS_RULES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "crm/robots/v1/robots.pb.h"

namespace crm::deals::v1 {
class Deal;
}  // namespace crm::deals::v1

namespace crm::robots {

// Limits ValidateRule enforces (and Evaluate does not rely on).
inline constexpr int kMaxRuleNameChars = 200;
inline constexpr int kMaxConditionDepth = 8;         // a lone predicate is depth 1
inline constexpr int kMaxConditionPredicates = 100;  // per tree (condition; delay.cancel_when)
inline constexpr int kMaxPredicateValues = 100;
inline constexpr int kMaxActions = 20;
inline constexpr int kMaxRuleDepth = 5;
inline constexpr absl::Duration kMaxDelay = absl::Hours(24 * 366);

// Returns OK if `rule` can be stored; otherwise INVALID_ARGUMENT carrying one field violation per
// problem found — ALL of them, in field order — with paths in the request's proto names:
// "rule.name", "rule.trigger.kind", "rule.trigger.stage_id", "rule.trigger.schedule.spec",
// "rule.condition.all.items[1].predicate.op", "rule.delay.duration", "rule.actions[2].create_task.title",
// "rule.max_depth", ... The message lists them too. Output-only fields (id, version, times) are ignored.
// Checked: name 1..200 characters, description ≤ 4000; trigger kind set and known; ids UUIDs; stage
// triggers with a stage_id or pipeline_id; FIELD_CHANGED a deal field, DATE_FIELD_REACHED a custom.<code>;
// SCHEDULE a spec ParseScheduleSpec accepts (and a loadable time_zone); |offset| ≤ 366 days; condition
// and delay.cancel_when: no empty nodes or lists, ≤ 8 deep, ≤ 100 predicates, known fields, ops that
// apply to the field, the values the op needs (parseable for known number / id / enum / flag fields);
// delay 0..366 days; 1..20 actions, each set with its required fields (task title, tag, comment text,
// UUIDs, CopyOptions JSON, notify channels / recipients / text, report code); coalesce_window 0..24 h;
// max_depth 0..5.
absl::Status ValidateRule(const crm::robots::v1::Rule& rule);

// What a condition can see of one deal at one moment.
struct Facts {
  // The deal; not owned, must outlive Evaluate. nullptr = no deal (every deal field is empty).
  const crm::deals::v1::Deal* deal = nullptr;
  bool has_open_task = false;
  bool has_comment_since_stage = false;
  // "touches" -> 3 for "counter.touches"; a counter not here is 0.
  std::map<std::string, int64_t, std::less<>> counters;
  // The moment of evaluation (an injected clock's), for minutes_in_stage / minutes_since_created.
  absl::Time now = absl::UnixEpoch();
  // The zone in which a datetime field is compared with a date value ("2026-11-24").
  absl::TimeZone zone = absl::UTCTimeZone();
};

// The outcome of one condition and why.
struct Evaluation {
  bool result = true;
  // Every predicate evaluated, in evaluation order (depth first, items in order), with its own result —
  // under a NOT the predicate's result, not the negation. Predicates skipped by short-circuit are not
  // listed.
  std::vector<crm::robots::v1::Execution::PredicateResult> predicates;
};

// Evaluates `condition` against `facts`. Absent (no node set) = true. `all` is true when every item is,
// stopping at the first false one (empty = true); `any` is true when some item is, stopping at the first
// true one (empty = false); `not` negates. Each PredicateResult holds the predicate as text
// («amount GT 50000000», «stage_id IN ["…", "…"]», «custom.x IS_EMPTY»; values that are decimal numbers
// or true/false unquoted), its result and the actual value («60000000», «"site"», «["vip", "b2b"]»,
// «2026-11-24T10:00:00Z», «(empty)»). Never fails: an unknown field is empty and noted as
// «(unknown field)». Meant for validated conditions; deeper trees are evaluated all the same.
Evaluation Evaluate(const crm::robots::v1::Condition& condition, const Facts& facts);

// The text form of a predicate used in PredicateResult.predicate.
std::string PredicateText(const crm::robots::v1::Predicate& predicate);

}  // namespace crm::robots

#endif  // CRM_SERVICES_ROBOTS_RULES_H_
