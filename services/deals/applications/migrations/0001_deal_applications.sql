-- applications 0001 (D15 second half, seed 004 §6.3): deal applications («Заявка на сделку») made from
-- client requests, their participants (контрагенты) with flags and shares, and the marketing campaigns
-- (reference data). Component "applications" of the deals database (services/deals/applications/README.md);
-- it runs after deals', realty's and requests' migrations (clients, realty_units, client_requests).

-- Маркетинговые кампании: reference data (demo rows from the demo path, services/deals/applications/demo.cc).
CREATE TABLE marketing_campaigns (
  id          uuid PRIMARY KEY,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  start_date  date,
  end_date    date,
  active      boolean NOT NULL DEFAULT true,
  create_time timestamptz NOT NULL
);
-- ListMarketingCampaigns: active ones by name.
CREATE INDEX marketing_campaigns_active_name ON marketing_campaigns (lower(name), id) WHERE active;

-- status: 1 DRAFT, 2 SUBMITTED, 3 APPROVED, 4 CANCELLED; ownership_kind: 0 unspecified, 1 individual,
-- 2 shared, 3 joint; payment_kind: crm.deals.v1.PaymentKind. Money in minor units of `currency`.
-- payment_schedule: [{"date": "YYYY-MM-DD", "amount_minor": n, "kind": k}, ...] (validated by the store).
CREATE TABLE deal_applications (
  id                     uuid PRIMARY KEY,
  request_id             uuid NOT NULL REFERENCES client_requests (id),
  client_id              uuid NOT NULL REFERENCES clients (id),
  project_id             uuid NOT NULL,
  unit_id                uuid REFERENCES realty_units (id),
  booking_id             uuid REFERENCES realty_bookings (id),
  price_minor            bigint NOT NULL DEFAULT 0 CHECK (price_minor >= 0),
  currency               text NOT NULL DEFAULT 'RUB' CHECK (currency ~ '^[A-Z]{3}$'),
  ownership_kind         smallint NOT NULL DEFAULT 0 CHECK (ownership_kind BETWEEN 0 AND 3),
  payment_kind           smallint NOT NULL DEFAULT 0 CHECK (payment_kind BETWEEN 0 AND 5),
  bank_id                uuid,
  campaign_id            uuid REFERENCES marketing_campaigns (id),
  deal_id                uuid REFERENCES deals (id),
  own_funds_minor        bigint CHECK (own_funds_minor >= 0),
  payment_schedule       jsonb NOT NULL DEFAULT '[]'::jsonb,
  comment                text NOT NULL DEFAULT '',
  status                 smallint NOT NULL DEFAULT 1 CHECK (status BETWEEN 1 AND 4),
  responsible_id         uuid NOT NULL,
  creator_id             uuid,
  application_date       date NOT NULL,
  version                bigint NOT NULL DEFAULT 1,
  create_time            timestamptz NOT NULL,
  update_time            timestamptz NOT NULL,
  CHECK (own_funds_minor IS NULL OR own_funds_minor <= price_minor OR unit_id IS NULL)
);
-- ListDealApplications, newest first, on an ordered range for every filter and scope (plan_test.cc):
-- scope all — every application or the filter's own index; own / team — one range per visible
-- responsible (with the status first when filtering by it); a request's and a client's are few (a
-- client's through deal_application_participants_client).
CREATE INDEX deal_applications_created ON deal_applications (create_time DESC, id DESC);
CREATE INDEX deal_applications_request ON deal_applications (request_id, create_time DESC, id DESC);
CREATE INDEX deal_applications_status ON deal_applications (status, create_time DESC, id DESC);
CREATE INDEX deal_applications_responsible ON deal_applications (responsible_id, create_time DESC, id DESC);
CREATE INDEX deal_applications_responsible_status
  ON deal_applications (responsible_id, status, create_time DESC, id DESC);
CREATE INDEX deal_applications_unit ON deal_applications (unit_id) WHERE unit_id IS NOT NULL;

-- The participants in their order (pos 0, 1, ...). Shares in lowest terms (0/0: not an owner, or a
-- joint owner); share_amount_minor NULL when none is shown (joint ownership, non-owners).
CREATE TABLE deal_application_participants (
  application_id        uuid NOT NULL REFERENCES deal_applications (id) ON DELETE CASCADE,
  pos                   int NOT NULL CHECK (pos >= 0),
  client_id             uuid NOT NULL REFERENCES clients (id),
  conditional           boolean NOT NULL DEFAULT false,
  is_real               boolean NOT NULL DEFAULT false,
  signer                boolean NOT NULL DEFAULT false,
  escrow                boolean NOT NULL DEFAULT false,
  signature_expiry_date date,
  owner                 boolean NOT NULL DEFAULT false,
  share_numerator       bigint NOT NULL DEFAULT 0 CHECK (share_numerator >= 0),
  share_denominator     bigint NOT NULL DEFAULT 0 CHECK (share_denominator >= 0),
  share_amount_minor    bigint CHECK (share_amount_minor >= 0),
  PRIMARY KEY (application_id, pos),
  UNIQUE (application_id, client_id)
);
-- ListDealApplications by client: the applications a client takes part in.
CREATE INDEX deal_application_participants_client ON deal_application_participants (client_id, application_id);
-- At most one conditional (У) participant per application, held by the database too.
CREATE UNIQUE INDEX deal_application_participants_one_conditional
  ON deal_application_participants (application_id) WHERE conditional;
