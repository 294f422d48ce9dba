-- R8 (seed 001 §4: the plan is 40 000 000 сум): a win's amount is in its deal's currency; a measure with
-- a currency sums the wins in that currency only. Wins recorded before this have '' (unknown).
ALTER TABLE deal_wins ADD COLUMN currency text NOT NULL DEFAULT '';
