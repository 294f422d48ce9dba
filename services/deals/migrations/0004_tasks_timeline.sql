-- deals: tasks and reminders (D9), the timeline with comments, attachments and the audit history (D10).
-- kind / status: crm.deals.v1.Task.Kind / Task.Status.
CREATE TABLE tasks (
  id              uuid PRIMARY KEY,
  deal_id         uuid NOT NULL REFERENCES deals (id),
  kind            smallint NOT NULL,
  title           text NOT NULL,
  due_time        timestamptz NOT NULL,
  responsible_id  uuid NOT NULL,
  creator_id      uuid,
  status          smallint NOT NULL DEFAULT 1,
  result          text NOT NULL DEFAULT '',
  completed_time  timestamptz,
  create_time     timestamptz NOT NULL,
  update_time     timestamptz NOT NULL,
  version         bigint NOT NULL DEFAULT 1
);
-- next_task_time of a deal: min(due_time) of its open tasks.
CREATE INDEX tasks_deal_open ON tasks (deal_id, due_time) WHERE status = 1;
CREATE INDEX tasks_responsible_due ON tasks (responsible_id, due_time, id);
CREATE INDEX tasks_due ON tasks (due_time, id) WHERE status = 1;

CREATE TABLE attachments (
  id            uuid PRIMARY KEY,
  deal_id       uuid NOT NULL REFERENCES deals (id),
  file_name     text NOT NULL,
  content_type  text NOT NULL,
  size_bytes    bigint NOT NULL,
  sha256        text NOT NULL,
  entry_id      uuid,
  create_time   timestamptz NOT NULL
);

-- kind: crm.deals.v1.TimelineEntry.Kind.
CREATE TABLE timeline_entries (
  id           uuid PRIMARY KEY,
  deal_id      uuid NOT NULL REFERENCES deals (id),
  kind         smallint NOT NULL,
  actor_id     text NOT NULL DEFAULT '',
  create_time  timestamptz NOT NULL,
  text         text NOT NULL DEFAULT '',
  task_id      uuid,
  field        text NOT NULL DEFAULT '',
  old_value    text NOT NULL DEFAULT '',
  new_value    text NOT NULL DEFAULT ''
);
CREATE INDEX timeline_deal_time ON timeline_entries (deal_id, create_time DESC, id DESC);
