-- Cases, evidence, review decisions, the audit log and processed-message ids. Portable between
-- SQLite and PostgreSQL: times are Unix milliseconds (BIGINT), structured fields are JSON text.

CREATE TABLE cases (
    case_id       TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL,
    -- suspended | in_review | upheld | overturned
    status        TEXT NOT NULL,
    -- JSON: [{"code", "description"}]
    reasons       TEXT NOT NULL,
    -- JSON: {"spam", "fraud", "aup"}, the highest per category among the evidence
    scores        TEXT NOT NULL,
    model_version TEXT,
    rules_version TEXT NOT NULL,
    opened_at     BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- At most one active case per account: a replayed or concurrent decision cannot open a second.
CREATE UNIQUE INDEX cases_one_active_per_account
    ON cases (account_id) WHERE status IN ('suspended', 'in_review');

-- Redacted excerpts only, never raw messages.
CREATE TABLE evidence (
    case_id    TEXT NOT NULL REFERENCES cases (case_id),
    message_id TEXT NOT NULL,
    excerpt    TEXT NOT NULL,
    -- JSON: ["rule.id", ...]
    rule_hits  TEXT NOT NULL,
    action     TEXT NOT NULL,
    sent_at    BIGINT NOT NULL,
    PRIMARY KEY (case_id, message_id)
);

CREATE TABLE decisions (
    case_id    TEXT NOT NULL REFERENCES cases (case_id),
    outcome    TEXT NOT NULL,
    reviewer   TEXT NOT NULL,
    note       TEXT NOT NULL,
    decided_at BIGINT NOT NULL,
    PRIMARY KEY (case_id, decided_at)
);

-- Append-only: who did what to which case, when. Entry ids are content hashes, so a replayed
-- action writes no second entry.
CREATE TABLE audit_log (
    entry_id   TEXT PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    case_id    TEXT,
    account_id TEXT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX audit_log_by_case ON audit_log (case_id, at);

CREATE TABLE processed_messages (
    message_id   TEXT PRIMARY KEY,
    processed_at BIGINT NOT NULL
);
