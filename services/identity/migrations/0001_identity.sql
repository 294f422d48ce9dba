-- identity's schema: roles and permissions (data, not code), teams, users, sessions and refresh tokens,
-- sign-in throttling, token-signing keys, API keys and idempotency records. All times are UTC.
CREATE TABLE roles (
  code          text PRIMARY KEY,
  name          text    NOT NULL,
  requires_totp boolean NOT NULL DEFAULT false
);

CREATE TABLE role_permissions (
  role_code  text NOT NULL REFERENCES roles (code) ON DELETE CASCADE,
  permission text NOT NULL,
  PRIMARY KEY (role_code, permission)
);

CREATE TABLE teams (
  id           uuid PRIMARY KEY,
  name         text        NOT NULL,
  parent_id    uuid REFERENCES teams (id),
  head_user_id uuid,
  version      bigint      NOT NULL DEFAULT 1,
  create_time  timestamptz NOT NULL
);

CREATE TABLE users (
  id                  uuid PRIMARY KEY,
  login               text        NOT NULL,  -- stored lower-case
  full_name           text        NOT NULL DEFAULT '',
  email               text        NOT NULL DEFAULT '',
  phone               text        NOT NULL DEFAULT '',
  active              boolean     NOT NULL DEFAULT true,
  supervisor_id       uuid REFERENCES users (id),
  password_hash       text        NOT NULL,
  totp_secret         text,                  -- confirmed secret (base32, plain: see README "left open")
  totp_pending_secret text,                  -- secret of an enrolment not yet confirmed
  totp_enabled        boolean     NOT NULL DEFAULT false,
  totp_last_step      bigint      NOT NULL DEFAULT -1,
  version             bigint      NOT NULL DEFAULT 1,
  create_time         timestamptz NOT NULL,
  update_time         timestamptz NOT NULL
);
CREATE UNIQUE INDEX users_login_key ON users (lower(login));
CREATE INDEX users_supervisor ON users (supervisor_id) WHERE supervisor_id IS NOT NULL;
ALTER TABLE teams ADD CONSTRAINT teams_head_user FOREIGN KEY (head_user_id) REFERENCES users (id);

CREATE TABLE user_roles (
  user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role_code text NOT NULL REFERENCES roles (code),
  PRIMARY KEY (user_id, role_code)
);
CREATE INDEX user_roles_by_role ON user_roles (role_code, user_id);

CREATE TABLE team_members (
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  team_id uuid NOT NULL REFERENCES teams (id),
  PRIMARY KEY (user_id, team_id)
);
CREATE INDEX team_members_by_team ON team_members (team_id, user_id);

-- A session is one sign-in; its refresh tokens form a rotation family.
CREATE TABLE sessions (
  id          uuid PRIMARY KEY,
  user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  mfa         boolean     NOT NULL,
  create_time timestamptz NOT NULL,
  revoke_time timestamptz,
  revoke_reason text
);
CREATE INDEX sessions_by_user ON sessions (user_id) WHERE revoke_time IS NULL;

