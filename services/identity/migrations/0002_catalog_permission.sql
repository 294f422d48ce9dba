-- 0002: catalog.manage — upsert the deals service's nomenclature catalogue (D6, crm.deals.v1.CatalogService;
-- 1C's integration key). Granted to the administrator, the head of sales and the integrator.
INSERT INTO role_permissions (role_code, permission)
SELECT r, 'catalog.manage' FROM unnest(ARRAY['administrator', 'head_of_sales', 'integrator']) AS r
ON CONFLICT DO NOTHING;
