-- deals: clients and contacts (D5). Phones are E.164, e-mails normalised; the GIN indexes serve the
-- duplicate lookups (phones && / emails &&), inn its own partial index.

-- kind: 1 company, 2 person (crm.deals.v1.Client.Kind).
CREATE TABLE clients (
  id          uuid PRIMARY KEY,
  kind        smallint NOT NULL CHECK (kind IN (1, 2)),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 500),
  inn         text CHECK (inn ~ '^([0-9]{10}|[0-9]{12})$'),
  phones      text[] NOT NULL DEFAULT '{}',
  emails      text[] NOT NULL DEFAULT '{}',
  address     text NOT NULL DEFAULT '',
  comment     text NOT NULL DEFAULT '',
  version     bigint NOT NULL DEFAULT 1,
  create_time timestamptz NOT NULL DEFAULT now(),
  update_time timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX clients_phones ON clients USING gin (phones);
CREATE INDEX clients_emails ON clients USING gin (emails);
CREATE INDEX clients_inn ON clients (inn) WHERE inn IS NOT NULL;
CREATE INDEX clients_name ON clients (lower(name), id);

CREATE TABLE contacts (
  id          uuid PRIMARY KEY,
  client_id   uuid NOT NULL REFERENCES clients (id),
  full_name   text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 500),
  position    text NOT NULL DEFAULT '',
  phones      text[] NOT NULL DEFAULT '{}',
  emails      text[] NOT NULL DEFAULT '{}',
  passport    text NOT NULL DEFAULT '',
  version     bigint NOT NULL DEFAULT 1,
  create_time timestamptz NOT NULL DEFAULT now(),
  update_time timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_client ON contacts (client_id, create_time, id);

-- The contacts of a deal; at most one main contact per deal. pos keeps the order they were added.
CREATE TABLE deal_contacts (
  deal_id    uuid NOT NULL REFERENCES deals (id) ON DELETE CASCADE,
  contact_id uuid NOT NULL REFERENCES contacts (id),
  main       boolean NOT NULL DEFAULT false,
  pos        bigserial,
  PRIMARY KEY (deal_id, contact_id)
);
CREATE UNIQUE INDEX deal_contacts_one_main ON deal_contacts (deal_id) WHERE main;
CREATE INDEX deal_contacts_contact ON deal_contacts (contact_id);

-- Which contacts a client has (a contact is created under one client, contacts.client_id, and may
-- later be linked to others by being added to their deals). pos keeps the order they were linked.
CREATE TABLE client_contacts (
  client_id  uuid NOT NULL REFERENCES clients (id),
  contact_id uuid NOT NULL REFERENCES contacts (id),
  pos        bigserial,
  PRIMARY KEY (client_id, contact_id)
);
CREATE INDEX client_contacts_contact ON client_contacts (contact_id);
