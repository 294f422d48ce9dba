-- 0007: products, payments and orders of deals (D6–D8, commerce.proto).
--   products       the nomenclature catalogue; external_id is the external system's (1C) key, so an
--                  upsert is INSERT ... ON CONFLICT (external_id) and can never make two rows;
--   deal_products  a deal's line items: quantity in thousandths (quantity_milli), prices in minor units,
--                  the line total stored as computed (commerce.proto DealProduct.total);
--   deal_payments  the payments panel: planned payments with a due day and the received mark;
--   deal_orders    orders of a deal with a snapshot of their lines (commerce.proto Order.lines as JSON).
CREATE TABLE products (
  id               uuid PRIMARY KEY,
  external_id      text NOT NULL UNIQUE CHECK (length(external_id) BETWEEN 1 AND 255),
  sku              text NOT NULL DEFAULT '',
  name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 500),
  unit             text NOT NULL DEFAULT '',
  price_minor      bigint NOT NULL CHECK (price_minor >= 0),
  currency         text NOT NULL DEFAULT 'RUB' CHECK (currency ~ '^[A-Z]{3}$'),
  vat_basis_points integer NOT NULL DEFAULT 0 CHECK (vat_basis_points BETWEEN 0 AND 10000),
  active           boolean NOT NULL DEFAULT true,
  version          bigint NOT NULL DEFAULT 1,
  create_time      timestamptz NOT NULL DEFAULT now(),
  update_time      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_name ON products (lower(name), id);

CREATE TABLE deal_products (
  id                    uuid PRIMARY KEY,
  deal_id               uuid NOT NULL REFERENCES deals (id),
  pos                   bigserial,
  product_id            uuid REFERENCES products (id),
  name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 500),
  sku                   text NOT NULL DEFAULT '',
  unit                  text NOT NULL DEFAULT '',
  quantity_milli        bigint NOT NULL CHECK (quantity_milli > 0),
  unit_price_minor      bigint NOT NULL CHECK (unit_price_minor >= 0),
  currency              text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  discount_basis_points integer NOT NULL DEFAULT 0 CHECK (discount_basis_points BETWEEN 0 AND 10000),
  discount_minor        bigint NOT NULL DEFAULT 0 CHECK (discount_minor >= 0),
  vat_basis_points      integer NOT NULL DEFAULT 0 CHECK (vat_basis_points BETWEEN 0 AND 10000),
  total_minor           bigint NOT NULL CHECK (total_minor >= 0),
  version               bigint NOT NULL DEFAULT 1,
  create_time           timestamptz NOT NULL DEFAULT now(),
  update_time           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deal_products_by_deal ON deal_products (deal_id, pos);

CREATE TABLE deal_payments (
  id               uuid PRIMARY KEY,
  deal_id          uuid NOT NULL REFERENCES deals (id),
  due_date         date NOT NULL,
  amount_minor     bigint NOT NULL CHECK (amount_minor > 0),
  currency         text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  comment          text NOT NULL DEFAULT '',
  schedule_percent integer NOT NULL DEFAULT 0 CHECK (schedule_percent BETWEEN 0 AND 100),
  received_time    timestamptz,
  received_by      uuid,
  version          bigint NOT NULL DEFAULT 1,
  create_time      timestamptz NOT NULL DEFAULT now(),
  update_time      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deal_payments_by_deal ON deal_payments (deal_id, due_date, create_time);

-- status: 1 new, 2 in progress, 3 shipped, 4 done, 5 cancelled (commerce.proto Order.Status).
CREATE SEQUENCE deal_order_numbers;
CREATE TABLE deal_orders (
  id           uuid PRIMARY KEY,
  deal_id      uuid NOT NULL REFERENCES deals (id),
  number       text NOT NULL UNIQUE CHECK (length(number) BETWEEN 1 AND 100),
  status       smallint NOT NULL CHECK (status BETWEEN 1 AND 5),
  amount_minor bigint NOT NULL CHECK (amount_minor >= 0),
  currency     text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  lines        jsonb NOT NULL DEFAULT '[]'::jsonb,
  comment      text NOT NULL DEFAULT '',
  creator_id   uuid,
  version      bigint NOT NULL DEFAULT 1,
  create_time  timestamptz NOT NULL DEFAULT now(),
  update_time  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deal_orders_by_deal ON deal_orders (deal_id, create_time DESC, id DESC);
