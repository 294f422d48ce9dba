-- 0009: real estate in deals (issue 17, D14; services/deals/realty/README.md) — README "Real estate".
--   realty.read                    read the inventory, the chessboard, «Подбор ОН», the unit list, prices
--   realty.manage                  change the inventory (projects, buildings, units, statuses, bulk import)
--   bookings.read.{own,team,all}   see bookings as deals are seen
--   bookings.write.{own,team,all}  make and release them in that scope
-- Seed 004 §6: the sales manager books for their clients and sees their team's bookings («Очереди
-- бронирования»); the head of sales sees and changes all and keeps the inventory; the call-centre
-- operator matches units to requests (§6.2.2); the integrator (the developer's 1C / Profitbase side)
-- loads the inventory. Least privilege: nobody else gets any.
INSERT INTO role_permissions (role_code, permission) VALUES
  ('administrator',        'realty.read'),
  ('administrator',        'realty.manage'),
  ('administrator',        'bookings.read.own'),
  ('administrator',        'bookings.read.team'),
  ('administrator',        'bookings.read.all'),
  ('administrator',        'bookings.write.own'),
  ('administrator',        'bookings.write.team'),
  ('administrator',        'bookings.write.all'),
  ('head_of_sales',        'realty.read'),
  ('head_of_sales',        'realty.manage'),
  ('head_of_sales',        'bookings.read.all'),
  ('head_of_sales',        'bookings.write.all'),
  ('manager',              'realty.read'),
  ('manager',              'bookings.read.team'),
  ('manager',              'bookings.write.own'),
  ('call_center_operator', 'realty.read'),
  ('integrator',           'realty.read'),
  ('integrator',           'realty.manage')
ON CONFLICT DO NOTHING;
