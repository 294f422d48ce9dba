-- Issue 16, the seeds exactly.

-- D2: deal types (тип сделки, seed 003 «выбрать тип сделки»), a catalogue like lost_reasons; a deal
-- names one by code or none. The list filters on it (filter.type_codes): all-scope pages walk
-- deals_type_created newest first; own and team scopes keep their responsible's index (listing.h).
CREATE TABLE deal_types (
  code text PRIMARY KEY,
  name text NOT NULL,
  sort integer NOT NULL DEFAULT 0
);
INSERT INTO deal_types (code, name, sort) VALUES
  ('new_sale', 'Новая продажа', 10),
  ('repeat_sale', 'Повторная продажа', 20),
  ('upsell', 'Допродажа', 30),
  ('renewal', 'Продление', 40);
ALTER TABLE deals ADD COLUMN type_code text REFERENCES deal_types (code);
CREATE INDEX deals_type_created ON deals (type_code, create_time DESC, id DESC) WHERE type_code IS NOT NULL;

-- One definition of "a comment in the stage" (gates, the 19:00 report, robots): the latest comment's
-- time, kept in the transaction of every comment (AddComment, a move or a copy with a comment); a deal
-- has a comment in its stage when last_comment_time >= stage_enter_time. Existing deals take it from
-- their timeline: comments (kind 1) and stage changes carrying a comment (kind 4).
ALTER TABLE deals ADD COLUMN last_comment_time timestamptz;
UPDATE deals d SET last_comment_time = c.t
  FROM (SELECT deal_id, max(create_time) AS t FROM timeline_entries
        WHERE kind = 1 OR (kind = 4 AND text <> '') GROUP BY deal_id) c
  WHERE c.deal_id = d.id;

-- D5: e-mail duplicates whatever the case. Stored e-mails keep their local part as written (a mailbox
-- may be case-sensitive); duplicate lookups compare lower-cased ones on this index, called as the index
-- does (clients.cc Duplicates).
CREATE FUNCTION lower_text_array(a text[]) RETURNS text[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$ SELECT lower(a::text)::text[] $$;
CREATE INDEX clients_emails_lower ON clients USING gin (lower_text_array(emails));
DROP INDEX clients_emails;
