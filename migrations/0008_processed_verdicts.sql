-- Each message's verdict as produced, recorded before it goes to `verdicts`: a redelivered
-- message re-emits these bytes instead of being decided again, so it never gets two different
-- decisions. The JSON holds ids, scores, rule ids and versions, never message text. Rows go
-- with the replay window (`[retention] processed_days`), by `processed_at`.
--
-- Nothing wrote the old table (ids without their decisions), so it is replaced rather than
-- altered: every row now has its verdict.
DROP TABLE processed_messages;
CREATE TABLE processed_messages (
    message_id   TEXT PRIMARY KEY,
    processed_at BIGINT NOT NULL,
    verdict      TEXT NOT NULL
);
CREATE INDEX processed_messages_by_time ON processed_messages (processed_at);
