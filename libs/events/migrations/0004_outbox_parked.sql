-- Events the broker refuses for good (libs/events/relay.h): larger than the broker or producer accepts,
-- or a record it calls invalid. Such a row would otherwise be re-read and refused forever, and every event
-- behind it would wait. The relay moves it here with the refusal, in one transaction, and goes on; the
-- crm_outbox_parked gauge and an error log line make it visible. To re-send after fixing the cause
-- (e.g. the topic's max.message.bytes raised):
--   WITH moved AS (DELETE FROM outbox_parked WHERE seq = 42 RETURNING *)
--   INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at)
--   SELECT id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at FROM moved;
-- The outbox's columns (seq kept as it was, without its identity; published_at stays NULL), then the refusal.
CREATE TABLE outbox_parked (
  LIKE outbox INCLUDING DEFAULTS,
  parked_at timestamptz NOT NULL DEFAULT now(),
  error     text        NOT NULL,
  PRIMARY KEY (seq)
);
