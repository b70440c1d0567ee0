//! Retrying what a batch needs from the store: exponential backoff, for errors that can pass
//! (a database busy or unreachable) and never past a shutdown. Nothing of the batch is
//! committed while it waits, so stopping loses nothing: the batch is redelivered. An error that
//! cannot pass (a constraint, a row that does not decode) stops the processor instead of being
//! retried for ever.

use std::time::Duration;

use tokio::sync::watch;

use crate::store::StoreError;

/// Why a step of a batch stopped without its result. Either way, nothing of the batch is
/// committed: it is redelivered.
#[derive(Debug)]
pub(super) enum Halt {
    /// Shutdown came while the step was retrying (or, delivering, past the drain timeout).
    Shutdown,
    /// The store failed in a way that retrying cannot fix: the processor stops.
    Permanent {
        what: &'static str,
        error: StoreError,
    },
}

/// Runs `attempt` until it succeeds, backing off between transient failures (up to
/// `max_backoff_ms`); stops on a permanent failure, or on shutdown.
pub(super) async fn until_stored<T>(
    what: &'static str,
    max_backoff_ms: u64,
    shutdown: &watch::Receiver<bool>,
    mut attempt: impl AsyncFnMut() -> Result<T, StoreError>,
) -> Result<T, Halt> {
    let mut backoff = Backoff::new(max_backoff_ms);
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) if !error.is_transient() => return Err(Halt::Permanent { what, error }),
            Err(error) => {
                tracing::warn!(%error, "{what}; retrying");
                if *shutdown.borrow() {
                    return Err(Halt::Shutdown);
                }
                tokio::time::sleep(backoff.next()).await;
            }
        }
    }
}

/// Exponential backoff from 100 ms up to a ceiling.
pub(super) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub(super) fn new(max_ms: u64) -> Self {
        Self {
            next: Duration::from_millis(100),
            max: Duration::from_millis(max_ms.max(100)),
        }
    }

    pub(super) fn next(&mut self) -> Duration {
        let current = self.next;
        self.next = (self.next * 2).min(self.max);
        current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_ceiling() {
        let mut backoff = Backoff::new(500);
        let waits: Vec<u128> = (0..5).map(|_| backoff.next().as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
    }

    #[tokio::test]
    async fn transient_errors_are_retried_and_permanent_ones_stop_at_once() {
        let (_tx, shutdown) = watch::channel(false);
        let mut failures = 2;
        let value = until_stored("test", 1, &shutdown, async || {
            if failures > 0 {
                failures -= 1;
                Err(StoreError::Database(sqlx::Error::PoolTimedOut))
            } else {
                Ok(7)
            }
        })
        .await;
        assert!(matches!(value, Ok(7)), "{value:?}");
        let mut attempts = 0;
        let halted = until_stored("test", 1, &shutdown, async || -> Result<(), _> {
            attempts += 1;
            Err(StoreError::Database(sqlx::Error::RowNotFound))
        })
        .await;
        assert!(
            matches!(halted, Err(Halt::Permanent { what: "test", .. })),
            "{halted:?}"
        );
        assert_eq!(attempts, 1, "a permanent error is not retried");
    }

    #[tokio::test]
    async fn shutdown_stops_the_retries() {
        let (tx, shutdown) = watch::channel(false);
        tx.send(true).unwrap();
        let halted = until_stored("test", 1, &shutdown, async || -> Result<(), _> {
            Err(StoreError::Database(sqlx::Error::PoolTimedOut))
        })
        .await;
        assert!(matches!(halted, Err(Halt::Shutdown)), "{halted:?}");
    }
}
