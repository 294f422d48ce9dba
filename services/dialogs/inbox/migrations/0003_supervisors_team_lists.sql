-- Issue 18, T6: who sees which dialogs beyond their own (services/dialogs/inbox/access.h).

-- A supervisor sees the dialogs of the users naming them as their supervisor (identity's User.supervisor_id,
-- kept from crm.identity.user.v1 by inbox/users.h). A list reads a supervisor's subordinates in its own
-- statement through this index.
ALTER TABLE user_directory ADD COLUMN supervisor_id uuid;
CREATE INDEX user_directory_supervisor ON user_directory (supervisor_id, user_id) WHERE supervisor_id IS NOT NULL;
-- A supervisor's list reads each subordinate's newest page: each filter of it one index range with the
-- responsible first (a filter their dialogs rarely have would otherwise walk all of each subordinate's).
-- No predicates here nor on dialog_teams: a generic plan (project = $n) cannot use a partial index.
CREATE INDEX dialogs_responsible_status ON dialogs (responsible_id, status, number);
CREATE INDEX dialogs_responsible_bot ON dialogs (responsible_id, bot_id, number);
CREATE INDEX dialogs_responsible_project ON dialogs (responsible_id, project, number);
CREATE INDEX dialogs_responsible_topic ON dialogs (responsible_id, topic, number);

-- The team scope's lists (dialogs.read.team): one row per (team in a dialog's team_ids, dialog), with the
-- columns the list filters on, so each filter of each team is one index range in number order — a page reads
-- a page, however rare the filter is in the team (a GIN index on team_ids gives no order: the old branch
-- walked the number index past every other team's dialogs). Kept by the triggers below in the transaction
-- of every write of dialogs, whoever writes (a take, routing's assignment or requeue, outreach's start).
CREATE TABLE dialog_teams (
  team_id        uuid    NOT NULL,
  number         bigint  NOT NULL REFERENCES dialogs (number) ON DELETE CASCADE,
  closed         boolean NOT NULL,
  status         text    NOT NULL,
  bot_id         uuid    NOT NULL,
  project        text    NOT NULL,
  topic          text    NOT NULL,
  responsible_id uuid,
  client_id      uuid,
  PRIMARY KEY (team_id, number));
CREATE INDEX dialog_teams_open ON dialog_teams (team_id, number) WHERE NOT closed;
CREATE INDEX dialog_teams_status ON dialog_teams (team_id, status, number);
CREATE INDEX dialog_teams_bot ON dialog_teams (team_id, bot_id, number);
CREATE INDEX dialog_teams_project ON dialog_teams (team_id, project, number);
CREATE INDEX dialog_teams_topic ON dialog_teams (team_id, topic, number);
CREATE INDEX dialog_teams_responsible ON dialog_teams (team_id, responsible_id, number);
CREATE INDEX dialog_teams_client ON dialog_teams (team_id, client_id, number) WHERE client_id IS NOT NULL;

INSERT INTO dialog_teams (team_id, number, closed, status, bot_id, project, topic, responsible_id, client_id)
SELECT DISTINCT t, d.number, d.closed, d.status, d.bot_id, d.project, d.topic, d.responsible_id, d.client_id
  FROM dialogs d CROSS JOIN LATERAL unnest(d.team_ids) t;

-- New dialogs: statement-level, so a bulk insert is one set-based insert here.
CREATE FUNCTION dialog_teams_apply_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO dialog_teams (team_id, number, closed, status, bot_id, project, topic, responsible_id, client_id)
  SELECT DISTINCT t, n.number, n.closed, n.status, n.bot_id, n.project, n.topic, n.responsible_id, n.client_id
    FROM new_rows n CROSS JOIN LATERAL unnest(n.team_ids) t;
  RETURN NULL;
END $$;
CREATE TRIGGER dialog_teams_insert AFTER INSERT ON dialogs REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION dialog_teams_apply_insert();

-- A change of the teams or of a listed column: the dialog's rows follow (teams gone deleted, the others
-- upserted; a dialog's number never changes). Fired only when one of those columns changed on a dialog with
-- teams (a message touching the dialog costs nothing). A deleted dialog's rows go by the foreign key.
CREATE FUNCTION dialog_teams_apply_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM dialog_teams WHERE team_id = ANY (OLD.team_ids) AND number = NEW.number
     AND NOT team_id = ANY (NEW.team_ids);
  INSERT INTO dialog_teams (team_id, number, closed, status, bot_id, project, topic, responsible_id, client_id)
  SELECT DISTINCT t, NEW.number, NEW.closed, NEW.status, NEW.bot_id, NEW.project, NEW.topic, NEW.responsible_id,
         NEW.client_id
    FROM unnest(NEW.team_ids) t
  ON CONFLICT (team_id, number) DO UPDATE SET closed = EXCLUDED.closed, status = EXCLUDED.status,
     bot_id = EXCLUDED.bot_id, project = EXCLUDED.project, topic = EXCLUDED.topic,
     responsible_id = EXCLUDED.responsible_id, client_id = EXCLUDED.client_id;
  RETURN NULL;
END $$;
CREATE TRIGGER dialog_teams_update
  AFTER UPDATE OF team_ids, closed, status, bot_id, project, topic, responsible_id, client_id ON dialogs
  FOR EACH ROW
  WHEN ((OLD.team_ids <> '{}' OR NEW.team_ids <> '{}') AND
        (OLD.team_ids, OLD.closed, OLD.status, OLD.bot_id, OLD.project, OLD.topic, OLD.responsible_id,
         OLD.client_id) IS DISTINCT FROM
        (NEW.team_ids, NEW.closed, NEW.status, NEW.bot_id, NEW.project, NEW.topic, NEW.responsible_id,
         NEW.client_id))
  EXECUTE FUNCTION dialog_teams_apply_update();
