-- The calls part (P1, P2; issue 19): calls and their legs from every PBX, the facts taken in (the intake's
-- idempotency), extensions ↔ employees, and the work queue to deals (caller identification, interactions).
-- Times are timestamptz; ids UUIDv7.

-- One call: everything under one provider call key (event.h). Its state is derived from its legs by the
-- intake (calls/model.h). The client side: identification (P2) fills candidates / client; the operator may
-- choose (SetCallClient). Primacy and interaction_id come back from deals' interaction (D16).
CREATE TABLE calls (
  id                uuid        PRIMARY KEY,
  provider          text        NOT NULL,
  call_key          text        NOT NULL,
  direction         text        NOT NULL DEFAULT 'unknown'
                    CHECK (direction IN ('unknown', 'inbound', 'outbound', 'internal')),
  from_number       text        NOT NULL DEFAULT '',
  to_number         text        NOT NULL DEFAULT '',
  outside_number    text        NOT NULL DEFAULT '',
  line              text        NOT NULL DEFAULT '',
  state             text        NOT NULL DEFAULT 'ringing' CHECK (state IN ('ringing', 'answered', 'ended')),
  answered          boolean     NOT NULL DEFAULT false,
  started_at        timestamptz NOT NULL,
  answered_at       timestamptz,
  ended_at          timestamptz,
  duration_seconds  integer     NOT NULL DEFAULT 0,
  user_id           uuid,
  identification    text        NOT NULL DEFAULT 'pending'
                    CHECK (identification IN ('pending', 'none', 'identified', 'candidates', 'chosen')),
  client_candidates jsonb       NOT NULL DEFAULT '[]',
  client_id         uuid,
  client_name       text        NOT NULL DEFAULT '',
  deal_id           uuid,
  project_id        uuid,
  primacy           text        NOT NULL DEFAULT '' CHECK (primacy IN ('', 'primary', 'secondary')),
  interaction_id    uuid,
  recording_url     text        NOT NULL DEFAULT '',
  finished_sent     boolean     NOT NULL DEFAULT false,
  create_time       timestamptz NOT NULL,
  update_time       timestamptz NOT NULL,
  UNIQUE (provider, call_key));

-- The call log's lists (ListCalls; calls_plan_test.cc at 1 000 000 calls): newest first by (started_at, id),
-- for every filter and scope an index giving that order.
CREATE INDEX calls_started ON calls (started_at DESC, id DESC);
CREATE INDEX calls_user ON calls (user_id, started_at DESC, id DESC) WHERE user_id IS NOT NULL;
CREATE INDEX calls_client ON calls (client_id, started_at DESC, id DESC) WHERE client_id IS NOT NULL;
CREATE INDEX calls_deal ON calls (deal_id, started_at DESC, id DESC) WHERE deal_id IS NOT NULL;
CREATE INDEX calls_direction ON calls (direction, started_at DESC, id DESC);
-- Missed calls («пропущенные»): inbound, ended, never answered.
CREATE INDEX calls_missed ON calls (started_at DESC, id DESC)
  WHERE direction = 'inbound' AND state = 'ended' AND NOT answered;
CREATE INDEX calls_user_missed ON calls (user_id, started_at DESC, id DESC)
  WHERE direction = 'inbound' AND state = 'ended' AND NOT answered AND user_id IS NOT NULL;

-- One leg (a channel, one party's line) of a call.
CREATE TABLE call_legs (
  id           uuid        PRIMARY KEY,
  call_id      uuid        NOT NULL REFERENCES calls (id),
  provider     text        NOT NULL,
  leg_key      text        NOT NULL,
  channel      text        NOT NULL DEFAULT '',
  extension    text        NOT NULL DEFAULT '',
  user_id      uuid,
  state        text        NOT NULL CHECK (state IN ('ringing', 'answered', 'ended')),
  answered     boolean     NOT NULL DEFAULT false,
  started_at   timestamptz NOT NULL,
  answered_at  timestamptz,
  ended_at     timestamptz,
  end_reason   text        NOT NULL DEFAULT '',
  UNIQUE (provider, leg_key));
CREATE INDEX call_legs_call ON call_legs (call_id);
-- Resynchronisation (open_legs): the legs not ended, per provider.
CREATE INDEX call_legs_open ON call_legs (provider) WHERE state <> 'ended';
-- "The caller's calls" for GetCall and the commands: the legs an employee was on.
CREATE INDEX call_legs_user ON call_legs (user_id, call_id) WHERE user_id IS NOT NULL;

-- The facts taken in: (provider, event_key) once — a redelivered, replayed or reconciled fact changes
-- nothing (the intake's idempotency).
CREATE TABLE call_facts (
  provider     text        NOT NULL,
  event_key    text        NOT NULL,
  call_key     text        NOT NULL,
  kind         text        NOT NULL,
  receive_time timestamptz NOT NULL,
  PRIMARY KEY (provider, event_key));

-- Extensions (добавочные номера) ↔ employees, per provider: a leg's extension names its employee.
CREATE TABLE extensions (
  provider    text        NOT NULL,
  extension   text        NOT NULL,
  user_id     uuid        NOT NULL,
  update_time timestamptz NOT NULL,
  PRIMARY KEY (provider, extension));
CREATE INDEX extensions_user ON extensions (user_id, provider);

-- Work for deals, done outside the intake's transaction (calls/deals_sync.h): 'identify' (client search by
-- the outside number) and 'interaction' (D16: the ended call in the client's timeline). One row per
-- (call, kind); due_time NULL = parked (waits for a client or an employee).
CREATE TABLE call_deals_sync (
  id          bigserial   PRIMARY KEY,
  call_id     uuid        NOT NULL REFERENCES calls (id),
  kind        text        NOT NULL CHECK (kind IN ('identify', 'interaction')),
  due_time    timestamptz,
  attempts    integer     NOT NULL DEFAULT 0,
  last_error  text        NOT NULL DEFAULT '',
  create_time timestamptz NOT NULL,
  UNIQUE (call_id, kind));
CREATE INDEX call_deals_sync_due ON call_deals_sync (due_time, id) WHERE due_time IS NOT NULL;

-- Idempotent creates (libs/pg/idempotency.h: Originate's Idempotency-Key), shared by every part of
-- telephony: IF NOT EXISTS, since another part may make the same table first. The service purges it hourly.
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

-- Extensions waiting for their employee by login (the demo's, calls/demo.h): when identity's user event
-- (crm.identity.user.v1) of that login arrives — or at once when it arrived before — the extension is given
-- to that user id (calls/users.h) unless the extension was assigned meanwhile, and the row goes.
CREATE TABLE pending_extensions (
  provider    text        NOT NULL,
  extension   text        NOT NULL,
  login       text        NOT NULL,
  create_time timestamptz NOT NULL,
  PRIMARY KEY (provider, extension));
CREATE INDEX pending_extensions_login ON pending_extensions (login);
-- The logins of identity's users seen on crm.identity.user.v1 (users.h): a plan made after the user's event
-- arrived is given at once.
CREATE TABLE user_logins (
  user_id     uuid        PRIMARY KEY,
  login       text        NOT NULL,
  version     bigint      NOT NULL,
  update_time timestamptz NOT NULL);
CREATE INDEX user_logins_login ON user_logins (login);
