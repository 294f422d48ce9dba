-- realty 0001 (D14, seed 004 §5.2.3, §6.2.2, §6.8, §6.9): the inventory (projects, buildings, sections,
-- units), the exact price history, bookings and their queues. Component "realty" of the deals database
-- (services/deals/realty/README.md); it runs after deals' own migrations (clients, deals, user_directory).

CREATE TABLE realty_projects (
  id          uuid PRIMARY KEY,
  external_id text UNIQUE CHECK (length(external_id) BETWEEN 1 AND 100),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  city        text NOT NULL DEFAULT '',
  address     text NOT NULL DEFAULT '',
  version     bigint NOT NULL DEFAULT 1,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL
);
CREATE INDEX realty_projects_name ON realty_projects (lower(name), id);

CREATE TABLE realty_buildings (
  id          uuid PRIMARY KEY,
  project_id  uuid NOT NULL REFERENCES realty_projects (id),
  external_id text UNIQUE CHECK (length(external_id) BETWEEN 1 AND 100),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  phase       text NOT NULL DEFAULT '',
  house_type  text NOT NULL DEFAULT '',
  address     text NOT NULL DEFAULT '',
  version     bigint NOT NULL DEFAULT 1,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL
);
CREATE INDEX realty_buildings_project ON realty_buildings (project_id, lower(name), id);

-- A building's sections (подъезды) and their floors.
CREATE TABLE realty_sections (
  building_id uuid NOT NULL REFERENCES realty_buildings (id),
  number      int NOT NULL CHECK (number BETWEEN 1 AND 100),
  name        text NOT NULL DEFAULT '',
  first_floor int NOT NULL CHECK (first_floor BETWEEN -10 AND 200),
  last_floor  int NOT NULL CHECK (last_floor BETWEEN -10 AND 200),
  CHECK (first_floor <= last_floor),
  PRIMARY KEY (building_id, number)
);

