-- 0010: issue 17 — the 1C side of deals (D17, seed 002; services/deals/erp): erp.sync (what 1C does
-- through its API key: upsert proposals and documents, report the status of mirrored tasks, read every
-- deal's documents and the task mirror) and erp.manage (which pipelines 1C manages, the accountant's
-- address). Least privilege: 1C is an integrator's API key (G2), so the integrator gets erp.sync; the
-- head of sales (РОП, seed 002's «Постановщик») decides which directions go through 1C; the
-- administrator has both. People sign and make documents with the deals rights they already have.
INSERT INTO role_permissions (role_code, permission) VALUES
  ('administrator', 'erp.sync'),
  ('administrator', 'erp.manage'),
  ('head_of_sales', 'erp.manage'),
  ('integrator',    'erp.sync')
ON CONFLICT DO NOTHING;
