-- deals: pipelines and stages with gates (D1, D4), lost reasons (D13), custom field definitions and
-- deals (D2). Clients, products, payments, tasks and the timeline come in later migrations.

CREATE TABLE pipelines (
  id          uuid PRIMARY KEY,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  sort        int NOT NULL DEFAULT 0,
  version     bigint NOT NULL DEFAULT 1,
  currency    text NOT NULL DEFAULT 'RUB' CHECK (currency ~ '^[A-Z]{3}$'),
  create_time timestamptz NOT NULL DEFAULT now(),
  update_time timestamptz NOT NULL DEFAULT now()
);

-- kind: 1 open, 2 won, 3 lost (crm.deals.v1.Stage.Kind). gates: StageGates in the proto3 JSON mapping.
CREATE TABLE stages (
  id          uuid PRIMARY KEY,
  pipeline_id uuid NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
  position    int NOT NULL,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  kind        smallint NOT NULL CHECK (kind IN (1, 2, 3)),
  color       text NOT NULL DEFAULT '',
  gates       jsonb NOT NULL DEFAULT '{}'::jsonb,
  UNIQUE (pipeline_id, position) DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE lost_reasons (
  code             text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{0,63}$'),
  name             text NOT NULL,
  requires_comment boolean NOT NULL DEFAULT false,
  sort             int NOT NULL DEFAULT 0
);

-- Seed 002's catalogue (D13).
INSERT INTO lost_reasons (code, name, requires_comment, sort) VALUES
  ('no_money',    'Денег нет',           false, 10),
  ('competitor',  'Ушли к конкурентам',  false, 20),
  ('not_target',  'Нецелевой клиент',    false, 30),
  ('no_decision', 'Не приняли решение',  false, 40),
  ('too_long',    'Долго',               false, 50),
  ('other',       'Другое',              true,  60);

-- type: crm.deals.v1.FieldDefinition.Type.
CREATE TABLE field_definitions (
  code      text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{0,63}$'),
  name      text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  type      smallint NOT NULL CHECK (type BETWEEN 1 AND 10),
  options   text[] NOT NULL DEFAULT '{}',
  technical boolean NOT NULL DEFAULT false,
  sort      int NOT NULL DEFAULT 0
);

-- status: 1 open, 2 won, 3 lost (crm.deals.v1.Deal.Status). fields: {code: FieldValue JSON}.
-- team_ids: the responsible's teams when the deal was last assigned (access by team without a join
-- to identity, which this service does not own; kept current from crm.identity.user.v1 events).
CREATE TABLE deals (
  id               uuid PRIMARY KEY,
  name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 500),
  pipeline_id      uuid NOT NULL REFERENCES pipelines (id),
  stage_id         uuid NOT NULL REFERENCES stages (id),
  status           smallint NOT NULL CHECK (status IN (1, 2, 3)),
  responsible_id   uuid NOT NULL,
  creator_id       uuid,
  team_ids         uuid[] NOT NULL DEFAULT '{}',
  client_id        uuid,
  amount_minor     bigint NOT NULL DEFAULT 0,
  currency         text NOT NULL DEFAULT 'RUB' CHECK (currency ~ '^[A-Z]{3}$'),
  source           text NOT NULL DEFAULT '',
  priority         smallint NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 3),
  tags             text[] NOT NULL DEFAULT '{}',
  fields           jsonb NOT NULL DEFAULT '{}'::jsonb,
  lost_reason_code text REFERENCES lost_reasons (code),
  lost_comment     text NOT NULL DEFAULT '',
  copied_from_id   uuid REFERENCES deals (id),
  next_task_time   timestamptz,
  version          bigint NOT NULL DEFAULT 1,
  create_time      timestamptz NOT NULL DEFAULT now(),
  update_time      timestamptz NOT NULL DEFAULT now(),
  close_time       timestamptz,
  stage_enter_time timestamptz NOT NULL DEFAULT now()
);

-- The board: a column's cards newest first, keyset on (create_time, id); counts and sums per stage.
CREATE INDEX deals_stage_board ON deals (stage_id, create_time DESC, id DESC) INCLUDE (amount_minor, currency);
-- "Only my deals" on the board and in the list.
CREATE INDEX deals_responsible ON deals (responsible_id, stage_id, create_time DESC, id DESC);
-- The list view, newest first.
CREATE INDEX deals_pipeline_created ON deals (pipeline_id, create_time DESC, id DESC);
CREATE INDEX deals_tags ON deals USING gin (tags);
CREATE INDEX deals_copied_from ON deals (copied_from_id) WHERE copied_from_id IS NOT NULL;
