-- Robots' read model of identity's users (notifications: recipients and template variables), fed by the
-- UserCreated / UserUpdated events on crm.identity.user.v1 (services/robots/notify.h, ApplyUserEvent).
-- Robots never call identity per action and never read its tables. One row per user as last heard;
-- `version` is identity's optimistic-concurrency version: an event older than the stored row is ignored.
CREATE TABLE robot_users (
  id            uuid PRIMARY KEY,
  full_name     text NOT NULL DEFAULT '',
  email         text NOT NULL DEFAULT '',
  phone         text NOT NULL DEFAULT '',  -- E.164, as identity normalised it
  active        boolean NOT NULL DEFAULT true,
  role_codes    text[] NOT NULL DEFAULT '{}',  -- "head_of_sales", "manager", ...
  team_ids      uuid[] NOT NULL DEFAULT '{}',  -- teams / departments (отделы)
  supervisor_id uuid,                          -- руководитель; NULL when none
  version       bigint NOT NULL,
  update_time   timestamptz NOT NULL DEFAULT now()
);

-- "Active users with role X" (recipient "role:<code>"), optionally sharing a team with the responsible.
CREATE INDEX robot_users_active_roles ON robot_users USING gin (role_codes) WHERE active;
