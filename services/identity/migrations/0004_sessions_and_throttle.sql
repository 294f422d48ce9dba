-- 0004: issue 15 — session revocations are published (SessionRevoked needs each session's last access-token
-- expiry) and sign-in throttling per (login, address) and per address replaces the per-login lockout.

-- The expiry of the last access token issued to each session (its iat + ACCESS_TOKEN_TTL), set at
-- sign-in and at every refresh: SessionRevoked.tokens_expire_time. Every access token is issued together
-- with a refresh token, so the newest refresh token's create_time is the last issue time of an existing
-- session; one hour after it covers any TTL up to an hour (later only makes the gateway remember longer).
ALTER TABLE sessions ADD COLUMN last_access_expire_time timestamptz;
UPDATE sessions s SET last_access_expire_time =
  COALESCE((SELECT max(rt.create_time) FROM refresh_tokens rt WHERE rt.session_id = s.id), s.create_time)
  + interval '1 hour';
ALTER TABLE sessions ALTER COLUMN last_access_expire_time SET NOT NULL;

-- Failed sign-ins per key ("pair:<login>|<address>", "addr:<address>", "enrol:<user id>"), shared by every
-- replica; throttle.h turns (failures, last failure) into the wait. Replaces the lockout table.
DROP TABLE signin_throttle;
CREATE TABLE signin_failures (
  key               text PRIMARY KEY,
  failures          integer     NOT NULL,
  last_failure_time timestamptz NOT NULL
);
CREATE INDEX signin_failures_by_time ON signin_failures (last_failure_time);
