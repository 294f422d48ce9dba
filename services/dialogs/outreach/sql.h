// File: services/dialogs/outreach/sql.h
// -----------------------------------------------------------------------------
// The outreach's statements (T7, T9), named for the plan test (outreach_plan_test.cc). Tables:
// migrations/0001_outreach.sql; dialogs and dialog_messages are the inbox's (read here, and a dialog
// started by template or referred by a QR code is set through the statements below).
#ifndef CRM_SERVICES_DIALOGS_OUTREACH_SQL_H_
#define CRM_SERVICES_DIALOGS_OUTREACH_SQL_H_

#define CRM_OUTREACH_US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

namespace crm::dialogs::outreach::sql {

// Templates.
#define CRM_OUTREACH_TEMPLATE_COLUMNS \
  "id::text, bot_id::text, name, body, version, " CRM_OUTREACH_US("create_time") ", " CRM_OUTREACH_US("update_time")
inline constexpr char kInsertTemplate[] =
    "INSERT INTO message_templates (id, bot_id, name, body, create_time, update_time) VALUES ($1::uuid, "
    "$2::uuid, $3, $4::bytea, $5::timestamptz, $5::timestamptz) ON CONFLICT (bot_id, name) WHERE NOT deleted "
    "DO NOTHING RETURNING id::text";
inline constexpr char kTemplateById[] =
    "SELECT " CRM_OUTREACH_TEMPLATE_COLUMNS " FROM message_templates WHERE id = $1::uuid AND NOT deleted";
inline constexpr char kListTemplates[] =
    "SELECT " CRM_OUTREACH_TEMPLATE_COLUMNS " FROM message_templates WHERE bot_id = $1::uuid AND NOT deleted "
    "AND name > $2 ORDER BY name LIMIT $3::int";
inline constexpr char kUpdateTemplate[] =
    "UPDATE message_templates SET name = $2, body = $3::bytea, version = version + 1, "
    "update_time = $4::timestamptz WHERE id = $1::uuid AND NOT deleted AND ($5 = 0 OR version = $5) "
    "RETURNING id::text";
inline constexpr char kDeleteTemplate[] =
    "UPDATE message_templates SET deleted = true, version = version + 1, update_time = $3::timestamptz "
    "WHERE id = $1::uuid AND NOT deleted AND ($2 = 0 OR version = $2) RETURNING id::text";
inline constexpr char kTemplateNameTaken[] =
    "SELECT 1 FROM message_templates WHERE bot_id = $1::uuid AND name = $2 AND NOT deleted AND id <> $3::uuid";
inline constexpr char kBotExists[] = "SELECT username FROM tg_bots WHERE id = $1::uuid";

// The client's last chat on a bot (dialogs_client_bot): where a new outbound message goes.
inline constexpr char kClientChatOnBot[] =
    "SELECT chat_id, private_chat, tg_user_id, project, client_display FROM dialogs "
    "WHERE client_id = $1::uuid AND bot_id = $2::uuid ORDER BY number DESC LIMIT 1";
// The client's last chat on any bot (dialogs_client): robots' client messages.
inline constexpr char kClientLastChat[] =
    "SELECT bot_id::text, chat_id FROM dialogs WHERE client_id = $1::uuid ORDER BY number DESC LIMIT 1";
// StartDialog: the (new or open) dialog becomes the caller's, IN_WORK, with the client and project.
inline constexpr char kStartOutbound[] =
    "UPDATE dialogs SET status = 'IN_WORK', responsible_id = $2::uuid, team_ids = $3::uuid[], "
    "taken_time = $4::timestamptz, client_id = COALESCE(client_id, $5::uuid), "
    "link_state = CASE WHEN client_id IS NULL THEN 'linked' ELSE link_state END, "
    "project = CASE WHEN $6 <> '' THEN $6 ELSE project END, version = version + 1, update_time = $4::timestamptz "
    "WHERE id = $1::uuid AND NOT closed AND (status IN ('BOT', 'QUEUED', 'PROCESSED') OR responsible_id = $2::uuid "
    "OR $7) RETURNING id::text";

// QR codes.
#define CRM_OUTREACH_QR_COLUMNS                                                                           \
  "q.id::text, q.bot_id::text, COALESCE(b.username, ''), q.operator_id::text, q.project, q.payload, q.code, " \
  CRM_OUTREACH_US("q.create_time")
#define CRM_OUTREACH_QR_FROM " FROM qr_codes q LEFT JOIN tg_bots b ON b.id = q.bot_id "
inline constexpr char kProjectRef[] =
    "WITH ins AS (INSERT INTO qr_projects (project) VALUES ($1) ON CONFLICT (project) DO NOTHING RETURNING id) "
    "SELECT id FROM ins UNION ALL SELECT id FROM qr_projects WHERE project = $1";
inline constexpr char kQrOf[] =
    "SELECT " CRM_OUTREACH_QR_COLUMNS CRM_OUTREACH_QR_FROM
    "WHERE q.bot_id = $1::uuid AND q.operator_id = $2::uuid AND q.project = $3";
inline constexpr char kQrById[] = "SELECT " CRM_OUTREACH_QR_COLUMNS CRM_OUTREACH_QR_FROM "WHERE q.id = $1::uuid";
inline constexpr char kQrByPayload[] =
    "SELECT " CRM_OUTREACH_QR_COLUMNS CRM_OUTREACH_QR_FROM "WHERE q.payload = $1 AND q.bot_id = $2::uuid";
inline constexpr char kQrByCode[] =
    "SELECT " CRM_OUTREACH_QR_COLUMNS CRM_OUTREACH_QR_FROM "WHERE q.bot_id = $1::uuid AND q.code = $2";
inline constexpr char kInsertQr[] =
    "INSERT INTO qr_codes (id, bot_id, operator_id, project, payload, code, create_time) VALUES ($1::uuid, "
    "$2::uuid, $3::uuid, $4, $5, $6, $7::timestamptz) ON CONFLICT DO NOTHING RETURNING id::text";
inline constexpr char kHasReferral[] = "SELECT 1 FROM dialog_referrals WHERE dialog_id = $1::uuid";
inline constexpr char kInsertReferral[] =
    "INSERT INTO dialog_referrals (dialog_id, qr_code_id, operator_id, project, via, create_time) VALUES "
    "($1::uuid, $2::uuid, $3::uuid, $4, $5, $6::timestamptz) ON CONFLICT (dialog_id) DO NOTHING";
inline constexpr char kReferralOperator[] =
    "SELECT operator_id::text FROM dialog_referrals WHERE dialog_id = $1::uuid";

// Mailings.
#define CRM_OUTREACH_MAILING_COLUMNS                                                                        \
  "m.id::text, m.bot_id::text, m.template_id::text, COALESCE(t.name, ''), m.name, "                        \
  "array_to_string(m.parameters, E'\\x1f'), m.state, m.total, m.pending, m.queued, m.sent, m.failed, "       \
  "m.no_chat, m.cancelled, m.created_by, " CRM_OUTREACH_US("m.create_time") ", " CRM_OUTREACH_US("m.update_time") \
  ", cardinality(m.parameters)"
#define CRM_OUTREACH_MAILING_FROM " FROM mailings m LEFT JOIN message_templates t ON t.id = m.template_id "
inline constexpr char kInsertMailing[] =
    "INSERT INTO mailings (id, bot_id, template_id, name, parameters, state, total, pending, created_by, "
    "create_time, update_time) VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5::text[], 'RUNNING', $6, $6, $7, "
    "$8::timestamptz, $8::timestamptz)";
inline constexpr char kInsertRecipients[] =
    "INSERT INTO mailing_recipients (mailing_id, seq, client_id, state, update_time) "
    "SELECT $1::uuid, r.seq, r.client_id, 'PENDING', $3::timestamptz "
    "FROM unnest($2::uuid[]) WITH ORDINALITY AS r (client_id, seq)";
inline constexpr char kMailingById[] =
    "SELECT " CRM_OUTREACH_MAILING_COLUMNS CRM_OUTREACH_MAILING_FROM "WHERE m.id = $1::uuid";
inline constexpr char kMailingForUpdate[] =
    "SELECT " CRM_OUTREACH_MAILING_COLUMNS CRM_OUTREACH_MAILING_FROM "WHERE m.id = $1::uuid FOR UPDATE OF m";
// The worker: running mailings (mailings_running), one replica each (SKIP LOCKED).
inline constexpr char kClaimRunning[] =
    "SELECT m.id::text FROM mailings m WHERE m.state = 'RUNNING' ORDER BY m.create_time, m.id LIMIT $1::int "
    "FOR UPDATE SKIP LOCKED";
inline constexpr char kNextPending[] =
    "SELECT seq, client_id::text FROM mailing_recipients WHERE mailing_id = $1::uuid AND state = 'PENDING' "
    "ORDER BY seq LIMIT $2::int";
inline constexpr char kRecipientQueued[] =
    "UPDATE mailing_recipients SET state = 'QUEUED', chat_id = $3, outgoing_id = $4::uuid, "
    "update_time = $5::timestamptz WHERE mailing_id = $1::uuid AND seq = $2";
inline constexpr char kRecipientFinal[] =
    "UPDATE mailing_recipients SET state = $3, chat_id = $4, error = $5, update_time = $6::timestamptz "
    "WHERE mailing_id = $1::uuid AND seq = $2";
// Counters moved by a pass: $2 taken from pending, $3 queued, $4 failed, $5 no chat.
inline constexpr char kMailingPassed[] =
    "UPDATE mailings SET pending = pending - $2, queued = queued + $3, failed = failed + $4, "
    "no_chat = no_chat + $5, update_time = $6::timestamptz WHERE id = $1::uuid";
inline constexpr char kMailingDone[] =
    "UPDATE mailings SET state = 'DONE', update_time = $2::timestamptz WHERE id = $1::uuid AND state = 'RUNNING' "
    "AND pending = 0 AND queued = 0 RETURNING id::text";
// telegram's hook: the recipient of an outgoing row (mailing_recipients_outgoing) reaches a final state.
inline constexpr char kRecipientOutgoing[] =
    "UPDATE mailing_recipients SET state = $2, error = $3, update_time = $4::timestamptz "
    "WHERE outgoing_id = $1::uuid AND state = 'QUEUED' RETURNING mailing_id::text";
inline constexpr char kMailingOutgoing[] =
    "UPDATE mailings SET queued = queued - 1, sent = sent + $2, failed = failed + $3, "
    "update_time = $4::timestamptz WHERE id = $1::uuid";
inline constexpr char kCancelPending[] =
    "WITH c AS (UPDATE mailing_recipients SET state = 'CANCELLED', update_time = $2::timestamptz "
    "WHERE mailing_id = $1::uuid AND state = 'PENDING' RETURNING 1) SELECT count(*) FROM c";
inline constexpr char kMailingCancelled[] =
    "UPDATE mailings SET state = 'CANCELLED', pending = pending - $2, cancelled = cancelled + $2, "
    "update_time = $3::timestamptz WHERE id = $1::uuid";
#define CRM_OUTREACH_RECIPIENT_COLUMNS \
  "seq, client_id::text, state, chat_id, COALESCE(outgoing_id::text, ''), error, " CRM_OUTREACH_US("update_time")
// ListRecipients: all (the primary key) or by state (mailing_recipients_state), in seq order.
inline constexpr char kListRecipients[] =
    "SELECT " CRM_OUTREACH_RECIPIENT_COLUMNS " FROM mailing_recipients WHERE mailing_id = $1::uuid AND seq > $2 "
    "ORDER BY seq LIMIT $3::int";
inline constexpr char kListRecipientsByState[] =
    "SELECT " CRM_OUTREACH_RECIPIENT_COLUMNS " FROM mailing_recipients WHERE mailing_id = $1::uuid "
    "AND state = $4 AND seq > $2 ORDER BY seq LIMIT $3::int";

// Robots' client messages.
inline constexpr char kInsertDelivery[] =
    "INSERT INTO robot_deliveries (event_id, client_id, deal_id, state, bot_id, chat_id, reason, create_time, "
    "update_time) VALUES ($1, NULLIF($2, '')::uuid, $3, $4, NULLIF($5, '')::uuid, $6, $7, $8::timestamptz, "
    "$8::timestamptz) ON CONFLICT (event_id) DO NOTHING RETURNING event_id";
inline constexpr char kDeliveryOutgoing[] =
    "UPDATE robot_deliveries SET outgoing_id = $2::uuid WHERE event_id = $1";
inline constexpr char kDeliveryRefused[] =
    "UPDATE robot_deliveries SET state = 'UNDELIVERABLE', reason = $2 WHERE event_id = $1";
inline constexpr char kDeliveryState[] =
    "UPDATE robot_deliveries SET state = $2, reason = $3, update_time = $4::timestamptz "
    "WHERE outgoing_id = $1::uuid AND state = 'QUEUED'";

// Registers.
#define CRM_OUTREACH_HISTORY_COLUMNS                                                                    \
  "m.id::text, m.dialog_id::text, m.direction, m.author_kind, COALESCE(m.author_user_id::text, ''), m.text, " \
  "m.files::text, m.contact_phone, m.callback_data, m.telegram_message_id, COALESCE(m.outgoing_id::text, ''), "  \
  "m.outgoing_state, m.outgoing_error, " CRM_OUTREACH_US("m.create_time") ", d.bot_id::text, d.chat_id, "       \
  "COALESCE(d.client_id::text, ''), d.number"
// A bot's chats (tg_chats' primary key), each with its last dialog (dialogs_bot_chat).
inline constexpr char kListBotChats[] =
    "SELECT c.chat_id, COALESCE(l.client_id, ''), COALESCE(l.id, ''), COALESCE(l.at, 0) FROM tg_chats c "
    "LEFT JOIN LATERAL (SELECT d.id::text AS id, d.client_id::text AS client_id, "
    CRM_OUTREACH_US("d.last_message_time") " AS at FROM dialogs d WHERE d.bot_id = c.bot_id AND d.chat_id = "
    "c.chat_id ORDER BY d.number DESC LIMIT 1) l ON true WHERE c.bot_id = $1::uuid AND c.chat_id > $2 "
    "ORDER BY c.chat_id LIMIT $3::int";

}  // namespace crm::dialogs::outreach::sql

#endif  // CRM_SERVICES_DIALOGS_OUTREACH_SQL_H_
