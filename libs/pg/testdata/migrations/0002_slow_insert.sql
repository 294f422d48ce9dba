-- Slow on purpose: widens the window in which a second replica without the lock would apply it too.
SELECT pg_sleep(0.3);
INSERT INTO probe_applications (migration) VALUES ('0002');
