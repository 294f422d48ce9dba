-- dialogs' Telegram part (T1, issue 18): bots, raw updates, chats with pending updates, outgoing messages.
-- README.md "The pipeline" and telegram/*.h state the contracts these tables keep.

-- Idempotency records of creating calls (libs/pg/idempotency.h); shared by the service's parts.
CREATE TABLE IF NOT EXISTS idempotency (
  caller         text        NOT NULL,
  method         text        NOT NULL,
  key            text        NOT NULL,
  request_sha256 bytea       NOT NULL,
  response       bytea       NOT NULL,
  create_time    timestamptz NOT NULL,
  PRIMARY KEY (caller, method, key));
CREATE INDEX IF NOT EXISTS idempotency_create_time ON idempotency (create_time);

CREATE TABLE tg_bots (
  id                uuid        PRIMARY KEY,
  name              text        NOT NULL,
  username          text        NOT NULL DEFAULT '',
  token_sealed      text        NOT NULL,            -- secrets.h: AES-256-GCM, never returned or logged
  intake_mode       text        NOT NULL CHECK (intake_mode IN ('WEBHOOK', 'POLLING')),
  hook              text        NOT NULL UNIQUE,     -- random 32 bytes, base64url: the webhook path
  secret_sealed     text        NOT NULL,            -- the webhook's secret_token, sealed
  working_hours     jsonb       NOT NULL DEFAULT '[]',
  out_of_hours_text text        NOT NULL DEFAULT '',
  -- What is registered at Telegram: '' nothing yet; 'WEBHOOK <url>' or 'POLLING'. The intake worker
  -- makes it match intake_mode (setWebhook / deleteWebhook), and records the last error.
  registered        text        NOT NULL DEFAULT '',
  intake_error      text        NOT NULL DEFAULT '',
  poll_offset       bigint      NOT NULL DEFAULT 0,  -- getUpdates offset, written with the batch it confirms
  version           bigint      NOT NULL DEFAULT 1,
  create_time       timestamptz NOT NULL,
  update_time       timestamptz NOT NULL);
CREATE INDEX tg_bots_create ON tg_bots (create_time, id);

-- Raw updates, once per (bot, update_id): a redelivery inserts nothing (ON CONFLICT DO NOTHING).
CREATE TABLE tg_updates (
  bot_id       uuid        NOT NULL REFERENCES tg_bots (id),
  update_id    bigint      NOT NULL,
  chat_id      bigint      NOT NULL,   -- the chat it belongs to (the user's private chat when it names none)
  payload      jsonb       NOT NULL,
  received_at  timestamptz NOT NULL,
  processed_at timestamptz,
  PRIMARY KEY (bot_id, update_id));
-- The claim reads a chat's unprocessed updates in update_id order.
CREATE INDEX tg_updates_unprocessed ON tg_updates (bot_id, chat_id, update_id) WHERE processed_at IS NULL;

-- Chats a bot has seen; `pending` while updates wait for the inbox (claimed FOR UPDATE SKIP LOCKED).
CREATE TABLE tg_chats (
  bot_id       uuid        NOT NULL REFERENCES tg_bots (id),
  chat_id      bigint      NOT NULL,
  pending      boolean     NOT NULL DEFAULT false,
  pending_since timestamptz,
  migrated_to  bigint,                 -- a group that became a supergroup (migrate_to_chat_id)
  PRIMARY KEY (bot_id, chat_id));
CREATE INDEX tg_chats_pending ON tg_chats (pending_since, bot_id, chat_id) WHERE pending;

-- Outgoing messages (§D2): queued → sent | failed; a 429 holds the chat until not_before.
CREATE TABLE tg_outgoing (
  id                  uuid        PRIMARY KEY,     -- UUIDv7: the send order within a chat
  bot_id              uuid        NOT NULL REFERENCES tg_bots (id),
  chat_id             bigint      NOT NULL,
  method              text        NOT NULL CHECK (method IN ('sendMessage', 'sendDocument', 'answerCallbackQuery')),
  payload             jsonb       NOT NULL,        -- the Bot API parameters but chat_id
  state               text        NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
  not_before          timestamptz NOT NULL,
  attempts            integer     NOT NULL DEFAULT 0,
  error_code          integer     NOT NULL DEFAULT 0,
  error               text        NOT NULL DEFAULT '',
  telegram_message_id bigint      NOT NULL DEFAULT 0,
  create_time         timestamptz NOT NULL,
  update_time         timestamptz NOT NULL,
  sent_time           timestamptz);
-- The sender reads the head of each chat's queue of one bot.
CREATE INDEX tg_outgoing_queued ON tg_outgoing (bot_id, chat_id, id) WHERE state = 'queued';
-- The sender answers callbacks first, oldest first, whatever the backlog of messages.
CREATE INDEX tg_outgoing_callbacks ON tg_outgoing (bot_id, id) WHERE state = 'queued' AND method = 'answerCallbackQuery';
