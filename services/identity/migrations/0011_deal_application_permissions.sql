-- 0011: deal applications and the client card's passport (issue 17, D15 second half;
-- services/deals/applications/README.md) — README "Deal applications".
--   applications.read.{own,team,all}   see deal applications as deals are seen (by their responsible)
--   applications.write.{own,team,all}  create and change them in that scope (write implies read)
--   clients.passport.read              read a person's passport on the client card (personal data)
-- Seed 004 §6.3: the sales manager makes the application from their client's request and may look at the
-- client's passport («Есть возможность посмотреть паспортные данные клиента»); the head of sales sees and
-- changes all; the mortgage specialist («ипотечный менеджер в заявке на сделку должен создать ипотечную
-- заявку») reads every application (they serve every manager's clients; no team of sales) and the passport
-- the bank needs, and changes none. Least privilege: nobody
-- else gets any (the call-centre operator, the integrator and the service roles have no business here).
INSERT INTO role_permissions (role_code, permission) VALUES
  ('administrator',       'applications.read.own'),
  ('administrator',       'applications.read.team'),
  ('administrator',       'applications.read.all'),
  ('administrator',       'applications.write.own'),
  ('administrator',       'applications.write.team'),
  ('administrator',       'applications.write.all'),
  ('administrator',       'clients.passport.read'),
  ('head_of_sales',       'applications.read.all'),
  ('head_of_sales',       'applications.write.all'),
  ('head_of_sales',       'clients.passport.read'),
  ('manager',             'applications.read.team'),
  ('manager',             'applications.write.own'),
  ('manager',             'clients.passport.read'),
  ('mortgage_specialist', 'applications.read.all'),
  ('mortgage_specialist', 'clients.passport.read')
ON CONFLICT DO NOTHING;
