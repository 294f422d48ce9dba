-- 0007: issue 16 — roles are versioned like every other record: UpdateRole with a version other than the
-- stored one is ABORTED (the gateway's 412 on If-Match), 0 updates whatever is stored; each update adds 1.
ALTER TABLE roles ADD COLUMN version bigint NOT NULL DEFAULT 1;
