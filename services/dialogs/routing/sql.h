// File: services/dialogs/routing/sql.h
// -----------------------------------------------------------------------------
// Routing's statements (T6, T8), named. Times go in as RFC 3339 text and come out as Unix microseconds.
#ifndef CRM_SERVICES_DIALOGS_ROUTING_SQL_H_
#define CRM_SERVICES_DIALOGS_ROUTING_SQL_H_

#define CRM_ROUTING_US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

namespace crm::dialogs::routing::sql {

// The dialog as routing needs it, locked.
inline constexpr char kDialogForUpdate[] =
    "SELECT bot_id::text, status, closed, project, topic, COALESCE(responsible_id::text, ''), "
    "COALESCE(client_id::text, ''), COALESCE(" CRM_ROUTING_US("queued_time") ", 0) FROM dialogs WHERE id = $1::uuid "
    "FOR UPDATE";
// The bot's operators (rights: the inbox's bot_operators) with capacity, presence, idleness and IN_WORK
// dialogs now (dialogs_responsible_open).
inline constexpr char kOperatorsOfBot[] =
    "SELECT o.user_id::text, COALESCE(r.presence, 'OFFLINE'), COALESCE(r.capacity, 5), "
    "COALESCE(" CRM_ROUTING_US("r.last_assigned_time") ", 0), r.last_assigned_time IS NULL, "
    "(SELECT count(*) FROM dialogs d WHERE d.responsible_id = o.user_id AND NOT d.closed "
    "AND d.status = 'IN_WORK')::int FROM bot_operators o LEFT JOIN routing_operators r ON r.user_id = o.user_id "
    "WHERE o.bot_id = $1::uuid ORDER BY o.user_id";
// The bot's rules, groups' members listed.
inline constexpr char kRulesOfBot[] =
    "SELECT COALESCE(r.user_id::text, ''), COALESCE(array_to_string(g.user_ids, ','), ''), r.project, r.topic, "
    "r.priority FROM routing_rules r LEFT JOIN routing_groups g ON g.id = r.group_id WHERE r.bot_id = $1::uuid";
// Capacity under concurrency: the chosen operator is locked for the rest of the transaction, then counted
// again (read committed: the count sees every assignment committed before the lock was granted).
inline constexpr char kLockOperator[] =
    "SELECT pg_advisory_xact_lock(hashtextextended('crm.dialogs.operator:' || $1, 0))";
inline constexpr char kOpenOfOperator[] =
    "SELECT (SELECT count(*) FROM dialogs d WHERE d.responsible_id = $1::uuid AND NOT d.closed "
    "AND d.status = 'IN_WORK')::int, COALESCE((SELECT capacity FROM routing_operators WHERE user_id = $1::uuid), 5)";
inline constexpr char kAssign[] =
    "UPDATE dialogs SET status = 'IN_WORK', responsible_id = $2::uuid, "
    "team_ids = COALESCE((SELECT team_ids FROM user_directory WHERE user_id = $2::uuid), "
    "(SELECT team_ids FROM routing_operators WHERE user_id = $2::uuid), '{}'), "
    "taken_time = $3::timestamptz, version = version + 1, update_time = $3::timestamptz "
    "WHERE id = $1::uuid AND NOT closed";
inline constexpr char kTouchOperator[] =
    "INSERT INTO routing_operators (user_id, last_assigned_time, update_time) VALUES ($1::uuid, $2::timestamptz, "
    "$2::timestamptz) ON CONFLICT (user_id) DO UPDATE SET last_assigned_time = EXCLUDED.last_assigned_time";
inline constexpr char kQueue[] =
    "UPDATE dialogs SET status = 'QUEUED', responsible_id = NULL, team_ids = '{}', queued_time = $2::timestamptz, "
    "version = version + 1, update_time = $3::timestamptz WHERE id = $1::uuid AND NOT closed";
inline constexpr char kUnparkSync[] =
    "UPDATE deals_sync SET due_time = $2::timestamptz WHERE dialog_id = $1::uuid AND due_time IS NULL";
inline constexpr char kInsertAssignment[] =
    "INSERT INTO dialog_assignments (dialog_id, bot_id, kind, from_user_id, to_user_id, by_user_id, time) "
    "VALUES ($1::uuid, $2::uuid, $3, NULLIF($4, '')::uuid, NULLIF($5, '')::uuid, NULLIF($6, '')::uuid, "
    "$7::timestamptz) RETURNING id";
inline constexpr char kAssignment[] =
    "SELECT dialog_id::text, COALESCE(to_user_id::text, ''), reply_time IS NOT NULL FROM dialog_assignments "
    "WHERE id = $1";
inline constexpr char kTimeoutOfBot[] =
    "SELECT answer_timeout_minutes FROM routing_bots WHERE bot_id = $1::uuid";
// The operator's latest assignment of the dialog, unanswered (the first reply after it fills it).
inline constexpr char kUnansweredAssignment[] =
    "SELECT id, " CRM_ROUTING_US("time") ", bot_id::text FROM dialog_assignments WHERE dialog_id = $1::uuid "
    "AND to_user_id = $2::uuid ORDER BY id DESC LIMIT 1";
inline constexpr char kAnswer[] =
    "UPDATE dialog_assignments SET reply_time = $2::timestamptz, reply_working_seconds = $3 "
    "WHERE id = $1 AND reply_time IS NULL";
// The oldest queued dialogs of a bot that are due (dialogs_queue), skipping those another transaction holds.
inline constexpr char kQueuedOfBot[] =
    "SELECT id::text FROM dialogs WHERE bot_id = $1::uuid AND status = 'QUEUED' AND queued_time <= $2::timestamptz "
    "ORDER BY number LIMIT $3 FOR UPDATE SKIP LOCKED";
inline constexpr char kBotsOfOperator[] =
    "SELECT bot_id::text FROM bot_operators WHERE user_id = $1::uuid ORDER BY bot_id";

// The API's statements (service.cc).
#define CRM_ROUTING_RULE_SELECT                                                                               \
  "SELECT r.id::text, r.bot_id::text, COALESCE(b.name, ''), COALESCE(r.user_id::text, ''), "                    \
  "COALESCE(r.group_id::text, ''), COALESCE(g.name, ''), r.project, r.topic, r.priority, " CRM_ROUTING_US(      \
      "r.create_time") ", COALESCE(u.full_name, '') FROM routing_rules r LEFT JOIN tg_bots b ON b.id = r.bot_id " \
  "LEFT JOIN routing_groups g ON g.id = r.group_id LEFT JOIN user_directory u ON u.user_id = r.user_id "
inline constexpr char kListRules[] = CRM_ROUTING_RULE_SELECT
    "WHERE ($1 = '' OR r.bot_id = NULLIF($1, '')::uuid) AND ($2 = '' OR r.id > NULLIF($2, '')::uuid) "
    "ORDER BY r.id LIMIT $3";
inline constexpr char kRuleById[] = CRM_ROUTING_RULE_SELECT "WHERE r.id = $1::uuid";
inline constexpr char kInsertRule[] =
    "INSERT INTO routing_rules (id, bot_id, user_id, group_id, project, topic, priority, create_time) VALUES "
    "($1::uuid, $2::uuid, NULLIF($3, '')::uuid, NULLIF($4, '')::uuid, $5, $6, $7, $8::timestamptz)";
inline constexpr char kDeleteRule[] = "DELETE FROM routing_rules WHERE id = $1::uuid RETURNING id";
inline constexpr char kBotExists[] = "SELECT 1 FROM tg_bots WHERE id = $1::uuid";
inline constexpr char kIsOperator[] = "SELECT 1 FROM bot_operators WHERE bot_id = $1::uuid AND user_id = $2::uuid";
inline constexpr char kGroup[] = "SELECT bot_id::text, array_to_string(user_ids, ',') FROM routing_groups WHERE id = $1::uuid";

#define CRM_ROUTING_GROUP_SELECT \
  "SELECT id::text, bot_id::text, name, array_to_string(user_ids, ','), " CRM_ROUTING_US("create_time") " FROM routing_groups "
inline constexpr char kListGroups[] =
    CRM_ROUTING_GROUP_SELECT "WHERE ($1 = '' OR bot_id = NULLIF($1, '')::uuid) AND ($2 = '' OR id > NULLIF($2, '')::uuid) "
    "ORDER BY id LIMIT $3";
inline constexpr char kGroupById[] = CRM_ROUTING_GROUP_SELECT "WHERE id = $1::uuid";
inline constexpr char kInsertGroup[] =
    "INSERT INTO routing_groups (id, bot_id, name, user_ids, create_time) VALUES ($1::uuid, $2::uuid, $3, "
    "$4::uuid[], $5::timestamptz) ON CONFLICT (bot_id, name) DO NOTHING RETURNING id";

// Operators: who operates a bot ($1, '' = any) or has routing settings; one user ($2, '' = any); after
// user $3 ('' = from the first), at most $4.
inline constexpr char kOperators[] =
    "SELECT u.user_id::text, COALESCE((SELECT string_agg(o.bot_id::text, ',' ORDER BY o.bot_id) FROM bot_operators o "
    "WHERE o.user_id = u.user_id), ''), COALESCE(r.capacity, 5), COALESCE(r.presence, 'OFFLINE'), "
    "COALESCE(" CRM_ROUTING_US("r.presence_time") ", 0), (SELECT count(*) FROM dialogs d WHERE d.responsible_id = "
    "u.user_id AND NOT d.closed AND d.status = 'IN_WORK')::int, COALESCE(" CRM_ROUTING_US("r.last_assigned_time")
    ", 0), COALESCE(r.version, 0), COALESCE((SELECT full_name FROM user_directory ud WHERE ud.user_id = u.user_id), "
    "'') FROM (SELECT user_id FROM bot_operators WHERE ($1 = '' OR bot_id = NULLIF($1, "
    "'')::uuid) AND ($2 = '' OR user_id = NULLIF($2, '')::uuid) UNION SELECT user_id FROM routing_operators WHERE "
    "$1 = '' AND ($2 = '' OR user_id = NULLIF($2, '')::uuid)) u LEFT JOIN routing_operators r ON r.user_id = "
    "u.user_id WHERE ($3 = '' OR u.user_id > NULLIF($3, '')::uuid) ORDER BY u.user_id LIMIT $4";
inline constexpr char kOperatorVersion[] = "SELECT version FROM routing_operators WHERE user_id = $1::uuid";
inline constexpr char kSetCapacity[] =
    "INSERT INTO routing_operators (user_id, capacity, update_time) VALUES ($1::uuid, $2, $3::timestamptz) "
    "ON CONFLICT (user_id) DO UPDATE SET capacity = EXCLUDED.capacity, version = routing_operators.version + 1, "
    "update_time = EXCLUDED.update_time";
inline constexpr char kDropBots[] =
    "DELETE FROM bot_operators WHERE user_id = $1::uuid AND NOT (bot_id = ANY ($2::uuid[]))";
inline constexpr char kAddBots[] =
    "INSERT INTO bot_operators (bot_id, user_id) SELECT b, $1::uuid FROM unnest($2::uuid[]) b ON CONFLICT DO NOTHING";
inline constexpr char kMissingBots[] =
    "SELECT b::text FROM unnest($1::uuid[]) b WHERE NOT EXISTS (SELECT 1 FROM tg_bots t WHERE t.id = b)";
inline constexpr char kSetPresence[] =
    "INSERT INTO routing_operators (user_id, presence, presence_time, team_ids, update_time) VALUES ($1::uuid, $2, "
    "$3::timestamptz, $4::uuid[], $3::timestamptz) ON CONFLICT (user_id) DO UPDATE SET presence = "
    "EXCLUDED.presence, presence_time = EXCLUDED.presence_time, team_ids = EXCLUDED.team_ids, "
    "version = routing_operators.version + 1, update_time = EXCLUDED.update_time";

inline constexpr char kBotRouting[] =
    "SELECT answer_timeout_minutes, version FROM routing_bots WHERE bot_id = $1::uuid";
inline constexpr char kSetBotRouting[] =
    "INSERT INTO routing_bots (bot_id, answer_timeout_minutes, update_time) VALUES ($1::uuid, $2, $3::timestamptz) "
    "ON CONFLICT (bot_id) DO UPDATE SET answer_timeout_minutes = EXCLUDED.answer_timeout_minutes, "
    "version = routing_bots.version + 1, update_time = EXCLUDED.update_time";

// T8: a page of a dialog's history after assignment id $2, oldest first, at most $3 rows
// (dialog_assignments_dialog; the timeline merges it with the bot's transitions, scenarios/sql.h).
inline constexpr char kHistoryPage[] =
    "SELECT id, kind, COALESCE(from_user_id::text, ''), COALESCE(to_user_id::text, ''), "
    "COALESCE(by_user_id::text, ''), " CRM_ROUTING_US("time") " FROM dialog_assignments "
    "WHERE dialog_id = $1::uuid AND id > $2 ORDER BY id LIMIT $3";
// T8: the whole dialog's first queueing, first assignment to an operator and first operator reply in
// microseconds, 0 for none (one range of dialog_assignments_dialog: a dialog has a handful of assignments).
inline constexpr char kTimelineFirsts[] =
    "SELECT COALESCE(min(" CRM_ROUTING_US("time") ") FILTER (WHERE kind = 'QUEUED'), 0), "
    "COALESCE(min(" CRM_ROUTING_US("time") ") FILTER (WHERE to_user_id IS NOT NULL), 0), "
    "COALESCE(min(" CRM_ROUTING_US("reply_time") "), 0) FROM dialog_assignments WHERE dialog_id = $1::uuid";
// T8's report: assignments to operators in [$1, $2), of one bot ($3, '' = every bot), by operator and bot
// (dialog_assignments_report: an index-only range scan; plan test routing_plan_test.cc).
inline constexpr char kReport[] =
    "SELECT a.to_user_id::text, a.bot_id::text, COALESCE(b.name, ''), a.n, a.answered, a.median, a.p90, "
    "COALESCE(ud.full_name, '') FROM ("
    "SELECT to_user_id, bot_id, count(*)::int AS n, count(reply_working_seconds)::int AS answered, "
    "COALESCE(percentile_disc(0.5) WITHIN GROUP (ORDER BY reply_working_seconds), 0)::bigint AS median, "
    "COALESCE(percentile_disc(0.9) WITHIN GROUP (ORDER BY reply_working_seconds), 0)::bigint AS p90 "
    "FROM dialog_assignments WHERE to_user_id IS NOT NULL AND time >= $1::timestamptz AND time < $2::timestamptz "
    "AND ($3 = '' OR bot_id = NULLIF($3, '')::uuid) GROUP BY to_user_id, bot_id) a "
    "LEFT JOIN tg_bots b ON b.id = a.bot_id LEFT JOIN user_directory ud ON ud.user_id = a.to_user_id "
    "ORDER BY a.to_user_id, a.bot_id";

}  // namespace crm::dialogs::routing::sql

#endif  // CRM_SERVICES_DIALOGS_ROUTING_SQL_H_
