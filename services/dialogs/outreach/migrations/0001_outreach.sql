-- dialogs' outreach (issue 18: T7's rest, T9): message templates, personal QR codes, mailings, robots'
-- client messages. services/dialogs/README.md "Outreach" states the contracts. After telegram's and the
-- inbox's components (tg_bots, dialogs).

-- A named message template of a bot (T7). body = the crm.dialogs.v1.Template message without id, bot,
-- name, version and times (text with {{n}}, the parameters' value tables, keyboards), serialized.
CREATE TABLE message_templates (
  id          uuid        PRIMARY KEY,
  bot_id      uuid        NOT NULL REFERENCES tg_bots (id),
  name        text        NOT NULL,
  body        bytea       NOT NULL,
  deleted     boolean     NOT NULL DEFAULT false,
  version     bigint      NOT NULL DEFAULT 1,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL);
-- A bot's templates by name (ListTemplates' keyset), one live template per name.
CREATE UNIQUE INDEX message_templates_name ON message_templates (bot_id, name) WHERE NOT deleted;

-- Projects as the QR payload carries them: a small number instead of the name (the payload is ≤ 64 chars).
CREATE TABLE qr_projects (
  id      serial PRIMARY KEY,
  project text   NOT NULL UNIQUE);

-- A personal QR code (T7): one per bot, operator and project; its signed payload and typed code.
CREATE TABLE qr_codes (
  id          uuid        PRIMARY KEY,
  bot_id      uuid        NOT NULL REFERENCES tg_bots (id),
  operator_id uuid        NOT NULL,
  project     text        NOT NULL,
  payload     text        NOT NULL UNIQUE,
  code        text        NOT NULL,
  create_time timestamptz NOT NULL,
  UNIQUE (bot_id, operator_id, project),
  UNIQUE (bot_id, code));

-- A dialog a client opened through a QR code or its typed code: the project and the operator routing
-- offers it to first (referral.h PreferredOperator).
CREATE TABLE dialog_referrals (
  dialog_id   uuid        PRIMARY KEY REFERENCES dialogs (id),
  qr_code_id  uuid        NOT NULL REFERENCES qr_codes (id),
  operator_id uuid        NOT NULL,
  project     text        NOT NULL,
  via         text        NOT NULL CHECK (via IN ('payload', 'code')),
  create_time timestamptz NOT NULL);

-- A mailing (T9) and its progress counters (kept by every recipient's transition, in its transaction).
CREATE TABLE mailings (
  id          uuid        PRIMARY KEY,
  bot_id      uuid        NOT NULL REFERENCES tg_bots (id),
  template_id uuid        NOT NULL REFERENCES message_templates (id),
  name        text        NOT NULL,
  parameters  text[]      NOT NULL DEFAULT '{}',
  state       text        NOT NULL CHECK (state IN ('RUNNING', 'DONE', 'CANCELLED')),
  total       bigint      NOT NULL DEFAULT 0,
  pending     bigint      NOT NULL DEFAULT 0,
  queued      bigint      NOT NULL DEFAULT 0,
  sent        bigint      NOT NULL DEFAULT 0,
  failed      bigint      NOT NULL DEFAULT 0,
  no_chat     bigint      NOT NULL DEFAULT 0,
  cancelled   bigint      NOT NULL DEFAULT 0,
  created_by  text        NOT NULL DEFAULT '',
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL);
-- The worker's pass: running mailings, oldest first.
CREATE INDEX mailings_running ON mailings (create_time, id) WHERE state = 'RUNNING';

-- A mailing's recipient: pending → queued (an outgoing row) → sent | failed; or no_chat; or cancelled.
CREATE TABLE mailing_recipients (
  mailing_id  uuid        NOT NULL REFERENCES mailings (id),
  seq         bigint      NOT NULL,
  client_id   uuid        NOT NULL,
  state       text        NOT NULL CHECK (state IN ('PENDING', 'QUEUED', 'SENT', 'FAILED', 'NO_CHAT', 'CANCELLED')),
  chat_id     bigint      NOT NULL DEFAULT 0,
  outgoing_id uuid,
  error       text        NOT NULL DEFAULT '',
  update_time timestamptz NOT NULL,
  PRIMARY KEY (mailing_id, seq));
-- ListRecipients by state, and the worker's next pending ones (plan test: 1 000 000 recipients).
CREATE INDEX mailing_recipients_state ON mailing_recipients (mailing_id, state, seq);
-- telegram's state hook finds the recipient of an outgoing row.
CREATE UNIQUE INDEX mailing_recipients_outgoing ON mailing_recipients (outgoing_id) WHERE outgoing_id IS NOT NULL;

-- Robots' client messages (T9): one row per notification event (event id), delivered or not and why.
CREATE TABLE robot_deliveries (
  event_id    text        PRIMARY KEY,
  client_id   uuid,
  deal_id     text        NOT NULL DEFAULT '',
  state       text        NOT NULL CHECK (state IN ('QUEUED', 'SENT', 'FAILED', 'UNDELIVERABLE')),
  bot_id      uuid,
  chat_id     bigint      NOT NULL DEFAULT 0,
  outgoing_id uuid,
  reason      text        NOT NULL DEFAULT '',
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL);
CREATE UNIQUE INDEX robot_deliveries_outgoing ON robot_deliveries (outgoing_id) WHERE outgoing_id IS NOT NULL;

-- The registers (T9): a client's chats on a bot and the bot's chats by their dialogs.
CREATE INDEX dialogs_client_bot ON dialogs (client_id, bot_id, number) WHERE client_id IS NOT NULL;
CREATE INDEX dialogs_bot_chat ON dialogs (bot_id, chat_id, number);
