-- Client requests (запросы, D15 first half, seed 004 §6.2): what a client looks for in a project, and the
-- stage the system derives from the request's finished interactions (interactions component). Component
-- "requests" of the deals database (services/deals/interactions/README.md).
--
-- project_id is realty's project (services/deals/realty): a plain uuid, no foreign key yet — the two
-- areas are built side by side; the key is added once both have landed (README "Left open").
-- unit_kind: 0 unspecified, 1 квартира, 2 апартаменты, 3 кладовая, 4 машиноместо, 5 коммерция.
-- stage: 1 NEW, 2 PRIMARY_CONTACT, 3 MEETING_SCHEDULED, 4 MEETING_HELD, 5 REFUSED (requests.proto).
-- Areas in hundredths of m²; the budget in minor units with its currency (both or neither).
CREATE TABLE client_requests (
  id                    uuid PRIMARY KEY,
  client_id             uuid NOT NULL REFERENCES clients (id),
  project_id            uuid NOT NULL,
  unit_kind             smallint NOT NULL DEFAULT 0 CHECK (unit_kind BETWEEN 0 AND 5),
  source                text NOT NULL DEFAULT '',
  choice_factors        text[] NOT NULL DEFAULT '{}',
  budget_minor          bigint CHECK (budget_minor >= 0),
  budget_currency       text CHECK (budget_currency ~ '^[A-Z]{3}$'),
  area_from             bigint NOT NULL DEFAULT 0 CHECK (area_from >= 0),
  area_to               bigint NOT NULL DEFAULT 0 CHECK (area_to >= 0),
  comment               text NOT NULL DEFAULT '',
  responsible_id        uuid NOT NULL,
  creator_id            uuid,
  stage                 smallint NOT NULL DEFAULT 1 CHECK (stage BETWEEN 1 AND 5),
  last_outcome          smallint NOT NULL DEFAULT 0 CHECK (last_outcome BETWEEN 0 AND 4),
  last_interaction_time timestamptz,
  next_interaction_time timestamptz,
  version               bigint NOT NULL DEFAULT 1,
  create_time           timestamptz NOT NULL,
  update_time           timestamptz NOT NULL,
  CHECK ((budget_minor IS NULL) = (budget_currency IS NULL)),
  CHECK (area_to = 0 OR area_to >= area_from)
);

-- ListClientRequests, newest first, on an ordered range for every filter and scope (plan_test.cc):
-- scope all — every request, or the filter's own index (client, project — with the stage —, stage,
-- responsible); own / team — one range per visible responsible (with the stage or the project first
-- when filtering by them: a team may hold few requests of the project asked for).
CREATE INDEX client_requests_created ON client_requests (create_time DESC, id DESC);
CREATE INDEX client_requests_client ON client_requests (client_id, create_time DESC, id DESC);
CREATE INDEX client_requests_project ON client_requests (project_id, create_time DESC, id DESC);
CREATE INDEX client_requests_project_stage ON client_requests (project_id, stage, create_time DESC, id DESC);
CREATE INDEX client_requests_stage ON client_requests (stage, create_time DESC, id DESC);
CREATE INDEX client_requests_responsible ON client_requests (responsible_id, create_time DESC, id DESC);
CREATE INDEX client_requests_responsible_stage ON client_requests (responsible_id, stage, create_time DESC, id DESC);
CREATE INDEX client_requests_responsible_project ON client_requests (responsible_id, project_id, create_time DESC, id DESC);
