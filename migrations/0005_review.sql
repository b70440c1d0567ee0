-- Human review: appeals from account holders, reviewers' claims, the events the review API owes
-- the pipeline, and the false-positive labels overturned cases leave for training.

-- One appeal per case: a repeated request returns it.
CREATE TABLE appeals (
    appeal_id   TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL UNIQUE REFERENCES cases (case_id),
    account_id  TEXT NOT NULL,
    statement   TEXT NOT NULL,
    -- open | decided
    status      TEXT NOT NULL,
    opened_at   BIGINT NOT NULL,
    -- upheld | overturned, and the reviewer's words to the holder
    outcome     TEXT,
    explanation TEXT,
    decided_at  BIGINT
);
CREATE INDEX appeals_by_status ON appeals (status, opened_at);

-- One reviewer at a time works a case; a claim lapses at `claim_expires_at`.
ALTER TABLE cases ADD COLUMN claimed_by TEXT;
ALTER TABLE cases ADD COLUMN claim_expires_at BIGINT;
CREATE INDEX cases_by_update ON cases (updated_at);

-- Events written in the same transaction as the step that causes them, then produced and
-- marked sent: a crash between the two sends them late, never loses them. Ids derive from
-- the content, so a retried step writes none twice.
CREATE TABLE outbox (
    event_id   TEXT PRIMARY KEY,
    -- account_actions | notices
    topic      TEXT NOT NULL,
    event_key  TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at    BIGINT
);
CREATE INDEX outbox_unsent ON outbox (sent_at, created_at);

-- A reviewer's overturn marks the case's messages as legitimate: redacted excerpts, labelled,
-- for `warden train` (via `warden labels export`).
CREATE TABLE labels (
    message_id TEXT NOT NULL,
    case_id    TEXT NOT NULL REFERENCES cases (case_id),
    label      TEXT NOT NULL,
    excerpt    TEXT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (message_id, case_id)
);
