-- What dialogs knows of identity's users (issue 18, T7: list items carry names beside ids): their names and
-- teams from crm.identity.user.v1 (inbox/users.h), as deals keeps its user_directory.
CREATE TABLE user_directory (
  user_id     uuid        PRIMARY KEY,
  full_name   text        NOT NULL DEFAULT '',
  team_ids    uuid[]      NOT NULL DEFAULT '{}',
  active      boolean     NOT NULL DEFAULT true,
  version     bigint      NOT NULL DEFAULT 0,  -- identity's User.version: an older event never overwrites
  update_time timestamptz NOT NULL DEFAULT now());
