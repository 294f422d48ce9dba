-- The calls part (P1, P2): calls, legs, the facts taken in (issue 19). Filled by the calls part.
SELECT 1;
