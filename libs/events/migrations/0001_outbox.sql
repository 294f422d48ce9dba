-- The transactional outbox (libs/events/outbox.h). The first five columns are the shape Debezium's
-- outbox event router expects (id, aggregatetype, aggregateid, type, payload), so a CDC relay can
-- replace ours without a schema change: route by `topic` (route.by.field=topic), key by aggregateid,
-- payload = the serialized crm.events.v1.Envelope (bytea), and place id/type/source/occurred_at into
-- ce_* headers (table.fields.additional.placement).
CREATE TABLE outbox (
  id            uuid PRIMARY KEY,
  aggregatetype varchar(255) NOT NULL,
  aggregateid   varchar(255) NOT NULL,
  type          varchar(255) NOT NULL,
  payload       bytea        NOT NULL,
  topic         varchar(255) NOT NULL,
  source        varchar(255) NOT NULL,
  occurred_at   timestamptz  NOT NULL,
  -- Commit order of one aggregate's events equals seq order when writers lock the aggregate first.
  seq           bigint GENERATED ALWAYS AS IDENTITY,
  published_at  timestamptz,
  attempts      integer      NOT NULL DEFAULT 0,
  last_error    text
);
-- The relay's work queue: only unpublished rows, in seq order.
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
-- Retention purge of published rows.
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;
