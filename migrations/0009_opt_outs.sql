-- Recipients who opted out of an account's messages (STOP on `message-feedback`), until they opt
-- back in: the account's later messages to them are blocked. Keyed recipient hashes only, never
-- numbers; deleted with the account's evidence when it is erased.
CREATE TABLE opt_outs (
    account_id TEXT NOT NULL,
    -- The recipient's keyed hash's bits, as a signed 64-bit integer.
    recipient  BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (account_id, recipient)
);
