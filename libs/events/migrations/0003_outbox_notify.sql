-- Wake the relay at commit from the database itself: one NOTIFY per inserting statement (delivered at
-- commit, folded to one per transaction by PostgreSQL), instead of a separate NOTIFY round trip from
-- every writer. The channel is crm::events::kOutboxChannel.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('crm_outbox', '');
  RETURN NULL;
END $$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
