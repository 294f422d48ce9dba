// File: services/dialogs/scenarios/store.h
// -----------------------------------------------------------------------------
// Scenarios in PostgreSQL (T3; migrations/0001_scenarios.sql): a head row per scenario (bot, name, newest
// version, active) and every version's definition, append-only, so a dialog in a stage keeps its version.
// Writes validate the whole definition (every error at once, validate.h); creates honour an idempotency
// key (crm::pg::RunIdempotent in the same transaction); updates are optimistic (version 0 = any, a stale
// one ABORTED); at most one active scenario per bot (FAILED_PRECONDITION naming scenario.active). Every
// write appends its ScenarioChanged event (crm.dialogs.scenario.v1, scenario_event_types.h) to the outbox
// in its transaction.
//
// Example:
//   ScenarioStore store(pool, clock, outbox);
//   CRM_ASSIGN_OR_RETURN(v1::Scenario s, store.Create(caller, scenario, rpc::IdempotencyKey(ctx)));
//   CRM_ASSIGN_OR_RETURN(std::string json, store.Export(s.id(), 0));
#ifndef CRM_SERVICES_DIALOGS_SCENARIOS_STORE_H_
#define CRM_SERVICES_DIALOGS_SCENARIOS_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "crm/common/v1/common.pb.h"
#include "crm/dialogs/v1/scenarios.pb.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm {
class Clock;
}  // namespace crm
namespace crm::events {
class OutboxWriter;
}  // namespace crm::events
namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::dialogs::scenarios {

namespace v1 = ::crm::dialogs::v1;

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 200;

class ScenarioStore {
 public:
  using Principal = crm::common::v1::Principal;

  // `pool` (migrated with the events and "scenarios" components), `clock` and `outbox` (service
  // "dialogs") must outlive the store.
  ScenarioStore(crm::pg::Pool& pool, const Clock& clock, const crm::events::OutboxWriter& outbox);

  // Version 1 of a new scenario. `caller` scopes the idempotency key ("" key: not idempotent).
  absl::StatusOr<v1::Scenario> Create(const Principal& caller, const v1::Scenario& scenario, std::string_view key);
  // `version` 0 = the newest. NOT_FOUND for an unknown id or version.
  absl::StatusOr<v1::Scenario> Get(std::string_view id, int64_t version);
  absl::StatusOr<v1::ListScenariosResponse> List(const v1::ListScenariosRequest& req);
  // The next version of scenario.id with scenario's definition; bot_id cannot change.
  absl::StatusOr<v1::Scenario> Update(const Principal& caller, const v1::Scenario& scenario);
  // proto3 JSON of a version's definition (without id, version, active and times).
  absl::StatusOr<std::string> Export(std::string_view id, int64_t version);
  // A new scenario from an export (as Create; INVALID_ARGUMENT naming "json" when it does not parse).
  absl::StatusOr<v1::Scenario> Import(const Principal& caller, const v1::ImportScenarioRequest& req,
                                      std::string_view key);
  // The demo: creates `scenario` under its own id unless a scenario with that id exists.
  absl::Status InstallFixed(const v1::Scenario& scenario);

  // In the caller's transaction (the runner): a version (0 = the newest), and the bot's active
  // scenario's newest version (nullopt when the bot has none).
  static absl::StatusOr<v1::Scenario> LoadVersion(pqxx::transaction_base& tx, std::string_view id, int64_t version);
  static absl::StatusOr<std::optional<v1::Scenario>> LoadActive(pqxx::transaction_base& tx, std::string_view bot_id);

 private:
  absl::Status Insert(pqxx::transaction_base& tx, const Principal& caller, v1::Scenario& scenario);
  absl::Status Event(pqxx::transaction_base& tx, const Principal& caller, const v1::Scenario& s,
                     const char* type) const;

  crm::pg::Pool& pool_;
  const Clock& clock_;
  const crm::events::OutboxWriter& outbox_;
};

// The definition of `s` as export writes it (proto3 JSON, fields in proto order, no id/version/times).
absl::StatusOr<std::string> ExportJson(const v1::Scenario& s);
// Parses an export (unknown fields refused); INVALID_ARGUMENT naming `field` when it does not parse.
absl::StatusOr<v1::Scenario> ParseExport(std::string_view json, std::string_view field);

}  // namespace crm::dialogs::scenarios

#endif  // CRM_SERVICES_DIALOGS_SCENARIOS_STORE_H_
