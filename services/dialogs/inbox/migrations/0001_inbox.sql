-- dialogs' inbox (T2, T5, T7; issue 18): dialogs, their messages, operators' rights per bot, the queue to
-- deals (D16 interactions, client linking). services/dialogs/README.md "Inbox" states the contracts.

-- «Номер диалога»: shown zero-padded to 9 digits (000000269).
CREATE SEQUENCE dialog_numbers;

-- A dialog (T5). ONE continuous dialog per (bot, chat) while it is not closed (dialogs_open_chat).
-- status: BOT (the chat-bot's part runs; not in any queue yet), QUEUED «В очереди», IN_WORK «В работе»,
-- PROCESSED «Обработано», CLOSED «Закрыт» (closed = true; a closed dialog is never reopened: the client's
-- next message opens a new one).
CREATE TABLE dialogs (
  id                   uuid        PRIMARY KEY,
  number               bigint      NOT NULL UNIQUE DEFAULT nextval('dialog_numbers'),
  bot_id               uuid        NOT NULL REFERENCES tg_bots (id),
  chat_id              bigint      NOT NULL,
  private_chat         boolean     NOT NULL DEFAULT true,
  tg_user_id           bigint      NOT NULL DEFAULT 0,     -- the client's Telegram user id (0: unknown)
  client_display       text        NOT NULL DEFAULT '',    -- the client's name as Telegram gives it
  status               text        NOT NULL CHECK (status IN ('BOT', 'QUEUED', 'IN_WORK', 'PROCESSED', 'CLOSED')),
  closed               boolean     NOT NULL DEFAULT false,
  -- The client (deals' id) once linked by phone; several deals clients with the phone: their ids wait
  -- in candidate_client_ids for the operator's pick (PickClient). link_state: '' (no phone), 'pending'
  -- (deals not asked yet), 'linked', 'candidates', 'none' (no client has the phone).
  client_id            uuid,
  candidate_client_ids uuid[]      NOT NULL DEFAULT '{}',
  phone                text        NOT NULL DEFAULT '',    -- E.164
  link_state           text        NOT NULL DEFAULT '',
  project              text        NOT NULL DEFAULT '',
  topic                text        NOT NULL DEFAULT '',
  subject              text        NOT NULL DEFAULT '',
  responsible_id       uuid,
  team_ids             uuid[]      NOT NULL DEFAULT '{}',  -- the responsible's teams when they took it
  queued_time          timestamptz,                        -- QUEUED since (or from: out of hours)
  taken_time           timestamptz,
  unread               integer     NOT NULL DEFAULT 0,     -- client messages the responsible has not read
  last_message_time    timestamptz,
  create_time          timestamptz NOT NULL,
  update_time          timestamptz NOT NULL,
  version              bigint      NOT NULL DEFAULT 1);
-- The processor finds the chat's open dialog; at most one.
CREATE UNIQUE INDEX dialogs_open_chat ON dialogs (bot_id, chat_id) WHERE NOT closed;
-- A new dialog carries the phone and client of the client's previous one on the bot.
CREATE INDEX dialogs_tg_user ON dialogs (bot_id, tg_user_id, number);
-- Lists, newest first (number DESC), for each scope and filter (plan test: inbox_plan_test.cc).
CREATE INDEX dialogs_open_number ON dialogs (number) WHERE NOT closed;
CREATE INDEX dialogs_responsible ON dialogs (responsible_id, number);
CREATE INDEX dialogs_responsible_open ON dialogs (responsible_id, number) WHERE NOT closed;
CREATE INDEX dialogs_queue ON dialogs (bot_id, number) WHERE status = 'QUEUED';
CREATE INDEX dialogs_bot ON dialogs (bot_id, number);
CREATE INDEX dialogs_status ON dialogs (status, number);
CREATE INDEX dialogs_client ON dialogs (client_id, number);
CREATE INDEX dialogs_project ON dialogs (project, number) WHERE project <> '';
CREATE INDEX dialogs_topic ON dialogs (topic, number) WHERE topic <> '';
CREATE INDEX dialogs_teams ON dialogs USING gin (team_ids);

-- A message of a dialog: the client's (in), the bot's or an operator's (out).
CREATE TABLE dialog_messages (
  id                  uuid        PRIMARY KEY,          -- UUIDv7: the order within a dialog
  dialog_id           uuid        NOT NULL REFERENCES dialogs (id),
  direction           text        NOT NULL CHECK (direction IN ('IN', 'OUT')),
  author_kind         text        NOT NULL CHECK (author_kind IN ('CLIENT', 'BOT', 'OPERATOR')),
  author_user_id      uuid,                             -- the operator
  text                text        NOT NULL DEFAULT '',
  files               jsonb       NOT NULL DEFAULT '[]', -- [{kind, file_id, file_unique_id, name, mime_type, size, url}]
  contact_phone       text        NOT NULL DEFAULT '',
  contact_user_id     bigint      NOT NULL DEFAULT 0,
  callback_data       text        NOT NULL DEFAULT '',
  update_id           bigint      NOT NULL DEFAULT 0,
  telegram_message_id bigint      NOT NULL DEFAULT 0,
  outgoing_id         uuid,                             -- tg_outgoing's row for an outgoing message
  outgoing_state      text        NOT NULL DEFAULT '',  -- queued, retrying, sent, failed
  outgoing_error      text        NOT NULL DEFAULT '',
  create_time         timestamptz NOT NULL);
CREATE INDEX dialog_messages_dialog ON dialog_messages (dialog_id, id);
CREATE UNIQUE INDEX dialog_messages_outgoing ON dialog_messages (outgoing_id) WHERE outgoing_id IS NOT NULL;

-- Operators' rights per bot: who sees a bot's queue (T6 extends it with rules and capacity).
CREATE TABLE bot_operators (
  bot_id  uuid NOT NULL REFERENCES tg_bots (id),
  user_id uuid NOT NULL,
  PRIMARY KEY (bot_id, user_id));
CREATE INDEX bot_operators_user ON bot_operators (user_id, bot_id);

-- Work for deals (pipeline step 4), written in the transaction of the change: 'link' (find the clients
-- with the dialog's phone) and 'interaction' (UpsertInteraction of one message). due_time NULL = parked:
-- an interaction waits for its dialog's client and responsible. Deleted once deals answered.
CREATE TABLE deals_sync (
  id          bigserial   PRIMARY KEY,
  kind        text        NOT NULL CHECK (kind IN ('link', 'interaction')),
  dialog_id   uuid        NOT NULL REFERENCES dialogs (id),
  message_id  uuid,
  phone       text        NOT NULL DEFAULT '',
  due_time    timestamptz,
  attempts    integer     NOT NULL DEFAULT 0,
  last_error  text        NOT NULL DEFAULT '',
  create_time timestamptz NOT NULL);
CREATE INDEX deals_sync_due ON deals_sync (due_time, id) WHERE due_time IS NOT NULL;
CREATE INDEX deals_sync_dialog ON deals_sync (dialog_id) WHERE due_time IS NULL;
