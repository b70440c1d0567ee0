//! Time as Warden stores and compares it: Unix milliseconds, the unit of every timestamp in the
//! store, the signals and the verdicts' latency. Computed here only, never by hand.

use time::OffsetDateTime;

/// `at` in Unix milliseconds.
pub fn unix_ms(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    unix_ms(OffsetDateTime::now_utc())
}

/// Unix seconds (the unit of the signals' windows and the account policy) in Unix ms.
pub fn ms_from_seconds(seconds: i64) -> i64 {
    seconds * 1_000
}

/// Unix ms (or a span of ms) in whole seconds, rounded down.
pub fn seconds_from_ms(ms: i64) -> i64 {
    ms.div_euclid(1_000)
}
