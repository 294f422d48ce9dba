-- Interactions (взаимодействия, D16, seed 004 §6.4–6.6) and the slot calendars of planned meetings.
-- Component "interactions" of the deals database; applied after "requests" (wiring.cc's order).
--
-- kind: 1 CALL, 2 MEETING, 3 LETTER, 4 DIALOG; status: 1 PLANNED, 2 DONE, 3 CANCELLED; direction: 0 -,
-- 1 INBOUND, 2 OUTBOUND; outcome: 0 -, 1 DECISION_MAKING, 2 MARKET_ANALYSIS, 3 MEETING_SCHEDULED,
-- 4 REFUSAL (interactions.proto). project_id is realty's project: a plain uuid, no foreign key yet.

-- A sales office's meeting slots as data (SlotCalendar): local minutes from midnight, slot length,
-- meetings per slot, ISO weekdays (empty = every day) and closed dates, in the company's time zone.
CREATE TABLE slot_calendars (
  id           uuid PRIMARY KEY,
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  project_id   uuid,
  open_minute  int NOT NULL CHECK (open_minute BETWEEN 0 AND 1439),
  close_minute int NOT NULL CHECK (close_minute BETWEEN 1 AND 1440),
  slot_minutes int NOT NULL CHECK (slot_minutes BETWEEN 15 AND 240),
  capacity     int NOT NULL CHECK (capacity BETWEEN 1 AND 100),
  weekdays     smallint[] NOT NULL DEFAULT '{}',
  closed_days  date[] NOT NULL DEFAULT '{}',
  version      bigint NOT NULL DEFAULT 1,
  update_time  timestamptz NOT NULL,
  CHECK (open_minute < close_minute)
);
CREATE INDEX slot_calendars_project ON slot_calendars (project_id, name);

-- How many meetings hold each slot: booked by a conditional upsert (booked < capacity) in the
-- transaction that books the meeting, so no slot ever holds more than its capacity, whatever the
-- concurrency; released by cancelling or moving the meeting.
CREATE TABLE slot_loads (
  calendar_id uuid NOT NULL REFERENCES slot_calendars (id),
  slot_start  timestamptz NOT NULL,
  booked      int NOT NULL CHECK (booked >= 0),
  PRIMARY KEY (calendar_id, slot_start)
);

CREATE TABLE interactions (
  id                      uuid PRIMARY KEY,
  kind                    smallint NOT NULL CHECK (kind BETWEEN 1 AND 4),
  direction               smallint NOT NULL DEFAULT 0 CHECK (direction BETWEEN 0 AND 2),
  status                  smallint NOT NULL CHECK (status BETWEEN 1 AND 3),
  client_id               uuid NOT NULL REFERENCES clients (id),
  request_id              uuid REFERENCES client_requests (id),
  deal_id                 uuid REFERENCES deals (id),
  project_id              uuid,
  is_primary              boolean NOT NULL DEFAULT false,
  responsible_id          uuid NOT NULL,
  creator_id              uuid,
  subject                 text NOT NULL DEFAULT '',
  planned_time            timestamptz,
  start_time              timestamptz,
  end_time                timestamptz,
  done_time               timestamptz,
  result                  text NOT NULL DEFAULT '',
  outcome                 smallint NOT NULL DEFAULT 0 CHECK (outcome BETWEEN 0 AND 4),
  source                  text,
  external_id             text,
  calendar_id             uuid REFERENCES slot_calendars (id),
  online                  boolean NOT NULL DEFAULT false,
  next_interaction_id     uuid,
  previous_interaction_id uuid,
  occur_time              timestamptz NOT NULL,
  version                 bigint NOT NULL DEFAULT 1,
  create_time             timestamptz NOT NULL,
  update_time             timestamptz NOT NULL,
  CHECK (status <> 1 OR planned_time IS NOT NULL),
  CHECK ((source IS NULL) = (external_id IS NULL)),
  CHECK (calendar_id IS NULL OR (kind = 2 AND planned_time IS NOT NULL)),
  CHECK (NOT is_primary OR project_id IS NOT NULL)
);

-- The integrations' upsert key: one interaction per (source, external_id), however often it is sent.
CREATE UNIQUE INDEX interactions_external ON interactions (source, external_id) WHERE source IS NOT NULL;
-- Seed 004 §6.5.2: the client's first interaction in a project is primary — one per (client, project),
-- decided by this index under any concurrency (interaction_store.cc: the insert that loses the race
-- is written as secondary).
CREATE UNIQUE INDEX interactions_primary ON interactions (client_id, project_id) WHERE is_primary;

-- ListInteractions newest first and «Задачи на сегодня», on an ordered range for every filter and scope
-- (plan_test.cc): scope all — every interaction (with the status first for status / overdue / today),
-- or the filter's own index; own / team — one range per visible responsible (with the status or the
-- project first when filtering by them). The status indexes of scope all carry the kind, so «Задачи на
-- сегодня» counts the company's calls and meetings from the index alone (not the responsible's: there
-- the planner would rather sort a responsible's whole range by kind than walk it in order).
CREATE INDEX interactions_occur ON interactions (occur_time DESC, id DESC);
CREATE INDEX interactions_status_occur ON interactions (status, occur_time DESC, id DESC) INCLUDE (kind);
CREATE INDEX interactions_client ON interactions (client_id, occur_time DESC, id DESC);
CREATE INDEX interactions_request ON interactions (request_id, occur_time DESC, id DESC);
CREATE INDEX interactions_deal ON interactions (deal_id, occur_time DESC, id DESC);
CREATE INDEX interactions_project ON interactions (project_id, occur_time DESC, id DESC);
CREATE INDEX interactions_project_status ON interactions (project_id, status, occur_time DESC, id DESC) INCLUDE (kind);
CREATE INDEX interactions_responsible ON interactions (responsible_id, occur_time DESC, id DESC);
CREATE INDEX interactions_responsible_status ON interactions (responsible_id, status, occur_time DESC, id DESC);
CREATE INDEX interactions_responsible_project ON interactions (responsible_id, project_id, occur_time DESC, id DESC);
-- The slot calendar: a calendar's meetings in a range of days (cancelled ones hold no slot).
CREATE INDEX interactions_calendar ON interactions (calendar_id, planned_time) WHERE calendar_id IS NOT NULL AND status <> 3;

-- A finished interaction without a deal touches its client's open deals (README "Touches"): deals had
-- no index by client.
CREATE INDEX deals_client_open ON deals (client_id, create_time DESC) WHERE status = 1 AND client_id IS NOT NULL;
