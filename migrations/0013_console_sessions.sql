-- Reviewers' console sign-ins, in the database so that every instance behind a load balancer
-- knows them. The cookie holds a random id; only its SHA-256 is kept here, so a copy of the
-- database signs no one in. `token_sha256` is the reviewers-file hash the session was made
-- from: when that token is rotated or removed, the session ends.
CREATE TABLE console_sessions (
    session_sha256 TEXT PRIMARY KEY,
    reviewer       TEXT NOT NULL,
    -- reviewer | admin
    role           TEXT NOT NULL,
    token_sha256   TEXT NOT NULL,
    -- Every state-changing form carries it (random, per session).
    csrf           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);
