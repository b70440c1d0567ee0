-- The review queue reads open appeals and cases in review oldest first, each from an index.
CREATE INDEX cases_by_status ON cases (status, opened_at);
