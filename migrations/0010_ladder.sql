-- The enforcement ladder: a case's strikes (what the violation adds to the account's count, for
-- `strike_days`) and, for a restriction, when it ends. New statuses: `warned` (a warning: a
-- notice, nothing taken away) and `ended` (a restriction that ran its course).
ALTER TABLE cases ADD COLUMN strikes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN ends_at BIGINT;

-- An account's live strikes are read by account and time.
CREATE INDEX cases_by_account ON cases (account_id, opened_at);
-- Restrictions due to end are found by their end.
CREATE INDEX cases_restrictions_by_end ON cases (ends_at) WHERE ends_at IS NOT NULL;
