-- Reference data (M1, M2): banks, programs with their schemes, and the dated documents that set and
-- cancel rates, stop factors and payment-to-income coefficients. Catalogue rows (banks, programs) are
-- versioned and changed in place; documents are append-only: a correction is a new document, so the
-- conditions on any past date stay answerable. Bodies are the API's protobuf messages
-- (crm.mortgage.v1.Bank, Program, RateDocument, StopFactorDocument); the columns beside them are what
-- queries filter and order on.
CREATE TABLE banks (
  id         uuid PRIMARY KEY,
  code       text NOT NULL UNIQUE,
  name       text NOT NULL,
  version    bigint NOT NULL,
  archived   boolean NOT NULL DEFAULT false,
  body       bytea NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE programs (
  id         uuid PRIMARY KEY,
  bank_id    uuid NOT NULL REFERENCES banks (id),
  code       text NOT NULL,
  name       text NOT NULL,
  version    bigint NOT NULL,
  archived   boolean NOT NULL DEFAULT false,
  body       bytea NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (bank_id, code)
);

-- «Условия применения ставок»: the latest document on or before a date decides a scheme's rates.
CREATE SEQUENCE rate_document_numbers START 80000001;
CREATE TABLE rate_documents (
  id            uuid PRIMARY KEY,
  number        text NOT NULL UNIQUE,
  date          date NOT NULL,
  operation     smallint NOT NULL CHECK (operation IN (1, 2)),  -- 1 SET «Установка», 2 CANCEL «Отмена»
  bank_id       uuid NOT NULL REFERENCES banks (id),
  program_id    uuid NOT NULL REFERENCES programs (id),
  scheme_code   text NOT NULL,
  body          bytea NOT NULL,
  registered_at timestamptz NOT NULL DEFAULT now(),
  registered_by text NOT NULL DEFAULT ''
);
CREATE INDEX rate_documents_as_of ON rate_documents (program_id, scheme_code, date DESC, registered_at DESC);
CREATE INDEX rate_documents_bank ON rate_documents (bank_id, registered_at DESC, id DESC);

-- «Стоп-факторы банков»: the latest document of a bank on or before a date.
CREATE SEQUENCE stop_factor_document_numbers START 1;
CREATE TABLE stop_factor_documents (
  id            uuid PRIMARY KEY,
  number        text NOT NULL UNIQUE,
  date          date NOT NULL,
  operation     smallint NOT NULL CHECK (operation IN (1, 2)),
  bank_id       uuid NOT NULL REFERENCES banks (id),
  body          bytea NOT NULL,
  registered_at timestamptz NOT NULL DEFAULT now(),
  registered_by text NOT NULL DEFAULT ''
);
CREATE INDEX stop_factor_documents_as_of ON stop_factor_documents (bank_id, date DESC, registered_at DESC);

-- «Ввод коэффициента платёж/доход»: one row per bank of a document.
CREATE SEQUENCE pti_document_numbers START 1;
CREATE TABLE pti_documents (
  id            uuid PRIMARY KEY,
  number        text NOT NULL UNIQUE,
  date          date NOT NULL,
  body          bytea NOT NULL,
  registered_at timestamptz NOT NULL DEFAULT now(),
  registered_by text NOT NULL DEFAULT ''
);
CREATE TABLE pti_entries (
  document_id   uuid NOT NULL REFERENCES pti_documents (id),
  bank_id       uuid NOT NULL REFERENCES banks (id),
  date          date NOT NULL,
  registered_at timestamptz NOT NULL,
  coefficient   text NOT NULL,
  PRIMARY KEY (document_id, bank_id)
);
CREATE INDEX pti_entries_as_of ON pti_entries (bank_id, date DESC, registered_at DESC);

-- Every reference write bumps this counter in its transaction: replicas keep the catalogue in memory
-- and reload it when the counter moved (one indexed read per calculation).
CREATE TABLE reference_state (
  id      boolean PRIMARY KEY DEFAULT true CHECK (id),
  version bigint NOT NULL
);
INSERT INTO reference_state (id, version) VALUES (true, 0);

-- Idempotent creates (libs/pg/idempotency.h), shared by every mortgage service.
CREATE TABLE idempotency (
  caller         text        NOT NULL,
  method         text        NOT NULL,
  key            text        NOT NULL,
  request_sha256 bytea       NOT NULL,
  response       bytea       NOT NULL,
  create_time    timestamptz NOT NULL,
  PRIMARY KEY (caller, method, key)
);
