-- Touches (R4, seed 001 §1.1–1.2): one row per touch of a deal — a completed call / meeting / e-mail
-- task, a finished call, a message sent to the client — keyed by what it was ("task:<id>", "call:<id>",
-- "message:<id>"), so an event that comes twice counts once. deal_facts.touches is their count.
CREATE TABLE deal_touches (
  deal_id    text NOT NULL,
  touch_key  text NOT NULL,
  kind       text NOT NULL,
  touch_time timestamptz NOT NULL,
  PRIMARY KEY (deal_id, touch_key)
);
