-- The circuit breaker's trips and resets, shared by every instance and kept as its audit trail:
-- a trip anywhere holds automated suspensions everywhere until an admin's reset releases them.
CREATE TABLE breaker_events (
    at     BIGINT NOT NULL,
    event  TEXT NOT NULL,
    actor  TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (at, event, actor)
);
