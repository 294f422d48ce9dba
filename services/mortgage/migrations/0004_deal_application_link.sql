-- Issue 17 (D15, seed 004 §6.3): the deal application (deals' «Заявка на сделку») a mortgage application was
-- started from, and ListApplications' deal_application_id filter on its own index (lists_plan_test.cc).
ALTER TABLE applications ADD COLUMN deal_application_id uuid;
CREATE INDEX applications_deal_application ON applications (deal_application_id, created_at DESC, id DESC)
  WHERE deal_application_id IS NOT NULL;
