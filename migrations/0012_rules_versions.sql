-- Every rules and policy set `warden run` took (at start, by an admin's reload or rollback):
-- which version, who, when, what changed from the set before, and the files' text, so that an
-- earlier set can be put back.
CREATE TABLE rules_versions (
    loaded_at BIGINT NOT NULL,
    version   TEXT NOT NULL,
    -- automated (a start) | admin:<name>
    loaded_by TEXT NOT NULL,
    -- start | reload | rollback
    action    TEXT NOT NULL,
    summary   TEXT NOT NULL,
    rules     TEXT NOT NULL,
    policy    TEXT NOT NULL,
    PRIMARY KEY (loaded_at, version)
);
CREATE INDEX rules_versions_by_version ON rules_versions (version, loaded_at);
