// File: services/telephony/requests/sql.h
// -----------------------------------------------------------------------------
// The call-request queue's statements (P4), named. Times go in as RFC 3339 text and come out as Unix
// microseconds (0 = none). The list's statement is built from its filters (list.cc) out of the pieces here.
#ifndef CRM_SERVICES_TELEPHONY_REQUESTS_SQL_H_
#define CRM_SERVICES_TELEPHONY_REQUESTS_SQL_H_

#define CRM_REQ_US(col) "COALESCE((extract(epoch FROM " col ") * 1000000)::bigint, 0)"

namespace crm::telephony::requests::sql {

// --- The matcher (queue.cc) ---------------------------------------------------------------------------
// How many operators are free now (at most $1), read without locking: the matcher then locks only as many
// requests, and only as many operators as it found requests — a matcher that locked every free operator
// would make a concurrent one (a new request's) find nobody.
inline constexpr char kCountFree[] =
    "SELECT count(*)::int FROM (SELECT 1 FROM call_operators WHERE readiness <> 'NOT_READY' "
    "AND active_request IS NULL LIMIT $1) x";
// Free ready operators, longest idle first (call_operators_free), skipping those another matcher holds.
inline constexpr char kFreeOperators[] =
    "SELECT user_id::text, " CRM_REQ_US("idle_since") " FROM call_operators WHERE readiness <> 'NOT_READY' "
    "AND active_request IS NULL ORDER BY idle_since, user_id LIMIT $1 FOR UPDATE SKIP LOCKED";
// Due queued requests in queue order (call_requests_queue), skipping those another transaction holds: one
// range scan per priority (1..3), each bounded by due_time <= now in the index — a single scan in
// (priority, due_time) order would walk every planned-later request of a higher priority first. At most
// $2 rows are read and locked in all (the outer LIMIT stops the later priorities' scans).
inline constexpr char kDueRequests[] =
    "SELECT r.id::text, r.priority, " CRM_REQ_US("r.due_time") " FROM unnest(ARRAY[1, 2, 3]) AS p (priority) "
    "CROSS JOIN LATERAL (SELECT id, priority, due_time FROM call_requests c WHERE c.state = 'QUEUED' "
    "AND c.priority = p.priority AND c.due_time <= $1::timestamptz ORDER BY c.due_time, c.id LIMIT $2 "
    "FOR UPDATE SKIP LOCKED) r LIMIT $2";
// One offer in one round trip: the attempt, the request OFFERED (if still QUEUED), the operator holding
// it (if still free and ready). Returns the attempt id and how many request and operator rows changed
// (1 and 1, else the caller rolls back: the unique indexes would refuse a second holder anyway).
inline constexpr char kOffer[] =
    "WITH a AS (INSERT INTO call_request_attempts (request_id, operator_id, offer_time, deadline) VALUES "
    "($1::uuid, $2::uuid, $3::timestamptz, $4::timestamptz) RETURNING id), "
    "r AS (UPDATE call_requests SET state = 'OFFERED', operator_id = $2::uuid, attempt_id = (SELECT id FROM a), "
    "offer_deadline = $4::timestamptz, attempt_count = attempt_count + 1, update_time = $3::timestamptz "
    "WHERE id = $1::uuid AND state = 'QUEUED' RETURNING id), "
    "o AS (UPDATE call_operators SET active_request = $1::uuid, update_time = $3::timestamptz "
    "WHERE user_id = $2::uuid AND active_request IS NULL AND readiness <> 'NOT_READY' RETURNING user_id) "
    "SELECT (SELECT id FROM a), (SELECT count(*) FROM r)::int, (SELECT count(*) FROM o)::int";

// --- A request's life (queue.cc) ----------------------------------------------------------------------
inline constexpr char kRequestForUpdate[] =
    "SELECT state, COALESCE(operator_id::text, ''), COALESCE(attempt_id, 0), priority FROM call_requests "
    "WHERE id = $1::uuid FOR UPDATE";
inline constexpr char kAttemptRequest[] = "SELECT request_id::text FROM call_request_attempts WHERE id = $1";
inline constexpr char kOperatorForUpdate[] =
    "SELECT readiness, reason, COALESCE(active_request::text, '') FROM call_operators WHERE user_id = $1::uuid "
    "FOR UPDATE";
// An offer ends ($2 ACCEPTED, DECLINED or EXPIRED).
inline constexpr char kEndOffer[] =
    "UPDATE call_request_attempts SET result = $2, result_time = $3::timestamptz, comment = $4 "
    "WHERE id = $1 AND result = 'OFFERED'";
// Back to the queue in its place (declined, expired): due time and priority kept.
inline constexpr char kRequeue[] =
    "UPDATE call_requests SET state = 'QUEUED', offer_deadline = NULL, update_time = $2::timestamptz "
    "WHERE id = $1::uuid";
inline constexpr char kStartWork[] =
    "UPDATE call_requests SET state = 'IN_WORK', offer_deadline = NULL, update_time = $2::timestamptz "
    "WHERE id = $1::uuid";
// The operator is free again with readiness $2 and reason $3 (the time changes with the readiness).
inline constexpr char kReleaseOperator[] =
    "UPDATE call_operators SET active_request = NULL, readiness_time = CASE WHEN readiness = $2 THEN "
    "readiness_time ELSE $4::timestamptz END, readiness = $2, reason = $3, idle_since = $4::timestamptz, "
    "update_time = $4::timestamptz WHERE user_id = $1::uuid";
inline constexpr char kFinishAttempt[] =
    "UPDATE call_request_attempts SET outcome = $2, finish_time = $3::timestamptz, "
    "comment = CASE WHEN $4 = '' THEN comment ELSE $4 END WHERE id = $1 AND result = 'ACCEPTED' "
    "AND finish_time IS NULL";
inline constexpr char kFinishDone[] =
    "UPDATE call_requests SET state = 'DONE', outcome = $2, finish_time = $3::timestamptz, "
    "update_time = $3::timestamptz WHERE id = $1::uuid";
// BACK_TO_QUEUE: queued again from the planned time $2, at the highest priority.
inline constexpr char kFinishRequeue[] =
    "UPDATE call_requests SET state = 'QUEUED', outcome = 'BACK_TO_QUEUE', planned_time = $2::timestamptz, "
    "due_time = $2::timestamptz, priority = 1, update_time = $3::timestamptz WHERE id = $1::uuid";
// Readiness set by the operator: becoming ready from not ready starts their idle time now.
inline constexpr char kSetReadiness[] =
    "INSERT INTO call_operators (user_id, readiness, reason, readiness_time, idle_since, update_time) VALUES "
    "($1::uuid, $2, $3, $4::timestamptz, $4::timestamptz, $4::timestamptz) ON CONFLICT (user_id) DO UPDATE SET "
    "readiness = EXCLUDED.readiness, reason = EXCLUDED.reason, readiness_time = CASE WHEN "
    "call_operators.readiness = EXCLUDED.readiness THEN call_operators.readiness_time ELSE EXCLUDED.readiness_time "
    "END, idle_since = CASE WHEN call_operators.readiness = 'NOT_READY' AND EXCLUDED.readiness <> 'NOT_READY' "
    "THEN EXCLUDED.idle_since ELSE call_operators.idle_since END, update_time = EXCLUDED.update_time";

// --- Creating (api.cc) --------------------------------------------------------------------------------
// Two creations for one phone run one after the other (the related-duplicate rule sees the first).
inline constexpr char kLockPhone[] =
    "SELECT pg_advisory_xact_lock(hashtextextended('crm.telephony.request.phone:' || $1, 0))";
// The root (oldest open) request of the phone $1 or client $2 ('' = none).
inline constexpr char kOpenRelated[] =
    "SELECT COALESCE(related_to, id)::text FROM call_requests WHERE state <> 'DONE' AND (phone = $1 OR "
    "($2 <> '' AND client_id = NULLIF($2, '')::uuid)) ORDER BY create_time, id LIMIT 1";
inline constexpr char kInsertRequest[] =
    "INSERT INTO call_requests (id, source, type, priority, phone, client_id, comment, planned_time, due_time, "
    "state, related_to, created_by, create_time, update_time) VALUES ($1::uuid, $2, $3, $4, $5, "
    "NULLIF($6, '')::uuid, $7, NULLIF($8, '')::timestamptz, $9::timestamptz, 'QUEUED', NULLIF($10, '')::uuid, "
    "NULLIF($11, '')::uuid, $12::timestamptz, $12::timestamptz)";

// --- Reads (reads.cc) ---------------------------------------------------------------------------------
#define CRM_REQ_COLUMNS                                                                                      \
  "id::text, source, type, priority, phone, COALESCE(client_id::text, ''), comment, " CRM_REQ_US(            \
      "planned_time") ", state, outcome, COALESCE(operator_id::text, ''), " CRM_REQ_US("offer_deadline") ", " \
                      "COALESCE(related_to::text, ''), attempt_count, COALESCE(created_by::text, ''), " CRM_REQ_US( \
                          "create_time") ", " CRM_REQ_US("update_time") ", " CRM_REQ_US("finish_time") ", "  \
                                                                          "COALESCE(attempt_id, 0)"
inline constexpr char kRequestById[] = "SELECT " CRM_REQ_COLUMNS " FROM call_requests WHERE id = $1::uuid";
inline constexpr char kAttemptsOf[] =
    "SELECT id, operator_id::text, " CRM_REQ_US("offer_time") ", " CRM_REQ_US("deadline") ", result, "
    CRM_REQ_US("result_time") ", outcome, " CRM_REQ_US("finish_time") ", comment FROM call_request_attempts "
    "WHERE request_id = $1::uuid ORDER BY id LIMIT 100";
// The requests linked with $1 through its root $2 (the root and the root's duplicates), oldest first.
inline constexpr char kRelatedOf[] =
    "SELECT id::text, state, type, phone, " CRM_REQ_US("create_time") " FROM call_requests "
    "WHERE (id = $2::uuid OR related_to = $2::uuid) AND id <> $1::uuid ORDER BY create_time, id LIMIT 50";
// The list: kListHead, then " AND <filter>" per filter given, then kListTail ($n the keyset and limit).
inline constexpr char kListHead[] = "SELECT " CRM_REQ_COLUMNS " FROM call_requests WHERE TRUE";

// --- The control panel (reads.cc) ---------------------------------------------------------------------
inline constexpr char kCreatedIn[] =
    "SELECT count(*)::int FROM call_requests WHERE create_time >= $1::timestamptz AND create_time < $2::timestamptz";
inline constexpr char kFinishedIn[] =
    "SELECT outcome, count(*)::int FROM call_request_attempts WHERE finish_time >= $1::timestamptz "
    "AND finish_time < $2::timestamptz GROUP BY outcome ORDER BY outcome";
inline constexpr char kOpenNow[] =
    "SELECT count(*) FILTER (WHERE state = 'QUEUED')::int, count(*) FILTER (WHERE state = 'QUEUED' AND "
    "due_time <= $1::timestamptz)::int, count(*) FILTER (WHERE state = 'OFFERED')::int, "
    "count(*) FILTER (WHERE state = 'IN_WORK')::int FROM call_requests WHERE state IN ('QUEUED', 'OFFERED', 'IN_WORK')";
inline constexpr char kOperatorsIn[] =
    "SELECT operator_id::text, count(*)::int, count(*) FILTER (WHERE result = 'ACCEPTED')::int, "
    "count(*) FILTER (WHERE result = 'DECLINED')::int, count(*) FILTER (WHERE result = 'EXPIRED')::int, "
    "count(finish_time)::int, count(*) FILTER (WHERE outcome = 'PROCESSED')::int FROM call_request_attempts "
    "WHERE offer_time >= $1::timestamptz AND offer_time < $2::timestamptz GROUP BY operator_id ORDER BY operator_id";
// Operators now ($1 = '' every one, else one), with their offer or request in work.
inline constexpr char kOperatorStates[] =
    "SELECT o.user_id::text, o.readiness, o.reason, " CRM_REQ_US("o.readiness_time") ", " CRM_REQ_US("o.idle_since")
    ", COALESCE(r.id::text, ''), COALESCE(r.state, ''), " CRM_REQ_US("r.offer_deadline") " FROM call_operators o "
    "LEFT JOIN call_requests r ON r.id = o.active_request WHERE ($1 = '' OR o.user_id = NULLIF($1, '')::uuid) "
    "ORDER BY o.user_id LIMIT 1000";

}  // namespace crm::telephony::requests::sql

#endif  // CRM_SERVICES_TELEPHONY_REQUESTS_SQL_H_
