-- 0011: issue 18 — the dialogs service's scenarios (T3, T4; services/dialogs/README.md "Scenarios"):
-- dialogs.admin edits the chat-bot scenarios (seed 004 «Операции чат-бота Telegram», set up in the
-- module's «Общие настройки»), and the dialogs reading scopes dialogs.read.own / dialogs.read.team beside
-- the existing dialogs.read.all (reading a scenario takes any of them). Least privilege, by seed 004 §3.4:
--   administrator — all of them (the scenarios are the system's settings);
--   Telegram operator — their own dialogs («Обработка Telegram запросов»): dialogs.read.own;
--   Telegram supervisor, head of sales, quality controller — dialogs.read.all already (0001/0005);
--   no one else edits scenarios: §3.4 gives the supervisor templates and timings, not the bot's scenarios.
INSERT INTO role_permissions (role_code, permission) VALUES
  ('administrator',     'dialogs.admin'),
  ('administrator',     'dialogs.read.own'),
  ('administrator',     'dialogs.read.team'),
  ('telegram_operator', 'dialogs.read.own')
ON CONFLICT DO NOTHING;
