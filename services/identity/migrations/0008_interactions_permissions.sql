-- 0008: issue 17 — interactions (D16) and client requests (D15) in the deals service
-- (services/deals/interactions/access.h): interactions.read.{own,team,all} and
-- interactions.write.{own,team,all} (as deals', by the record's responsible; write implies read), and
-- interactions.slots.manage (the sales offices' slot calendars). Least privilege, by seed 004:
--   head of sales — every request and interaction, and the calendars (РОП);
--   manager — their team's to read, their own to record (§6.2–6.5, as their deals);
--   service manager — every one to read («Задачи на сегодня» of the projects they serve, §6.6), their own
--     to record (the meeting closed at the queue's ticket, §6.7);
--   call-centre operator — their own (§6.1–6.5: calls, requests, planned meetings);
--   mortgage specialist — their own («Задачи на сегодня», §5.1.1);
--   quality controller — every one to read (check-lists are made from a meeting, §4.2);
--   integrator — every one (a PBX or a website writing through an API key);
--   administrator — all of them.
INSERT INTO role_permissions (role_code, permission) VALUES
  ('administrator',        'interactions.read.own'),
  ('administrator',        'interactions.read.team'),
  ('administrator',        'interactions.read.all'),
  ('administrator',        'interactions.write.own'),
  ('administrator',        'interactions.write.team'),
  ('administrator',        'interactions.write.all'),
  ('administrator',        'interactions.slots.manage'),
  ('head_of_sales',        'interactions.read.all'),
  ('head_of_sales',        'interactions.write.all'),
  ('head_of_sales',        'interactions.slots.manage'),
  ('manager',              'interactions.read.team'),
  ('manager',              'interactions.write.own'),
  ('service_manager',      'interactions.read.all'),
  ('service_manager',      'interactions.write.own'),
  ('call_center_operator', 'interactions.read.own'),
  ('call_center_operator', 'interactions.write.own'),
  ('mortgage_specialist',  'interactions.read.own'),
  ('mortgage_specialist',  'interactions.write.own'),
  ('quality_controller',   'interactions.read.all'),
  ('integrator',           'interactions.read.all'),
  ('integrator',           'interactions.write.all')
ON CONFLICT DO NOTHING;
