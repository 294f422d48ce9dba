-- Issue 14: every list and board of every access scope on an index (services/deals/listing.h).

-- The list every head of sales opens first: all deals, newest first.
CREATE INDEX deals_created ON deals (create_time DESC, id DESC);

-- filter.query (a name containing the text, any case): trigram search instead of reading every name.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX deals_name_trgm ON deals USING gin (name gin_trgm_ops);

-- filter.fields (custom field values, JSON containment).
CREATE INDEX deals_fields ON deals USING gin (fields jsonb_path_ops);

-- A user's teams, to find who shares a team with a deals.read.team caller.
CREATE INDEX user_directory_teams ON user_directory USING gin (team_ids);

-- Board totals per stage *and responsible*, so the board of a manager (own scope) or of a team (the
-- responsibles who share a team with the caller) reads O(stages × responsibles) rows as the head of
-- sales' does, instead of counting every deal. Sharded 8 ways by the deal id so concurrent creates for
-- one responsible in one stage rarely wait on one row; amounts are numeric, so no total overflows.
DROP TRIGGER deals_totals_insert ON deals;
DROP TRIGGER deals_totals_delete ON deals;
DROP TRIGGER deals_totals_update ON deals;
DROP FUNCTION deal_stage_totals_apply_insert();
DROP FUNCTION deal_stage_totals_apply_delete();
DROP FUNCTION deal_stage_totals_apply_update();
DROP TABLE deal_stage_totals;

CREATE TABLE deal_stage_totals (
  stage_id       uuid NOT NULL,
  responsible_id uuid NOT NULL,
  currency       text NOT NULL,
  shard          smallint NOT NULL,
  deals          bigint NOT NULL DEFAULT 0,
  amount_minor   numeric NOT NULL DEFAULT 0,
  PRIMARY KEY (stage_id, responsible_id, currency, shard)
);

CREATE OR REPLACE FUNCTION deal_stage_shard(id uuid) RETURNS smallint
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (get_byte(uuid_send(id), 15) % 8)::smallint $$;

INSERT INTO deal_stage_totals (stage_id, responsible_id, currency, shard, deals, amount_minor)
SELECT stage_id, responsible_id, currency, deal_stage_shard(id), count(*), sum(amount_minor)
  FROM deals GROUP BY 1, 2, 3, 4;

-- Statement-level: a COPY of a million rows or one INSERT folds into one upsert per key, in key order
-- so two statements never deadlock.
CREATE FUNCTION deal_stage_totals_apply_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO deal_stage_totals AS t (stage_id, responsible_id, currency, shard, deals, amount_minor)
  SELECT stage_id, responsible_id, currency, deal_stage_shard(id), count(*), sum(amount_minor)
    FROM new_rows GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
  ON CONFLICT (stage_id, responsible_id, currency, shard)
    DO UPDATE SET deals = t.deals + EXCLUDED.deals, amount_minor = t.amount_minor + EXCLUDED.amount_minor;
  RETURN NULL;
END $$;

CREATE FUNCTION deal_stage_totals_apply_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO deal_stage_totals AS t (stage_id, responsible_id, currency, shard, deals, amount_minor)
  SELECT stage_id, responsible_id, currency, deal_stage_shard(id), -count(*), -sum(amount_minor)
    FROM old_rows GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
  ON CONFLICT (stage_id, responsible_id, currency, shard)
    DO UPDATE SET deals = t.deals + EXCLUDED.deals, amount_minor = t.amount_minor + EXCLUDED.amount_minor;
  RETURN NULL;
END $$;

CREATE FUNCTION deal_stage_totals_apply_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO deal_stage_totals AS t (stage_id, responsible_id, currency, shard, deals, amount_minor)
  SELECT stage_id, responsible_id, currency, shard, sum(n), sum(a) FROM (
      SELECT o.stage_id, o.responsible_id, o.currency, deal_stage_shard(o.id) AS shard, -1 AS n,
             -o.amount_minor::numeric AS a
        FROM old_rows o JOIN new_rows n USING (id)
       WHERE (o.stage_id, o.responsible_id, o.currency, o.amount_minor)
             IS DISTINCT FROM (n.stage_id, n.responsible_id, n.currency, n.amount_minor)
      UNION ALL
      SELECT n.stage_id, n.responsible_id, n.currency, deal_stage_shard(n.id), 1, n.amount_minor::numeric
        FROM old_rows o JOIN new_rows n USING (id)
       WHERE (o.stage_id, o.responsible_id, o.currency, o.amount_minor)
             IS DISTINCT FROM (n.stage_id, n.responsible_id, n.currency, n.amount_minor)
    ) d
   GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0 OR sum(a) <> 0 ORDER BY 1, 2, 3, 4
  ON CONFLICT (stage_id, responsible_id, currency, shard)
    DO UPDATE SET deals = t.deals + EXCLUDED.deals, amount_minor = t.amount_minor + EXCLUDED.amount_minor;
  RETURN NULL;
END $$;

CREATE TRIGGER deals_totals_insert AFTER INSERT ON deals REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION deal_stage_totals_apply_insert();
CREATE TRIGGER deals_totals_delete AFTER DELETE ON deals REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION deal_stage_totals_apply_delete();
CREATE TRIGGER deals_totals_update AFTER UPDATE ON deals REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION deal_stage_totals_apply_update();
