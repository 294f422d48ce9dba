-- Durable timers and cron-like schedules (libs/timers: timers.h, schedules.h). Robots' migration 0001
-- made these very tables before they moved here: IF NOT EXISTS keeps that database as it is, and gives a
-- new service the same schema.

-- Durable timers (R10): one row per thing that must happen at a time, fired exactly once in effect.
-- `key` is the caller's dedupe key ("rule:<rule>:deal:<deal>:event:<event>", "schedule:<id>:<unix s>"):
-- a key is used once, so fired and cancelled rows are kept (a purge must leave keys younger than any
-- caller may repeat).
CREATE TABLE IF NOT EXISTS timers (
  id          uuid PRIMARY KEY,
  key         text NOT NULL UNIQUE,
  kind        text NOT NULL,
  due_time    timestamptz NOT NULL,
  payload     bytea NOT NULL DEFAULT '\x',
  state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'fired', 'cancelled')),
  attempts    integer NOT NULL DEFAULT 0,
  last_error  text,
  fired_time  timestamptz,
  create_time timestamptz NOT NULL DEFAULT now(),
  update_time timestamptz NOT NULL DEFAULT now()
);

-- "Pending and due, oldest first": FireDue's claim and the loop's "earliest due" both read this index.
CREATE INDEX IF NOT EXISTS timers_pending_due ON timers (due_time, id) WHERE state = 'pending';

-- Cron-like schedules; the next occurrence of an enabled one is a timer keyed
-- "schedule:<id>:<occurrence unix seconds>".
CREATE TABLE IF NOT EXISTS schedules (
  id          uuid PRIMARY KEY,
  key         text NOT NULL UNIQUE,
  spec        text NOT NULL,           -- "every working day at 19:00", "every day at 09:30", "weekly on monday at 10:00"
  time_zone   text NOT NULL,           -- IANA name the spec's wall time is in
  calendar    text NOT NULL DEFAULT '',-- working calendar name (needed by "every working day"), '' = none
  kind        text NOT NULL,           -- the kind of the occurrence timers
  payload     bytea NOT NULL DEFAULT '\x',
  next_time   timestamptz,             -- the occurrence a timer exists for; NULL when disabled or none
  version     bigint NOT NULL DEFAULT 1,
  enabled     boolean NOT NULL DEFAULT true,
  create_time timestamptz NOT NULL DEFAULT now(),
  update_time timestamptz NOT NULL DEFAULT now()
);
