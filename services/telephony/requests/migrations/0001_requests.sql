-- The call-request queue (P4, issue 19; seed 004 §6.5.5–6.5.6): requests, operators' readiness, attempts.
-- "One offer at a time" is the database's: a request has one operator at a time (its row), an operator
-- holds at most one offer or request in work (call_requests_operator_active, call_operators.active_request
-- UNIQUE) and a request at most one open attempt (call_request_attempts_open_request), an operator too
-- (call_request_attempts_open_operator).

-- Idempotent creates (libs/pg/idempotency.h), shared by every part of telephony: IF NOT EXISTS, since
-- another part may make it first.
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

CREATE TABLE call_requests (
  id             uuid        PRIMARY KEY,  -- UUIDv7
  source         text        NOT NULL CHECK (source IN ('SITE', 'MISSED_CALL', 'TELEGRAM', 'MANUAL')),
  type           text        NOT NULL,
  priority       int         NOT NULL CHECK (priority BETWEEN 1 AND 3),  -- 1 first
  phone          text        NOT NULL,     -- E.164
  client_id      uuid,
  comment        text        NOT NULL DEFAULT '',
  planned_time   timestamptz,
  -- When it may be offered: planned_time, else create_time (the queue's order after priority).
  due_time       timestamptz NOT NULL,
  state          text        NOT NULL CHECK (state IN ('QUEUED', 'OFFERED', 'IN_WORK', 'DONE')),
  outcome        text        NOT NULL DEFAULT '',
  operator_id    uuid,                     -- offered to / in work by / last one who had it
  attempt_id     bigint,                   -- the current (or last) attempt
  offer_deadline timestamptz,
  attempt_count  int         NOT NULL DEFAULT 0,
  related_to     uuid        REFERENCES call_requests (id),
  created_by     uuid,
  create_time    timestamptz NOT NULL,
  update_time    timestamptz NOT NULL,
  finish_time    timestamptz,
  CHECK (state NOT IN ('OFFERED', 'IN_WORK') OR (operator_id IS NOT NULL AND attempt_id IS NOT NULL)),
  CHECK (state <> 'OFFERED' OR offer_deadline IS NOT NULL)
);
-- An operator holds at most one offer or request in work.
CREATE UNIQUE INDEX call_requests_operator_active ON call_requests (operator_id) WHERE state IN ('OFFERED', 'IN_WORK');
-- The matcher's queue: due first by priority, then due time (planned or created), then id.
CREATE INDEX call_requests_queue ON call_requests (priority, due_time, id) WHERE state = 'QUEUED';
-- Related duplicates: the open requests of a phone, of a client.
CREATE INDEX call_requests_open_phone ON call_requests (phone, create_time) WHERE state <> 'DONE';
CREATE INDEX call_requests_open_client ON call_requests (client_id, create_time) WHERE state <> 'DONE' AND client_id IS NOT NULL;
CREATE INDEX call_requests_related ON call_requests (related_to) WHERE related_to IS NOT NULL;
-- Lists (newest first, keyset (create_time, id)): unfiltered and by date; by state, source, type, operator
-- (scope "own" is the operator filter with the caller).
CREATE INDEX call_requests_created ON call_requests (create_time, id);
CREATE INDEX call_requests_by_state ON call_requests (state, create_time, id);
CREATE INDEX call_requests_by_source ON call_requests (source, create_time, id);
CREATE INDEX call_requests_by_type ON call_requests (type, create_time, id);
CREATE INDEX call_requests_by_operator ON call_requests (operator_id, create_time, id);

CREATE TABLE call_operators (
  user_id        uuid        PRIMARY KEY,
  readiness      text        NOT NULL CHECK (readiness IN ('READY', 'AUTO_READY', 'NOT_READY')),
  reason         text        NOT NULL DEFAULT '',
  readiness_time timestamptz NOT NULL,
  -- Free since: the longest idle ready operator is offered first.
  idle_since     timestamptz NOT NULL,
  active_request uuid        UNIQUE REFERENCES call_requests (id),
  update_time    timestamptz NOT NULL
);
-- The matcher's free operators.
CREATE INDEX call_operators_free ON call_operators (idle_since, user_id)
  WHERE readiness <> 'NOT_READY' AND active_request IS NULL;

CREATE TABLE call_request_attempts (
  id           bigserial   PRIMARY KEY,
  request_id   uuid        NOT NULL REFERENCES call_requests (id),
  operator_id  uuid        NOT NULL,
  offer_time   timestamptz NOT NULL,
  deadline     timestamptz NOT NULL,
  result       text        NOT NULL DEFAULT 'OFFERED' CHECK (result IN ('OFFERED', 'ACCEPTED', 'DECLINED', 'EXPIRED')),
  result_time  timestamptz,
  outcome      text        NOT NULL DEFAULT '',
  finish_time  timestamptz,
  comment      text        NOT NULL DEFAULT ''
);
CREATE INDEX call_request_attempts_request ON call_request_attempts (request_id, id);
-- At most one open attempt (offered, or accepted and not finished) per request and per operator.
CREATE UNIQUE INDEX call_request_attempts_open_request ON call_request_attempts (request_id)
  WHERE result = 'OFFERED' OR (result = 'ACCEPTED' AND finish_time IS NULL);
CREATE UNIQUE INDEX call_request_attempts_open_operator ON call_request_attempts (operator_id)
  WHERE result = 'OFFERED' OR (result = 'ACCEPTED' AND finish_time IS NULL);
-- The control panel: a day's attempts by operator, a day's finished work by outcome.
CREATE INDEX call_request_attempts_offered ON call_request_attempts (offer_time, operator_id);
CREATE INDEX call_request_attempts_finished ON call_request_attempts (finish_time, outcome) WHERE finish_time IS NOT NULL;
