-- deals 0014 (issue 17, D15 second half, seed 004 §6.3): what a deal application's НЛ and ДУЛ flags need
-- on the client card — a person's birth date and passport (personal data: clients.proto says who reads
-- it). Additive: existing clients have none ('' / NULL).
ALTER TABLE clients
  ADD COLUMN birth_date date,
  ADD COLUMN passport_series text NOT NULL DEFAULT '' CHECK (passport_series ~ '^([0-9]{4})?$'),
  ADD COLUMN passport_number text NOT NULL DEFAULT '' CHECK (passport_number ~ '^([0-9]{6})?$'),
  ADD COLUMN passport_issued_by text NOT NULL DEFAULT '' CHECK (length(passport_issued_by) <= 500),
  ADD COLUMN passport_issue_date date,
  ADD COLUMN passport_department_code text NOT NULL DEFAULT ''
    CHECK (passport_department_code ~ '^([0-9]{3}-[0-9]{3})?$');
