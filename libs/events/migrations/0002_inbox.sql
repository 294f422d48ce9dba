-- The idempotent consumer's inbox (libs/events/consumer.h): one row per (consumer, event id), written
-- in the same transaction as the event's effects, so a redelivered event has no second effect.
CREATE TABLE inbox (
  consumer     text        NOT NULL,
  event_id     uuid        NOT NULL,
  event_type   text        NOT NULL,
  topic        text        NOT NULL,
  kafka_partition integer  NOT NULL,
  kafka_offset bigint      NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  -- 'applied': effects stored; 'rejected': the handler refused it for good (see error), parked for replay.
  status       text        NOT NULL DEFAULT 'applied' CHECK (status IN ('applied', 'rejected')),
  error        text,
  PRIMARY KEY (consumer, event_id)
);
CREATE INDEX inbox_received_at ON inbox (received_at);