-- Only the SHA-256 of a refresh token is stored. used_time set = retired (rotated away).
CREATE TABLE refresh_tokens (
  token_hash  text PRIMARY KEY,
  session_id  uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  create_time timestamptz NOT NULL,
  expire_time timestamptz NOT NULL,
  used_time   timestamptz
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expire ON refresh_tokens (expire_time);

-- Failed sign-ins per key ("login:<login>", "ip:<address>"), shared by every replica.
CREATE TABLE signin_throttle (
  key           text PRIMARY KEY,
  failures      integer     NOT NULL DEFAULT 0,
  window_start  timestamptz NOT NULL,
  blocked_until timestamptz,
  lockouts      integer     NOT NULL DEFAULT 0
);

-- Ed25519 keys that sign access tokens; the newest unretired one signs.
CREATE TABLE signing_keys (
  kid         text PRIMARY KEY,
  private_pem text        NOT NULL,  -- plain PKCS#8 PEM: see README "left open"
  create_time timestamptz NOT NULL,
  retire_time timestamptz
);

CREATE TABLE api_keys (
  id             uuid PRIMARY KEY,
  name           text        NOT NULL,
  prefix         text        NOT NULL UNIQUE,
  secret_hash    text        NOT NULL,
  scopes         text        NOT NULL,  -- space-separated permission codes
  owner_user_id  uuid        NOT NULL REFERENCES users (id),
  create_time    timestamptz NOT NULL,
  expire_time    timestamptz,
  revoke_time    timestamptz,
  last_used_time timestamptz,
  version        bigint      NOT NULL DEFAULT 1
);
CREATE INDEX api_keys_by_owner ON api_keys (owner_user_id, id);

-- Responses of creating calls by (caller, method, idempotency-key), kept 24 hours.
CREATE TABLE idempotency (
  caller      text        NOT NULL,
  method      text        NOT NULL,
  key         text        NOT NULL,
  response    bytea       NOT NULL,
  create_time timestamptz NOT NULL,
  PRIMARY KEY (caller, method, key)
);

-- The roles of the suite and the permissions each grants (README.md lists the catalogue).
INSERT INTO roles (code, name, requires_totp) VALUES
  ('administrator',        'Администратор',                    true),
  ('head_of_sales',        'Руководитель отдела продаж (РОП)', false),
  ('manager',              'Менеджер клиента',                 false),
  ('telegram_operator',    'Оператор Telegram',                false),
  ('telegram_supervisor',  'Супервайзер Telegram',             false),
  ('call_center_operator', 'Оператор колл-центра',             false),
  ('mortgage_specialist',  'Ипотечный специалист',             false),
  ('service_manager',      'Сервис-менеджер',                  true),
  ('parking_attendant',    'Сотрудник парковки',               true),
  ('waiter',               'Официант',                         true),
  ('driver',               'Водитель',                         true),
  ('quality_controller',   'Контролёр качества',               false),
  ('integrator',           'Интегратор',                       false);

INSERT INTO role_permissions (role_code, permission)
SELECT 'administrator', p FROM unnest(ARRAY[
  'users.read', 'users.manage', 'teams.manage', 'roles.manage', 'api_keys.manage', 'api_keys.manage.all',
  'identity.read.all', 'deals.read.own', 'deals.read.team', 'deals.read.all', 'deals.write.own',
  'deals.write.team', 'deals.write.all', 'deals.copy', 'deals.delete', 'pipelines.manage', 'clients.read',
  'clients.write', 'payments.write', 'robots.read', 'robots.manage', 'robots.read.all', 'approvals.decide',
  'dialogs.operate', 'dialogs.supervise', 'dialogs.read.all', 'bots.manage', 'calls.operate',
  'telephony.read.all', 'telephony.manage', 'mortgage.calculate', 'mortgage.manage', 'mortgage.read.all',
  'queue.operate', 'queue.read.all', 'visits.manage', 'parking.operate', 'orders.serve', 'trips.drive',
  'reports.read', 'reports.manage', 'reporting.read.all', 'checklists.fill', 'checklists.review',
  'quality.review']) AS p
UNION ALL SELECT 'head_of_sales', p FROM unnest(ARRAY[
  'users.read', 'identity.read.all', 'deals.read.all', 'deals.write.all', 'deals.copy', 'pipelines.manage',
  'clients.read', 'clients.write', 'payments.write', 'robots.read', 'robots.manage', 'approvals.decide',
  'reports.read', 'reports.manage', 'checklists.review', 'telephony.read.all', 'dialogs.read.all',
  'queue.read.all', 'mortgage.calculate']) AS p
UNION ALL SELECT 'manager', p FROM unnest(ARRAY[
  'users.read', 'deals.read.team', 'deals.write.own', 'deals.copy', 'clients.read', 'clients.write',
  'payments.write', 'mortgage.calculate', 'queue.operate', 'checklists.fill']) AS p
UNION ALL SELECT 'telegram_operator', p FROM unnest(ARRAY[
  'dialogs.operate', 'clients.read', 'deals.read.own', 'checklists.fill']) AS p
UNION ALL SELECT 'telegram_supervisor', p FROM unnest(ARRAY[
  'users.read', 'dialogs.operate', 'dialogs.supervise', 'dialogs.read.all', 'bots.manage', 'reports.read',
  'checklists.review']) AS p
UNION ALL SELECT 'call_center_operator', p FROM unnest(ARRAY[
  'calls.operate', 'clients.read', 'clients.write', 'deals.read.own', 'deals.write.own',
  'checklists.fill']) AS p
UNION ALL SELECT 'mortgage_specialist', p FROM unnest(ARRAY[
  'mortgage.calculate', 'mortgage.manage', 'mortgage.read.all', 'deals.read.team', 'clients.read']) AS p
UNION ALL SELECT 'service_manager', p FROM unnest(ARRAY[
  'queue.operate', 'queue.read.all', 'visits.manage', 'clients.read', 'deals.read.own',
  'checklists.fill']) AS p
UNION ALL SELECT 'parking_attendant', p FROM unnest(ARRAY['parking.operate', 'checklists.fill']) AS p
UNION ALL SELECT 'waiter', p FROM unnest(ARRAY['orders.serve', 'checklists.fill']) AS p
UNION ALL SELECT 'driver', p FROM unnest(ARRAY['trips.drive', 'checklists.fill']) AS p
UNION ALL SELECT 'quality_controller', p FROM unnest(ARRAY[
  'users.read', 'quality.review', 'checklists.review', 'reports.read', 'dialogs.read.all',
  'telephony.read.all']) AS p
UNION ALL SELECT 'integrator', p FROM unnest(ARRAY[
  'users.read', 'identity.read.all', 'api_keys.manage', 'deals.read.all', 'deals.write.all',
  'clients.read', 'clients.write']) AS p;
