-- Events leave in the order they were written. Ordering by `created_at` alone (the time of the
-- message that opened the case) left ties to `event_id`, a hash: a warning and a restriction
-- opened on messages sent in the same millisecond could reach the holder in either order.
-- `seq` counts writes (one more than the largest so far, read inside the writing transaction);
-- rows written before it keep 0 and go first, by their time.
ALTER TABLE outbox ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX outbox_by_seq ON outbox (seq);
DROP INDEX outbox_unsent;
CREATE INDEX outbox_unsent ON outbox (sent_at, seq);
