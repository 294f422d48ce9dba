-- What deals knows of identity's users: their teams (access by team, D3 / seed 000 §6.3), kept current
-- from crm.identity.user.v1 (services/deals/users.h). deals.team_ids follows the responsible's teams.
CREATE TABLE user_directory (
  user_id     uuid PRIMARY KEY,
  team_ids    uuid[] NOT NULL DEFAULT '{}',
  active      boolean NOT NULL DEFAULT true,
  version     bigint NOT NULL DEFAULT 0,  -- identity's User.version: older events never overwrite newer
  update_time timestamptz NOT NULL DEFAULT now()
);
