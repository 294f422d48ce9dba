-- 0005: idempotent creating calls (CreateDeal, CopyDeal, BatchCopyDeals; libs/pg/idempotency.h). A
-- record commits with the deal it made, so a retried request returns that deal and never makes another.
-- Kept 24 hours. A deal's copies are found by deals.copied_from_id (0001, indexed deals_copied_from).
CREATE TABLE idempotency (
  caller         text        NOT NULL,
  method         text        NOT NULL,
  key            text        NOT NULL,
  request_sha256 bytea       NOT NULL,
  response       bytea       NOT NULL,
  create_time    timestamptz NOT NULL,
  PRIMARY KEY (caller, method, key)
);
CREATE INDEX idempotency_create_time ON idempotency (create_time);
