-- Notification digests (services/robots/digest.h, issue 14): when each person last got a message on a
-- channel (the window it opened), and the notifications held for their next digest.
CREATE TABLE notify_windows (
  recipient text NOT NULL,
  channel   smallint NOT NULL,
  opened_at timestamptz NOT NULL,
  PRIMARY KEY (recipient, channel)
);

CREATE TABLE notify_pending (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  recipient      text NOT NULL,
  channel        smallint NOT NULL,
  recipient_name text NOT NULL DEFAULT '',
  email          text NOT NULL DEFAULT '',
  deal_id        text NOT NULL DEFAULT '',
  rule_id        text NOT NULL DEFAULT '',
  execution_id   text NOT NULL DEFAULT '',
  subject        text NOT NULL,
  text           text NOT NULL,
  create_time    timestamptz NOT NULL
);
CREATE INDEX notify_pending_by_recipient ON notify_pending (recipient, channel, id);