-- Units. kind: 1 apartment, 2 apartments, 3 storage, 4 parking, 5 commercial; purpose: 1 residential,
-- 2 non-residential; status: 1 not released, 2 available, 3 booked, 4 sold, 5 withdrawn
-- (crm.deals.v1.Unit). Areas in hundredths of m², money in minor units. project_id repeats the
-- building's (matching reads by project).
-- No foreign keys from units to projects, buildings and sections, nor from price rows to units: nothing
-- ever deletes a project, a building, a section, a unit or a price row (no call does; price rows are
-- append-only), and every writer checks the references it writes inside its transaction (the import,
-- CreateUnit). Their per-row checks were two thirds of the bulk import's insert time (10 000 units:
-- 353 ms with them, 123 ms without).
CREATE TABLE realty_units (
  id                 uuid PRIMARY KEY,
  external_id        text UNIQUE CHECK (length(external_id) BETWEEN 1 AND 100),
  project_id         uuid NOT NULL,
  building_id        uuid NOT NULL,
  section_number     int NOT NULL,
  floor              int NOT NULL CHECK (floor BETWEEN -10 AND 200),
  position           int NOT NULL CHECK (position BETWEEN 1 AND 200),
  number             text NOT NULL CHECK (length(number) BETWEEN 1 AND 20),
  plan_number        text NOT NULL DEFAULT '',
  kind               smallint NOT NULL CHECK (kind BETWEEN 1 AND 5),
  purpose            smallint NOT NULL CHECK (purpose IN (1, 2)),
  status             smallint NOT NULL CHECK (status BETWEEN 1 AND 5),
  rooms              smallint NOT NULL CHECK (rooms BETWEEN 0 AND 20),
  area_centi         bigint NOT NULL CHECK (area_centi BETWEEN 1 AND 10000000),
  currency           text NOT NULL DEFAULT 'RUB' CHECK (currency ~ '^[A-Z]{3}$'),
  price_minor        bigint NOT NULL CHECK (price_minor >= 0),
  price_per_m2_minor bigint NOT NULL CHECK (price_per_m2_minor >= 0),
  final_price_minor  bigint NOT NULL CHECK (final_price_minor BETWEEN 0 AND price_minor),
  discounts          jsonb NOT NULL DEFAULT '[]'::jsonb,
  special_offer      boolean NOT NULL DEFAULT false,
  special_offer_name text NOT NULL DEFAULT '',
  right_holder       text NOT NULL DEFAULT '',
  no_ownership       boolean NOT NULL DEFAULT false,
  plan_image         text NOT NULL DEFAULT '',
  version            bigint NOT NULL DEFAULT 1,
  create_time        timestamptz NOT NULL,
  update_time        timestamptz NOT NULL,
  -- A unit on sale has a price (the state machine's guard, held by the database too).
  CHECK (status <> 2 OR price_minor > 0)
);
-- One unit per place; the chessboard and the unit list (квартирограмма) read a building in this order.
CREATE UNIQUE INDEX realty_units_place ON realty_units (building_id, section_number, floor, position);
-- «Подбор ОН»: one ordered range per (status, kind, rooms) or (status, kind), cheapest first; special
-- offers on their own.
CREATE INDEX realty_units_match_rooms ON realty_units (project_id, status, kind, rooms, final_price_minor, id);
CREATE INDEX realty_units_match ON realty_units (project_id, status, kind, final_price_minor, id);
CREATE INDEX realty_units_match_offer ON realty_units (project_id, status, kind, final_price_minor, id)
  WHERE special_offer;

-- Every price a unit had (D14: exact history, append-only — never updated, deleted or pruned).
-- source: 1 API, 2 import (crm.deals.v1.UnitPrice.Source).
CREATE TABLE realty_unit_prices (
  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  unit_id            uuid NOT NULL,
  price_minor        bigint NOT NULL,
  price_per_m2_minor bigint NOT NULL,
  final_price_minor  bigint NOT NULL,
  currency           text NOT NULL,
  discounts          jsonb NOT NULL,
  special_offer      boolean NOT NULL,
  area_centi         bigint NOT NULL,
  change_time        timestamptz NOT NULL,
  actor_id           text NOT NULL DEFAULT '',
  source             smallint NOT NULL CHECK (source IN (1, 2))
);
CREATE INDEX realty_unit_prices_unit ON realty_unit_prices (unit_id, id DESC);

CREATE FUNCTION realty_unit_prices_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'realty_unit_prices is append-only' USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER realty_unit_prices_append_only BEFORE UPDATE OR DELETE ON realty_unit_prices
  FOR EACH ROW EXECUTE FUNCTION realty_unit_prices_append_only();
CREATE TRIGGER realty_unit_prices_no_truncate BEFORE TRUNCATE ON realty_unit_prices
  FOR EACH STATEMENT EXECUTE FUNCTION realty_unit_prices_append_only();

-- Bookings and queue places. status: 1 queued, 2 active, 3 released, 4 expired, 5 converted,
-- 6 cancelled (crm.deals.v1.Booking.Status). project_id and building_id repeat the unit's (reports).
-- team_ids are the responsible's teams when it was made (access by team, as deals).
CREATE TABLE realty_bookings (
  id                uuid PRIMARY KEY,
  unit_id           uuid NOT NULL REFERENCES realty_units (id),
  project_id        uuid NOT NULL REFERENCES realty_projects (id),
  building_id       uuid NOT NULL REFERENCES realty_buildings (id),
  client_id         uuid NOT NULL REFERENCES clients (id),
  deal_id           uuid REFERENCES deals (id),
  status            smallint NOT NULL CHECK (status BETWEEN 1 AND 6),
  responsible_id    uuid NOT NULL,
  team_ids          uuid[] NOT NULL DEFAULT '{}',
  creator_id        uuid,
  fee_minor         bigint NOT NULL CHECK (fee_minor > 0),
  currency          text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  receipt_number    text NOT NULL DEFAULT '',
  -- The fixed price (ACTIVE and after): the unit's price history row at the start and its amounts.
  price_id          bigint REFERENCES realty_unit_prices (id),
  price_minor       bigint,
  final_price_minor bigint,
  start_time        timestamptz,
  expire_time       timestamptz,
  end_time          timestamptz,
  end_reason        text NOT NULL DEFAULT '',
  comment           text NOT NULL DEFAULT '',
  version           bigint NOT NULL DEFAULT 1,
  create_time       timestamptz NOT NULL,
  update_time       timestamptz NOT NULL,
  CHECK (status <> 2 OR (price_id IS NOT NULL AND start_time IS NOT NULL AND expire_time IS NOT NULL))
);
-- NO UNIT IS EVER BOOKED TWICE: at most one ACTIVE booking per unit, whatever runs concurrently.
CREATE UNIQUE INDEX realty_bookings_one_active ON realty_bookings (unit_id) WHERE status = 2;
-- A unit's queue in order.
CREATE INDEX realty_bookings_queue ON realty_bookings (unit_id, create_time, id) WHERE status = 1;
-- The expiry sweeper: ACTIVE bookings by expiry.
CREATE INDEX realty_bookings_due ON realty_bookings (expire_time, id) WHERE status = 2;
-- «Очереди бронирования» (ListBookings): one status, newest first — everyone's, a project's, a
-- responsible's, a responsible's in a project.
CREATE INDEX realty_bookings_status ON realty_bookings (status, create_time DESC, id DESC);
CREATE INDEX realty_bookings_project ON realty_bookings (project_id, status, create_time DESC, id DESC);
CREATE INDEX realty_bookings_responsible ON realty_bookings (responsible_id, status, create_time DESC, id DESC);
CREATE INDEX realty_bookings_responsible_project
  ON realty_bookings (responsible_id, project_id, status, create_time DESC, id DESC);
CREATE INDEX realty_bookings_client ON realty_bookings (client_id);
CREATE INDEX realty_bookings_deal ON realty_bookings (deal_id) WHERE deal_id IS NOT NULL;

-- One owner of "booked": a unit is BOOKED exactly when it has an ACTIVE booking. Checked at commit
-- (deferred), for every unit whose status or whose bookings moved, so no writer can leave them apart.
CREATE FUNCTION realty_check_unit_booking() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  u uuid;
  booked boolean;
  active boolean;
BEGIN
  IF TG_TABLE_NAME = 'realty_units' THEN
    u := NEW.id;
  ELSE
    u := NEW.unit_id;
  END IF;
  SELECT status = 3 INTO booked FROM realty_units WHERE id = u;
  SELECT EXISTS (SELECT 1 FROM realty_bookings WHERE unit_id = u AND status = 2) INTO active;
  IF booked IS DISTINCT FROM active THEN
    RAISE EXCEPTION 'unit % is % but has % active booking', u,
      CASE WHEN booked THEN 'booked' ELSE 'not booked' END, CASE WHEN active THEN 'an' ELSE 'no' END
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER realty_units_booked_status AFTER INSERT OR UPDATE OF status ON realty_units
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (NEW.status = 3) EXECUTE FUNCTION realty_check_unit_booking();
CREATE CONSTRAINT TRIGGER realty_units_unbooked_status AFTER UPDATE OF status ON realty_units
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (OLD.status = 3 AND NEW.status <> 3) EXECUTE FUNCTION realty_check_unit_booking();
CREATE CONSTRAINT TRIGGER realty_bookings_active AFTER INSERT OR UPDATE OF status ON realty_bookings
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (NEW.status = 2) EXECUTE FUNCTION realty_check_unit_booking();
CREATE CONSTRAINT TRIGGER realty_bookings_ended AFTER UPDATE OF status ON realty_bookings
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (OLD.status = 2 AND NEW.status <> 2) EXECUTE FUNCTION realty_check_unit_booking();
