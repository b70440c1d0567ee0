-- The console counts the live claims on every page of its queue: only claimed cases are in
-- this index, ordered by when their claim lapses, so the live ones are a short range.
CREATE INDEX cases_by_claim_expiry ON cases (claim_expires_at) WHERE claimed_by IS NOT NULL;

-- A case page shows its account's history (and an export reads it): by account, in order,
-- instead of a scan of the whole audit log on every view.
CREATE INDEX audit_log_by_account ON audit_log (account_id, at);
