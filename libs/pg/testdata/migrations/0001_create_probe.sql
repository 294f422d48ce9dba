-- Test migrations for libs/pg (component "pgtest"). Each one logs itself into probe_applications, a table
-- WITHOUT a unique key, so a migration applied twice shows up as two rows.
CREATE TABLE probe_applications (
  migration   text        NOT NULL,
  backend_pid int         NOT NULL DEFAULT pg_backend_pid(),
  logged_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
INSERT INTO probe_applications (migration) VALUES ('0001');
