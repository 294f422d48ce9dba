-- 0003: robots (issue 6). The head of sales reads every robot's log (robots.read.all), as they read every
-- deal; managers see the rules and the log of the deals they are responsible for (robots.read).
INSERT INTO role_permissions (role_code, permission) VALUES
  ('head_of_sales', 'robots.read.all'),
  ('manager', 'robots.read')
ON CONFLICT DO NOTHING;
