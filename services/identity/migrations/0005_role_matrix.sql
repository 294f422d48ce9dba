-- 0005: issue 15 — the role matrix of seed 004 §2.1 with least privilege (README "Roles": the table).
-- Seed 004 §2.1 (Welcome Office): Встречи → visits.manage, Клиенты → clients.read + clients.write,
-- Парковка → parking.operate, Задачи → tasks.operate (new: on-site tasks — cleaning, drinks, other; it
-- replaces the waiter's orders.serve and the driver's trips.drive, which nothing checks), Сообщения →
-- notifications.read (new: the app's notifications). The app-only roles get exactly their §2.1
-- functions (no check-lists); nobody but the administrator gets what §2.1 does not give.
DELETE FROM role_permissions WHERE permission IN ('orders.serve', 'trips.drive');
DELETE FROM role_permissions
WHERE role_code IN ('parking_attendant', 'waiter', 'driver') AND permission = 'checklists.fill';
INSERT INTO role_permissions (role_code, permission) VALUES
  ('administrator',     'tasks.operate'),
  ('administrator',     'notifications.read'),
  ('manager',           'visits.manage'),
  ('manager',           'tasks.operate'),
  ('manager',           'notifications.read'),
  ('service_manager',   'clients.write'),
  ('service_manager',   'parking.operate'),
  ('service_manager',   'tasks.operate'),
  ('service_manager',   'notifications.read'),
  ('waiter',            'tasks.operate'),
  ('waiter',            'notifications.read'),
  ('driver',            'tasks.operate'),
  ('driver',            'notifications.read')
ON CONFLICT DO NOTHING;
