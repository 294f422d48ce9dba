// File: services/dialogs/inbox/sql.h
// -----------------------------------------------------------------------------
// The inbox's statements (T2, T5, T7), named: the processor's and the operator API's reads and writes, and
// the lists the plan test (inbox_plan_test.cc) EXPLAINs at 1 000 000 dialogs and messages. Times go in as
// RFC 3339 text ($n::timestamptz) and come out as Unix microseconds (bigint), exactly.
#ifndef CRM_SERVICES_DIALOGS_INBOX_SQL_H_
#define CRM_SERVICES_DIALOGS_INBOX_SQL_H_

#define CRM_INBOX_US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

namespace crm::dialogs::inbox::sql {

// A dialog as inbox.proto's Dialog is filled from it (store.cc: DialogOf), with its bot's and its
// responsible's names and the responsible's supervisor (users.h; T6 visibility, access.h).
#define CRM_INBOX_DIALOG_COLUMNS                                                                             \
  "d.id::text, d.number, d.bot_id::text, COALESCE(b.name, ''), d.status, d.closed, "                       \
  "COALESCE(d.client_id::text, ''), array_to_string(d.candidate_client_ids, ','), d.phone, d.link_state, " \
  "d.client_display, d.project, d.topic, d.subject, COALESCE(d.responsible_id::text, ''), d.chat_id, "      \
  "d.tg_user_id, d.unread, " CRM_INBOX_US("d.last_message_time") ", " CRM_INBOX_US("d.queued_time") ", "    \
  CRM_INBOX_US("d.taken_time") ", " CRM_INBOX_US("d.create_time") ", " CRM_INBOX_US("d.update_time")       \
  ", d.version, d.private_chat, array_to_string(d.team_ids, ','), COALESCE(u.full_name, ''), "           \
  "COALESCE(u.supervisor_id::text, '')"
#define CRM_INBOX_DIALOG_FROM                                      \
  " FROM dialogs d LEFT JOIN tg_bots b ON b.id = d.bot_id "        \
  "LEFT JOIN user_directory u ON u.user_id = d.responsible_id "

inline constexpr char kDialogById[] =
    "SELECT " CRM_INBOX_DIALOG_COLUMNS CRM_INBOX_DIALOG_FROM "WHERE d.id = $1::uuid";
inline constexpr char kDialogByIdForUpdate[] =
    "SELECT " CRM_INBOX_DIALOG_COLUMNS CRM_INBOX_DIALOG_FROM "WHERE d.id = $1::uuid FOR UPDATE OF d";
// The chat's open dialog (dialogs_open_chat), locked for the update being processed.
inline constexpr char kOpenDialogOfChat[] =
    "SELECT " CRM_INBOX_DIALOG_COLUMNS CRM_INBOX_DIALOG_FROM
    "WHERE d.bot_id = $1::uuid AND d.chat_id = $2 AND NOT d.closed FOR UPDATE OF d";
// The client's previous dialog on the bot (dialogs_tg_user): a new dialog carries its phone and client.
inline constexpr char kPreviousLink[] =
    "SELECT phone, COALESCE(client_id::text, ''), array_to_string(candidate_client_ids, ','), link_state "
    "FROM dialogs WHERE bot_id = $1::uuid AND tg_user_id = $2 AND $2 <> 0 ORDER BY number DESC LIMIT 1";
inline constexpr char kInsertDialog[] =
    "INSERT INTO dialogs (id, bot_id, chat_id, private_chat, tg_user_id, client_display, status, phone, "
    "client_id, candidate_client_ids, link_state, create_time, update_time) VALUES ($1::uuid, $2::uuid, $3, $4, "
    "$5, $6, 'BOT', $7, NULLIF($8, '')::uuid, $9::uuid[], $10, $11::timestamptz, $11::timestamptz) "
    "ON CONFLICT (bot_id, chat_id) WHERE NOT closed DO NOTHING";

// A message stored: the dialog's activity, and one more unread for a client's.
inline constexpr char kTouchDialog[] =
    "UPDATE dialogs SET last_message_time = $2::timestamptz, unread = unread + $3, update_time = $2::timestamptz "
    "WHERE id = $1::uuid";
inline constexpr char kInsertMessage[] =
    "INSERT INTO dialog_messages (id, dialog_id, direction, author_kind, author_user_id, text, files, "
    "contact_phone, contact_user_id, callback_data, update_id, telegram_message_id, outgoing_id, outgoing_state, "
    "create_time) VALUES ($1::uuid, $2::uuid, $3, $4, NULLIF($5, '')::uuid, $6, $7::jsonb, $8, $9, $10, $11, "
    "$12, NULLIF($13, '')::uuid, $14, $15::timestamptz)";
// telegram's state hook: the outgoing message's state on its dialog message.
inline constexpr char kOutgoingState[] =
    "UPDATE dialog_messages SET outgoing_state = $2, outgoing_error = $3, "
    "telegram_message_id = CASE WHEN $4 <> 0 THEN $4 ELSE telegram_message_id END "
    "WHERE outgoing_id = $1::uuid RETURNING dialog_id::text";

// The processor's changes. Each bumps version and update_time.
inline constexpr char kSetTopic[] =
    "UPDATE dialogs SET topic = $2, version = version + 1, update_time = $3::timestamptz WHERE id = $1::uuid";
inline constexpr char kSetProject[] =
    "UPDATE dialogs SET project = $2, version = version + 1, update_time = $3::timestamptz WHERE id = $1::uuid";
// Routing's seam (routing.h): into the queue (from the bot, or back from PROCESSED without a responsible).
inline constexpr char kQueue[] =
    "UPDATE dialogs SET status = 'QUEUED', queued_time = $2::timestamptz, version = version + 1, "
    "update_time = $3::timestamptz WHERE id = $1::uuid AND NOT closed";
// A client's message reopens a PROCESSED dialog for its responsible.
inline constexpr char kBackInWork[] =
    "UPDATE dialogs SET status = 'IN_WORK', version = version + 1, update_time = $2::timestamptz "
    "WHERE id = $1::uuid AND status = 'PROCESSED' AND responsible_id IS NOT NULL";
inline constexpr char kClose[] =
    "UPDATE dialogs SET status = 'CLOSED', closed = true, version = version + 1, update_time = $2::timestamptz "
    "WHERE id = $1::uuid AND NOT closed";
// A shared contact accepted: the phone, deals to be asked (a 'link' row in the same transaction).
inline constexpr char kSetPhone[] =
    "UPDATE dialogs SET phone = $2, client_id = NULL, candidate_client_ids = '{}', link_state = 'pending', "
    "version = version + 1, update_time = $3::timestamptz WHERE id = $1::uuid";
// /stop: the phone and the client unlinked.
inline constexpr char kRevoke[] =
    "UPDATE dialogs SET phone = '', client_id = NULL, candidate_client_ids = '{}', link_state = '', "
    "version = version + 1, update_time = $2::timestamptz WHERE id = $1::uuid";
// deals answered the phone's search; nothing when the phone changed meanwhile (a newer 'link' follows).
inline constexpr char kLinkResult[] =
    "UPDATE dialogs SET client_id = NULLIF($3, '')::uuid, candidate_client_ids = $4::uuid[], link_state = $5, "
    "version = version + 1, update_time = $6::timestamptz WHERE id = $1::uuid AND phone = $2 "
    "AND link_state = 'pending'";

// The operator API's changes.
// «Взять в работу»: the one conditional update; the caller's visibility of the queue is in the WHERE.
inline constexpr char kTake[] =
    "UPDATE dialogs SET status = 'IN_WORK', responsible_id = $2::uuid, team_ids = $3::uuid[], "
    "taken_time = $4::timestamptz, unread = 0, version = version + 1, update_time = $4::timestamptz "
    "WHERE id = $1::uuid AND status = 'QUEUED' AND ($5 OR EXISTS (SELECT 1 FROM bot_operators o "
    "WHERE o.bot_id = dialogs.bot_id AND o.user_id = $2::uuid)) RETURNING id::text";
inline constexpr char kPick[] =
    "UPDATE dialogs SET client_id = $2::uuid, candidate_client_ids = '{}', link_state = 'linked', "
    "version = version + 1, update_time = $4::timestamptz WHERE id = $1::uuid AND ($3 = 0 OR version = $3) "
    "AND $2::uuid = ANY (candidate_client_ids) RETURNING id::text";
inline constexpr char kSetStatus[] =
    "UPDATE dialogs SET status = $2, closed = ($2 = 'CLOSED'), version = version + 1, "
    "update_time = $4::timestamptz WHERE id = $1::uuid AND ($3 = 0 OR version = $3) AND NOT closed "
    "RETURNING id::text";
inline constexpr char kMarkRead[] =
    "UPDATE dialogs SET unread = 0 WHERE id = $1::uuid AND unread <> 0";
inline constexpr char kIsBotOperator[] =
    "SELECT 1 FROM bot_operators WHERE bot_id = $1::uuid AND user_id = $2::uuid";
inline constexpr char kBotsOfOperator[] =
    "SELECT bot_id::text FROM bot_operators WHERE user_id = $1::uuid ORDER BY bot_id";
inline constexpr char kUnreadOfUser[] =
    "SELECT COALESCE(sum(unread), 0)::bigint FROM dialogs WHERE responsible_id = $1::uuid AND NOT closed";

// Messages of a dialog, newest first (dialog_messages_dialog); $2 = '' for the first page.
#define CRM_INBOX_MESSAGE_COLUMNS                                                                          \
  "id::text, dialog_id::text, direction, author_kind, COALESCE(author_user_id::text, ''), text, files::text, " \
  "contact_phone, callback_data, telegram_message_id, COALESCE(outgoing_id::text, ''), outgoing_state, "      \
  "outgoing_error, " CRM_INBOX_US("create_time") ", "                                                        \
  "COALESCE((SELECT u.full_name FROM user_directory u WHERE u.user_id = author_user_id), '')"
inline constexpr char kListMessages[] =
    "SELECT " CRM_INBOX_MESSAGE_COLUMNS " FROM dialog_messages WHERE dialog_id = $1::uuid "
    "AND ($2 = '' OR id < NULLIF($2, '')::uuid) ORDER BY id DESC LIMIT $3";
inline constexpr char kMessageById[] =
    "SELECT " CRM_INBOX_MESSAGE_COLUMNS " FROM dialog_messages WHERE id = $1::uuid";

// Pipeline step 4's queue (deals_sync).
inline constexpr char kEnqueueSync[] =
    "INSERT INTO deals_sync (kind, dialog_id, message_id, phone, due_time, create_time) VALUES ($1, $2::uuid, "
    "NULLIF($3, '')::uuid, $4, NULLIF($5, '')::timestamptz, $6::timestamptz)";
// A dialog that has its client and responsible now: its parked interactions become due.
inline constexpr char kUnparkSync[] =
    "UPDATE deals_sync SET due_time = $2::timestamptz WHERE dialog_id = $1::uuid AND due_time IS NULL";
inline constexpr char kClaimSync[] =
    "SELECT id, kind, dialog_id::text, COALESCE(message_id::text, ''), phone, attempts FROM deals_sync "
    "WHERE due_time <= $1::timestamptz ORDER BY due_time, id LIMIT $2 FOR UPDATE SKIP LOCKED";
inline constexpr char kSyncDone[] = "DELETE FROM deals_sync WHERE id = $1";
inline constexpr char kSyncRetry[] =
    "UPDATE deals_sync SET attempts = attempts + 1, last_error = $2, due_time = $3::timestamptz WHERE id = $1";
inline constexpr char kSyncPark[] = "UPDATE deals_sync SET due_time = NULL WHERE id = $1";

}  // namespace crm::dialogs::inbox::sql

#endif  // CRM_SERVICES_DIALOGS_INBOX_SQL_H_
