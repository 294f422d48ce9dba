-- Issue 14: the lists, the desk and the reports reach their rows on an index in every scope, newest (or most
-- recently changed) first a page at a time, however many calculations and applications there are
-- (services/mortgage/lists_plan_test.cc checks every statement's plan on 1 000 000 of each).

-- ListApplications of one specialist — the own scope of mortgage.manage, and mortgage.read.all's
-- specialist_id filter — without a status: applications_specialist leads with the status after the
-- specialist, so the page read every application of the specialist and sorted them (or walked
-- applications_created past everyone else's).
CREATE INDEX applications_specialist_created ON applications (specialist_id, created_at DESC, id DESC);

-- The desk's application lists (drafts, documents requested, approved; most recently changed first) of every
-- specialist and of one. Before, every application in the status was read and sorted for a page of 200 —
-- and approvals accumulate (an object approval stays APPROVED).
CREATE INDEX applications_desk ON applications (status, updated_at DESC, id DESC) WHERE status IN (1, 4, 5);
CREATE INDEX applications_desk_specialist ON applications (specialist_id, status, updated_at DESC, id DESC)
  WHERE status IN (1, 4, 5);

-- The desk's incomplete questionnaires of every specialist (questionnaires_incomplete serves one's).
CREATE INDEX questionnaires_drafts ON questionnaires (updated_at DESC, id DESC) WHERE status = 1;
