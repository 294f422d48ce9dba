-- The intake writes an update and its event, nothing more (T1): the claim finds the chats with waiting
-- updates through the updates themselves, oldest first, instead of a pending mark on the chat that every
-- stored update had to upsert (a row lock and a WAL record per update, on top of the update's own row).
-- A chat being processed is held by a transaction-level advisory lock (updates.h), not by its row.
CREATE INDEX tg_updates_waiting ON tg_updates (received_at, bot_id, chat_id) WHERE processed_at IS NULL;
DROP INDEX tg_chats_pending;
ALTER TABLE tg_chats DROP COLUMN pending, DROP COLUMN pending_since;
