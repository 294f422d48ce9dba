// File: services/dialogs/scenarios/sql.h
// -----------------------------------------------------------------------------
// The runner's statements (runner.cc), named for the plan test (lists_plan_test.cc): the dialog's state
// and, T9, its transition history (migrations/0002_transitions.sql).
#ifndef CRM_SERVICES_DIALOGS_SCENARIOS_SQL_H_
#define CRM_SERVICES_DIALOGS_SCENARIOS_SQL_H_

namespace crm::dialogs::scenarios::sql {

inline constexpr char kLockState[] =
    "SELECT state, bot_id, client_key, private_chat FROM scenario_states WHERE dialog_id = $1 FOR UPDATE";
inline constexpr char kReadState[] = "SELECT state FROM scenario_states WHERE dialog_id = $1";
inline constexpr char kUpsertState[] =
    "INSERT INTO scenario_states (dialog_id, bot_id, client_key, private_chat, scenario_id, version, stage, "
    "finished, state, update_time) VALUES ($1, $2, $3, $4, $5::uuid, $6, $7, $8, $9, $10::timestamptz) "
    "ON CONFLICT (dialog_id) DO UPDATE SET version = EXCLUDED.version, stage = EXCLUDED.stage, "
    "finished = EXCLUDED.finished, state = EXCLUDED.state, update_time = EXCLUDED.update_time";

// T9: one BotTransition of a dialog (the step's transaction; a repeated seq is a bug: the key refuses it).
inline constexpr char kInsertTransition[] =
    "INSERT INTO scenario_transitions (dialog_id, seq, scenario_id, scenario_version, from_stage, from_stage_name, "
    "to_stage, to_stage_name, cause, key_kind, input, failed_attempts, time) VALUES ($1, $2, $3::uuid, $4, $5, $6, "
    "$7, $8, $9, $10, $11, $12, $13::timestamptz)";
// T9: a dialog's transitions after seq $2, oldest first, at most $3 (the primary key's range).
inline constexpr char kTransitionsOfDialog[] =
    "SELECT seq, scenario_id::text, scenario_version, from_stage, from_stage_name, to_stage, to_stage_name, cause, "
    "key_kind, input, failed_attempts, (extract(epoch FROM time) * 1000000)::bigint FROM scenario_transitions "
    "WHERE dialog_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";

}  // namespace crm::dialogs::scenarios::sql

#endif  // CRM_SERVICES_DIALOGS_SCENARIOS_SQL_H_
