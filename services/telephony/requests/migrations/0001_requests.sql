-- The call-request queue (P4, issue 19). Filled by the requests part.
SELECT 1;
