-- Component "scenarios" of the dialogs service (T3, T4; services/dialogs/README.md "Scenarios").

-- Idempotent creates (libs/pg/idempotency.h), shared by every part of dialogs: IF NOT EXISTS, since
-- another part may make the same table first.
CREATE TABLE IF NOT EXISTS idempotency (
  caller         text        NOT NULL,
  method         text        NOT NULL,
  key            text        NOT NULL,
  request_sha256 bytea       NOT NULL,
  response       bytea       NOT NULL,
  create_time    timestamptz NOT NULL,
  PRIMARY KEY (caller, method, key)
);
CREATE INDEX IF NOT EXISTS idempotency_create_time ON idempotency (create_time);

-- A scenario: its newest version's head. bot_id is the telegram part's bot (no foreign key across parts).
CREATE TABLE scenarios (
  id          uuid        PRIMARY KEY,
  bot_id      text        NOT NULL,
  name        text        NOT NULL,
  version     bigint      NOT NULL,
  active      boolean     NOT NULL,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL
);
-- ListScenarios: by bot, name, id (bot_id = '' lists every bot: the same index, no bot prefix).
CREATE INDEX scenarios_bot_name ON scenarios (bot_id, name, id);
CREATE INDEX scenarios_name ON scenarios (name, id);
-- At most one running scenario per bot.
CREATE UNIQUE INDEX scenarios_active_bot ON scenarios (bot_id) WHERE active;

-- Every version's definition (crm.dialogs.v1.Scenario, serialized), append-only: a dialog in a stage keeps
-- its version.
CREATE TABLE scenario_versions (
  scenario_id uuid        NOT NULL REFERENCES scenarios (id),
  version     bigint      NOT NULL,
  body        bytea       NOT NULL,
  create_time timestamptz NOT NULL,
  PRIMARY KEY (scenario_id, version)
);

-- Where each dialog is in its scenario (crm.dialogs.v1.ScenarioState, serialized); the runner's row,
-- locked FOR UPDATE by every step of the dialog.
CREATE TABLE scenario_states (
  dialog_id   text        PRIMARY KEY,
  bot_id      text        NOT NULL,
  client_key  text        NOT NULL,   -- the Telegram user id: the spam list's key
  private_chat boolean    NOT NULL,   -- request_contact buttons only in a private chat
  scenario_id uuid        NOT NULL,
  version     bigint      NOT NULL,
  stage       text        NOT NULL,
  finished    boolean     NOT NULL,
  state       bytea       NOT NULL,
  update_time timestamptz NOT NULL
);

-- T4: the spam list. A client marked as spam on a bot is never started again on it (the inbox asks
-- ScenarioRunner::IsSpam before it opens a dialog).
CREATE TABLE scenario_spam (
  bot_id      text        NOT NULL,
  client_key  text        NOT NULL,   -- the Telegram user id (or chat id) as text
  dialog_id   text        NOT NULL,   -- the dialog it was marked in
  create_time timestamptz NOT NULL,
  PRIMARY KEY (bot_id, client_key)
);
-- ListSpam: a bot's entries, newest first (keyset on create_time, client_key; read backwards).
CREATE INDEX scenario_spam_bot_time ON scenario_spam (bot_id, create_time, client_key);
