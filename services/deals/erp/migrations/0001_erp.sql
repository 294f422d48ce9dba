-- erp 0001: the 1C side of deals (D17, seed 002; erp.proto), a migration component of its own ("erp",
-- after deals' own: it references deals, pipelines and tasks).
--   erp_settings        one row: the accountant's addresses and the sender of their e-mails;
--   erp_directions      the pipelines (Bitrix24's «направления») 1C manages: proposals, task mirror;
--   proposals           КП from 1C by its GUID (external_id): the current revision with its lines;
--   proposal_revisions  every revision received (the versioned document's history);
--   documents           счёт, договор, счёт-договор, акт, УПД of a deal; SIGNED has a signed_time;
--   erp_mail_queue      the accountant's notice of a signed document: written in the transaction that
--                       signs it, one per document ever (the primary key), delivered by a worker;
--   erp_tasks           the mirror of a deals task in 1C: 1C's GUID and status, and what was last synced;
--   erp_task_conflicts  the conflict log: changes of one side discarded for a later one of the other.
CREATE TABLE erp_settings (
  id                smallint PRIMARY KEY CHECK (id = 1),
  accountant_emails text[] NOT NULL DEFAULT '{}',
  mail_from         text NOT NULL DEFAULT '',
  version           bigint NOT NULL DEFAULT 0,
  update_time       timestamptz NOT NULL DEFAULT now()
);
INSERT INTO erp_settings (id) VALUES (1);

CREATE TABLE erp_directions (
  pipeline_id        uuid PRIMARY KEY REFERENCES pipelines (id) ON DELETE CASCADE,
  proposals_from_erp boolean NOT NULL,
  tasks_mirrored     boolean NOT NULL
);

-- status: 1 DRAFT, 2 SENT, 3 AGREED, 4 REJECTED (erp.proto Proposal.Status). lines: {"lines": [...]}, the
-- proto JSON of Proposal.lines; content_sha256: the fingerprint of what 1C sent for this revision.
CREATE TABLE proposals (
  id             uuid PRIMARY KEY,
  external_id    text NOT NULL UNIQUE CHECK (length(external_id) BETWEEN 1 AND 255),
  deal_id        uuid NOT NULL REFERENCES deals (id),
  number         text NOT NULL CHECK (length(number) BETWEEN 1 AND 100),
  doc_date       date NOT NULL,
  revision       bigint NOT NULL CHECK (revision > 0),
  status         smallint NOT NULL CHECK (status BETWEEN 1 AND 4),
  valid_until    date,
  lines          jsonb NOT NULL,
  total_minor    bigint NOT NULL CHECK (total_minor >= 0),
  currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  comment        text NOT NULL DEFAULT '',
  content_sha256 text NOT NULL,
  version        bigint NOT NULL DEFAULT 1,
  create_time    timestamptz NOT NULL,
  update_time    timestamptz NOT NULL
);
-- ListProposals: a deal's, newest date first; and of one status.
CREATE INDEX proposals_by_deal ON proposals (deal_id, doc_date DESC, id DESC);
CREATE INDEX proposals_by_deal_status ON proposals (deal_id, status, doc_date DESC, id DESC);

CREATE TABLE proposal_revisions (
  proposal_id  uuid NOT NULL REFERENCES proposals (id),
  revision     bigint NOT NULL,
  status       smallint NOT NULL,
  number       text NOT NULL,
  doc_date     date NOT NULL,
  valid_until  date,
  lines        jsonb NOT NULL,
  total_minor  bigint NOT NULL,
  currency     text NOT NULL,
  comment      text NOT NULL,
  receive_time timestamptz NOT NULL,
  PRIMARY KEY (proposal_id, revision)
);

-- kind: 1 INVOICE, 2 CONTRACT, 3 INVOICE_CONTRACT, 4 ACT, 5 UPD; status: 1 DRAFT, 2 SENT, 3 SIGNED,
-- 4 CANCELLED (erp.proto Document).
CREATE TABLE documents (
  id           uuid PRIMARY KEY,
  deal_id      uuid NOT NULL REFERENCES deals (id),
  kind         smallint NOT NULL CHECK (kind BETWEEN 1 AND 5),
  number       text NOT NULL CHECK (length(number) BETWEEN 1 AND 100),
  doc_date     date NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  currency     text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  status       smallint NOT NULL CHECK (status BETWEEN 1 AND 4),
  external_id  text UNIQUE CHECK (length(external_id) BETWEEN 1 AND 255),
  proposal_id  uuid REFERENCES proposals (id),
  comment      text NOT NULL DEFAULT '',
  signed_time  timestamptz,
  signed_by    uuid,
  creator_id   uuid,
  version      bigint NOT NULL DEFAULT 1,
  create_time  timestamptz NOT NULL,
  update_time  timestamptz NOT NULL,
  CHECK ((status = 3) = (signed_time IS NOT NULL))
);
-- ListDocuments, newest date first: a deal's; every deal's (all, of a status, of a kind, of both).
CREATE INDEX documents_by_deal ON documents (deal_id, doc_date DESC, id DESC);
CREATE INDEX documents_by_date ON documents (doc_date DESC, id DESC);
CREATE INDEX documents_by_status ON documents (status, doc_date DESC, id DESC);
CREATE INDEX documents_by_kind ON documents (kind, doc_date DESC, id DESC);
CREATE INDEX documents_by_kind_status ON documents (kind, status, doc_date DESC, id DESC);

-- state: 1 PENDING, 2 SENT, 3 FAILED, 4 NOT_CONFIGURED (Document.AccountantNotice.State). A PENDING row
-- is due at next_attempt_time; a worker that claims it moves that past its lease first.
CREATE TABLE erp_mail_queue (
  document_id       uuid PRIMARY KEY REFERENCES documents (id),
  recipients        text[] NOT NULL,
  mail_from         text NOT NULL,
  subject           text NOT NULL,
  body              text NOT NULL,
  message_id        text NOT NULL,
  state             smallint NOT NULL CHECK (state BETWEEN 1 AND 4),
  attempts          integer NOT NULL DEFAULT 0,
  next_attempt_time timestamptz NOT NULL,
  last_error        text NOT NULL DEFAULT '',
  sent_time         timestamptz,
  create_time       timestamptz NOT NULL
);
CREATE INDEX erp_mail_due ON erp_mail_queue (next_attempt_time) WHERE state = 1;

-- erp_status: 1 IN_PROGRESS, 2 DONE, 3 CANCELLED (ErpTask.ErpStatus); outcome: ErpTask.Outcome of the
-- last report. synced_task_version: the task's version the mirror last stood for (published to 1C, or
-- made by 1C's report) — a task event at or below it is an echo; a task above it was changed in the CRM.
CREATE TABLE erp_tasks (
  task_id             uuid PRIMARY KEY REFERENCES tasks (id),
  deal_id             uuid NOT NULL REFERENCES deals (id),
  external_id         text UNIQUE CHECK (length(external_id) BETWEEN 1 AND 255),
  synced_task_version bigint NOT NULL,
  erp_status          smallint CHECK (erp_status BETWEEN 1 AND 3),
  erp_change_time     timestamptz,
  outcome             smallint NOT NULL DEFAULT 0,
  reopen_time         timestamptz,
  publish_time        timestamptz NOT NULL,
  update_time         timestamptz NOT NULL
);

-- resolution: 1 ERP_STALE, 2 CRM_WON, 3 ERP_WON (ErpTaskConflict.Resolution); crm_status: Task.Status.
CREATE TABLE erp_task_conflicts (
  id                   uuid PRIMARY KEY,
  task_id              uuid NOT NULL REFERENCES tasks (id),
  external_id          text NOT NULL,
  reported_status      smallint NOT NULL,
  reported_change_time timestamptz NOT NULL,
  crm_status           smallint NOT NULL,
  crm_change_time      timestamptz,
  resolution           smallint NOT NULL CHECK (resolution BETWEEN 1 AND 3),
  create_time          timestamptz NOT NULL
);
CREATE INDEX erp_task_conflicts_by_time ON erp_task_conflicts (create_time DESC, id DESC);
CREATE INDEX erp_task_conflicts_by_task ON erp_task_conflicts (task_id, create_time DESC, id DESC);
