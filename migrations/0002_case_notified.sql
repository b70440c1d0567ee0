-- When a case's account-action and notice were acknowledged by the broker: an outbox marker.
-- A case with `notified_at` NULL still owes its events, and they are (re)sent at startup.
ALTER TABLE cases ADD COLUMN notified_at BIGINT;
