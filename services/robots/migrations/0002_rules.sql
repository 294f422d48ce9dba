-- Rules as data (R1) with every version kept (a run keeps the version it started with), the execution
-- log (R10) and the facts robots keep about deals from their events (comments, touches, counters).

-- The current version of each rule. `body` is the crm.robots.v1.Rule at that version (protobuf).
CREATE TABLE rules (
  id           uuid PRIMARY KEY,
  version      bigint NOT NULL,
  enabled      boolean NOT NULL,
  trigger_kind integer NOT NULL,
  pipeline_id  text NOT NULL DEFAULT '',   -- the trigger's pipeline ('' = any), for ListRules' filter
  body         bytea NOT NULL,
  create_time  timestamptz NOT NULL,
  update_time  timestamptz NOT NULL,
  updated_by   text NOT NULL DEFAULT ''
);
CREATE INDEX rules_pipeline ON rules (pipeline_id, id);

-- Every version ever stored; executions name (rule_id, version).
CREATE TABLE rule_versions (
  rule_id     uuid NOT NULL REFERENCES rules (id),
  version     bigint NOT NULL,
  body        bytea NOT NULL,
  create_time timestamptz NOT NULL,
  PRIMARY KEY (rule_id, version)
);

-- Bumped by every rule change: replicas reload their in-memory rule index when it moves.
CREATE TABLE rules_revision (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  revision  bigint NOT NULL
);
INSERT INTO rules_revision VALUES (true, 0);

-- One evaluation of one rule version for one deal (deal_id '' for a schedule occurrence's digest).
-- (rule_id, deal_id, trigger_key) is the idempotency key of R10: an event redelivered, or a timer fired
-- twice, finds its execution and does nothing more. trigger_key is the event id, the date timer's key
-- or the schedule occurrence's key.
CREATE TABLE executions (
  id           uuid PRIMARY KEY,
  rule_id      uuid NOT NULL,
  rule_version bigint NOT NULL,
  deal_id      text NOT NULL DEFAULT '',
  trigger_key  text NOT NULL,
  event_type   text NOT NULL DEFAULT '',
  state        text NOT NULL,
  depth        integer NOT NULL DEFAULT 0,
  coalescing   boolean NOT NULL DEFAULT false,
  cancellable  boolean NOT NULL DEFAULT false, -- WAITING with a delay.cancel_when to check on every event
  timer_key    text,                       -- the pending step's timer while WAITING
  body         bytea NOT NULL,             -- crm.robots.v1.Execution (predicates, actions, ...)
  create_time  timestamptz NOT NULL,
  due_time     timestamptz,
  finish_time  timestamptz,
  UNIQUE (rule_id, deal_id, trigger_key)
);
CREATE INDEX executions_by_deal ON executions (deal_id, create_time DESC, id DESC);
CREATE INDEX executions_by_rule ON executions (rule_id, create_time DESC, id DESC);
CREATE INDEX executions_waiting ON executions (deal_id, rule_id) WHERE state = 'WAITING';
CREATE INDEX executions_cancellable ON executions (deal_id) WHERE state = 'WAITING' AND cancellable;

-- What robots know of a deal beyond its own fields, from the suite's events.
CREATE TABLE deal_facts (
  deal_id           text PRIMARY KEY,
  last_comment_time timestamptz,
  touches           bigint NOT NULL DEFAULT 0,  -- finished calls + messages sent to the client (R4)
  deal              bytea,                       -- the latest crm.deals.v1.Deal an event carried
  deal_version      bigint NOT NULL DEFAULT 0,
  responsible_id    text NOT NULL DEFAULT ''
);

-- Named counters: ("user:<id>", "returns") is a manager's no-show returns (R7).
CREATE TABLE counters (
  scope  text NOT NULL,
  name   text NOT NULL,
  value  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (scope, name)
);

-- The date timer of each DATE_FIELD_REACHED rule and deal: re-armed when the date changes (its key
-- names the date, so a new date is a new timer and the old one is cancelled).
CREATE TABLE date_timers (
  rule_id   uuid NOT NULL,
  deal_id   text NOT NULL,
  timer_key text NOT NULL,
  PRIMARY KEY (rule_id, deal_id)
);

-- Idempotent CreateRule (libs/pg/idempotency.h).
CREATE TABLE idempotency (
  caller         text        NOT NULL,
  method         text        NOT NULL,
  key            text        NOT NULL,
  request_sha256 bytea       NOT NULL,
  response       bytea       NOT NULL,
  create_time    timestamptz NOT NULL,
  PRIMARY KEY (caller, method, key)
);

-- Stage moves and wins robots have seen (R6 conversion, R8 targets): one row per entry into a stage.
CREATE TABLE stage_entries (
  deal_id        text NOT NULL,
  pipeline_id    text NOT NULL,
  stage_id       text NOT NULL,
  responsible_id text NOT NULL DEFAULT '',
  event_id       text NOT NULL,
  entered_at     timestamptz NOT NULL,
  PRIMARY KEY (event_id, stage_id)
);
CREATE INDEX stage_entries_by_stage ON stage_entries (pipeline_id, stage_id, entered_at);
CREATE INDEX stage_entries_by_deal ON stage_entries (deal_id, stage_id);

CREATE TABLE deal_wins (
  deal_id        text NOT NULL,
  pipeline_id    text NOT NULL,
  responsible_id text NOT NULL DEFAULT '',
  amount_minor   bigint NOT NULL DEFAULT 0,
  event_id       text PRIMARY KEY,
  won_at         timestamptz NOT NULL
);
CREATE INDEX deal_wins_by_pipeline ON deal_wins (pipeline_id, won_at);
