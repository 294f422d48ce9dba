-- 0006: issue 16 — identity's idempotency records become libs/pg's (crm::pg::RunIdempotent): written in
-- the transaction of the create, with the fingerprint of the request the key was first used with, so a
-- key reused with another request is refused. Records of the old scheme were keyed by the short method
-- name ("CreateUser") that nothing looks up any more: they go.
DELETE FROM idempotency;
ALTER TABLE idempotency ADD COLUMN request_sha256 bytea NOT NULL DEFAULT ''::bytea;
