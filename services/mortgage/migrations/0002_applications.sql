-- M4, M5: the specialist's documents (services/mortgage/applications.h): saved calculations, questionnaires,
-- applications to banks with their status history and the banks' replies. Bodies are the API's protobuf
-- messages (crm.mortgage.v1.*); the columns beside them are what the lists, the desk and the reports filter,
-- order and count on, and they win over the body.

-- Idempotency keys of the creating calls live in 0001_reference.sql's `idempotency` table.

-- «Расчёт ипотеки 0017968»: the multi-calculation as it was (request and summaries-only response).
CREATE SEQUENCE calculation_numbers START 1;
CREATE TABLE calculations (
  id            uuid PRIMARY KEY,
  number        text NOT NULL UNIQUE,
  client_id     text NOT NULL,
  deal_id       text NOT NULL DEFAULT '',
  project       text NOT NULL DEFAULT '',
  specialist_id text NOT NULL,
  request       bytea NOT NULL,   -- crm.mortgage.v1.MultiCalculateRequest
  response      bytea NOT NULL,   -- crm.mortgage.v1.MultiCalculateResponse without schedules
  created_at    timestamptz NOT NULL
);
-- Lists (newest first, keyset on (created_at, id)) by client and by specialist; the report by period and
-- project; the desk's and KPIs' counts by specialist and period.
CREATE INDEX calculations_client ON calculations (client_id, created_at DESC, id DESC);
CREATE INDEX calculations_specialist ON calculations (specialist_id, created_at DESC, id DESC);
CREATE INDEX calculations_created ON calculations (created_at DESC, id DESC);
CREATE INDEX calculations_project ON calculations (project, created_at);

-- «Анкеты».
CREATE TABLE questionnaires (
  id            uuid PRIMARY KEY,
  version       bigint NOT NULL,
  client_id     text NOT NULL,
  deal_id       text NOT NULL DEFAULT '',
  status        smallint NOT NULL,            -- Questionnaire.Status
  specialist_id text NOT NULL,
  body          bytea NOT NULL,               -- crm.mortgage.v1.Questionnaire
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL
);
CREATE INDEX questionnaires_client ON questionnaires (client_id, created_at DESC, id DESC);
CREATE INDEX questionnaires_specialist ON questionnaires (specialist_id, created_at DESC, id DESC);
CREATE INDEX questionnaires_created ON questionnaires (created_at DESC, id DESC);
-- The desk: a specialist's drafts.
CREATE INDEX questionnaires_incomplete ON questionnaires (specialist_id, updated_at DESC) WHERE status = 1;

-- «Ипотечные заявки» and «Запросы на одобрение объекта».
CREATE SEQUENCE application_numbers START 1;
CREATE TABLE applications (
  id            uuid PRIMARY KEY,
  version       bigint NOT NULL,
  number        text NOT NULL UNIQUE,
  kind          smallint NOT NULL,            -- ApplicationKind (1 BORROWER, 2 OBJECT_APPROVAL)
  client_id     text NOT NULL,
  deal_id       text NOT NULL DEFAULT '',
  project       text NOT NULL DEFAULT '',
  bank_id       uuid NOT NULL REFERENCES banks (id),
  status        smallint NOT NULL,            -- ApplicationStatus
  specialist_id text NOT NULL,
  body          bytea NOT NULL,               -- crm.mortgage.v1.Application without history and replies
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL,
  sent_at       timestamptz,                  -- the first SENT
  decision      smallint,                     -- the bank's first decision: 5 APPROVED or 6 DECLINED
  decided_at    timestamptz,
  issued_at     timestamptz,
  valid_until   date                          -- the latest approval's expiry
);
CREATE INDEX applications_created ON applications (created_at DESC, id DESC);
CREATE INDEX applications_client ON applications (client_id, created_at DESC, id DESC);
CREATE INDEX applications_bank ON applications (bank_id, created_at DESC, id DESC);
CREATE INDEX applications_specialist ON applications (specialist_id, status, created_at DESC, id DESC);
CREATE INDEX applications_status ON applications (status, created_at DESC, id DESC);
CREATE INDEX applications_project ON applications (project, created_at);
-- Bank efficiency (by the first SENT) and KPIs (by the decision and the issue).
CREATE INDEX applications_sent ON applications (sent_at, bank_id) WHERE sent_at IS NOT NULL;
CREATE INDEX applications_decided ON applications (decided_at, specialist_id) WHERE decided_at IS NOT NULL;
CREATE INDEX applications_issued ON applications (issued_at, specialist_id) WHERE issued_at IS NOT NULL;
-- The desk's expiring approvals.
CREATE INDEX applications_expiring ON applications (valid_until, specialist_id) WHERE status = 5;

CREATE TABLE application_history (
  application_id uuid NOT NULL REFERENCES applications (id),
  seq            bigint GENERATED ALWAYS AS IDENTITY,
  from_status    smallint NOT NULL,
  to_status      smallint NOT NULL,
  at             timestamptz NOT NULL,
  by_id          text NOT NULL,
  comment        text NOT NULL DEFAULT '',
  PRIMARY KEY (application_id, seq)
);

-- «Письма от банков»: the banks' replies, as received.
CREATE TABLE bank_replies (
  id             uuid PRIMARY KEY,
  application_id uuid NOT NULL REFERENCES applications (id),
  decision       smallint NOT NULL,
  received_at    timestamptz NOT NULL,
  body           bytea NOT NULL               -- crm.mortgage.v1.BankReply
);
CREATE INDEX bank_replies_application ON bank_replies (application_id, received_at, id);
CREATE INDEX bank_replies_received ON bank_replies (received_at);
