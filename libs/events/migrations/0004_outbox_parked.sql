-- Events the broker refuses for good (libs/events/relay.h): larger than the broker or producer accepts,
-- or a record it calls invalid. Such a row would otherwise be re-read and refused forever, and every event
-- behind it would wait. The relay moves it here with the refusal, in one transaction, and goes on; the
-- crm_outbox_parked gauge and an error log line make it visible. To re-send after fixing the cause
-- (e.g. the topic's max.message.bytes raised):
--   WITH moved AS (DELETE FROM outbox_parked WHERE seq = 42 RETURNING *)
--   INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at)
--   SELECT id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at FROM moved;
CREATE TABLE outbox_parked (
  seq           bigint       PRIMARY KEY,  -- its seq in outbox when parked
  id            uuid         NOT NULL UNIQUE,
  aggregatetype varchar(255) NOT NULL,
  aggregateid   varchar(255) NOT NULL,
  type          varchar(255) NOT NULL,
  payload       bytea        NOT NULL,
  topic         varchar(255) NOT NULL,
  source        varchar(255) NOT NULL,
  occurred_at   timestamptz  NOT NULL,
  attempts      integer      NOT NULL,
  parked_at     timestamptz  NOT NULL DEFAULT now(),
  error         text         NOT NULL
);
