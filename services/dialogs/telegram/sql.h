// File: services/dialogs/telegram/sql.h
// -----------------------------------------------------------------------------
// The Telegram part's statements that read tables growing with the business (tg_updates, tg_chats,
// tg_outgoing), named here so the plan test (updates_plan_test.cc) EXPLAINs exactly what the code runs:
// the claim API's (updates.h) and the sender's reads and its paces (sender.h). Each is index-backed (the
// partial indexes of migrations/0001_telegram.sql and 0003_claim_by_updates.sql).
#ifndef CRM_SERVICES_DIALOGS_TELEGRAM_SQL_H_
#define CRM_SERVICES_DIALOGS_TELEGRAM_SQL_H_

namespace crm::dialogs::telegram::sql {

// updates.h: the chats of the oldest waiting updates, oldest first ($1 rows; tg_updates_waiting). A chat
// may come more than once.
inline constexpr char kWaitingChats[] =
    "SELECT bot_id::text, chat_id FROM tg_updates WHERE processed_at IS NULL "
    "ORDER BY received_at, bot_id, chat_id LIMIT $1";
// updates.h: kWaitingChats among the updates received by $2 (Unix microseconds) only — the inbox's
// intake-first rule (inbox/processor.h); the same index, its range bounded.
inline constexpr char kWaitingChatsReceivedBy[] =
    "SELECT bot_id::text, chat_id FROM tg_updates WHERE processed_at IS NULL "
    "AND received_at <= to_timestamp(0) + $2 * interval '1 microsecond' "
    "ORDER BY received_at, bot_id, chat_id LIMIT $1";
// updates.h: holds the chat ($1 bot, $2 chat) until the transaction ends, unless another holds it: a
// transaction-level advisory lock in the two-int key space 29799 (0x7467, "tg") on a hash of bot and chat
// (two chats sharing a hash only wait for each other now and then). Never waits.
inline constexpr char kHoldChat[] =
    "SELECT pg_try_advisory_xact_lock(29799, hashtext($1 || ':' || $2::bigint::text))";
// updates.h: the bot ↔ chat mapping (T9, outreach/registers.h) learns a chat when its first updates are
// claimed — once per claim, not per update; a known chat costs an index probe, no write.
inline constexpr char kKnowChat[] =
    "INSERT INTO tg_chats (bot_id, chat_id) VALUES ($1::uuid, $2) ON CONFLICT (bot_id, chat_id) DO NOTHING";
// updates.h: a chat's unprocessed updates in update_id order ($1 bot, $2 chat, $3 limit; tg_updates_unprocessed).
inline constexpr char kChatUpdates[] =
    "SELECT update_id, payload::text FROM tg_updates "
    "WHERE bot_id = $1::uuid AND chat_id = $2 AND processed_at IS NULL ORDER BY update_id LIMIT $3";
// updates.h: one update processed at $3 (Unix microseconds).
inline constexpr char kMarkProcessed[] =
    "UPDATE tg_updates SET processed_at = to_timestamp(0) + $3 * interval '1 microsecond' "
    "WHERE bot_id = $1::uuid AND update_id = $2 AND processed_at IS NULL";
// sender.h: the bot's due callback answers, oldest first ($1 bot, $2 now in Unix microseconds, $3 limit;
// tg_outgoing_callbacks).
inline constexpr char kCallbacks[] =
    "SELECT id::text, chat_id, method, payload::text, attempts, "
    "(extract(epoch FROM not_before) * 1000000)::bigint FROM tg_outgoing "
    "WHERE bot_id = $1::uuid AND state = 'queued' AND method = 'answerCallbackQuery' "
    "AND not_before <= to_timestamp(0) + $2 * interval '1 microsecond' ORDER BY id LIMIT $3";
// sender.h: the head of each chat's queue of messages ($1 bot; tg_outgoing_queued, in its order).
inline constexpr char kHeads[] =
    "SELECT DISTINCT ON (chat_id) id::text, chat_id, method, payload::text, attempts, "
    "(extract(epoch FROM not_before) * 1000000)::bigint FROM tg_outgoing "
    "WHERE bot_id = $1::uuid AND state = 'queued' AND method <> 'answerCallbackQuery' ORDER BY chat_id, id";
// sender.h: the paces of the bot (chat 0) and of the chats in $2 (bigint[]), each its last sends in Unix
// microseconds joined by ',' (tg_send_paces' primary key).
inline constexpr char kPaces[] =
    "SELECT chat_id, array_to_string(sent, ',') FROM tg_send_paces WHERE bot_id = $1::uuid AND chat_id = ANY($2::bigint[])";
// sender.h: the paces a pass changed ($2 chats bigint[], $3 their sends as text[] of ','-joined microseconds).
inline constexpr char kSavePaces[] =
    "INSERT INTO tg_send_paces (bot_id, chat_id, sent) "
    "SELECT $1::uuid, c, string_to_array(s, ',')::bigint[] FROM unnest($2::bigint[], $3::text[]) AS u(c, s) "
    "ON CONFLICT (bot_id, chat_id) DO UPDATE SET sent = EXCLUDED.sent";

}  // namespace crm::dialogs::telegram::sql

#endif  // CRM_SERVICES_DIALOGS_TELEGRAM_SQL_H_
