-- Accounts whose data must be kept (litigation, a regulator's request): erasure is refused while
-- a hold is set.
CREATE TABLE legal_holds (
    account_id TEXT PRIMARY KEY,
    set_by     TEXT NOT NULL,
    reason     TEXT NOT NULL,
    set_at     BIGINT NOT NULL
);
