-- dialogs' routing (T6) and response-time metrics (T8; issue 18): services/dialogs/README.md "Routing".
-- Rights per bot stay the inbox's bot_operators; this adds the operators' capacity and presence, the rules,
-- the groups, the bots' answer timeouts and the append-only assignment history.

-- An operator's capacity (IN_WORK dialogs distribution may give them) and presence. No row = capacity 5,
-- OFFLINE, never assigned. last_assigned_time: "the longest idle" of the fair distribution.
CREATE TABLE routing_operators (
  user_id            uuid        PRIMARY KEY,
  capacity           integer     NOT NULL DEFAULT 5 CHECK (capacity >= 0),
  presence           text        NOT NULL DEFAULT 'OFFLINE' CHECK (presence IN ('ONLINE', 'AWAY', 'OFFLINE')),
  presence_time      timestamptz,
  last_assigned_time timestamptz,
  team_ids           uuid[]      NOT NULL DEFAULT '{}',  -- their teams at their last SetPresence (read.team)
  version            bigint      NOT NULL DEFAULT 1,
  update_time        timestamptz NOT NULL);

-- A named set of users of one bot (redirect and rule targets).
CREATE TABLE routing_groups (
  id          uuid        PRIMARY KEY,
  bot_id      uuid        NOT NULL REFERENCES tg_bots (id),
  name        text        NOT NULL,
  user_ids    uuid[]      NOT NULL DEFAULT '{}',
  create_time timestamptz NOT NULL,
  UNIQUE (bot_id, name));

-- Operator or group ↔ bot, project, topic ('' = any); higher priority first.
CREATE TABLE routing_rules (
  id          uuid        PRIMARY KEY,
  bot_id      uuid        NOT NULL REFERENCES tg_bots (id),
  user_id     uuid,
  group_id    uuid        REFERENCES routing_groups (id) ON DELETE CASCADE,
  project     text        NOT NULL DEFAULT '',
  topic       text        NOT NULL DEFAULT '',
  priority    integer     NOT NULL DEFAULT 0,
  create_time timestamptz NOT NULL,
  CHECK ((user_id IS NULL) <> (group_id IS NULL)));
CREATE INDEX routing_rules_bot ON routing_rules (bot_id, priority DESC);

-- A bot's answer timeout in working minutes (0 = none). No row = 0.
CREATE TABLE routing_bots (
  bot_id                 uuid        PRIMARY KEY REFERENCES tg_bots (id),
  answer_timeout_minutes integer     NOT NULL DEFAULT 0 CHECK (answer_timeout_minutes >= 0),
  version                bigint      NOT NULL DEFAULT 1,
  update_time            timestamptz NOT NULL);

-- The append-only history of a dialog's assignments (T6 "full history", T8). For an assignment to an
-- operator (DISTRIBUTED, TAKEN, REDIRECTED; TIMED_OUT when the dialog went on to the next operator),
-- reply_time / reply_working_seconds are filled once by the operator's first reply after it — the only
-- update a row ever gets; the T8 report reads them.
CREATE TABLE dialog_assignments (
  id                    bigserial   PRIMARY KEY,
  dialog_id             uuid        NOT NULL REFERENCES dialogs (id),
  bot_id                uuid        NOT NULL,
  kind                  text        NOT NULL CHECK (kind IN ('QUEUED', 'DISTRIBUTED', 'TAKEN', 'REDIRECTED',
                                                             'TIMED_OUT', 'RELEASED')),
  from_user_id          uuid,
  to_user_id            uuid,
  by_user_id            uuid,
  time                  timestamptz NOT NULL,
  reply_time            timestamptz,
  reply_working_seconds bigint);
CREATE INDEX dialog_assignments_dialog ON dialog_assignments (dialog_id, id);
-- The T8 report: assignments to operators in a period (plan test: routing_plan_test.cc).
CREATE INDEX dialog_assignments_report ON dialog_assignments (time, to_user_id)
  INCLUDE (bot_id, reply_working_seconds) WHERE to_user_id IS NOT NULL;
