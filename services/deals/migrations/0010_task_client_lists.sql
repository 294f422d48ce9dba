-- Issue 14: the other lists of deals on an index for every access scope and filter (tasks.cc, clients.cc,
-- timeline.cc; checked on 1 000 000 tasks and clients by lists_plan_test.cc).

-- Tasks ------------------------------------------------------------------------------------------------
-- A task is visible through its deal's responsible (own / team scope, listing.h) as well as to its own
-- responsible. The deal's responsible is kept on the task, so each of them is an ordered index range
-- instead of a join that no index can order by due time; the trigger below keeps it current.
ALTER TABLE tasks ADD COLUMN deal_responsible_id uuid;
UPDATE tasks t SET deal_responsible_id = d.responsible_id FROM deals d WHERE d.id = t.deal_id;
ALTER TABLE tasks ALTER COLUMN deal_responsible_id SET NOT NULL;

-- Whatever changes a deal's responsible (an update, a reassignment in bulk) moves its tasks along.
CREATE FUNCTION tasks_follow_deal_responsible() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE tasks SET deal_responsible_id = NEW.responsible_id WHERE deal_id = NEW.id;
  RETURN NULL;
END $$;
CREATE TRIGGER deals_tasks_responsible AFTER UPDATE OF responsible_id ON deals FOR EACH ROW
  WHEN (OLD.responsible_id IS DISTINCT FROM NEW.responsible_id) EXECUTE FUNCTION tasks_follow_deal_responsible();

-- Every filter of ListTasks on an ordered range: by deal (deal_id; deals.next_task_time reads its open
-- ones), by due time over all tasks (scope all), and per responsible and per deal responsible (the
-- branches of the own and team scopes), each also with the status first (status, overdue: open tasks
-- without reading past years of finished ones). They replace the open-only tasks_deal_open and
-- tasks_due; tasks_responsible_due (0004) stays.
DROP INDEX tasks_deal_open;
DROP INDEX tasks_due;
CREATE INDEX tasks_deal_due ON tasks (deal_id, due_time, id);
CREATE INDEX tasks_due ON tasks (due_time, id);
CREATE INDEX tasks_status_due ON tasks (status, due_time, id);
CREATE INDEX tasks_responsible_status_due ON tasks (responsible_id, status, due_time, id);
CREATE INDEX tasks_deal_responsible_due ON tasks (deal_responsible_id, due_time, id);
CREATE INDEX tasks_deal_responsible_status_due ON tasks (deal_responsible_id, status, due_time, id);

-- Clients ----------------------------------------------------------------------------------------------
-- ListClients' query matches a part of the name, of a phone or of an e-mail (ILIKE '%…%'): trigram
-- indexes on each. array_to_string is only STABLE (for arrays of any type), so the arrays are indexed
-- through this IMMUTABLE one for text[]; PostgreSQL does not inline it (its body is not IMMUTABLE), so
-- a query meets the index by calling it as the index does (clients.cc).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE FUNCTION text_array_join(a text[]) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$ SELECT array_to_string(a, ' ') $$;
CREATE INDEX clients_name_trgm ON clients USING gin (name gin_trgm_ops);
CREATE INDEX clients_phones_trgm ON clients USING gin (text_array_join(phones) gin_trgm_ops);
CREATE INDEX clients_emails_trgm ON clients USING gin (text_array_join(emails) gin_trgm_ops);

-- Products ---------------------------------------------------------------------------------------------
-- The catalogue's search (ListProducts' query: a part of the name, the SKU or the 1C key).
CREATE INDEX products_name_trgm ON products USING gin (name gin_trgm_ops);
CREATE INDEX products_sku_trgm ON products USING gin (sku gin_trgm_ops);
CREATE INDEX products_external_id_trgm ON products USING gin (external_id gin_trgm_ops);

-- Timeline ---------------------------------------------------------------------------------------------
-- The attachments of a page's comments (ListTimeline) and of a copied deal's comments (copy.cc).
CREATE INDEX attachments_entry ON attachments (entry_id) WHERE entry_id IS NOT NULL;
