-- Checkpoints of per-account signals, so that a restart or a rebalance does not forget the last
-- hour. Keyed by a hash of the account id (no account id, no recipient: the state holds only
-- counters and keyed hashes); the state is base64 text, portable between SQLite and PostgreSQL.
CREATE TABLE signal_states (
    account_key BIGINT PRIMARY KEY,
    state       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX signal_states_by_time ON signal_states (updated_at);
