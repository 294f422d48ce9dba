-- deals: thumbnails of image attachments (D10) and overdue reports of tasks (D9).
-- An attachment's thumbnail lives in the blob store under thumbnail_sha256; all five columns are NULL
-- when it has none (not an image, corrupt, or too large to decode).
ALTER TABLE attachments
  ADD COLUMN thumbnail_sha256        text,
  ADD COLUMN thumbnail_content_type  text,
  ADD COLUMN thumbnail_size_bytes    bigint,
  ADD COLUMN thumbnail_width         integer,
  ADD COLUMN thumbnail_height        integer;

-- When crm.deals.task.overdue.v1 was written for the task's current due time; NULL while not reported.
-- Cleared when the due time moves past the time of the change, so the task is reported again once
-- that passes too.
ALTER TABLE tasks ADD COLUMN overdue_notify_time timestamptz;
-- The overdue scan: open tasks not yet reported, by due time.
CREATE INDEX tasks_overdue_unreported ON tasks (due_time, id) WHERE status = 1 AND overdue_notify_time IS NULL;
