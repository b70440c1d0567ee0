//! Signal checkpoints: each account's per-account signals, encoded, under a 64-bit hash of the
//! account, so that a restarted or rebalanced instance resumes counting where the
//! last one stopped. Checkpoints older than the signals' longest window hold nothing current
//! and are deleted when read.

use base64::Engine;
use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    /// Saves signal checkpoints (account hash, encoded state) in one transaction.
    pub async fn save_signals(&self, states: &[(u64, Vec<u8>)], at: i64) -> Result<(), StoreError> {
        if states.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for (key, state) in states {
            sqlx::query(
                "INSERT INTO signal_states (account_key, state, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (account_key) DO UPDATE SET state = excluded.state, \
                 updated_at = excluded.updated_at",
            )
            // The hash's bits, stored as a signed 64-bit integer.
            .bind(*key as i64)
            .bind(base64::engine::general_purpose::STANDARD.encode(state))
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// One account's signal checkpoint and when it was written (Unix ms).
    pub async fn signal_state(&self, key: u64) -> Result<Option<(Vec<u8>, i64)>, StoreError> {
        let row = sqlx::query("SELECT state, updated_at FROM signal_states WHERE account_key = $1")
            .bind(key as i64)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            let state: String = row.try_get("state")?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(state)
                .map_err(|e| sqlx::Error::Decode(e.into()))?;
            Ok((bytes, row.try_get("updated_at")?))
        })
        .transpose()
    }

    /// Signal checkpoints written since `since` (Unix ms); older ones hold nothing current.
    /// Also deletes the older ones: retention by code.
    pub async fn load_signals(&self, since: i64) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        sqlx::query("DELETE FROM signal_states WHERE updated_at < $1")
            .bind(since)
            .execute(&self.pool)
            .await?;
        let rows = sqlx::query("SELECT account_key, state FROM signal_states")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let key: i64 = row.try_get("account_key")?;
                let state: String = row.try_get("state")?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(state)
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                Ok((key as u64, bytes))
            })
            .collect()
    }
}
