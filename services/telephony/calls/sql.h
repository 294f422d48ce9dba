// File: services/telephony/calls/sql.h
// -----------------------------------------------------------------------------
// The calls part's statements (P1, P2), named: the intake's, the deals queue's, the service's. Times go in
// as RFC 3339 text ($n::timestamptz) and come out as Unix microseconds (bigint, 0 for none), exactly. The
// call log's list statements are built in service.cc from these pieces (filters differ per request) and
// EXPLAINed by calls_plan_test.cc at 1 000 000 calls.
#ifndef CRM_SERVICES_TELEPHONY_CALLS_SQL_H_
#define CRM_SERVICES_TELEPHONY_CALLS_SQL_H_

#define CRM_TEL_US(col) "COALESCE((extract(epoch FROM " col ") * 1000000)::bigint, 0)"

namespace crm::telephony::calls::sql {

// A call as calls.proto's Call is filled from it (store.cc: CallOf); over `calls c`.
#define CRM_TEL_CALL_COLUMNS                                                                                 \
  "c.id::text, c.provider, c.call_key, c.direction, c.from_number, c.to_number, c.outside_number, c.line, "  \
  "c.state, c.answered, " CRM_TEL_US("c.started_at") ", " CRM_TEL_US("c.answered_at") ", "                 \
  CRM_TEL_US("c.ended_at") ", c.duration_seconds, COALESCE(c.user_id::text, ''), c.identification, "        \
  "c.client_candidates::text, COALESCE(c.client_id::text, ''), c.client_name, COALESCE(c.deal_id::text, ''), " \
  "COALESCE(c.project_id::text, ''), c.primacy, COALESCE(c.interaction_id::text, ''), c.recording_url, "    \
  CRM_TEL_US("c.update_time") ", c.finished_sent"
// A leg (store.cc: LegOf); over `call_legs l`.
#define CRM_TEL_LEG_COLUMNS                                                                                  \
  "l.id::text, l.leg_key, l.channel, l.extension, COALESCE(l.user_id::text, ''), l.state, l.answered, "     \
  CRM_TEL_US("l.started_at") ", " CRM_TEL_US("l.answered_at") ", " CRM_TEL_US("l.ended_at") ", l.end_reason"

inline constexpr char kCallById[] = "SELECT " CRM_TEL_CALL_COLUMNS " FROM calls c WHERE c.id = $1::uuid";
inline constexpr char kCallByIdForUpdate[] =
    "SELECT " CRM_TEL_CALL_COLUMNS " FROM calls c WHERE c.id = $1::uuid FOR UPDATE";
inline constexpr char kLegsOfCall[] =
    "SELECT " CRM_TEL_LEG_COLUMNS " FROM call_legs l WHERE l.call_id = $1::uuid ORDER BY l.started_at, l.id";
inline constexpr char kLegOfCall[] =
    "SELECT " CRM_TEL_LEG_COLUMNS ", l.provider FROM call_legs l WHERE l.call_id = $1::uuid AND l.id = $2::uuid";
// Whether `user` was on the call (a leg of theirs): "their call" for GetCall and the commands.
inline constexpr char kUserOnCall[] = "SELECT 1 FROM call_legs WHERE user_id = $2::uuid AND call_id = $1::uuid LIMIT 1";

// --- The intake (intake.cc). ---
// The fact, once: no row back = seen before.
inline constexpr char kInsertFact[] =
    "INSERT INTO call_facts (provider, event_key, call_key, kind, receive_time) "
    "VALUES ($1, $2, $3, $4, $5::timestamptz) ON CONFLICT DO NOTHING RETURNING 1";
// The call of (provider, call_key), created at its first fact; later facts fill what is still unknown.
// Locks the row: one call's facts are applied one at a time. Returns its id and whether it was created.
inline constexpr char kUpsertCall[] =
    "INSERT INTO calls (id, provider, call_key, direction, from_number, to_number, line, started_at, "
    "create_time, update_time) VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8::timestamptz, $9::timestamptz, "
    "$9::timestamptz) ON CONFLICT (provider, call_key) DO UPDATE SET "
    "direction = CASE WHEN calls.direction = 'unknown' THEN EXCLUDED.direction ELSE calls.direction END, "
    "from_number = CASE WHEN calls.from_number = '' THEN EXCLUDED.from_number ELSE calls.from_number END, "
    "to_number = CASE WHEN calls.to_number = '' THEN EXCLUDED.to_number ELSE calls.to_number END, "
    "line = CASE WHEN calls.line = '' THEN EXCLUDED.line ELSE calls.line END, "
    "started_at = LEAST(calls.started_at, EXCLUDED.started_at) "
    "RETURNING id::text, (xmax = 0)";
inline constexpr char kLegByKey[] =
    "SELECT " CRM_TEL_LEG_COLUMNS " FROM call_legs l WHERE l.provider = $1 AND l.leg_key = $2";
inline constexpr char kUpsertLeg[] =
    "INSERT INTO call_legs (id, call_id, provider, leg_key, channel, extension, user_id, state, answered, "
    "started_at, answered_at, ended_at, end_reason) VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, "
    "NULLIF($7, '')::uuid, $8, $9, $10::timestamptz, NULLIF($11, '')::timestamptz, NULLIF($12, '')::timestamptz, "
    "$13) ON CONFLICT (provider, leg_key) DO UPDATE SET channel = EXCLUDED.channel, "
    "extension = EXCLUDED.extension, user_id = EXCLUDED.user_id, state = EXCLUDED.state, "
    "answered = EXCLUDED.answered, started_at = EXCLUDED.started_at, answered_at = EXCLUDED.answered_at, "
    "ended_at = EXCLUDED.ended_at, end_reason = EXCLUDED.end_reason";
inline constexpr char kExtensionUser[] =
    "SELECT user_id::text FROM extensions WHERE provider = $1 AND extension = $2";
// The derived state (model.h) written back.
inline constexpr char kUpdateCallState[] =
    "UPDATE calls SET state = $2, answered = $3, answered_at = NULLIF($4, '')::timestamptz, "
    "ended_at = NULLIF($5, '')::timestamptz, duration_seconds = $6, user_id = NULLIF($7, '')::uuid, "
    "outside_number = $8, finished_sent = finished_sent OR $9, update_time = $10::timestamptz "
    "WHERE id = $1::uuid";
inline constexpr char kSetRecording[] =
    "UPDATE calls SET recording_url = $2, update_time = $3::timestamptz WHERE id = $1::uuid AND recording_url <> $2 "
    "RETURNING 1";
// Resynchronisation: the provider's legs not ended (call_legs_open).
inline constexpr char kOpenLegs[] =
    "SELECT c.call_key, l.leg_key, l.channel FROM call_legs l JOIN calls c ON c.id = l.call_id "
    "WHERE l.provider = $1 AND l.state <> 'ended' ORDER BY l.started_at, l.id";

// --- The deals queue (deals_sync.cc). ---
// 'identify' once per call; 'interaction' made due again at each change of an ended call.
inline constexpr char kEnqueueIdentify[] =
    "INSERT INTO call_deals_sync (call_id, kind, due_time, create_time) VALUES ($1::uuid, 'identify', "
    "$2::timestamptz, $2::timestamptz) ON CONFLICT (call_id, kind) DO NOTHING";
inline constexpr char kEnqueueInteraction[] =
    "INSERT INTO call_deals_sync (call_id, kind, due_time, create_time) VALUES ($1::uuid, 'interaction', "
    "$2::timestamptz, $2::timestamptz) ON CONFLICT (call_id, kind) DO UPDATE SET due_time = EXCLUDED.due_time, "
    "attempts = 0, last_error = ''";
inline constexpr char kClaimSync[] =
    "SELECT id, kind, call_id::text, attempts FROM call_deals_sync WHERE due_time IS NOT NULL "
    "AND due_time <= $1::timestamptz ORDER BY due_time, id LIMIT 1 FOR UPDATE SKIP LOCKED";
// The worker writes deals' answer on the call only if it gets the call's row at once: the intake and
// SetCallClient lock the call first and then its queue row, the worker holds its queue row — waiting here
// could deadlock, so a busy call is tried again a second later (deals' calls are harmless to repeat).
inline constexpr char kTryLockCall[] = "SELECT 1 FROM calls WHERE id = $1::uuid FOR UPDATE SKIP LOCKED";
inline constexpr char kSyncLater[] = "UPDATE call_deals_sync SET due_time = $2::timestamptz WHERE id = $1";
inline constexpr char kSyncDone[] = "DELETE FROM call_deals_sync WHERE id = $1";
inline constexpr char kSyncPark[] = "UPDATE call_deals_sync SET due_time = NULL, last_error = $2 WHERE id = $1";
inline constexpr char kSyncRetry[] =
    "UPDATE call_deals_sync SET attempts = attempts + 1, last_error = $2, due_time = $3::timestamptz WHERE id = $1";
// Identification's answer: one client is the call's, several are candidates; an operator's choice stays.
inline constexpr char kIdentified[] =
    "UPDATE calls SET client_candidates = $2::jsonb, "
    "identification = CASE WHEN identification = 'chosen' THEN 'chosen' ELSE $3 END, "
    "client_id = CASE WHEN identification = 'chosen' THEN client_id ELSE NULLIF($4, '')::uuid END, "
    "client_name = CASE WHEN identification = 'chosen' THEN client_name ELSE $5 END, "
    "update_time = $6::timestamptz WHERE id = $1::uuid";
// deals' interaction recorded: its id and primacy on the call.
inline constexpr char kInteractionRecorded[] =
    "UPDATE calls SET interaction_id = $2::uuid, primacy = $3, update_time = $4::timestamptz WHERE id = $1::uuid";

// --- The service (service.cc). ---
inline constexpr char kSetClient[] =
    "UPDATE calls SET client_id = $2::uuid, client_name = $3, identification = 'chosen', "
    "deal_id = COALESCE(NULLIF($4, '')::uuid, deal_id), project_id = COALESCE(NULLIF($5, '')::uuid, project_id), "
    "update_time = $6::timestamptz WHERE id = $1::uuid";
inline constexpr char kExtensionOfUser[] =
    "SELECT extension FROM extensions WHERE user_id = $1::uuid AND provider = $2 ORDER BY extension LIMIT 1";
inline constexpr char kPutExtension[] =
    "INSERT INTO extensions (provider, extension, user_id, update_time) VALUES ($1, $2, $3::uuid, "
    "$4::timestamptz) ON CONFLICT (provider, extension) DO UPDATE SET user_id = EXCLUDED.user_id, "
    "update_time = EXCLUDED.update_time RETURNING " CRM_TEL_US("update_time");
inline constexpr char kDeleteExtension[] = "DELETE FROM extensions WHERE provider = $1 AND extension = $2 RETURNING 1";
inline constexpr char kListExtensions[] =
    "SELECT provider, extension, user_id::text, " CRM_TEL_US("update_time") " FROM extensions "
    "WHERE ($1 = '' OR provider = $1) AND ($2 = '' OR user_id = NULLIF($2, '')::uuid) "
    "ORDER BY provider, extension LIMIT 5000";

// --- Extensions planned for a login (demo.h, users.h). ---
// Planned unless the extension is assigned already.
inline constexpr char kPlanExtension[] =
    "INSERT INTO pending_extensions (provider, extension, login, create_time) SELECT $1, $2, $3, now() "
    "WHERE NOT EXISTS (SELECT 1 FROM extensions WHERE provider = $1 AND extension = $2) "
    "ON CONFLICT (provider, extension) DO NOTHING";
// Serialises planning (demo.h) and users' events (users.h): else a plan and the event of its user committed
// at the same time would each miss the other (READ COMMITTED) and the plan would wait forever.
inline constexpr char kLockPlans[] = "SELECT pg_advisory_xact_lock(hashtextextended('telephony.pending_extensions', 0))";
// A user's login as identity's event gives it (an older version changes nothing).
inline constexpr char kUpsertUserLogin[] =
    "INSERT INTO user_logins (user_id, login, version, update_time) VALUES ($1::uuid, $2, $3, now()) "
    "ON CONFLICT (user_id) DO UPDATE SET login = EXCLUDED.login, version = EXCLUDED.version, update_time = now() "
    "WHERE user_logins.version < EXCLUDED.version";
// Every planned extension whose login is a known user's given to that user (an extension assigned meanwhile
// stays), then unplanned.
inline constexpr char kAssignKnownPlans[] =
    "WITH planned AS (DELETE FROM pending_extensions p USING user_logins u WHERE p.login = u.login "
    "RETURNING p.provider, p.extension, u.user_id) INSERT INTO extensions (provider, extension, user_id, "
    "update_time) SELECT provider, extension, user_id, now() FROM planned ON CONFLICT (provider, extension) DO NOTHING";
// The login's planned extensions given to its user (an extension assigned meanwhile stays), then unplanned.
inline constexpr char kAssignPendingExtensions[] =
    "WITH planned AS (DELETE FROM pending_extensions WHERE login = $1 RETURNING provider, extension) "
    "INSERT INTO extensions (provider, extension, user_id, update_time) SELECT provider, extension, $2::uuid, now() "
    "FROM planned ON CONFLICT (provider, extension) DO NOTHING";

}  // namespace crm::telephony::calls::sql

#endif  // CRM_SERVICES_TELEPHONY_CALLS_SQL_H_
